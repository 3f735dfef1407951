/**
 * bench/train: LSTM training throughput (time steps per second = batch × steps × batches ÷
 * seconds) of one LSTM layer + a dense sigmoid head (Adam, binary cross-entropy, trainOnBatch on
 * fixed random data), for two configurations:
 *
 *   small      batch 128,  30 steps, 32 features,  64 units (the one in DESIGN.md)
 *   realistic  batch 1024, 50 steps, 32 features, 128 units
 *
 * on every tfjs backend that starts here (tensorflow, webgpu, wasm, cpu), each with the
 * tfjs-layers LSTM and with the fused op (src/model/fused-lstm.ts); on wasm the layers LSTM also
 * without the transpose-then-matMul BatchMatMul (src/model/wasm-kernels.ts), the stock baseline.
 * Each fused run names the recurrence it ran (`path`): the backend's kernel (cpu, wasm: host loops;
 * webgpu: the WGSL kernels of src/model/webgpu-lstm.ts) or tfjs ops. On webgpu also `step`: the same
 * model and batch through the training step of src/model/webgpu-step (what `intentstream train`
 * runs on webgpu), which queues a few batches ahead of the GPU and is timed after they finish.
 * PyTorch's nn.LSTM with the same shapes is the reference (bench/reference/torch_lstm.py;
 * `pip install torch==2.13.0`): on the same CPU, and in the same run on the GPU (cuDNN) where
 * PyTorch sees CUDA.
 *
 * Each measurement runs in its own child process (a wasm kernel registration is per process) for
 * a time window after one warm-up batch; a run whose warm-up batch alone outlasts the window is
 * reported from that batch (`warmupOnly`). Progress goes to stderr as JSON log lines.
 *
 * Writes bench/results/train.json (everything; value = best tfjs figure on the small config,
 * reference = PyTorch) and bench/results/train-fast-lstm.json (the fused op against the layers
 * LSTM on wasm: ratio = fused ÷ layers, the smaller of the two configurations' ratios).
 *
 * A run that has not finished after --limit seconds (start-up, warm-up batch and window) is stopped
 * and reported as slower than one batch per limit (`timed_out`).
 *
 *   npx tsx bench/train.ts [--seconds=10] [--limit=120] [--configs=small,realistic] [--backends=tensorflow,webgpu,wasm,cpu]
 *                          [--implementations=layers,fused,step] [--pytorch=cpu,cuda]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createLogger } from '../src/log/logger.js';
import { BACKENDS, type BackendName, selectBackend } from '../src/model/backend.js';
import { numericSplit } from '../src/model/batches.js';
import { type LstmImplementation, lstmLayer, recurrencePath } from '../src/model/fused-lstm.js';
import { WebgpuTrainingStep } from '../src/model/webgpu-step/step.js';
import { machine, writeResult } from './common.js';

const CONFIGS = {
  small: { batch: 128, steps: 30, features: 32, units: 64 },
  realistic: { batch: 1024, steps: 50, features: 32, units: 128 },
  // Not a measurement: checks the benchmark and its scripts end to end on a software device.
  tiny: { batch: 16, steps: 6, features: 4, units: 8 },
} as const;
type ConfigName = keyof typeof CONFIGS;

/** `step`: webgpu only, the training step of src/model/webgpu-step (what `intentstream train` runs there). */
type Implementation = LstmImplementation | 'step';

interface Run {
  config: ConfigName;
  backend: BackendName;
  implementation: Implementation;
  /** wasm only: the transpose-then-matMul BatchMatMul kernel. */
  fastMatMul: boolean;
}

type Measured =
  | {
      stepsPerSecond: number;
      /** Per second of this process's CPU time: less sensitive to other load on the machine. */
      stepsPerCpuSecond: number;
      batches: number;
      seconds: number;
      warmupSeconds: number;
      warmupOnly: boolean;
      /** The fused op's recurrence: the backend's kernel or tfjs ops (absent for the layers LSTM). */
      path?: string;
    }
  | { skipped: string };

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

/** Child: one run, one JSON line on stdout. */
async function child(run: Run, seconds: number): Promise<Measured> {
  const selection = await selectBackend({ requested: run.backend, fastWasmMatMul: run.fastMatMul }).catch(
    (e: Error) => e,
  );
  if (selection instanceof Error) return { skipped: selection.message };
  tf.env().set('PROD', true);
  const c = CONFIGS[run.config];
  const model = tf.sequential();
  const lstm = run.implementation === 'step' ? 'fused' : run.implementation;
  model.add(lstmLayer({ units: c.units, inputShape: [c.steps, c.features] }, lstm));
  model.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
  const x = tf.randomNormal([c.batch, c.steps, c.features], 0, 1, 'float32', 1);
  const y = tf.cast(tf.greater(tf.randomUniform([c.batch, 1], 0, 1, 'float32', 2), 0.5), 'float32');
  const stepsPerBatch = c.batch * c.steps;
  const path =
    run.implementation === 'fused'
      ? { path: recurrencePath(c.units) }
      : run.implementation === 'step'
        ? { path: 'webgpu step' }
        : {};
  // The step queues a few batches ahead of the GPU; `settle` waits for them before a time is taken.
  const { trainOnBatch, settle } =
    run.implementation === 'step'
      ? await stepTrainer(model, x, y)
      : { trainOnBatch: () => model.trainOnBatch(x, y), settle: async () => {} };
  const cpuSeconds = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1e6;
  };
  const w0 = performance.now();
  const wc = process.cpuUsage();
  await trainOnBatch();
  await settle();
  const warmupSeconds = (performance.now() - w0) / 1000;
  if (warmupSeconds >= seconds) {
    return {
      stepsPerSecond: stepsPerBatch / warmupSeconds,
      stepsPerCpuSecond: stepsPerBatch / cpuSeconds(wc),
      batches: 1,
      seconds: warmupSeconds,
      warmupSeconds,
      warmupOnly: true,
      ...path,
    };
  }
  let batches = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (batches < 2 || performance.now() - t0 < seconds * 1000) {
    await trainOnBatch();
    batches++;
  }
  await settle();
  const elapsed = (performance.now() - t0) / 1000;
  return {
    stepsPerSecond: (stepsPerBatch * batches) / elapsed,
    stepsPerCpuSecond: (stepsPerBatch * batches) / cpuSeconds(c0),
    batches,
    seconds: elapsed,
    warmupSeconds,
    warmupOnly: false,
    ...path,
  };
}

/**
 * The same batch as a training step of src/model/webgpu-step: x's rows as the sessions of an encoded
 * split (no embeddings), every row a full example; the step's own Adam.
 */
async function stepTrainer(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor) {
  const [B, T, F] = x.shape as [number, number, number];
  const values = (await x.data()) as Float32Array;
  const labels = (await y.data()) as Float32Array;
  const split = numericSplit(values, labels, T, F);
  const step = await WebgpuTrainingStep.forModel(model, { numericSize: F, maxSteps: T }, B);
  if ('unsupported' in step) throw new Error(`webgpu step: ${step.unsupported}`);
  await step.loadWeights();
  const batch = Array.from({ length: B }, (_, b) => b);
  const options = { learningRate: 1e-3, positiveWeight: 1, prefixWeight: 1, embeddingL2: 0, seed: 1 };
  return { trainOnBatch: () => step.step(split, batch, options), settle: () => step.flush() };
}

if (process.argv.includes('--child')) {
  const run = JSON.parse(arg('run')!) as Run;
  process.stdout.write(`${JSON.stringify(await child(run, Number(arg('seconds'))))}\n`);
  process.exit(0);
}

const round = (v: number, digits = 0) => Math.round(v * 10 ** digits) / 10 ** digits;
const logger = createLogger({ level: 'info', bindings: { component: 'bench-train' } });
const seconds = Number(arg('seconds') ?? 10);
/** A run still going after this long is stopped and reported as slower than one batch per limit. */
const limitSeconds = Number(arg('limit') ?? 120);
interface TimedOut {
  timedOut: string;
  stepsPerSecondBelow: number;
}
const configs = (arg('configs')?.split(',') ?? ['small', 'realistic']) as ConfigName[];
const backends = (arg('backends')?.split(',') ?? [...BACKENDS]) as BackendName[];
const implementations = (arg('implementations')?.split(',') ?? [
  'layers',
  'fused',
  'step',
]) as Implementation[];
/** Where PyTorch runs the reference: cpu (all cores, then one thread) and cuda (where available). */
const pytorchDevices = arg('pytorch')?.split(',') ?? ['cpu', 'cuda'];
const self = fileURLToPath(import.meta.url);

function measure(run: Run): Measured | TimedOut {
  logger.info('measuring', { ...run, seconds });
  let out: string;
  try {
    out = execFileSync(
      process.execPath,
      ['--import', 'tsx', self, '--child', `--run=${JSON.stringify(run)}`, `--seconds=${seconds}`],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 20,
        timeout: limitSeconds * 1000,
        killSignal: 'SIGKILL',
      },
    );
  } catch (error) {
    if ((error as { signal?: string }).signal !== 'SIGKILL') throw error;
    const c = CONFIGS[run.config];
    const result = {
      timedOut: `stopped after ${limitSeconds} s (start-up, one warm-up batch and the window)`,
      stepsPerSecondBelow: round((c.batch * c.steps) / limitSeconds),
    };
    logger.warn('measurement stopped', { ...run, ...result });
    return result;
  }
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as Measured;
  logger.info('measured', { ...run, ...result });
  return result;
}

/** PyTorch on the CPU with its default thread count (all cores) or with `threads`, or on `device`. */
function torch(config: ConfigName, threads?: number, device = 'cpu') {
  if (!pytorchDevices.includes(device)) return { skipped: 'not requested (--pytorch)' };
  const script = fileURLToPath(new URL('./reference/torch_lstm.py', import.meta.url));
  const c = CONFIGS[config];
  logger.info('measuring', { config, backend: 'pytorch', device, threads, seconds });
  try {
    const out = execFileSync(
      'python3',
      [
        script,
        ...[c.batch, c.steps, c.features, c.units].map(String),
        String(seconds),
        ...(threads === undefined ? [] : [String(threads)]),
        ...['--device', device],
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as {
      steps_per_second: number;
      steps_per_cpu_second: number;
      batches: number;
      torch: string;
      threads: number;
      device: string;
    };
    logger.info('measured', { config, backend: 'pytorch', ...result });
    return result;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    logger.warn('pytorch reference unavailable', { config, device, reason });
    return { skipped: reason };
  }
}

type Timed = Exclude<Measured, { skipped: string }>;
const runs: (Run & Timed)[] = [];
const timedOut: (Run & TimedOut)[] = [];
const skippedBackends = new Map<BackendName, string>();
for (const config of configs) {
  for (const backend of backends) {
    if (skippedBackends.has(backend)) continue;
    const variants: [Implementation, boolean][] =
      backend === 'wasm'
        ? [
            ['layers', false],
            ['layers', true],
            ['fused', true],
          ]
        : [
            ['layers', true],
            ['fused', true],
            ...(backend === 'webgpu' ? [['step', true] as [Implementation, boolean]] : []),
          ];
    for (const [implementation, fastMatMul] of variants.filter(([i]) => implementations.includes(i))) {
      const run: Run = { config, backend, implementation, fastMatMul };
      const result = measure(run);
      if ('skipped' in result) {
        skippedBackends.set(backend, result.skipped);
        break;
      }
      if ('timedOut' in result) timedOut.push({ ...run, ...result });
      else runs.push({ ...run, ...result });
    }
  }
}
const pytorch = Object.fromEntries(configs.map((c) => [c, torch(c)])) as Record<
  ConfigName,
  ReturnType<typeof torch>
>;
// One thread as well: the tfjs backends measured here use one, and PyTorch's threads suffered
// most from other load on this machine.
const pytorchOneThread = Object.fromEntries(configs.map((c) => [c, torch(c, 1)])) as Record<
  ConfigName,
  ReturnType<typeof torch>
>;
// cuDNN on the GPU the webgpu runs used (where PyTorch sees one).
const pytorchCuda = Object.fromEntries(configs.map((c) => [c, torch(c, undefined, 'cuda')])) as Record<
  ConfigName,
  ReturnType<typeof torch>
>;

const find = (config: ConfigName, backend: BackendName, implementation: Implementation, fastMatMul = true) =>
  runs.find(
    (r) =>
      r.config === config &&
      r.backend === backend &&
      r.implementation === implementation &&
      r.fastMatMul === fastMatMul,
  );
const torchRate = (config: ConfigName) => {
  const t = pytorch[config];
  return 'skipped' in t ? null : t.steps_per_second;
};
const torchInfo = Object.values(pytorch).find((t) => !('skipped' in t)) as
  | { torch: string; threads: number }
  | undefined;

/** Throughputs of one configuration (wall or CPU time) and their ratios. */
function figures(fused?: number, layers?: number, stock?: number, reference?: number | null) {
  const ratio = (a?: number, b?: number | null, digits = 2) => (a && b ? round(a / b, digits) : null);
  return {
    wasm_fused: fused && round(fused),
    wasm_layers: layers && round(layers),
    wasm_layers_stock_matmul: stock && round(stock),
    fused_over_layers: ratio(fused, layers),
    fused_over_layers_stock_matmul: ratio(fused, stock),
    pytorch: reference && round(reference),
    fused_over_pytorch: ratio(fused, reference, 3),
  };
}

const perConfig = Object.fromEntries(
  configs.map((config) => {
    const runsOf = [
      find(config, 'wasm', 'fused'),
      find(config, 'wasm', 'layers'),
      find(config, 'wasm', 'layers', false),
    ];
    const [fused, layers, stock] = runsOf.map((r) => r?.stepsPerSecond);
    const [fusedCpu, layersCpu, stockCpu] = runsOf.map((r) => r?.stepsPerCpuSecond);
    const reference = torchRate(config);
    const torchRun = pytorch[config];
    const referenceCpu = 'skipped' in torchRun ? null : torchRun.steps_per_cpu_second;
    const one = pytorchOneThread[config];
    const oneThread = 'skipped' in one ? null : one.steps_per_second;
    const gpu = find(config, 'webgpu', 'fused');
    const gpuStep = find(config, 'webgpu', 'step');
    const cuda = pytorchCuda[config];
    const cudaRate = 'skipped' in cuda ? null : cuda.steps_per_second;
    return [
      config,
      {
        ...CONFIGS[config],
        ...figures(fused, layers, stock, reference),
        // The same per second of each process's own CPU time (tfjs runs on one thread, PyTorch on
        // all cores): what the machine's other load distorts least.
        cpu_time: figures(fusedCpu, layersCpu, stockCpu, referenceCpu),
        pytorch_one_thread: oneThread && round(oneThread),
        fused_over_pytorch_one_thread: fused && oneThread ? round(fused / oneThread, 3) : null,
        webgpu_fused: gpu && round(gpu.stepsPerSecond),
        webgpu_fused_path: gpu?.path ?? null,
        pytorch_cuda: cudaRate && round(cudaRate),
        pytorch_cuda_device: 'skipped' in cuda ? null : cuda.device,
        webgpu_fused_over_pytorch_cuda: gpu && cudaRate ? round(gpu.stepsPerSecond / cudaRate, 4) : null,
        webgpu_step: gpuStep && round(gpuStep.stepsPerSecond),
        webgpu_step_over_pytorch_cuda:
          gpuStep && cudaRate ? round(gpuStep.stepsPerSecond / cudaRate, 4) : null,
      },
    ];
  }),
);

const commonFields = {
  machine: machine(),
  seconds_per_measurement: seconds,
  model: 'one LSTM layer + dense sigmoid, Adam 1e-3, binary cross-entropy, trainOnBatch on fixed random data',
  reference_name: torchInfo
    ? `PyTorch ${torchInfo.torch} nn.LSTM + Linear, same shapes, ${torchInfo.threads} threads`
    : 'PyTorch unavailable',
  skipped_backends: Object.fromEntries(skippedBackends),
};

const smallRuns = runs.filter((r) => r.config === (configs[0] ?? 'small'));
const best = smallRuns.sort((a, b) => b.stepsPerSecond - a.stepsPerSecond)[0];
if (best) {
  const reference = torchRate(best.config);
  writeResult('train', {
    value: round(best.stepsPerSecond),
    unit: 'time steps/s (training)',
    reference: reference === null ? Number.NaN : round(reference),
    ratio: reference === null ? Number.NaN : round(best.stepsPerSecond / reference, 3),
    config: { ...CONFIGS[best.config], name: best.config },
    best: { backend: best.backend, implementation: best.implementation },
    ...commonFields,
    configs: perConfig,
    timed_out: timedOut,
    runs: runs.map((r) => ({
      ...r,
      stepsPerSecond: round(r.stepsPerSecond),
      stepsPerCpuSecond: round(r.stepsPerCpuSecond),
      seconds: round(r.seconds, 2),
      warmupSeconds: round(r.warmupSeconds, 2),
    })),
    pytorch,
    pytorch_one_thread: pytorchOneThread,
    pytorch_cuda: pytorchCuda,
  });
}

/** The smallest of a per-configuration figure (null where no configuration has it). */
const smallest = (pick: (c: (typeof perConfig)[string]) => number | null | undefined) => {
  const values = Object.values(perConfig)
    .map(pick)
    .filter((v): v is number => typeof v === 'number');
  return values.length > 0 ? Math.min(...values) : null;
};

const ratios = configs
  .map((config) => ({ config, fused: find(config, 'wasm', 'fused'), layers: find(config, 'wasm', 'layers') }))
  .filter((r) => r.fused && r.layers)
  .map((r) => ({ ...r, ratio: r.fused!.stepsPerSecond / r.layers!.stepsPerSecond }))
  .sort((a, b) => a.ratio - b.ratio);
const worst = ratios[0];
if (worst) {
  writeResult('train-fast-lstm', {
    value: round(worst.fused!.stepsPerSecond),
    unit: 'time steps/s (training, wasm, fused LSTM op)',
    reference: round(worst.layers!.stepsPerSecond),
    reference_name: 'tfjs-layers LSTM on wasm (with the transpose-then-matMul kernel)',
    ratio: round(worst.ratio, 2),
    ratio_definition: 'fused ÷ layers on wasm, the smaller of the configurations',
    ratio_cpu_time: smallest((c) => c.cpu_time.fused_over_layers),
    ratio_stock_matmul: smallest((c) => c.fused_over_layers_stock_matmul),
    ratio_stock_matmul_cpu_time: smallest((c) => c.cpu_time.fused_over_layers_stock_matmul),
    ratio_to_pytorch: smallest((c) => c.fused_over_pytorch),
    ratio_to_pytorch_one_thread: smallest((c) => c.fused_over_pytorch_one_thread),
    config: { ...CONFIGS[worst.config], name: worst.config },
    machine: commonFields.machine,
    seconds_per_measurement: seconds,
    configs: perConfig,
    pytorch_reference_name: commonFields.reference_name,
  });
}
