// Prints the node_modules folders (one a line) of the packages that `npm ci --omit=dev` installs,
// plus those named as arguments (e.g. tsx) and everything they depend on, as package-lock.json
// resolves them; optional ones not installed here are left out.
import { existsSync, readFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')).packages;
const root = lock[''];
const wanted = [
  ...Object.keys({ ...root.dependencies, ...root.optionalDependencies }),
  ...process.argv.slice(2),
];

/** The folder npm resolves `name` to from the package at `from` (nested first, then up). */
function resolve(from, name) {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
    const path = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (lock[path]) return path;
    if (dir === '') return undefined;
  }
}

const found = new Set();
const visit = (from, name) => {
  const path = resolve(from, name);
  if (path === undefined || found.has(path) || !existsSync(path)) return;
  found.add(path);
  const entry = lock[path];
  for (const dep of Object.keys({
    ...entry.dependencies,
    ...entry.optionalDependencies,
    ...entry.peerDependencies,
  }))
    visit(path, dep);
};
for (const name of wanted) visit('', name);
console.log([...found].sort().join('\n'));
