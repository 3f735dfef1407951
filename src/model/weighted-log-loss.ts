/**
 * The training loss as one op: the mean over examples of w·(−y·log(p + ε) − (1 − y)·log(1 − p + ε))
 * (tf.losses.logLoss's formula, ε = 1e-7), with its gradient w.r.t. p written out:
 * dp = dy·w·(−y/(p + ε) + (1 − y)/(1 − p + ε))/n. Through autodiff the loss is a dozen tfjs ops
 * forward and more backward, each a GPU dispatch with its CPU-side cost; on webgpu this is one
 * program each way (a one-workgroup reduction, an elementwise gradient), elsewhere a few tfjs ops.
 */
import * as tf from '@tensorflow/tfjs';
import { type ProgramUniform, webgpuBackend } from '../vendor-shims/tfjs-backend-webgpu.js';
import { type KernelArgs, registerRawKernel, runWithCustomGradient } from '../vendor-shims/tfjs-core.js';
import { ElementwiseProgram } from './webgpu-adam.js';

export const LOSS_EPSILON = 1e-7;
/** inputs labels, p, weights (n elements each) → the weighted mean loss (a scalar). */
export const LOSS_KERNEL = 'IntentstreamWeightedLogLoss';
/** inputs labels, p, weights, dy (a scalar) → dp (p's shape). */
export const LOSS_GRAD_KERNEL = 'IntentstreamWeightedLogLossGrad';

/** The mean weighted log loss of predictions `p` for `labels` (0/1), all of one shape. */
export function weightedLogLoss(labels: tf.Tensor, p: tf.Tensor, weights: tf.Tensor): tf.Scalar {
  if (!tf.util.arraysEqual(labels.shape, p.shape) || !tf.util.arraysEqual(weights.shape, p.shape))
    throw new Error(
      `weightedLogLoss: labels ${labels.shape}, predictions ${p.shape} and weights ${weights.shape} must have one shape`,
    );
  const onKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;
  return runWithCustomGradient({
    inputs: { labels, p, weights },
    forwardFunc: (_backend, save) => {
      save([labels, p, weights]);
      if (onKernel(LOSS_KERNEL))
        return tf.engine().runKernel(LOSS_KERNEL, { labels, p, weights }) as tf.Tensor;
      return tf.tidy(() => tf.mean(tf.mul(weights, pointwiseLoss(labels, p))));
    },
    backwardsFunc: (dy, saved) => {
      const [y, pSaved, w] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const constant = (t: tf.Tensor) => () => tf.zerosLike(t);
      return {
        p: () =>
          onKernel(LOSS_GRAD_KERNEL)
            ? (tf.engine().runKernel(LOSS_GRAD_KERNEL, { labels: y, p: pSaved, weights: w, dy }) as tf.Tensor)
            : tf.tidy(() => tf.mul(tf.mul(dy, tf.div(w, pSaved.size)), pointwiseGradient(y, pSaved))),
        labels: constant(y),
        weights: constant(w),
      };
    },
  }) as tf.Scalar;
}

const pointwiseLoss = (y: tf.Tensor, p: tf.Tensor) =>
  tf.sub(
    tf.neg(tf.mul(y, tf.log(tf.add(p, LOSS_EPSILON)))),
    tf.mul(tf.sub(1, y), tf.log(tf.add(tf.sub(1, p), LOSS_EPSILON))),
  );

const pointwiseGradient = (y: tf.Tensor, p: tf.Tensor) =>
  tf.add(
    tf.neg(tf.div(y, tf.add(p, LOSS_EPSILON))),
    tf.div(tf.sub(1, y), tf.add(tf.sub(1, p), LOSS_EPSILON)),
  );

// ---------------------------------------------------------------------------------------------
// webgpu

const REDUCE_THREADS = 256;

/**
 * 1 − p, rounded to f32 before ε is added: a shader compiler may otherwise fold (1 − p) + ε into
 * 1 − (p − ε), which for p within a few ε of 1 gives another value than tfjs's separate ops
 * (SwiftShader does). The round trip through u32 keeps it from reassociating.
 */
const WGSL_LOSS = `
  fn complement(p : f32) -> f32 { return bitcast<f32>(bitcast<u32>(1.0 - p)); }
  fn pointwiseLoss(y : f32, p : f32) -> f32 {
    return -(y * log(p + ${LOSS_EPSILON})) - (1.0 - y) * log(complement(p) + ${LOSS_EPSILON});
  }
`;

/** One workgroup: each thread sums a stride of the examples, then a tree reduction; the mean at 0. */
class WeightedLogLossProgram {
  readonly variableNames = ['labels', 'p', 'weights'];
  readonly uniforms = 'count : i32,';
  readonly workgroupSize: [number, number, number] = [REDUCE_THREADS, 1, 1];
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number] = [1, 1, 1];
  readonly outputShape = [1];
  readonly shaderKey = 'intentstream_weighted_log_loss';

  getUserCode(): string {
    return `
      ${WGSL_LOSS}
      var<workgroup> partial : array<f32, ${REDUCE_THREADS}>;
      fn main(index : i32) {
        let lid = i32(localId.x);
        var sum = 0.0;
        for (var i = lid; i < uniforms.count; i += ${REDUCE_THREADS}) {
          sum += weights[i] * pointwiseLoss(labels[i], p[i]);
        }
        partial[lid] = sum;
        workgroupBarrier();
        for (var width = ${REDUCE_THREADS / 2}; width > 0; width /= 2) {
          if (lid < width) { partial[lid] += partial[lid + width]; }
          workgroupBarrier();
        }
        if (lid == 0) { setOutputAtIndex(0, partial[0] / f32(uniforms.count)); }
      }
    `;
  }
}

class WeightedLogLossGradProgram extends ElementwiseProgram {
  readonly variableNames = ['labels', 'p', 'weights', 'dy'];
  readonly uniforms = 'scale : f32,';
  shaderKey = 'intentstream_weighted_log_loss_grad';

  getUserCode(): string {
    return `
      ${WGSL_LOSS}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let y = labels[index];
          let q = p[index];
          let g = -(y / (q + ${LOSS_EPSILON})) + (1.0 - y) / (complement(q) + ${LOSS_EPSILON});
          setOutputAtIndex(index, dy[0] * (weights[index] * uniforms.scale) * g);
        }
      }
    `;
  }
}

function lossKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { labels, p, weights } = inputs as Record<string, tf.TensorInfo>;
  const count = tf.util.sizeFromShape(p!.shape);
  const uniforms: ProgramUniform[] = [{ type: 'int32', data: [count] }];
  const mean = webgpuBackend(backend).runWebGPUProgram(
    new WeightedLogLossProgram(),
    [labels!, p!, weights!],
    'float32',
    uniforms,
  );
  return { ...mean, shape: [] };
}

function lossGradKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { labels, p, weights, dy } = inputs as Record<string, tf.TensorInfo>;
  const count = tf.util.sizeFromShape(p!.shape);
  const dp = webgpuBackend(backend).runWebGPUProgram(
    new WeightedLogLossGradProgram(count),
    [labels!, p!, weights!, dy!],
    'float32',
    [{ type: 'float32', data: [1 / count] }],
  );
  return { ...dp, shape: p!.shape };
}

let installed = false;

/** Registers the loss kernels for the webgpu backend (once per process). */
export function installWebgpuLogLoss(): void {
  if (installed) return;
  installed = true;
  registerRawKernel(LOSS_KERNEL, 'webgpu', lossKernel);
  registerRawKernel(LOSS_GRAD_KERNEL, 'webgpu', lossGradKernel);
}
