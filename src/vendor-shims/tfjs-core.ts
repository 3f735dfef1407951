/**
 * tfjs-core internals (4.22):
 * - the engine's custom-gradient kernel call `runKernelFunc` (what tf.customGrad uses, with per-input
 *   lazy gradients), for the fused LSTM op (model/fused-lstm.ts);
 * - a registered kernel's `kernelFunc` called directly with a backend, and a kernel replaced for a
 *   backend (unregister + register keeping its setupFunc): the wasm and webgpu kernel fixes and the
 *   fused op's host kernels;
 * - Adam's `learningRate` field, which it reads at every step and has no public setter for, and its
 *   state fields (moments, bias-correction powers) for the fused webgpu step (model/webgpu-adam.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { type ShimProblem, missingFunctions } from './problems.js';

/** What a kernel function receives; `B` is the backend's internal shape as the caller uses it. */
export interface KernelArgs<B = unknown> {
  inputs: Record<string, tf.TensorInfo>;
  backend: B;
  attrs: Record<string, unknown>;
}

export type RawKernelFunc<B = unknown> = (args: KernelArgs<B>) => tf.TensorInfo | tf.TensorInfo[];

/** The kernel registered for `kernelName` on `backendName`, callable with a backend; undefined when none. */
export function registeredKernel<B = unknown>(
  kernelName: string,
  backendName: string,
): ((args: KernelArgs<B>) => tf.TensorInfo) | undefined {
  const kernel = tf.getKernel(kernelName, backendName);
  return kernel === undefined
    ? undefined
    : (kernel.kernelFunc as unknown as (args: KernelArgs<B>) => tf.TensorInfo);
}

/** Registers `func` for `kernelName` on `backendName`. */
export function registerRawKernel<B>(kernelName: string, backendName: string, func: RawKernelFunc<B>): void {
  tf.registerKernel({ kernelName, backendName, kernelFunc: func as unknown as tf.KernelFunc });
}

/**
 * Replaces the kernel registered for `kernelName` on `backendName` by `wrap(stock)`, keeping its setupFunc;
 * false (and nothing changed) when there is no such kernel.
 */
export function replaceKernel<B>(
  kernelName: string,
  backendName: string,
  wrap: (stock: (args: KernelArgs<B>) => tf.TensorInfo) => RawKernelFunc<B>,
): boolean {
  const stock = tf.getKernel(kernelName, backendName);
  if (stock === undefined) return false;
  const func = wrap(stock.kernelFunc as unknown as (args: KernelArgs<B>) => tf.TensorInfo);
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({
    kernelName,
    backendName,
    ...(stock.setupFunc ? { setupFunc: stock.setupFunc } : {}),
    kernelFunc: func as unknown as tf.KernelFunc,
  });
  return true;
}

export interface CustomGradientCall {
  forwardFunc: (backend: unknown, save: (tensors: tf.Tensor[]) => void) => tf.Tensor;
  /** one lazy gradient per input name, from the output's gradient and the saved tensors. */
  backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<string, () => tf.Tensor>;
  inputs: Record<string, tf.Tensor>;
}

interface CustomGradEngine {
  runKernelFunc(params: CustomGradientCall): tf.Tensor;
}

/** Runs `forwardFunc` as one op of the engine whose gradient is `backwardsFunc`. */
export function runWithCustomGradient(call: CustomGradientCall): tf.Tensor {
  return (tf.engine() as unknown as CustomGradEngine).runKernelFunc(call);
}

/** Sets the learning rate Adam uses from its next step on. */
export function setAdamLearningRate(optimizer: tf.AdamOptimizer, rate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}

/** One moment variable of Adam's state, as AdamOptimizer keeps it. */
export interface AdamMoment {
  originalName: string;
  variable: tf.Variable;
}

/** AdamOptimizer's private state, by reference (the arrays are the optimizer's own). */
export interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  first: (AdamMoment | undefined)[];
  second: (AdamMoment | undefined)[];
}

/** The state fields of `optimizer` (read each step: setWeights replaces the moment arrays). */
export function adamInternals(optimizer: tf.AdamOptimizer): AdamInternals {
  const o = optimizer as unknown as Omit<AdamInternals, 'first' | 'second'> & {
    accumulatedFirstMoment: (AdamMoment | undefined)[];
    accumulatedSecondMoment: (AdamMoment | undefined)[];
  };
  return {
    learningRate: o.learningRate,
    beta1: o.beta1,
    beta2: o.beta2,
    epsilon: o.epsilon,
    accBeta1: o.accBeta1,
    accBeta2: o.accBeta2,
    first: o.accumulatedFirstMoment,
    second: o.accumulatedSecondMoment,
  };
}

/** The tfjs parts the shims rely on; tests pass fakes. */
export interface TfjsCoreInternals {
  engine: unknown;
  /** the AdamOptimizer class (its source is read: an instance would start a backend). */
  AdamOptimizer: { toString(): string };
}

const installed: TfjsCoreInternals = { engine: tf.engine(), AdamOptimizer: tf.AdamOptimizer };

const ADAM_FIELDS = [
  'learningRate',
  'beta1',
  'beta2',
  'epsilon',
  'accBeta1',
  'accBeta2',
  'accumulatedFirstMoment',
  'accumulatedSecondMoment',
];

export function checkTfjsCoreInternals(lib: TfjsCoreInternals = installed): ShimProblem[] {
  const problems = missingFunctions('@tensorflow/tfjs-core', 'engine', lib.engine, ['runKernelFunc']);
  // learningRate: the schedule sets it; the rest: the fused webgpu step reads and updates them.
  const source = lib.AdamOptimizer.toString();
  const missing = ADAM_FIELDS.filter((f) => !new RegExp(`this\\.${f}\\s*=`).test(source));
  if (missing.length > 0) {
    problems.push({
      package: '@tensorflow/tfjs-core',
      internal: `AdamOptimizer.${missing.join(', ')}`,
      severity: 'fatal',
      message: `@tensorflow/tfjs-core: AdamOptimizer no longer keeps ${missing.join(', ')} as fields, which the learning-rate schedule (model/train.ts) and the fused webgpu Adam step (model/webgpu-adam.ts) set and read; the installed tfjs is not the version src/vendor-shims/tfjs-core.ts was written for`,
    });
  }
  return problems;
}
