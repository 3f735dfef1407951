/**
 * The WGSL of the webgpu training step (step.ts; its GEMMs in gemm.ts): the programs of one optimizer
 * step of the product's model, each written for one model (its sizes and parameter offsets are
 * constants in the text), so pipelines and bind groups are made once and a step only writes its
 * batch and dispatches.
 *
 * Layouts: activations are time-major [T, B, ·] (step t of row b at n = t·B + b), as in the fused
 * LSTM's kernels; a padded step is t ≥ the row's length (rows are right-padded). Every trainable
 * weight lives in one flat `params` buffer (layout.ts), gradients and Adam's moments in buffers of
 * the same layout. Per step the host writes `Step` (uniform) and one `vec4<u32>` per batch row:
 * (first step's index in the step buffers, length, label bits, loss weight bits).
 */
import {
  type LstmTiling as Tiling,
  backwardBody,
  forwardBody,
  recurrenceDeclarations,
} from '../webgpu-lstm-programs.js';
import type { ParamLayout } from './layout.js';

/** What the forward recurrence writes per row, step and unit: h, c, tanh c, i, f, c̃, o. */
export const PACKED = 7;
export const FLAT_WORKGROUP = 64;

export const STEP_STRUCT = `
struct Step {
  B : u32,
  T : u32,
  seed : u32,
  unused : u32,
  lr : f32,
  c1 : f32,
  c2 : f32,
  l2 : f32,
}
@group(0) @binding(0) var<uniform> s : Step;
`;

/** A row's length (its steps past it are padding) and the dropout masks' hash. */
const STEP_MATH = `
fn rowLength(b : u32) -> u32 { return rows[b].y; }
fn hash(x : u32) -> u32 {
  let v = x * 747796405u + 2891336453u;
  let w = ((v >> ((v >> 28u) + 4u)) ^ v) * 277803737u;
  return (w >> 22u) ^ w;
}
`;

/**
 * Dropout's keep factor for layer `layer`'s output at step-row n, unit j: 0 or 1/(1 − rate), from a
 * hash of (step seed, layer, n, j), so the backward pass recomputes the forward's mask.
 */
function dropoutFn(rate: number): string {
  if (rate === 0) return 'fn keep(layer : u32, n : u32, j : u32) -> f32 { return 1.0; }';
  return `
fn keep(layer : u32, n : u32, j : u32) -> f32 {
  let h = hash(hash(hash(s.seed ^ (layer * 2654435769u)) + n) + j);
  return select(0.0, ${f32(1 / (1 - rate))}, f32(h >> 8u) * (1.0 / 16777216.0) >= ${f32(rate)});
}`;
}

const f32 = (v: number) => {
  const s = Math.fround(v).toString();
  return /[.e]/.test(s) ? s : `${s}.0`;
};

/** Flat index of this invocation in a 1-D job spread over a 2-D grid of FLAT_WORKGROUP-wide groups. */
export const FLAT_MAIN = `
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>,
        @builtin(local_invocation_id) lid : vec3<u32>) {
  let e = (wid.y * nwg.x + wid.x) * ${FLAT_WORKGROUP}u + lid.x;
`;

export const ROWS_BINDING = '@group(0) @binding(1) var<storage, read> rows : array<vec4<u32>>;';

/**
 * Layer 0's input of every step: the embeddings of the step's ids and its numeric features, and the
 * ids (for the embeddings' gradient). Padded steps get id 0 and zero features, as the model's padding.
 */
export function embedShader(layout: ParamLayout): string {
  const { tables, idCount, numeric, inputSize } = layout;
  const copies = tables
    .map(
      (t, c) => `
    {
      var id = 0u;
      if (real) { id = min(cats[step * ${idCount}u + ${c}u], ${t.rows - 1}u); }
      ids[n * ${idCount}u + ${c}u] = id;
      for (var e = 0u; e < ${t.dim}u; e++) { x[n * D + ${t.column}u + e] = params[${t.offset}u + id * ${t.dim}u + e]; }
    }`,
    )
    .join('');
  return `${STEP_STRUCT}
${ROWS_BINDING}
@group(0) @binding(2) var<storage, read> cats : array<u32>;
@group(0) @binding(3) var<storage, read> nums : array<f32>;
@group(0) @binding(4) var<storage, read> params : array<f32>;
@group(0) @binding(5) var<storage, read_write> x : array<f32>;
@group(0) @binding(6) var<storage, read_write> ids : array<u32>;
${STEP_MATH}
const D = ${inputSize}u;
${FLAT_MAIN}
  if (e >= s.T * s.B) { return; }
  let n = e;
  let t = n / s.B;
  let b = n % s.B;
  let real = t < rowLength(b);
  let step = rows[b].x + t;
  ${copies}
  for (var k = 0u; k < ${numeric}u; k++) {
    var v = 0.0;
    if (real) { v = nums[step * ${numeric}u + k]; }
    x[n * D + ${layout.embeddedSize}u + k] = v;
  }
}`;
}

/** The step's recurrences run webgpu-lstm-programs.ts's bodies: i32 sizes, rows' lengths as padding. */
const stepIO = {
  T: 'i32(s.T)',
  B: 'i32(s.B)',
  lid: 'i32(local.x)',
  row0: 'i32(wid.x) * BT',
  real: 't < i32(rowLength(u32(b)))',
};
/** A recurrence program: its storage `bindings` (from 2), the step's helpers, the shared body. */
function recurrenceShader(
  kind: 'forward' | 'backward',
  bindings: string[],
  units: number,
  tiling: Tiling,
  hard: boolean,
  dropout: number,
  body: string,
): string {
  return `${STEP_STRUCT}
${ROWS_BINDING}
${bindings.map((b, i) => `@group(0) @binding(${2 + i}) var<storage, ${b};`).join('\n')}
${STEP_MATH}
${dropoutFn(dropout)}
${recurrenceDeclarations(kind, units, tiling, hard)}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) local : vec3<u32>) {
${body}
}`;
}

/**
 * Layer `layer`'s recurrence over all steps in one dispatch (a workgroup owns BT rows): z [T, B, 4U]
 * (x·W + b) → packed [T, B, 7U] (h, c, tanh c, the gates i, f, c̃, o) and, with dropout after the
 * layer, hd = h · keep [T, B, U].
 */
export function forwardShader(
  layer: number,
  units: number,
  recurrentOffset: number,
  tiling: Tiling,
  hard: boolean,
  dropout: number,
): string {
  const bindings = [
    'read> z : array<f32>',
    'read> params : array<f32>',
    'read_write> packed : array<f32>',
    ...(dropout > 0 ? ['read_write> hd : array<f32>'] : []),
  ];
  const body = forwardBody(tiling, {
    ...stepIO,
    rk: (row, column) => `params[${recurrentOffset} + ${row} * G + ${column}]`,
    xw: (column) => `z[n * G + ${column}]`,
    out: (m, value) => `packed[n * P + ${m} * U + j] = ${value};`,
    ...(dropout > 0 ? { afterStep: `hd[n * U + j] = h[q] * keep(${layer}u, u32(n), u32(j));` } : {}),
  });
  return recurrenceShader('forward', bindings, units, tiling, hard, dropout, body);
}

/**
 * Layer `layer`'s backward recurrence in one dispatch: dy (the gradient of the layer's output after
 * its dropout: [B, U] of the last step when `lastOnly`, else [T, B, U]), packed → dz [T, B, 4U], the
 * gradient of each step's gate pre-activations (0 at padded steps, which pass dh and dc through).
 */
export function backwardShader(
  layer: number,
  units: number,
  recurrentOffset: number,
  tiling: Tiling,
  hard: boolean,
  dropout: number,
  lastOnly: boolean,
): string {
  const bindings = [
    'read> dy : array<f32>',
    'read> packed : array<f32>',
    'read> params : array<f32>',
    'read_write> dzOut : array<f32>',
  ];
  const body = backwardBody(tiling, {
    ...stepIO,
    rk: (row, column) => `params[${recurrentOffset} + ${row} * G + ${column}]`,
    dy: lastOnly
      ? `dy[b * U + j] * keep(${layer}u, u32((T - 1) * B + b), u32(j))`
      : `dy[n * U + j] * keep(${layer}u, u32(n), u32(j))`,
    lastOnly,
    saved: (m, n) => `packed[${n} * P + ${m} * U + j]`,
    dz: (g, value) => `dzOut[n * G + ${g} * U + j] = ${value};`,
  });
  return recurrenceShader('backward', bindings, units, tiling, hard, dropout, body);
}

export const HEAD_THREADS = 256;

/**
 * The dense sigmoid head on the last layer's last step (its h every `stride` floats) and the
 * weighted log loss (tf.losses.logLoss's formula, the mean over the batch), in one workgroup: per row
 * p, the loss term and d(loss)/d(logit) (into `scratch`, p after them), dy = d/d(h) [B, U]; then the
 * head's weight gradients, and the batch's summed loss terms added to loss[0] (loss[1] = this
 * batch's mean).
 */
export function headShader(units: number, stride: number, weightOffset: number, biasOffset: number): string {
  return `${STEP_STRUCT}
${ROWS_BINDING}
@group(0) @binding(2) var<storage, read> h : array<f32>;
@group(0) @binding(3) var<storage, read> params : array<f32>;
@group(0) @binding(4) var<storage, read_write> dy : array<f32>;
@group(0) @binding(5) var<storage, read_write> grads : array<f32>;
@group(0) @binding(6) var<storage, read_write> loss : array<f32>;
@group(0) @binding(7) var<storage, read_write> scratch : array<f32>;
const U = ${units}u;
const STRIDE = ${stride}u;
const W = ${weightOffset}u;
const EPS = 1e-7;
var<workgroup> partial : array<f32, ${HEAD_THREADS}>;
// 1 − p rounded to f32 before ε is added: a compiler may not fold (1 − p) + ε into 1 − (p − ε).
fn complement(p : f32) -> f32 { return bitcast<f32>(bitcast<u32>(1.0 - p)); }
@compute @workgroup_size(${HEAD_THREADS})
fn main(@builtin(local_invocation_id) local : vec3<u32>) {
  let lid = local.x;
  let B = s.B;
  let last = (s.T - 1u) * B;
  var sum = 0.0;
  for (var b = lid; b < B; b += ${HEAD_THREADS}u) {
    var logit = params[${biasOffset}u];
    for (var j = 0u; j < U; j++) { logit += h[(last + b) * STRIDE + j] * params[W + j]; }
    let p = 1.0 / (1.0 + exp(-logit));
    let y = bitcast<f32>(rows[b].z);
    let w = bitcast<f32>(rows[b].w);
    let q = complement(p);
    sum += w * (-y * log(p + EPS) - (1.0 - y) * log(q + EPS));
    let dp = (w / f32(B)) * (-y / (p + EPS) + (1.0 - y) / (q + EPS));
    let dl = dp * p * q;
    scratch[b] = dl;
    scratch[B + b] = p;
    for (var j = 0u; j < U; j++) { dy[b * U + j] = dl * params[W + j]; }
  }
  partial[lid] = sum;
  storageBarrier();
  workgroupBarrier();
  for (var j = lid; j <= U; j += ${HEAD_THREADS}u) {
    var g = 0.0;
    if (j < U) {
      for (var b = 0u; b < B; b++) { g += scratch[b] * h[(last + b) * STRIDE + j]; }
      grads[W + j] = g;
    } else {
      for (var b = 0u; b < B; b++) { g += scratch[b]; }
      grads[${biasOffset}u] = g;
    }
  }
  for (var stride = ${HEAD_THREADS / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    loss[0] += partial[0];
    loss[1] = partial[0] / f32(B);
  }
}`;
}

/**
 * The embeddings' gradient: every real step's input gradient dx [T, B, embeddedSize] added into the
 * rows of the tables its ids pick (a compare-and-swap float add; the host zeroes the tables' range first).
 */
export function scatterShader(layout: ParamLayout): string {
  const { tables, idCount, embeddedSize } = layout;
  const pick = tables
    .map(
      (t, c) =>
        `if (col >= ${t.column}u && col < ${t.column + t.dim}u) { return ${t.offset}u + ids[n * ${idCount}u + ${c}u] * ${t.dim}u + col - ${t.column}u; }`,
    )
    .join('\n  ');
  return `${STEP_STRUCT}
${ROWS_BINDING}
@group(0) @binding(2) var<storage, read> dx : array<f32>;
@group(0) @binding(3) var<storage, read> ids : array<u32>;
@group(0) @binding(4) var<storage, read_write> grads : array<atomic<u32>>;
${STEP_MATH}
fn tableIndex(n : u32, col : u32) -> u32 {
  ${pick}
  return 0u;
}
${FLAT_MAIN}
  let E = ${embeddedSize}u;
  if (e >= s.T * s.B * E) { return; }
  let n = e / E;
  let col = e % E;
  let t = n / s.B;
  let b = n % s.B;
  if (t >= rowLength(b)) { return; }
  let v = dx[e];
  if (v == 0.0) { return; }
  let i = tableIndex(n, col);
  var old = atomicLoad(&grads[i]);
  loop {
    let r = atomicCompareExchangeWeak(&grads[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}`;
}

/**
 * Adam over every parameter (tfjs's formula: β₁ 0.9, β₂ 0.999, ε 1e-7, bias-corrected moments), the
 * embeddings' L2 gradient 2λ·w (s.l2) added to the tables' range first. c1 = 1 − β₁ᵗ, c2 = 1 − β₂ᵗ.
 */
export function adamShader(layout: ParamLayout): string {
  return `${STEP_STRUCT}
${ROWS_BINDING}
@group(0) @binding(2) var<storage, read> grads : array<f32>;
@group(0) @binding(3) var<storage, read_write> params : array<f32>;
@group(0) @binding(4) var<storage, read_write> m : array<f32>;
@group(0) @binding(5) var<storage, read_write> v : array<f32>;
${FLAT_MAIN}
  if (e >= ${layout.size}u) { return; }
  let value = params[e];
  var g = grads[e];
  if (e < ${layout.tablesEnd}u) { g += s.l2 * value; }
  let m1 = 0.9 * m[e] + 0.1 * g;
  let v1 = 0.999 * v[e] + 0.001 * (g * g);
  m[e] = m1;
  v[e] = v1;
  let mh = m1 / s.c1;
  let vh = v1 / s.c2;
  params[e] = (mh / (sqrt(vh) + 1e-7)) * (-s.lr) + value;
}`;
}
