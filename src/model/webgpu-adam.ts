/**
 * Adam in three GPU dispatches per weight on the webgpu backend. tfjs's AdamOptimizer updates each
 * weight with fourteen elementwise ops (moments, bias correction, step), each one tfjs op with its
 * own uniform buffer, bind group and JavaScript overhead; here one program writes the first moment,
 * one the second, one the weight, with the same math in the same order (bias-correction powers read
 * from the optimizer's own accBeta variables), so weights, optimizer state, checkpoints and --resume
 * are tfjs's. Other backends, and webgpu before the kernel is installed, run tfjs's own Adam.
 */
import * as tf from '@tensorflow/tfjs';
import { type ProgramUniform, webgpuBackend } from '../vendor-shims/tfjs-backend-webgpu.js';
import { type KernelArgs, adamInternals, registerRawKernel } from '../vendor-shims/tfjs-core.js';

/** inputs value, m, v, grad (one weight's shape), accBeta1, accBeta2 (scalars) → [value', m', v']. */
export const ADAM_KERNEL = 'IntentstreamAdamUpdate';

const WORKGROUP = 128;

/** Elementwise over `size` elements (a weight here, the loss gradient's examples): WORKGROUP-thread groups. */
export abstract class ElementwiseProgram {
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly size = true;
  readonly dispatchLayout = { x: [0] };
  readonly outputShape: number[];
  dispatch: [number, number, number];
  abstract shaderKey: string;
  abstract readonly variableNames: string[];
  abstract readonly uniforms: string;

  constructor(size: number) {
    this.outputShape = [size];
    this.dispatch = [Math.ceil(size / WORKGROUP), 1, 1];
  }

  abstract getUserCode(): string;
}

/**
 * moment' = moment·β + g·(1 − β), or with g² for the second moment, where g = grad + decay·value:
 * decay = 2λ adds the gradient of an L2 penalty λ·Σvalue² (0: the gradient as it is).
 */
class MomentProgram extends ElementwiseProgram {
  readonly variableNames = ['moment', 'grad', 'value'];
  readonly uniforms = 'beta : f32, oneMinusBeta : f32, decay : f32,';
  shaderKey: string;

  constructor(
    size: number,
    private readonly squared: boolean,
  ) {
    super(size);
    this.shaderKey = `intentstream_adam_moment_${squared}`;
  }

  getUserCode(): string {
    const g = this.squared ? 'g * g' : 'g';
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let g = grad[index] + uniforms.decay * value[index];
          setOutputAtIndex(index, moment[index] * uniforms.beta + ${g} * uniforms.oneMinusBeta);
        }
      }
    `;
  }
}

/** value' = (m' / (1 − β₁ᵗ)) / (sqrt(v' / (1 − β₂ᵗ)) + ε) · (−rate) + value. */
class StepProgram extends ElementwiseProgram {
  readonly variableNames = ['value', 'm', 'v', 'accBeta1', 'accBeta2'];
  readonly uniforms = 'epsilon : f32, negativeRate : f32,';
  shaderKey = 'intentstream_adam_step';

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let m = m[index] / (1.0 - accBeta1[0]);
          let v = v[index] / (1.0 - accBeta2[0]);
          setOutputAtIndex(index, (m / (sqrt(v) + uniforms.epsilon)) * uniforms.negativeRate + value[index]);
        }
      }
    `;
  }
}

function adamKernel({ inputs, backend: raw, attrs }: KernelArgs): tf.TensorInfo[] {
  const backend = webgpuBackend(raw);
  const { value, m, v, grad, accBeta1, accBeta2 } = inputs as Record<string, tf.TensorInfo>;
  const size = value!.shape.reduce((a, b) => a * b, 1);
  const [beta1, beta2, epsilon, rate, decay] = ['beta1', 'beta2', 'epsilon', 'learningRate', 'decay'].map(
    (k) => attrs[k] as number,
  );
  // One entry per scalar: an entry of two values is laid out as a vec2 (8-byte aligned).
  const f32 = (...values: number[]): ProgramUniform[] => values.map((v) => ({ type: 'float32', data: [v] }));
  const moment = (input: tf.TensorInfo, beta: number, squared: boolean) =>
    backend.runWebGPUProgram(
      new MomentProgram(size, squared),
      [input, grad!, value!],
      'float32',
      f32(beta, 1 - beta, decay ?? 0),
    );
  const m1 = moment(m!, beta1!, false);
  const v1 = moment(v!, beta2!, true);
  const next = backend.runWebGPUProgram(
    new StepProgram(size),
    [value!, m1, v1, accBeta1!, accBeta2!],
    'float32',
    f32(epsilon!, -rate!),
  );
  // The programs write flat outputs; the weight keeps its shape.
  return [next, m1, v1].map((info) => ({ ...info, shape: value!.shape }));
}

let installed = false;

/** Registers the Adam kernel for the webgpu backend (once per process). */
export function installWebgpuAdam(): void {
  if (installed) return;
  installed = true;
  registerRawKernel(ADAM_KERNEL, 'webgpu', adamKernel);
}

/**
 * Whether `optimizer` is a FusedAdamOptimizer (`instanceof` cannot tell: tfjs's optimizers answer it
 * for any object with applyGradients and minimize).
 */
export function isFusedAdam(optimizer: tf.Optimizer): optimizer is FusedAdamOptimizer {
  return typeof (optimizer as Partial<FusedAdamOptimizer>).setL2 === 'function';
}

type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

/**
 * tfjs's Adam (β₁ 0.9, β₂ 0.999, the backend's ε), whose step runs ADAM_KERNEL where the backend
 * has it. Same weights (`name/m`, `name/v`), same checkpoints. `setL2` puts an L2 penalty's gradient
 * into the step (on webgpu inside the moment programs) instead of the loss, where autodiff would
 * spend a dozen dispatches per weight on it.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /** 2λ by variable name: the gradient of λ·Σw² is 2λ·w. */
  private readonly decay = new Map<string, number>();

  constructor(learningRate: number) {
    super(learningRate, 0.9, 0.999);
  }

  /** Every later step adds the gradient of `lambda`·Σw² to the gradients of the variables `names`. */
  setL2(names: Iterable<string>, lambda: number): void {
    if (!(lambda >= 0)) throw new RangeError(`an L2 coefficient must be >= 0, got ${lambda}`);
    for (const name of names) {
      if (lambda === 0) this.decay.delete(name);
      else this.decay.set(name, 2 * lambda);
    }
  }

  override applyGradients(variableGradients: VariableGradients): void {
    if (tf.getKernel(ADAM_KERNEL, tf.getBackend()) === undefined) {
      if (this.decay.size === 0) super.applyGradients(variableGradients);
      else tf.tidy(() => super.applyGradients(this.withDecay(variableGradients)));
      return;
    }
    const state = adamInternals(this);
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        const moment = (suffix: string) => ({
          originalName: `${name}/${suffix}`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        });
        state.first[i] ??= moment('m');
        state.second[i] ??= moment('v');
        const gradient = Array.isArray(variableGradients)
          ? variableGradients[i]!.tensor
          : variableGradients[name];
        if (gradient == null) return;
        const m = state.first[i]!.variable;
        const v = state.second[i]!.variable;
        const [next, m1, v1] = tf.engine().runKernel(
          ADAM_KERNEL,
          { value, m, v, grad: gradient, accBeta1: state.accBeta1, accBeta2: state.accBeta2 },
          {
            beta1: state.beta1,
            beta2: state.beta2,
            epsilon: state.epsilon,
            learningRate: state.learningRate,
            decay: this.decay.get(name) ?? 0,
          },
        ) as tf.Tensor[];
        m.assign(m1!);
        v.assign(v1!);
        value.assign(next!);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, state.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, state.beta2));
    });
    this.incrementIterations();
  }

  /** The gradients with 2λ·w added where an L2 penalty is set (tfjs's own step then does the rest). */
  private withDecay(variableGradients: VariableGradients): VariableGradients {
    const decayed = (name: string, gradient: tf.Tensor) => {
      const decay = this.decay.get(name);
      if (decay === undefined) return gradient;
      return tf.add(gradient, tf.mul(tf.engine().registeredVariables[name]!, decay));
    };
    const named = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    return named.map(({ name, tensor }) => ({ name, tensor: decayed(name, tensor) }));
  }
}
