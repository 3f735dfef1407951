/**
 * The LSTM step model's helper thread, scorer side. The scorer's thread is the bottleneck of `score`
 * (Kafka fetch parsing, Avro, sessions, the model, produce: one JavaScript thread) while the machine's
 * other core mostly idles, so a step of many rows hands its last rows to a worker thread running the
 * same row math (lstm-kernel.ts) on the same backend: the scorer encodes those rows first and stages
 * them in shared memory, wakes the worker, encodes and computes its own rows meanwhile, then waits for
 * the worker and copies its rows' states back. Rows are independent, so the split never changes a
 * result (tested bit for bit); the worker is a pure function of what it is given and owns no state.
 *
 * Hand-off is Atomics.wait/notify on a shared control array (microseconds), not postMessage. The split
 * adapts: when the worker was already done as the scorer finished its part it gets more rows, when the
 * scorer had to wait it gets fewer. A worker that fails to start, throws or stalls is dropped and the
 * scorer computes every row itself from then on (reported once through `onError`).
 */
import { Worker } from 'node:worker_threads';
import { CATEGORICAL_COUNT } from '../features/index.js';
import { type KernelSpec, stateSizeOf } from './lstm-kernel.js';

/** Slots of the shared control array. */
export const CTL = { ready: 0, job: 1, done: 2, rows: 3, failed: 4 } as const;
const CTL_SLOTS = 8;

/** Most rows one job carries (the shared buffers are sized for it). */
export const WORKER_CAPACITY = 8_192;
/** Fewer rows than this stay on the scorer's thread: the hand-off would cost more than it saves. */
export const MIN_WORKER_ROWS = 512;
/** How long either thread polls for the other before sleeping on a futex (whose wake-up takes tens of µs). */
export const SPIN_MS = 0.2;
/** A job not finished within this long counts as a stalled worker. */
const STALL_MS = 10_000;

export interface SharedRows {
  capacity: number;
  numericSize: number;
  stateSize: number;
  ctl: SharedArrayBuffer;
  cat: SharedArrayBuffer;
  num: SharedArrayBuffer;
  state: SharedArrayBuffer;
  prob: SharedArrayBuffer;
}

export function sharedViews(s: SharedRows) {
  return {
    capacity: s.capacity,
    ctl: new Int32Array(s.ctl),
    cat: new Int32Array(s.cat),
    num: new Float32Array(s.num),
    state: new Float32Array(s.state),
    prob: new Float64Array(s.prob),
  };
}

function sharedRows(spec: KernelSpec, capacity: number): SharedRows {
  const stateSize = stateSizeOf(spec);
  return {
    capacity,
    numericSize: spec.numericSize,
    stateSize,
    ctl: new SharedArrayBuffer(CTL_SLOTS * 4),
    cat: new SharedArrayBuffer(capacity * CATEGORICAL_COUNT * 4),
    num: new SharedArrayBuffer(capacity * spec.numericSize * 4),
    state: new SharedArrayBuffer(capacity * stateSize * 4),
    prob: new SharedArrayBuffer(capacity * 8),
  };
}

/**
 * Starts the worker's thread. Run from the TypeScript sources (tests, benches under tsx) it loads
 * tsx's loader first; run from dist it loads the compiled module.
 */
function spawn(workerData: unknown): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./lstm-worker-thread.js', self), { workerData });
  const entry = new URL('./lstm-worker-thread.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(
    `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`,
    { eval: true, workerData },
  );
}

export interface StepWorkerOptions {
  /** The tfjs backend the worker must use: the scorer thread's, so both compute identical rows. */
  backend: 'wasm' | 'cpu';
  capacity?: number;
  /** Called once when the worker is dropped (failed to start, threw, stalled or exited). */
  onError?: (error: Error) => void;
}

export class StepWorker {
  readonly cat: Int32Array;
  readonly num: Float32Array;
  readonly state: Float32Array;
  readonly prob: Float64Array;
  readonly capacity: number;
  private readonly ctl: Int32Array;
  private readonly worker: Worker;
  private readonly onError: ((error: Error) => void) | undefined;
  private seq = 0;
  private rows = 0;
  private dropped = false;
  private disposed = false;
  /** Fraction of a step's rows handed over; adapted after every job. */
  private share = 0.5;

  constructor(spec: KernelSpec, options: StepWorkerOptions) {
    const shared = sharedRows(spec, options.capacity ?? WORKER_CAPACITY);
    const views = sharedViews(shared);
    this.capacity = views.capacity;
    this.ctl = views.ctl;
    this.cat = views.cat;
    this.num = views.num;
    this.state = views.state;
    this.prob = views.prob;
    this.onError = options.onError;
    this.worker = spawn({ spec, backend: options.backend, shared });
    this.worker.on('error', (error) => this.drop(error));
    this.worker.on('message', (m: { error?: string }) => {
      if (m.error !== undefined) this.drop(new Error(`the LSTM step worker threw: ${m.error}`));
    });
    this.exited = new Promise((resolve) => {
      this.worker.on('exit', (code) => {
        if (!this.disposed) this.drop(new Error(`the LSTM step worker exited with code ${code}`));
        resolve(code);
      });
    });
    this.worker.unref(); // never keeps a process alive (after the listeners: adding one re-refs the port)
  }

  /** Resolves with the thread's exit code once it has stopped (disposed or dropped). */
  readonly exited: Promise<number>;

  /** True once the worker's backend and weights are loaded (it starts in the background), until it is disposed or dropped. */
  get ready(): boolean {
    return !this.dropped && !this.disposed && Atomics.load(this.ctl, CTL.ready) === 1;
  }

  /** How many of a step's `total` rows to hand over (its last ones); 0 while not ready. */
  rowsFor(total: number): number {
    if (total < MIN_WORKER_ROWS || !this.ready) return 0;
    return Math.min(this.capacity, Math.round(total * this.share));
  }

  /** Hands over the first `rows` rows staged in cat/num/state. */
  begin(rows: number): void {
    this.rows = rows;
    Atomics.store(this.ctl, CTL.rows, rows);
    Atomics.store(this.ctl, CTL.job, ++this.seq);
    Atomics.notify(this.ctl, CTL.job);
  }

  /**
   * Waits for the job begun last. True: the rows' new states are in `state` and their probabilities
   * in `prob`. False: the worker failed or stalled and is dropped; the caller computes the rows itself
   * (from its own copies: the worker only ever wrote to the shared buffers).
   */
  finish(): boolean {
    const waited = Atomics.load(this.ctl, CTL.done) !== this.seq;
    const spin = performance.now() + SPIN_MS;
    while (Atomics.load(this.ctl, CTL.done) !== this.seq && performance.now() < spin);
    const deadline = performance.now() + STALL_MS;
    while (Atomics.load(this.ctl, CTL.done) !== this.seq) {
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(this.ctl, CTL.done, this.seq - 1, left) === 'timed-out') {
        this.drop(
          new Error(`the LSTM step worker did not finish a ${this.rows}-row step within ${STALL_MS} ms`),
        );
        return false;
      }
    }
    if (Atomics.load(this.ctl, CTL.failed) !== 0) {
      this.drop(new Error('the LSTM step worker failed a step'));
      return false;
    }
    // Balance the two threads: the worker idled → give it more, the scorer waited → give it less.
    this.share = waited ? Math.max(0.1, this.share - 0.02) : Math.min(0.9, this.share + 0.02);
    return true;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctl, CTL.job, -1);
    Atomics.notify(this.ctl, CTL.job);
    void this.worker.terminate().catch(() => {});
  }

  private drop(error: Error): void {
    if (this.dropped) return;
    this.dropped = true;
    if (!this.disposed) this.onError?.(error);
    void this.worker.terminate().catch(() => {});
  }
}
