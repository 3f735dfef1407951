/**
 * The step worker's thread (started by lstm-worker.ts): the same row math as the scorer's thread
 * (lstm-kernel.ts) on the same tfjs backend, over rows the scorer staged in shared memory. It waits for
 * a job with Atomics.wait, runs it, and signals completion; no message passing on the hot path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, selectBackend } from '../model/backend.js';
import { type KernelSpec, createStepKernel } from './lstm-kernel.js';
import { CTL, SPIN_MS, type SharedRows, sharedViews } from './lstm-worker.js';

const { spec, backend, shared } = workerData as {
  spec: KernelSpec;
  backend: BackendName;
  shared: SharedRows;
};
tf.env().set('PROD', true);
await selectBackend({ requested: backend });
if (tf.getBackend() !== backend) {
  // Another backend would compute other bits than the scorer's thread: refuse to start.
  throw new Error(`the step worker needs the ${backend} backend but runs on ${tf.getBackend()}`);
}
const kernel = createStepKernel(spec);
const { ctl, cat, num, state, prob, capacity } = sharedViews(shared);
const S = kernel.stateSize;
const slabs: Float32Array[] = new Array(capacity).fill(state);
const ats = Int32Array.from({ length: capacity }, (_, r) => r * S);

Atomics.store(ctl, CTL.ready, 1);
Atomics.notify(ctl, CTL.ready);
let seen = 0;
for (;;) {
  // The next round of a batch usually follows within microseconds: poll briefly before sleeping, as a
  // futex wake-up costs tens of microseconds.
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(ctl, CTL.job) === seen && performance.now() < until);
  Atomics.wait(ctl, CTL.job, seen);
  const job = Atomics.load(ctl, CTL.job);
  if (job === seen) continue;
  if (job < 0) break; // disposed
  seen = job;
  try {
    kernel.run(Atomics.load(ctl, CTL.rows), cat, num, slabs, ats, prob);
    Atomics.store(ctl, CTL.failed, 0);
  } catch (error) {
    Atomics.store(ctl, CTL.failed, 1);
    parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
  Atomics.store(ctl, CTL.done, job);
  Atomics.notify(ctl, CTL.done);
}
kernel.dispose();
