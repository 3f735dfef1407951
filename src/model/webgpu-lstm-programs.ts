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

/** Where a recurrence kernel reads and writes: WGSL expressions (i32 values; n = t·B + b in scope). */
export interface RecurrenceIO {
  /** Steps, batch rows, this invocation's thread, the workgroup's first row. */
  T: string;
  B: string;
  lid: string;
  row0: string;
  /** Step t of row b is real, not padding (padding carries h and c over). */
  real: string;
  /** The recurrent kernel [U, 4U] (gate columns i, f, c, o) at `row`, `column`. */
  rk: (row: string, column: string) => string;
}

export interface ForwardIO extends RecurrenceIO {
  /** x·W + b at step-row n, gate column `column`. */
  xw: (column: string) => string;
  /** Stores `value` as slot m (0 h, 1 c, 2 tanh c, 3..6 the gates i, f, c̃, o) of step-row n, unit j. */
  out: (slot: number, value: string) => string;
  /** Statements after a step's h[q] is stored (at step-row n, unit j). */
  afterStep?: string;
}

export interface BackwardIO extends RecurrenceIO {
  /** The gradient of h from outside: of the last step at row b, unit j (lastOnly), else of step-row n. */
  dy: string;
  lastOnly: boolean;
  /** Saved slot m (as ForwardIO.out) of step-row `n`, unit j. */
  saved: (slot: number, n: string) => string;
  /** Stores dz of gate g at step-row n, unit j. */
  dz: (gate: number, value: string) => string;
}

/** The module-scope part of a recurrence kernel: its sizes, gate functions and workgroup memory. */
export function recurrenceDeclarations(
  kind: 'forward' | 'backward',
  units: number,
  tiling: LstmTiling,
  hard: boolean,
): string {
  const shared =
    kind === 'forward'
      ? `var<workgroup> hShared : array<f32, ${2 * tiling.rows * units}>;`
      : `var<workgroup> dzShared : array<f32, ${tiling.rows * 4 * units}>;`;
  return `
const U = ${units};
const G = ${4 * units};
const P = ${PACKED * units};
const BT = ${tiling.rows};
const WG = ${tiling.threads};
const UPT = ${tiling.unitsPerThread};
${CLAMPED}
fn gate(z : f32) -> f32 { return ${hard ? 'hardSigmoid(z)' : 'sigmoidSafe(z)'}; }
fn gateGrad(a : f32) -> f32 { return ${hard ? 'select(0.0, 0.2, a > 0.0 && a < 1.0)' : 'a * (1.0 - a)'}; }
${shared}
`;
}

/** A body's sizes and its two per-thread register arrays (a value per row and owned unit). */
function prelude(tiling: LstmTiling, io: RecurrenceIO, ...registers: string[]): string {
  const regs = tiling.rows * tiling.unitsPerThread;
  return `
  let lid = ${io.lid};
  let row0 = ${io.row0};
  let T = ${io.T};
  let B = ${io.B};
  ${registers.map((name) => `var ${name} : array<f32, ${regs}>;`).join('\n  ')}`;
}

/**
 * The forward recurrence over every step of a workgroup's rows (the body of its entry point): threads
 * own hidden units, h of the rows lives in workgroup memory (double-buffered, one barrier per step),
 * c in registers, the recurrent kernel is read from global memory.
 */
export function forwardBody(tiling: LstmTiling, io: ForwardIO): string {
  return `${prelude(tiling, io, 'c', 'h')}
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
        var acc : array<vec4<f32>, ${tiling.rows}>;
        for (var r = 0; r < BT; r++) { acc[r] = vec4<f32>(0.0); }
        for (var k = 0; k < U; k++) {
          let w = vec4<f32>(${io.rk('k', 'j')}, ${io.rk('k', 'U + j')}, ${io.rk('k', '2 * U + j')}, ${io.rk('k', '3 * U + j')});
          for (var r = 0; r < BT; r++) { acc[r] += hShared[cur + r * U + k] * w; }
        }
        for (var r = 0; r < BT; r++) {
          let b = row0 + r;
          let q = r * UPT + p;
          if (b < B) {
            let n = t * B + b;
            if (${io.real}) {
              let z = acc[r] + vec4<f32>(${io.xw('j')}, ${io.xw('U + j')}, ${io.xw('2 * U + j')}, ${io.xw('3 * U + j')});
              let i = gate(z.x);
              let f = gate(z.y);
              let g = tanhSafe(z.z);
              let o = gate(z.w);
              c[q] = f * c[q] + i * g;
              let tc = tanhSafe(c[q]);
              h[q] = o * tc;
              ${io.out(2, 'tc')}
              ${io.out(3, 'i')}
              ${io.out(4, 'f')}
              ${io.out(5, 'g')}
              ${io.out(6, 'o')}
            } else {
              ${[2, 3, 4, 5, 6].map((m) => io.out(m, '0.0')).join('\n              ')}
            }
            ${io.out(0, 'h[q]')}
            ${io.out(1, 'c[q]')}
            ${io.afterStep ?? ''}
          }
          hShared[nxt + r * U + j] = h[q];
        }
      }
    }
    workgroupBarrier();
  }`;
}

/**
 * The backward recurrence, the forward's partition in reverse: per step the gate-input gradient dz of
 * the rows goes to workgroup memory and out, then dh₋₁ = dz·Uᵀ; dc stays in registers.
 */
export function backwardBody(tiling: LstmTiling, io: BackwardIO): string {
  return `${prelude(tiling, io, 'dh', 'dc')}
  for (var p = 0; p < UPT; p++) {
    let j = lid + p * WG;
    for (var r = 0; r < BT; r++) {
      let b = row0 + r;
      let q = r * UPT + p;
      dc[q] = 0.0;
      dh[q] = 0.0;
      ${io.lastOnly ? `if (j < U && b < B) { dh[q] = ${io.dy}; }` : ''}
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
            ${io.lastOnly ? '' : `dh[q] += ${io.dy};`}
            if (${io.real}) {
              let i = ${io.saved(3, 'n')};
              let f = ${io.saved(4, 'n')};
              let g = ${io.saved(5, 'n')};
              let o = ${io.saved(6, 'n')};
              let tcv = ${io.saved(2, 'n')};
              var cPrev = 0.0;
              if (t > 0) { cPrev = ${io.saved(1, '(n - B)')}; }
              let dcv = dc[q] + dh[q] * o * (1.0 - tcv * tcv);
              dz = vec4<f32>(
                dcv * g * gateGrad(i),
                dcv * cPrev * gateGrad(f),
                dcv * i * (1.0 - g * g),
                dh[q] * tcv * gateGrad(o));
              dc[q] = dcv * f;
              dh[q] = 0.0;
            }
            ${io.dz(0, 'dz.x')}
            ${io.dz(1, 'dz.y')}
            ${io.dz(2, 'dz.z')}
            ${io.dz(3, 'dz.w')}
          }
          dzShared[r * G + j] = dz.x;
          dzShared[r * G + U + j] = dz.y;
          dzShared[r * G + 2 * U + j] = dz.z;
          dzShared[r * G + 3 * U + j] = dz.w;
        }
      }
    }
    workgroupBarrier();
    // dh of step t-1 gains dz·Uᵀ (0 for padded rows, whose dh passes through).
    if (t > 0) {
      for (var p = 0; p < UPT; p++) {
        let j = lid + p * WG;
        if (j < U) {
          var acc : array<f32, ${tiling.rows}>;
          for (var r = 0; r < BT; r++) { acc[r] = 0.0; }
          for (var g = 0; g < G; g++) {
            let w = ${io.rk('j', 'g')};
            for (var r = 0; r < BT; r++) { acc[r] += dzShared[r * G + g] * w; }
          }
          for (var r = 0; r < BT; r++) { dh[r * UPT + p] += acc[r]; }
        }
      }
    }
    workgroupBarrier();
  }`;
}

/** What the two programs here share: one workgroup per `rows` batch rows, one dimension. */
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
}

/** tfjs's program runner: the thread and workgroup come from its header, the sizes from an input's shape. */
const tfjsIO = (shapeOf: string) => ({
  T: `uniforms.${shapeOf}Shape[0]`,
  B: `uniforms.${shapeOf}Shape[1]`,
  lid: 'i32(localId.x)',
  row0: 'i32(workgroupId.x) * BT',
  real: 'f32(mask[n]) != 0.0',
});

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
      ${recurrenceDeclarations('forward', this.units, this.tiling, this.hard)}
      fn main(index : i32) {
        ${forwardBody(this.tiling, {
          ...tfjsIO('xw'),
          rk: (row, column) => `rk[${row} * G + ${column}]`,
          xw: (column) => `xw[n * G + ${column}]`,
          out: (m, value) => `result[n * P + ${m} * U + j] = ${value};`,
        })}
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
    // ut is the recurrent kernel transposed.
    const saved = (m: number, n: string) =>
      m === 1 ? `cs[${n} * U + j]` : m === 2 ? `tc[${n} * U + j]` : `gates[${n} * G + ${m - 3} * U + j]`;
    return `
      ${recurrenceDeclarations('backward', this.units, this.tiling, this.hard)}
      fn main(index : i32) {
        ${backwardBody(this.tiling, {
          ...tfjsIO('gates'),
          rk: (row, column) => `ut[${column} * U + ${row}]`,
          dy: this.lastOnly ? 'dy[b * U + j]' : 'dy[n * U + j]',
          lastOnly: this.lastOnly,
          saved,
          dz: (g, value) => `result[n * G + ${g} * U + j] = ${value};`,
        })}
      }
    `;
  }
}
