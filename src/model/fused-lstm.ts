/**
 * The LSTM recurrence as one op with its own gradient, computing exactly what a tfjs-layers LSTM
 * layer computes (same weights: kernel [in, 4u], recurrentKernel [u, 4u], bias [4u], gate order
 * i, f, c, o; the layer's recurrent activation, hardSigmoid by default; masked steps carry h and c
 * over, as the layer does behind a mask) in far fewer, cheaper kernel calls:
 *
 * - the input projection x·W + b of all time steps is ONE matMul (the layer does one per step);
 * - the recurrence runs in one kernel call per direction: on the cpu and wasm backends a host
 *   kernel (below) loops over time with plain matMuls through the backend's own BatchMatMul (h·U
 *   forward; dz·[Uᵀ | Wᵀ] and dzᵀ·[h₋₁ | x] backward) and computes the gates and their
 *   derivatives in plain Float32Array loops: no per-step op dispatch, no autodiff graph, no `tanh`
 *   kernel (slow in wasm), no transposed matMul (10× slower in wasm); on webgpu, WGSL kernels with
 *   the time loop inside one dispatch (model/webgpu-lstm.ts); other backends (tensorflow), and
 *   layer sizes a GPU's workgroup memory cannot hold, run the same recurrence as tfjs ops;
 * - the input gradient is skipped where the input is data (the layer's input is a model input),
 *   and every gradient is only handed out where something needs it.
 *
 * The gradient is attached through the engine's custom-gradient kernel call (what tf.customGrad
 * uses, but with per-input lazy gradients), an internal of tfjs-core reached through
 * vendor-shims/tfjs-core.ts: the unit test compares outputs and all gradients with the tfjs layer's,
 * so an incompatible tfjs upgrade fails there.
 */
import * as tf from '@tensorflow/tfjs';
import { tanh } from '../util/fast-tanh.js';
import { cpuBackend } from '../vendor-shims/tfjs-backend-cpu.js';
import { wasmBackend } from '../vendor-shims/tfjs-backend-wasm.js';
import {
  type KernelArgs,
  registerRawKernel,
  registeredKernel,
  runWithCustomGradient,
} from '../vendor-shims/tfjs-core.js';
import { type LSTM, type LSTMCell, type LstmArgs, lstmLayerClass } from '../vendor-shims/tfjs-layers.js';

export type RecurrentActivation = 'hardSigmoid' | 'sigmoid';

export interface FusedLstmOptions {
  recurrentActivation: RecurrentActivation;
  /** [batch, time, units] (every step's output) instead of [batch, units] (the last one). */
  returnSequences: boolean;
  /** 'auto': the recurrence kernel where the active backend has one (cpu, wasm, webgpu), else tfjs ops. */
  implementation?: 'auto' | 'ops';
  /**
   * false where x is data that no gradient will be asked for (the layer's input is a model input):
   * the backward pass then skips the input gradient (computed on demand all the same). Default true.
   */
  inputGradient?: boolean;
}

export const FORWARD_KERNEL = 'IntentstreamLstmForward';
export const BACKWARD_KERNEL = 'IntentstreamLstmBackward';

/** Per-step results the backward pass needs, all time-major. */
interface Recurrence {
  /** Output (= h state) after each step, carried over masked steps: [T, B, U]. */
  hs: tf.Tensor3D;
  /** Cell state after each step, carried over masked steps: [T, B, U]. */
  cs: tf.Tensor3D;
  /** tanh of the new cell state (0 at masked steps): [T, B, U]. */
  tc: tf.Tensor3D;
  /** Activated gates i, f, c̃, o (0 at masked steps): [T, B, 4U]. */
  gates: tf.Tensor3D;
}

// ---------------------------------------------------------------------------------------------
// The recurrence on plain arrays (shared by the cpu and wasm host kernels).

/**
 * One forward step for every row: gates from z = xw[t] + r (r = h₋₁·U, null at t = 0), new c and h
 * into cs/hs at step t; masked rows carry step t−1's h and c.
 */
function forwardStep(
  t: number,
  dims: { B: number; U: number },
  a: { xw: Float32Array; r: Float32Array | null; mask: Float32Array },
  out: { hs: Float32Array; cs: Float32Array; tc: Float32Array; gates: Float32Array },
  hard: boolean,
): void {
  const { B, U } = dims;
  const G = 4 * U;
  const { xw, r, mask } = a;
  const { hs, cs, tc, gates } = out;
  for (let b = 0; b < B; b++) {
    const row = (t * B + b) * U;
    const prev = row - B * U;
    const zRow = (t * B + b) * G;
    if (mask[t * B + b] === 0) {
      for (let j = 0; j < U; j++) {
        hs[row + j] = t > 0 ? hs[prev + j]! : 0;
        cs[row + j] = t > 0 ? cs[prev + j]! : 0;
        tc[row + j] = 0;
      }
      gates.fill(0, zRow, zRow + G);
      continue;
    }
    const rRow = b * G;
    for (let j = 0; j < U; j++) {
      let zi = xw[zRow + j]!;
      let zf = xw[zRow + U + j]!;
      let zg = xw[zRow + 2 * U + j]!;
      let zo = xw[zRow + 3 * U + j]!;
      if (r !== null) {
        zi += r[rRow + j]!;
        zf += r[rRow + U + j]!;
        zg += r[rRow + 2 * U + j]!;
        zo += r[rRow + 3 * U + j]!;
      }
      let i: number;
      let f: number;
      let o: number;
      if (hard) {
        i = 0.2 * zi + 0.5;
        i = i <= 0 ? 0 : i >= 1 ? 1 : i;
        f = 0.2 * zf + 0.5;
        f = f <= 0 ? 0 : f >= 1 ? 1 : f;
        o = 0.2 * zo + 0.5;
        o = o <= 0 ? 0 : o >= 1 ? 1 : o;
      } else {
        // sigmoid(z) = (1 + tanh(z/2)) / 2
        i = 0.5 + 0.5 * tanh(0.5 * zi);
        f = 0.5 + 0.5 * tanh(0.5 * zf);
        o = 0.5 + 0.5 * tanh(0.5 * zo);
      }
      const g = tanh(zg);
      const c = f * (t > 0 ? cs[prev + j]! : 0) + i * g;
      const tcv = tanh(c);
      gates[zRow + j] = i;
      gates[zRow + U + j] = f;
      gates[zRow + 2 * U + j] = g;
      gates[zRow + 3 * U + j] = o;
      cs[row + j] = c;
      tc[row + j] = tcv;
      hs[row + j] = o * tcv;
    }
  }
}

/**
 * One backward step: from dh (gradient w.r.t. the output after step t, upstream plus recurrent) and
 * dc (w.r.t. the cell state after step t), the pre-activation gradient dz of step t into dz (one
 * [B, 4U] block) and transposed into dzT ([4U, B]), its column sums added to db, and dc for step
 * t−1 in place. dh of unmasked rows is zeroed: their gradient w.r.t. h₋₁ is dz·Uᵀ, which the
 * caller adds; masked rows pass dh and dc through unchanged (dz = 0).
 */
function backwardStep(
  t: number,
  dims: { B: number; U: number },
  a: { gates: Float32Array; cs: Float32Array; tc: Float32Array; mask: Float32Array },
  state: { dh: Float32Array; dc: Float32Array; dz: Float32Array; dzT: Float32Array; db: Float32Array },
  hard: boolean,
): void {
  const { B, U } = dims;
  const G = 4 * U;
  const { gates, cs, tc, mask } = a;
  const { dh, dc, dz, dzT, db } = state;
  for (let b = 0; b < B; b++) {
    const dzRow = b * G;
    if (mask[t * B + b] === 0) {
      dz.fill(0, dzRow, dzRow + G);
      for (let g = 0; g < G; g++) dzT[g * B + b] = 0;
      continue;
    }
    const row = (t * B + b) * U;
    const prev = row - B * U;
    const zRow = (t * B + b) * G;
    const sRow = b * U;
    for (let j = 0; j < U; j++) {
      const i = gates[zRow + j]!;
      const f = gates[zRow + U + j]!;
      const g = gates[zRow + 2 * U + j]!;
      const o = gates[zRow + 3 * U + j]!;
      const tcv = tc[row + j]!;
      const dhv = dh[sRow + j]!;
      const dcv = dc[sRow + j]! + dhv * o * (1 - tcv * tcv);
      const cPrev = t > 0 ? cs[prev + j]! : 0;
      // Derivatives of the recurrent activation from its output (hard sigmoid: 0.2 inside (0, 1)).
      const di = hard ? (i > 0 && i < 1 ? 0.2 : 0) : i * (1 - i);
      const df = hard ? (f > 0 && f < 1 ? 0.2 : 0) : f * (1 - f);
      const dO = hard ? (o > 0 && o < 1 ? 0.2 : 0) : o * (1 - o);
      const zi = dcv * g * di;
      const zf = dcv * cPrev * df;
      const zg = dcv * i * (1 - g * g);
      const zo = dhv * tcv * dO;
      dz[dzRow + j] = zi;
      dz[dzRow + U + j] = zf;
      dz[dzRow + 2 * U + j] = zg;
      dz[dzRow + 3 * U + j] = zo;
      dzT[j * B + b] = zi;
      dzT[(U + j) * B + b] = zf;
      dzT[(2 * U + j) * B + b] = zg;
      dzT[(3 * U + j) * B + b] = zo;
      db[j] = db[j]! + zi;
      db[U + j] = db[U + j]! + zf;
      db[2 * U + j] = db[2 * U + j]! + zg;
      db[3 * U + j] = db[3 * U + j]! + zo;
      dc[sRow + j] = dcv * f;
      dh[sRow + j] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host kernels: the loops above over the backend's own memory, matMuls through its BatchMatMul.

/** What the host kernels need from a backend. */
interface Host {
  /** A float32 tensor info of the given shape (contents undefined). */
  alloc(shape: number[]): tf.TensorInfo;
  /** Its values (on wasm: re-fetch after every alloc or matMul, which may move the heap). */
  view(info: tf.TensorInfo): Float32Array;
  matMul(a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo;
  free(info: tf.TensorInfo): void;
}

function plainMatMul(backendName: string, backend: unknown) {
  const run = registeredKernel('BatchMatMul', backendName);
  if (run === undefined) throw new Error(`the ${backendName} backend has no BatchMatMul kernel`);
  return (a: tf.TensorInfo, b: tf.TensorInfo) =>
    run({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
}

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

const HOSTS: Record<string, (backend: unknown) => Host> = {
  wasm: (backend) => {
    const wasm = wasmBackend(backend);
    return {
      alloc: (shape) => wasm.makeOutput(shape, 'float32'),
      view: (info) => wasm.typedArrayFromHeap(info) as Float32Array,
      matMul: plainMatMul('wasm', backend),
      free: (info) => void wasm.disposeData(info.dataId),
    };
  },
  cpu: (backend) => {
    const cpu = cpuBackend(backend);
    return {
      alloc: (shape) => cpu.makeTensorInfo(shape, 'float32', new Float32Array(size(shape))),
      view: (info) => cpu.values(info),
      matMul: plainMatMul('cpu', backend),
      free: (info) => cpu.disposeIntermediateTensorInfo(info),
    };
  },
};

/** inputs xw [T, B, 4U] (bias included), mask [T, B] (0/1), u [U, 4U] → [hs, cs, tc, gates]. */
function forwardKernel(host: Host, { inputs, attrs }: KernelArgs): tf.TensorInfo[] {
  const xwI = inputs['xw']!;
  const [T, B, G] = xwI.shape as [number, number, number];
  const U = G / 4;
  const hard = attrs['hard'] === true;
  const hsI = host.alloc([T, B, U]);
  const csI = host.alloc([T, B, U]);
  const tcI = host.alloc([T, B, U]);
  const gatesI = host.alloc([T, B, G]);
  const hIn = host.alloc([B, U]);
  for (let t = 0; t < T; t++) {
    let rI: tf.TensorInfo | null = null;
    if (t > 0) {
      host.view(hIn).set(host.view(hsI).subarray((t - 1) * B * U, t * B * U));
      rI = host.matMul(hIn, inputs['u']!);
    }
    forwardStep(
      t,
      { B, U },
      { xw: host.view(xwI), r: rI === null ? null : host.view(rI), mask: host.view(inputs['mask']!) },
      { hs: host.view(hsI), cs: host.view(csI), tc: host.view(tcI), gates: host.view(gatesI) },
      hard,
    );
    if (rI !== null) host.free(rI);
  }
  host.free(hIn);
  return [hsI, csI, tcI, gatesI];
}

/**
 * inputs dy ([T, B, U] every step's output gradient, or [B, U] the last step's when attr lastOnly),
 * gates, cs, tc, hs, mask, x (time-major [T, B, F]), ut [4U, U], wt [4U, F] → the weight gradients
 * dKernel [F, 4U], dRecurrentKernel [U, 4U], dBias [4U], and with attr inputGrad dX [T, B, F].
 *
 * Per step t (from the last): the pre-activation gradient dz [B, 4U] (plain loops), then two plain
 * matMuls: dz·[Uᵀ | Wᵀ] gives the gradient w.r.t. h₋₁ (and x_t), dzᵀ·[h₋₁ | x_t] the step's share of
 * the weight gradients. Step-sized operands keep them fast: in the wasm backend (XNNPACK) the right
 * operand is repacked whenever it changes, and one product over all steps with dZ [T·B, 4U] on the
 * right ran 3-10x slower than these per-step ones; a reduction over axis 0 (the bias gradient) was
 * slower still.
 */
function backwardKernel(host: Host, { inputs, attrs }: KernelArgs): tf.TensorInfo[] {
  const gatesI = inputs['gates']!;
  const [T, B, G] = gatesI.shape as [number, number, number];
  const U = G / 4;
  const F = inputs['x']!.shape[2]!;
  const hard = attrs['hard'] === true;
  const lastOnly = attrs['lastOnly'] === true;
  const inputGrad = attrs['inputGrad'] === true;
  const dyI = inputs['dy']!;
  const dh = new Float32Array(B * U);
  const dc = new Float32Array(B * U);
  if (lastOnly) dh.set(host.view(dyI));
  // Right operand of the per-step input-side product: [Uᵀ | Wᵀ] (or Uᵀ alone): [4U, K].
  const K = inputGrad ? U + F : U;
  let back = inputs['ut']!;
  if (inputGrad) {
    back = host.alloc([G, K]);
    const [out, ut, wt] = [host.view(back), host.view(inputs['ut']!), host.view(inputs['wt']!)];
    for (let g = 0; g < G; g++) {
      out.set(ut.subarray(g * U, (g + 1) * U), g * K);
      out.set(wt.subarray(g * F, (g + 1) * F), g * K + U);
    }
  }
  const H = U + F;
  // Σₜ dzₜᵀ·[hₜ₋₁ | xₜ] = [dRecurrentKernel | dKernel]ᵀ: [4U, U + F], split and transposed at the end.
  const dWeightsT = new Float32Array(G * H);
  const dbI = host.alloc([G]);
  const dXI = inputGrad ? host.alloc([T, B, F]) : null;
  host.view(dbI).fill(0);
  const dzStep = host.alloc([B, G]);
  const dzTStep = host.alloc([G, B]);
  for (let t = T - 1; t >= 0; t--) {
    if (!lastOnly) {
      const dy = host.view(dyI);
      const from = t * B * U;
      for (let k = 0; k < B * U; k++) dh[k] = dh[k]! + dy[from + k]!;
    }
    const dz = host.view(dzStep);
    backwardStep(
      t,
      { B, U },
      {
        gates: host.view(gatesI),
        cs: host.view(inputs['cs']!),
        tc: host.view(inputs['tc']!),
        mask: host.view(inputs['mask']!),
      },
      { dh, dc, dz, dzT: host.view(dzTStep), db: host.view(dbI) },
      hard,
    );
    // [h₋₁ | x_t]: [B, U + F], a fresh tensor each step (XNNPACK caches packed operands by tensor).
    const hxI = host.alloc([B, H]);
    {
      const [hx, hs, x] = [host.view(hxI), host.view(inputs['hs']!), host.view(inputs['x']!)];
      for (let b = 0; b < B; b++) {
        const hFrom = ((t - 1) * B + b) * U;
        const xFrom = (t * B + b) * F;
        const to = b * H;
        for (let u = 0; u < U; u++) hx[to + u] = t > 0 ? hs[hFrom + u]! : 0;
        for (let f = 0; f < F; f++) hx[to + U + f] = x[xFrom + f]!;
      }
    }
    const wI = host.matMul(dzTStep, hxI);
    {
      const w = host.view(wI);
      for (let k = 0; k < G * H; k++) dWeightsT[k] = dWeightsT[k]! + w[k]!;
    }
    host.free(wI);
    host.free(hxI);
    if (t > 0 || inputGrad) {
      const mI = host.matMul(dzStep, back);
      const m = host.view(mI);
      for (let b = 0; b < B; b++) {
        for (let u = 0; u < U; u++) dh[b * U + u] = dh[b * U + u]! + m[b * K + u]!;
      }
      if (dXI !== null) {
        const dX = host.view(dXI);
        for (let b = 0; b < B; b++) {
          for (let f = 0; f < F; f++) dX[(t * B + b) * F + f] = m[b * K + U + f]!;
        }
      }
      host.free(mI);
    }
  }
  host.free(dzStep);
  host.free(dzTStep);
  if (back !== inputs['ut']) host.free(back);
  const dWI = host.alloc([F, G]);
  const dUI = host.alloc([U, G]);
  const [dW, dU] = [host.view(dWI), host.view(dUI)];
  for (let g = 0; g < G; g++) {
    for (let u = 0; u < U; u++) dU[u * G + g] = dWeightsT[g * H + u]!;
    for (let f = 0; f < F; f++) dW[f * G + g] = dWeightsT[g * H + U + f]!;
  }
  return dXI === null ? [dWI, dUI, dbI] : [dWI, dUI, dbI, dXI];
}

for (const [backendName, makeHost] of Object.entries(HOSTS)) {
  registerRawKernel(FORWARD_KERNEL, backendName, (args: KernelArgs) =>
    forwardKernel(makeHost(args.backend), args),
  );
  registerRawKernel(BACKWARD_KERNEL, backendName, (args: KernelArgs) =>
    backwardKernel(makeHost(args.backend), args),
  );
}

// ---------------------------------------------------------------------------------------------
// The same recurrence as tfjs ops (backends without a host kernel).

function activate(z: tf.Tensor, hard: boolean): tf.Tensor {
  return hard ? tf.clipByValue(tf.add(tf.mul(z, 0.2), 0.5), 0, 1) : tf.sigmoid(z);
}

function activationGrad(a: tf.Tensor, hard: boolean): tf.Tensor {
  return hard
    ? tf.mul(tf.cast(tf.logicalAnd(tf.greater(a, 0), tf.less(a, 1)), 'float32'), 0.2)
    : tf.mul(a, tf.sub(1, a));
}

function forwardOps(xw: tf.Tensor3D, mask: tf.Tensor2D, u: tf.Tensor2D, hard: boolean): Recurrence {
  const [T, B, G] = xw.shape;
  const U = G / 4;
  const xs = tf.unstack(xw) as tf.Tensor2D[];
  const ms = tf.unstack(tf.expandDims(mask, -1)) as tf.Tensor2D[];
  let h: tf.Tensor2D = tf.zeros([B, U]);
  let c: tf.Tensor2D = tf.zeros([B, U]);
  const out: Record<keyof Recurrence, tf.Tensor2D[]> = { hs: [], cs: [], tc: [], gates: [] };
  for (let t = 0; t < T; t++) {
    const z = tf.add(xs[t]!, tf.matMul(h, u));
    const [zi, zf, zg, zo] = tf.split(z, 4, 1);
    const [i, f, o] = [zi!, zf!, zo!].map((v) => activate(v, hard));
    const g = tf.tanh(zg!);
    const cNew = tf.add(tf.mul(f!, c), tf.mul(i!, g));
    const tcv = tf.tanh(cNew);
    const m = ms[t]!;
    h = tf.add(h, tf.mul(m, tf.sub(tf.mul(o!, tcv), h)));
    c = tf.add(c, tf.mul(m, tf.sub(cNew, c)));
    out.hs.push(h);
    out.cs.push(c);
    out.tc.push(tf.mul(tcv, m));
    out.gates.push(tf.mul(tf.concat([i!, f!, g, o!], 1), m));
  }
  return {
    hs: tf.stack(out.hs) as tf.Tensor3D,
    cs: tf.stack(out.cs) as tf.Tensor3D,
    tc: tf.stack(out.tc) as tf.Tensor3D,
    gates: tf.stack(out.gates) as tf.Tensor3D,
  };
}

function backwardOps(
  dy: tf.Tensor,
  lastOnly: boolean,
  r: Recurrence,
  mask: tf.Tensor2D,
  w: { x: tf.Tensor3D; ut: tf.Tensor2D; wt: tf.Tensor2D },
  hard: boolean,
  inputGrad: boolean,
): Gradients {
  const [T, B, G] = r.gates.shape;
  const U = G / 4;
  const ms = tf.unstack(tf.expandDims(mask, -1));
  const gates = tf.unstack(r.gates);
  const cs = tf.unstack(r.cs);
  const tcs = tf.unstack(r.tc);
  const dys = lastOnly ? [] : tf.unstack(dy);
  let dh = lastOnly ? dy : tf.zeros([B, U]);
  let dc: tf.Tensor = tf.zeros([B, U]);
  const dzs: tf.Tensor[] = new Array(T);
  for (let t = T - 1; t >= 0; t--) {
    if (!lastOnly) dh = tf.add(dh, dys[t]!);
    const m = ms[t]!;
    const keep = tf.sub(1, m);
    const [i, f, g, o] = tf.split(gates[t]!, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const tcv = tcs[t]!;
    const cPrev = t > 0 ? cs[t - 1]! : tf.zerosLike(tcv);
    const dhm = tf.mul(dh, m);
    const dcNew = tf.add(tf.mul(dc, m), tf.mul(tf.mul(dhm, o), tf.sub(1, tf.square(tcv))));
    const dz = tf.concat(
      [
        tf.mul(tf.mul(dcNew, g), activationGrad(i, hard)),
        tf.mul(tf.mul(dcNew, cPrev), activationGrad(f, hard)),
        tf.mul(tf.mul(dcNew, i), tf.sub(1, tf.square(g))),
        tf.mul(tf.mul(dhm, tcv), activationGrad(o, hard)),
      ],
      1,
    );
    dzs[t] = dz;
    dc = tf.add(tf.mul(dc, keep), tf.mul(dcNew, f));
    dh = tf.mul(dh, keep);
    if (t > 0) dh = tf.add(dh, tf.matMul(dz, w.ut));
  }
  const F = w.x.shape[2];
  const dZ = tf.reshape(tf.stack(dzs), [T * B, G]);
  // h before each step: zeros, then the outputs of steps 0..T-2.
  const hPrev = tf.concat([tf.zeros([1, B, U]), tf.slice(r.hs, [0, 0, 0], [T - 1, B, U])], 0);
  return {
    kernel: tf.matMul(tf.transpose(tf.reshape(w.x, [T * B, F])), dZ),
    recurrentKernel: tf.matMul(tf.transpose(tf.reshape(hPrev, [T * B, U])), dZ),
    bias: tf.sum(dZ, 0),
    ...(inputGrad ? { x: tf.reshape(tf.matMul(dZ, w.wt), [T, B, F]) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The op.

/** Per backend, whether its recurrence kernels take `units` (absent: any); set by the kernels' installer. */
const kernelFits = new Map<string, (units: number) => boolean>();

/** Declares which layer sizes the recurrence kernels registered for `backendName` can run. */
export function setRecurrenceKernelFit(backendName: string, fits: (units: number) => boolean): void {
  kernelFits.set(backendName, fits);
}

function useHost(options: FusedLstmOptions, kernelName: string, units: number): boolean {
  const backend = tf.getBackend();
  return (
    options.implementation !== 'ops' &&
    tf.getKernel(kernelName, backend) !== undefined &&
    (kernelFits.get(backend)?.(units) ?? true)
  );
}

/** Which implementation of the recurrence the op runs now for `units` (for logs and benchmarks). */
export function recurrencePath(units: number, implementation: FusedLstmOptions['implementation'] = 'auto') {
  const options = { recurrentActivation: 'hardSigmoid', returnSequences: false, implementation } as const;
  return useHost(options, FORWARD_KERNEL, units) ? `${tf.getBackend()} kernel` : 'tfjs ops';
}

function recurrenceForward(xw: tf.Tensor3D, mask: tf.Tensor2D, u: tf.Tensor2D, options: FusedLstmOptions) {
  const hard = options.recurrentActivation === 'hardSigmoid';
  if (!useHost(options, FORWARD_KERNEL, u.shape[0])) return forwardOps(xw, mask, u, hard);
  const [hs, cs, tc, gates] = tf
    .engine()
    .runKernel(FORWARD_KERNEL, { xw, mask, u }, { hard }) as tf.Tensor3D[];
  return { hs: hs!, cs: cs!, tc: tc!, gates: gates! };
}

/** Gradients w.r.t. the weights, and w.r.t. the time-major input [T, B, F] where asked for. */
interface Gradients {
  kernel: tf.Tensor;
  recurrentKernel: tf.Tensor;
  bias: tf.Tensor;
  x?: tf.Tensor;
}

function recurrenceBackward(
  dy: tf.Tensor,
  r: Recurrence,
  mask: tf.Tensor2D,
  w: { x: tf.Tensor3D; kernel: tf.Tensor2D; recurrentKernel: tf.Tensor2D },
  options: FusedLstmOptions,
  inputGrad: boolean,
): Gradients {
  const hard = options.recurrentActivation === 'hardSigmoid';
  const lastOnly = !options.returnSequences;
  const ut = tf.transpose(w.recurrentKernel);
  const wt = tf.transpose(w.kernel);
  if (!useHost(options, BACKWARD_KERNEL, w.recurrentKernel.shape[0]))
    return backwardOps(dy, lastOnly, r, mask, { x: w.x, ut, wt }, hard, inputGrad);
  const [kernel, recurrentKernel, bias, x] = tf
    .engine()
    .runKernel(
      BACKWARD_KERNEL,
      { dy, gates: r.gates, cs: r.cs, tc: r.tc, hs: r.hs, mask, x: w.x, ut, wt },
      { hard, lastOnly, inputGrad },
    ) as tf.Tensor[];
  return { kernel: kernel!, recurrentKernel: recurrentKernel!, bias: bias!, ...(x ? { x } : {}) };
}

/**
 * The LSTM layer's forward pass over x [B, T, F] with zero initial state. `mask` [B, T] (bool or
 * 0/1, null = no masking) marks real steps; padded ones carry the state over. Differentiable
 * w.r.t. x, kernel, recurrentKernel and bias.
 */
export function fusedLstm(
  x: tf.Tensor3D,
  mask: tf.Tensor | null,
  kernel: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  bias: tf.Tensor1D,
  options: FusedLstmOptions,
): tf.Tensor {
  const [B, T, F] = x.shape;
  const U = recurrentKernel.shape[0];
  const G = 4 * U;
  if (kernel.shape[0] !== F || kernel.shape[1] !== G || recurrentKernel.shape[1] !== G || bias.shape[0] !== G)
    throw new Error(
      `fusedLstm: weights kernel ${kernel.shape}, recurrentKernel ${recurrentKernel.shape}, bias ${bias.shape} do not fit ${F} features and ${U} units`,
    );
  return tf.tidy(() => {
    // Time-major 0/1 mask [T, B] (all ones without masking).
    const maskT: tf.Tensor2D =
      mask === null
        ? tf.ones([T, B])
        : tf.transpose(tf.cast(tf.cast(tf.reshape(mask, [B, T]), 'bool'), 'float32') as tf.Tensor2D);
    return runWithCustomGradient({
      inputs: { x, kernel, recurrentKernel, bias },
      forwardFunc: (_backend, save) => {
        const xT = tf.transpose(x, [1, 0, 2]);
        // The bias added inside the matMul kernel (one GPU dispatch, not two).
        const xw = tf.reshape(tf.fused.matMul({ a: tf.reshape(xT, [T * B, F]), b: kernel, bias }), [T, B, G]);
        const r = recurrenceForward(xw as tf.Tensor3D, maskT, recurrentKernel, options);
        save([xT, r.hs, r.cs, r.tc, r.gates, maskT]);
        if (options.returnSequences) return tf.transpose(r.hs, [1, 0, 2]);
        return tf.reshape(tf.slice(r.hs, [T - 1, 0, 0], [1, B, U]), [B, U]);
      },
      backwardsFunc: (dy, saved) => {
        const [xT, hs, cs, tc, gates, savedMask] = saved as [
          tf.Tensor3D,
          tf.Tensor3D,
          tf.Tensor3D,
          tf.Tensor3D,
          tf.Tensor3D,
          tf.Tensor2D,
        ];
        const upstream = options.returnSequences ? tf.transpose(dy, [1, 0, 2]) : dy;
        const backward = (inputGrad: boolean) =>
          recurrenceBackward(
            upstream,
            { hs, cs, tc, gates },
            savedMask,
            { x: xT, kernel, recurrentKernel },
            options,
            inputGrad,
          );
        const grads = backward(options.inputGradient ?? true);
        return {
          // Computed again where the caller said x needs none and something asks all the same.
          x: () => tf.transpose(grads.x ?? backward(true).x!, [1, 0, 2]),
          kernel: () => grads.kernel,
          recurrentKernel: () => grads.recurrentKernel,
          bias: () => grads.bias,
        };
      },
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The layer: a tfjs-layers LSTM whose call runs fusedLstm.

export type LstmImplementation = 'fused' | 'layers';

const LstmLayer = lstmLayerClass();

/**
 * Same weights, config and class name ('LSTM') as the tfjs layer, so a saved model is a plain
 * tfjs-layers model: loadModel gives back a standard LSTM layer (not registered: deserializing
 * 'LSTM' must keep giving the standard class). Configurations the fused op does not cover (dropout
 * inside the cell, stateful, goBackwards, initial states, another activation) run the layer's own
 * call.
 */
class FusedLstmLayer extends LstmLayer {
  static className = 'LSTM';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const cell = this.cell as LSTMCell;
    const recurrentActivation = cell.recurrentActivation.getClassName();
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0]! : null) : inputs;
    const fusable =
      x !== null &&
      x.rank === 3 &&
      kwargs?.['initialState'] == null &&
      !this.stateful &&
      !this.goBackwards &&
      !this.returnState &&
      cell.dropout === 0 &&
      cell.recurrentDropout === 0 &&
      cell.useBias &&
      cell.activation.getClassName() === 'tanh' &&
      (recurrentActivation === 'hardSigmoid' || recurrentActivation === 'sigmoid');
    if (!fusable) return super.call(inputs, kwargs);
    const mask = (kwargs?.['mask'] as tf.Tensor | undefined) ?? null;
    // Fed straight from a model input, x is data: no gradient w.r.t. it will be needed.
    const nodes = this.inboundNodes;
    const fromModelInput =
      nodes.length === 1 && nodes[0]!.inboundLayers.every((l) => l.getClassName() === 'InputLayer');
    return fusedLstm(
      x as tf.Tensor3D,
      mask,
      cell.kernel.read() as tf.Tensor2D,
      cell.recurrentKernel.read() as tf.Tensor2D,
      cell.bias.read() as tf.Tensor1D,
      { recurrentActivation, returnSequences: this.returnSequences, inputGradient: !fromModelInput },
    );
  }
}

/** An LSTM layer: `fused` runs fusedLstm, `layers` is tfjs's own; both save as the same tfjs LSTM. */
export function lstmLayer(args: LstmArgs, implementation: LstmImplementation = 'fused'): LSTM {
  return implementation === 'fused' ? new FusedLstmLayer(args) : tf.layers.lstm(args);
}
