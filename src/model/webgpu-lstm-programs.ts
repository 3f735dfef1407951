/**
 * The WGSL programs of the fused LSTM's webgpu kernels (model/webgpu-lstm.ts), in the shape
 * tfjs-backend-webgpu's program runner takes (one output at binding 0, the inputs after it, sizes
 * baked into the text and named in `shaderKey`), and their tiling from the device's limits.
 *
 * WebGPU has no barrier across workgroups and no forward-progress guarantee between them, so a
 * workgroup owns whole batch rows (rows are independent) and runs every step for them: its threads
 * own hidden units (looping where the layer has more units than a workgroup has threads), the h (or
 * dz) of its rows lives in workgroup memory between barriers, c and the carried gradients in
 * registers, and the recurrent weights are read from global memory.
 */
import type { ComputeLimits } from '../vendor-shims/tfjs-backend-webgpu.js';

/** Rows per workgroup where they fit (fewer rows: more workgroups in flight, measured best on an H200). */
const PREFERRED_ROWS = 4;
/** Forward output per row and step: h, c, tanh(c) and the four gates. */
const PACKED = 7;

export interface LstmTiling {
  /** batch rows per workgroup */
  rows: number;
  /** threads per workgroup */
  threads: number;
  /** hidden units per thread */
  unitsPerThread: number;
}

/**
 * The tile for `units` under `limits`, or null when not even one row fits in workgroup memory. The
 * backward kernel keeps a row's 4·units gradients there (the forward kernel 2·units: h, double
 * buffered), so the backward decides the rows.
 */
export function lstmTiling(units: number, limits: ComputeLimits): LstmTiling | null {
  const threads = Math.min(units, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const rows = Math.min(PREFERRED_ROWS, Math.floor(limits.maxComputeWorkgroupStorageSize / (16 * units)));
  if (rows < 1 || threads < 1) return null;
  return { rows, threads, unitsPerThread: Math.ceil(units / threads) };
}

/** The gates' functions, with exp and tanh inputs clamped (as onnxruntime's WebGPU LSTM does). */
export const CLAMPED = `
  fn sigmoidSafe(z : f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(z, -20.0, 20.0))); }
  fn tanhSafe(z : f32) -> f32 { return tanh(clamp(z, -10.0, 10.0)); }
  fn hardSigmoid(z : f32) -> f32 { return clamp(0.2 * z + 0.5, 0.0, 1.0); }
`;

/** What every program here shares: one workgroup per `rows` batch rows, one dimension. */
abstract class LstmProgram {
  readonly workgroupSize: [number, number, number];
  readonly dispatchLayout = { x: [0, 1, 2] };
  dispatch: [number, number, number];
  shaderKey: string;
  abstract readonly variableNames: string[];
  abstract readonly outputShape: number[];

  protected constructor(
    name: string,
    protected readonly units: number,
    batch: number,
    protected readonly tiling: LstmTiling,
    protected readonly hard: boolean,
    extra: string,
  ) {
    this.workgroupSize = [tiling.threads, 1, 1];
    this.dispatch = [Math.ceil(batch / tiling.rows), 1, 1];
    // Every size baked into the WGSL below, so the pipeline cache never mixes them up.
    this.shaderKey = `intentstream_lstm_${name}_${units}_${tiling.rows}_${tiling.threads}_${tiling.unitsPerThread}_${hard}${extra}`;
  }

  protected constants(): string {
    const { rows, threads, unitsPerThread } = this.tiling;
    return `
      const U = ${this.units};
      const G = ${4 * this.units};
      const BT = ${rows};
      const WG = ${threads};
      const UPT = ${unitsPerThread};
      ${CLAMPED}
      fn gate(z : f32) -> f32 { return ${this.hard ? 'hardSigmoid(z)' : 'sigmoidSafe(z)'}; }
      fn gateGrad(a : f32) -> f32 { return ${this.hard ? 'select(0.0, 0.2, a > 0.0 && a < 1.0)' : 'a * (1.0 - a)'}; }
    `;
  }
}

/**
 * xw [T, B, 4U] (x·W + b), mask [T, B], rk [U, 4U] → [T, B, 7U]: per row and step h, c, tanh(c),
 * then the gates i, f, c̃, o (tanh(c) and the gates 0 at masked steps, which carry h and c over).
 */
export class ForwardProgram extends LstmProgram {
  readonly variableNames = ['xw', 'mask', 'rk'];
  readonly outputShape: number[];

  constructor(T: number, B: number, U: number, tiling: LstmTiling, hard: boolean) {
    super('forward', U, B, tiling, hard, '');
    this.outputShape = [T, B, PACKED * U];
  }

  getUserCode(): string {
    return `
      ${this.constants()}
      const P = ${PACKED * this.units};
      var<workgroup> hShared : array<f32, ${2 * this.tiling.rows * this.units}>;

      fn main(index : i32) {
        let lid = i32(localId.x);
        let row0 = i32(workgroupId.x) * BT;
        let T = uniforms.xwShape[0];
        let B = uniforms.xwShape[1];
        var c : array<f32, ${this.tiling.rows * this.tiling.unitsPerThread}>;
        var h : array<f32, ${this.tiling.rows * this.tiling.unitsPerThread}>;
        for (var q = 0; q < BT * UPT; q++) { c[q] = 0.0; h[q] = 0.0; }
        for (var q = lid; q < 2 * BT * U; q += WG) { hShared[q] = 0.0; }
        workgroupBarrier();
        for (var t = 0; t < T; t++) {
          // h of step t-1 is read from one half and h of step t written to the other.
          let cur = (t % 2) * BT * U;
          let nxt = BT * U - cur;
          for (var p = 0; p < UPT; p++) {
            let j = lid + p * WG;
            if (j < U) {
              var acc : array<vec4<f32>, ${this.tiling.rows}>;
              for (var r = 0; r < BT; r++) { acc[r] = vec4<f32>(0.0); }
              for (var k = 0; k < U; k++) {
                let w = vec4<f32>(rk[k * G + j], rk[k * G + U + j], rk[k * G + 2 * U + j], rk[k * G + 3 * U + j]);
                for (var r = 0; r < BT; r++) { acc[r] += hShared[cur + r * U + k] * w; }
              }
              for (var r = 0; r < BT; r++) {
                let b = row0 + r;
                let q = r * UPT + p;
                if (b < B) {
                  let n = t * B + b;
                  let base = n * P;
                  if (f32(mask[n]) != 0.0) {
                    let z = acc[r] + vec4<f32>(xw[n * G + j], xw[n * G + U + j], xw[n * G + 2 * U + j], xw[n * G + 3 * U + j]);
                    let i = gate(z.x);
                    let f = gate(z.y);
                    let g = tanhSafe(z.z);
                    let o = gate(z.w);
                    c[q] = f * c[q] + i * g;
                    let tc = tanhSafe(c[q]);
                    h[q] = o * tc;
                    result[base + 2 * U + j] = tc;
                    result[base + 3 * U + j] = i;
                    result[base + 4 * U + j] = f;
                    result[base + 5 * U + j] = g;
                    result[base + 6 * U + j] = o;
                  } else {
                    result[base + 2 * U + j] = 0.0;
                    result[base + 3 * U + j] = 0.0;
                    result[base + 4 * U + j] = 0.0;
                    result[base + 5 * U + j] = 0.0;
                    result[base + 6 * U + j] = 0.0;
                  }
                  result[base + j] = h[q];
                  result[base + U + j] = c[q];
                }
                hShared[nxt + r * U + j] = h[q];
              }
            }
          }
          workgroupBarrier();
        }
      }
    `;
  }
}

/**
 * dy ([T, B, U], or [B, U] the last step's when lastOnly), gates [T, B, 4U], cs [T, B, U],
 * tc [T, B, U], mask [T, B], ut [4U, U] → dZ [T, B, 4U], the gradient w.r.t. each step's gate
 * pre-activations (0 at masked steps, which pass dh and dc through).
 */
export class BackwardProgram extends LstmProgram {
  readonly variableNames = ['dy', 'gates', 'cs', 'tc', 'mask', 'ut'];
  readonly outputShape: number[];

  constructor(
    T: number,
    B: number,
    U: number,
    tiling: LstmTiling,
    hard: boolean,
    private readonly lastOnly: boolean,
  ) {
    super('backward', U, B, tiling, hard, lastOnly ? '_last' : '_all');
    this.outputShape = [T, B, 4 * U];
  }

  getUserCode(): string {
    const regs = this.tiling.rows * this.tiling.unitsPerThread;
    return `
      ${this.constants()}
      var<workgroup> dzShared : array<f32, ${this.tiling.rows * 4 * this.units}>;

      fn main(index : i32) {
        let lid = i32(localId.x);
        let row0 = i32(workgroupId.x) * BT;
        let T = uniforms.gatesShape[0];
        let B = uniforms.gatesShape[1];
        var dh : array<f32, ${regs}>;
        var dc : array<f32, ${regs}>;
        for (var p = 0; p < UPT; p++) {
          let j = lid + p * WG;
          for (var r = 0; r < BT; r++) {
            let b = row0 + r;
            let q = r * UPT + p;
            dc[q] = 0.0;
            dh[q] = 0.0;
            ${this.lastOnly ? 'if (j < U && b < B) { dh[q] = dy[b * U + j]; }' : ''}
          }
        }
        for (var t = T - 1; t >= 0; t--) {
          for (var p = 0; p < UPT; p++) {
            let j = lid + p * WG;
            if (j < U) {
              for (var r = 0; r < BT; r++) {
                let b = row0 + r;
                let q = r * UPT + p;
                var dz = vec4<f32>(0.0);
                if (b < B) {
                  let n = t * B + b;
                  ${this.lastOnly ? '' : 'dh[q] += dy[n * U + j];'}
                  if (f32(mask[n]) != 0.0) {
                    let i = gates[n * G + j];
                    let f = gates[n * G + U + j];
                    let g = gates[n * G + 2 * U + j];
                    let o = gates[n * G + 3 * U + j];
                    let tcv = tc[n * U + j];
                    var cPrev = 0.0;
                    if (t > 0) { cPrev = cs[(n - B) * U + j]; }
                    let dcv = dc[q] + dh[q] * o * (1.0 - tcv * tcv);
                    dz = vec4<f32>(
                      dcv * g * gateGrad(i),
                      dcv * cPrev * gateGrad(f),
                      dcv * i * (1.0 - g * g),
                      dh[q] * tcv * gateGrad(o));
                    dc[q] = dcv * f;
                    dh[q] = 0.0;
                  }
                  result[n * G + j] = dz.x;
                  result[n * G + U + j] = dz.y;
                  result[n * G + 2 * U + j] = dz.z;
                  result[n * G + 3 * U + j] = dz.w;
                }
                dzShared[r * G + j] = dz.x;
                dzShared[r * G + U + j] = dz.y;
                dzShared[r * G + 2 * U + j] = dz.z;
                dzShared[r * G + 3 * U + j] = dz.w;
              }
            }
          }
          workgroupBarrier();
          // dh of step t-1 gains dz·Uᵀ (0 for masked rows, whose dh passes through).
          if (t > 0) {
            for (var p = 0; p < UPT; p++) {
              let j = lid + p * WG;
              if (j < U) {
                var acc : array<f32, ${this.tiling.rows}>;
                for (var r = 0; r < BT; r++) { acc[r] = 0.0; }
                for (var g = 0; g < G; g++) {
                  let w = ut[g * U + j];
                  for (var r = 0; r < BT; r++) { acc[r] += dzShared[r * G + g] * w; }
                }
                for (var r = 0; r < BT; r++) { dh[r * UPT + p] += acc[r]; }
              }
            }
          }
          workgroupBarrier();
        }
      }
    `;
  }
}
