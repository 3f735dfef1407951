#!/usr/bin/env -S node --max-semi-space-size=32
// The V8 flags above are src/cli/node-flags.ts's SERVICE_NODE_FLAGS (why: see there).
// Runs the compiled CLI (dist/, from `npm run build`); in a source checkout
// without a build it runs the TypeScript sources through tsx.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
