/**
 * The training step's matrix products as WGSL: C = A·B tiled in workgroup memory, with its operands
 * and result reached through accessor snippets (so a GEMM reads strided, shifted or implicit-ones
 * operands in place), and split-K for reductions over every step and row.
 */
import { FLAT_MAIN, ROWS_BINDING, STEP_STRUCT } from './shaders.js';

export const GEMM_TILE = 16;

export interface GemmSpec {
  M: string;
  K: string;
  N: number;
  a: string;
  b: string;
  write: string;
  /** The read buffers, bound from 2 in this order (default A, Bm); C comes after them. */
  inputs?: string[];
  /**
   * Split the reduction over K into splitCount(K) workgroups along z (workgroup z sums its own range
   * of K; `write` gets z as `z` and stores a partial sum): reductions over every step and row
   * (weight gradients) would otherwise leave a few dozen workgroups looping over thousands of rows.
   */
  splitK?: boolean;
}

/** Rows of K per split of a split-K GEMM, and the most splits (sizes its partial-sum buffer). */
export const SPLIT_ROWS = 256;
export const MAX_SPLITS = 64;
/** Splits of a split-K reduction over K rows (the same formula as the WGSL's splitCount). */
export const splitCount = (K: number) => Math.min(MAX_SPLITS, Math.max(1, Math.ceil(K / SPLIT_ROWS)));
const SPLIT_FN = `fn splitCount(K : u32) -> u32 { return clamp((K + ${SPLIT_ROWS - 1}u) / ${SPLIT_ROWS}u, 1u, ${MAX_SPLITS}u); }`;

/**
 * C = A·B with A [M, K] and B [K, N] as `a(i, k)` and `b(k, j)` read them from the input buffers
 * (called in bounds only) and `write(i, j, v)` stores into `C`; tiled in workgroup memory. M and K
 * may be runtime expressions of `s`.
 */
export function gemmShader(spec: GemmSpec): string {
  const inputs = spec.inputs ?? ['A', 'Bm'];
  const bindings = inputs
    .map((name, i) => `@group(0) @binding(${2 + i}) var<storage, read> ${name} : array<f32>;`)
    .join('\n');
  const range = spec.splitK
    ? `let chunk = ((K + splitCount(K) - 1u) / splitCount(K) + TILE - 1u) / TILE * TILE;
  let kBegin = z * chunk;
  let kEnd = min(K, kBegin + chunk);`
    : `let kBegin = 0u;
  let kEnd = K;`;
  return `${STEP_STRUCT}
${ROWS_BINDING}
${bindings}
@group(0) @binding(${2 + inputs.length}) var<storage, read_write> C : array<f32>;
${SPLIT_FN}
const TILE = ${GEMM_TILE}u;
var<workgroup> As : array<array<f32, ${GEMM_TILE}>, ${GEMM_TILE}>;
var<workgroup> Bs : array<array<f32, ${GEMM_TILE}>, ${GEMM_TILE}>;
fn readA(i : u32, k : u32) -> f32 { ${spec.a} }
fn readB(k : u32, j : u32) -> f32 { ${spec.b} }
fn writeC(i : u32, j : u32, z : u32, v : f32) { ${spec.write} }
@compute @workgroup_size(${GEMM_TILE}, ${GEMM_TILE})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let M = ${spec.M};
  let K = ${spec.K};
  let N = ${spec.N}u;
  let i = wid.y * TILE + lid.y;
  let j = wid.x * TILE + lid.x;
  let z = wid.z;
  ${range}
  var acc = 0.0;
  for (var k0 = kBegin; k0 < kEnd; k0 += TILE) {
    let ka = k0 + lid.x;
    var av = 0.0;
    if (i < M && ka < kEnd) { av = readA(i, ka); }
    As[lid.y][lid.x] = av;
    let kb = k0 + lid.y;
    var bv = 0.0;
    if (kb < kEnd && j < N) { bv = readB(kb, j); }
    Bs[lid.y][lid.x] = bv;
    workgroupBarrier();
    for (var kk = 0u; kk < TILE; kk++) { acc += As[lid.y][kk] * Bs[kk][lid.x]; }
    workgroupBarrier();
  }
  if (i < M && j < N) { writeC(i, j, z, acc); }
}`;
}

/** The sum of a split-K GEMM's partial sums [splits, size] into C[offset, offset + size). */
export function splitSumShader(size: number, offset: number): string {
  return `${STEP_STRUCT}
${ROWS_BINDING}
@group(0) @binding(2) var<storage, read> partial : array<f32>;
@group(0) @binding(3) var<storage, read_write> C : array<f32>;
${SPLIT_FN}
${FLAT_MAIN}
  if (e >= ${size}u) { return; }
  let S = splitCount(s.T * s.B);
  var sum = 0.0;
  for (var z = 0u; z < S; z++) { sum += partial[z * ${size}u + e]; }
  C[${offset}u + e] = sum;
}`;
}
