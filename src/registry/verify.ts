/**
 * Checks that a saved model directory can serve before anything switches to it: the topology,
 * weights and encoder load and agree, and a probe session predicts finite probabilities in [0, 1].
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { IntentstreamError } from '../errors.js';
import { predictSessions } from '../model/batches.js';
import type { ShopEvent } from '../schemas/types.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { MODEL_FILES } from './model-dir.js';
import { loadModel } from './model-files.js';

export class ModelVerificationError extends IntentstreamError {
  override name = 'ModelVerificationError';
}

const T = Date.UTC(2026, 0, 1);
const probe = (type: string, i: number): ShopEvent => ({
  cookie_id: 'probe',
  event_id: `probe-${i}`,
  event_type: type,
  event_time: T + i * 30_000,
  item_id: type === 'page_view' ? null : 'probe-item',
  category_id: type === 'page_view' ? null : 'probe-category',
  price: type === 'page_view' ? null : 9.99,
  quantity: type === 'add_to_cart' ? 1 : null,
  page_type: 'product',
  device: 'desktop',
  referrer: null,
  extras: {},
});
const PROBE_SESSIONS = [
  { events: [probe('page_view', 0)] },
  { events: ['page_view', 'product_view', 'add_to_cart', 'product_view'].map(probe) },
];

/** Written last into a model directory: the SHA-256 of every file in it, so damage is caught before serving. */
const CHECKSUMS_FILE = MODEL_FILES.checksums;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export async function writeChecksums(dir: string): Promise<void> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    if (name === CHECKSUMS_FILE || name.startsWith('.')) continue;
    files[name] = sha256(await readFile(join(dir, name)));
  }
  await writeFileAtomic(
    join(dir, CHECKSUMS_FILE),
    Buffer.from(`${JSON.stringify({ algorithm: 'sha256', files }, null, 2)}\n`),
  );
}

/** Checks the files `checksums.json` lists (a directory without one, from an older version, passes). */
async function verifyChecksums(dir: string): Promise<void> {
  let listed: { files?: Record<string, string> };
  try {
    listed = JSON.parse(await readFile(join(dir, CHECKSUMS_FILE), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ModelVerificationError(
      `${CHECKSUMS_FILE} in ${dir} is unreadable: ${(error as Error).message}`,
    );
  }
  for (const [name, want] of Object.entries(listed.files ?? {})) {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, name));
    } catch {
      throw new ModelVerificationError(`${name} is missing from ${dir}`);
    }
    if (sha256(bytes) !== want) {
      throw new ModelVerificationError(`${name} in ${dir} does not match its checksum: the file is damaged`);
    }
  }
}

/** Throws ModelVerificationError saying what is wrong with the model in `dir`. */
export async function verifyModelDir(dir: string): Promise<void> {
  await verifyChecksums(dir);
  let loaded: Awaited<ReturnType<typeof loadModel>>;
  try {
    loaded = await loadModel(dir);
  } catch (error) {
    throw new ModelVerificationError(`the model in ${dir} does not load: ${(error as Error).message}`);
  }
  try {
    let scores: Float32Array;
    try {
      scores = await predictSessions(loaded.model, loaded.encoder, PROBE_SESSIONS);
    } catch (error) {
      throw new ModelVerificationError(
        `the model in ${dir} loads but cannot predict: ${(error as Error).message}`,
      );
    }
    const bad = [...scores].find((p) => !(Number.isFinite(p) && p >= 0 && p <= 1));
    if (scores.length !== PROBE_SESSIONS.length || bad !== undefined) {
      throw new ModelVerificationError(
        `the model in ${dir} predicts ${bad ?? `${scores.length} values for ${PROBE_SESSIONS.length} sessions`}, not probabilities`,
      );
    }
  } finally {
    loaded.model.dispose();
  }
}
