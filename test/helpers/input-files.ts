import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** 2023-11-14T22:13:20Z, in seconds: the start of the hand-written import inputs. */
export const T0S = 1_700_000_000;

/** A fresh directory for one import test's inputs and store. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'import-test-'));
}

/** Writes an import input file into `dir` and returns its path. */
export function writeInput(dir: string, name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
