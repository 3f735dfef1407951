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

/** Elementwise over one weight: a flat dispatch of WORKGROUP-thread workgroups. */
abstract class ElementwiseProgram {
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

/** moment' = moment·β + g·(1 − β), or with g² for the second moment. */
class MomentProgram extends ElementwiseProgram {
  readonly variableNames = ['moment', 'grad'];
  readonly uniforms = 'beta : f32, oneMinusBeta : f32,';
  shaderKey: string;

  constructor(
    size: number,
    private readonly squared: boolean,
  ) {
    super(size);
    this.shaderKey = `intentstream_adam_moment_${squared}`;
  }

  getUserCode(): string {
    const g = this.squared ? 'grad[index] * grad[index]' : 'grad[index]';
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
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
  const [beta1, beta2, epsilon, rate] = ['beta1', 'beta2', 'epsilon', 'learningRate'].map(
    (k) => attrs[k] as number,
  );
  // One entry per scalar: an entry of two values is laid out as a vec2 (8-byte aligned).
  const f32 = (...values: number[]): ProgramUniform[] => values.map((v) => ({ type: 'float32', data: [v] }));
  const moment = (input: tf.TensorInfo, beta: number, squared: boolean) =>
    backend.runWebGPUProgram(
      new MomentProgram(size, squared),
      [input, grad!],
      'float32',
      f32(beta, 1 - beta),
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
 * tfjs's Adam (β₁ 0.9, β₂ 0.999, the backend's ε), whose step runs ADAM_KERNEL where the backend
 * has it. Same weights (`name/m`, `name/v`), same checkpoints.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  constructor(learningRate: number) {
    super(learningRate, 0.9, 0.999);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (tf.getKernel(ADAM_KERNEL, tf.getBackend()) === undefined) {
      super.applyGradients(variableGradients);
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
}
