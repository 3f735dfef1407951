/**
 * Registered models on object storage, shared by trainers and scorers on different machines:
 *
 *   CURRENT                              the serving version's name: switched by one conditional PUT
 *   history/<at>-<random>.json           one object per switch of CURRENT (no appends on object storage)
 *   <version>/<file>                     a registered model; model.json is uploaded last, so a version is
 *                                        listed only once all its files are there
 *
 * Candidates stay in the local models directory of the machine that trained them until registered;
 * a version's files are fetched into a local cache directory for tfjs and verification.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { ObjectStorage } from '../storage/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { type HistoryEntry, MODEL_FILES, REQUIRED_FILES, isModelVersion } from './model-dir.js';
import type { CurrentRead, ModelStore } from './model-store.js';

const CURRENT = 'CURRENT';
const HISTORY = 'history/';
/** Written into a cached copy last: a copy without it is partial (a fetch cut short) and fetched again. */
const CACHED = '.complete';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

export function createObjectModelStore(storage: ObjectStorage, cacheDir: string): ModelStore {
  const key = (version: string, file: string) => `${version}/${file}`;
  let lastCurrent: CurrentRead | undefined;

  async function fetchInto(version: string, target: string): Promise<void> {
    const temp = join(cacheDir, `.${version}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      for (const object of await storage.list(`${version}/`)) {
        const body = (await storage.get(object.key))?.body;
        if (body === undefined) continue;
        await writeFileAtomic(join(temp, ...object.key.slice(version.length + 1).split('/')), body);
      }
      await writeFileAtomic(join(temp, CACHED), Buffer.alloc(0));
      await rm(target, { recursive: true, force: true });
      await rename(temp, target);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  return {
    location: storage.location,
    locate: (version) => storage.locate(`${version}/`),
    async readCurrent() {
      // Scorers poll this every few seconds: a conditional GET answers 304 without a body while it is unchanged.
      const current = await storage.getIfChanged(CURRENT, lastCurrent?.tag);
      if (current === 'unchanged') return lastCurrent!;
      if (current === undefined) {
        lastCurrent = undefined;
        return { version: undefined, tag: undefined };
      }
      const text = current.body.toString('utf8').trim();
      lastCurrent = { version: text.length > 0 ? text : undefined, tag: current.etag };
      return lastCurrent;
    },
    async writeCurrent(version, expected) {
      await storage.put(
        CURRENT,
        Buffer.from(`${version}\n`),
        expected.tag === undefined ? { ifAbsent: true } : { ifMatch: expected.tag },
      );
    },
    async readHistory() {
      const entries: HistoryEntry[] = [];
      for (const object of await storage.list(HISTORY)) {
        const body = (await storage.get(object.key))?.body;
        try {
          if (body) entries.push(JSON.parse(body.toString('utf8')) as HistoryEntry);
        } catch {
          // Not an entry this registry wrote (a PUT is whole, so never a torn one): ignored like a torn line.
        }
      }
      return entries;
    },
    async appendHistory(entry) {
      // Keys sort by time; the random part keeps two entries of one millisecond apart.
      const name = `${HISTORY}${entry.at}-${randomBytes(4).toString('hex')}.json`;
      await storage.put(name, Buffer.from(`${JSON.stringify(entry)}\n`), { ifAbsent: true });
    },
    async list() {
      const models = (await storage.list(''))
        .filter((o) => o.key.endsWith(`/${MODEL_FILES.model}`))
        .map((o) => ({ version: o.key.slice(0, -MODEL_FILES.model.length - 1), modified: o.modified }))
        .filter((m) => isModelVersion(m.version));
      return models.map((m) => ({
        version: m.version,
        dir: storage.locate(`${m.version}/`),
        createdAt: (m.modified ?? new Date(0)).toISOString(),
      }));
    },
    has: async (version) => (await storage.head(key(version, MODEL_FILES.model))) !== undefined,
    async missingFiles(version) {
      const present = new Set(
        (await storage.list(`${version}/`)).map((o) => o.key.slice(version.length + 1)),
      );
      return REQUIRED_FILES.filter((f) => !present.has(f));
    },
    async readJson(version, file) {
      const body = (await storage.get(key(version, file)).catch(() => undefined))?.body;
      try {
        return body === undefined
          ? undefined
          : (JSON.parse(body.toString('utf8')) as Record<string, unknown>);
      } catch {
        return undefined;
      }
    },
    async writeJson(version, file, value) {
      await storage.put(key(version, file), Buffer.from(`${JSON.stringify(value, null, 2)}\n`));
    },
    async add(candidateDir, version) {
      const files = (await filesUnder(candidateDir)).map((p) =>
        relative(candidateDir, p).split(sep).join('/'),
      );
      // model.json last: until it is there the version is not listed, so nobody sees a partial model.
      const ordered = [...files.filter((f) => f !== MODEL_FILES.model), MODEL_FILES.model];
      for (const file of ordered) {
        await storage.put(key(version, file), await readFile(join(candidateDir, ...file.split('/'))));
      }
      await rm(candidateDir, { recursive: true, force: true });
    },
    async localDir(version) {
      const target = join(cacheDir, version);
      const cached = await stat(join(target, CACHED)).then(
        () => true,
        () => false,
      );
      if (!cached) {
        await mkdir(cacheDir, { recursive: true });
        await fetchInto(version, target);
      }
      return target;
    },
  };
}
