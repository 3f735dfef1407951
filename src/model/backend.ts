/**
 * TensorFlow.js backend selection, best first: `tensorflow` (@tensorflow/tfjs-node-gpu, then
 * @tensorflow/tfjs-node: optional dependencies whose installers download libtensorflow, so they are
 * usually absent), `webgpu` (@tensorflow/tfjs-backend-webgpu; in Node on Dawn through the `webgpu`
 * package), `wasm` (always installed), `cpu`. A forced backend that cannot start is an error, not a
 * silent fallback. The choice is logged and returned so metrics can label it.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../log/logger.js';
import { installWasmKernels } from './wasm-kernels.js';

export const BACKENDS = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

export interface BackendSelection {
  backend: BackendName;
  requested: BackendChoice;
  /** Backends tried before the chosen one, and why each was skipped. */
  skipped: { backend: BackendName; reason: string }[];
  /** The package that provided it, where one did. */
  provider?: string;
}

export interface SelectBackendOptions {
  requested?: BackendChoice;
  logger?: Logger;
  /** Register the faster transposed matMul on wasm (see wasm-kernels.ts). */
  fastWasmMatMul?: boolean;
  /** Module loader (tests pass a fake to simulate installed or missing packages). */
  importModule?: (specifier: string) => Promise<unknown>;
}

export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

const require = createRequire(import.meta.url);

/** Directory of the wasm binaries with a trailing slash (setWasmPaths takes a prefix). */
export function wasmBinaryDir(): string {
  return `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
}

const message = (error: unknown) => (error instanceof Error ? error.message.split('\n')[0]! : String(error));

async function activate(name: string): Promise<boolean> {
  if (tf.findBackendFactory(name) === null && tf.findBackend(name) === null) return false;
  const ok = await tf.setBackend(name);
  if (ok) await tf.ready();
  return ok && tf.getBackend() === name;
}

type Attempt = { ok: true; provider?: string } | { ok: false; reason: string };

async function tryTensorflow(load: (s: string) => Promise<unknown>): Promise<Attempt> {
  const reasons: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await load(pkg);
      if (await activate('tensorflow')) return { ok: true, provider: pkg };
      reasons.push(`${pkg} loaded but the tensorflow backend did not start`);
    } catch (error) {
      reasons.push(`${pkg}: ${message(error)}`);
    }
  }
  return { ok: false, reason: reasons.join('; ') };
}

async function tryWebgpu(load: (s: string) => Promise<unknown>): Promise<Attempt> {
  try {
    const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
    if (nav?.gpu === undefined) {
      // Node has no WebGPU of its own; the `webgpu` package (Dawn) provides navigator.gpu.
      const dawn = (await load('webgpu')) as { create(args: string[]): unknown; globals?: object };
      if (dawn.globals) Object.assign(globalThis, dawn.globals);
      Object.defineProperty(globalThis, 'navigator', {
        value: { ...(nav ?? {}), gpu: dawn.create([]) },
        configurable: true,
        writable: true,
      });
    }
    await load('@tensorflow/tfjs-backend-webgpu');
    if (await activate('webgpu')) return { ok: true, provider: '@tensorflow/tfjs-backend-webgpu' };
    return { ok: false, reason: 'no WebGPU adapter' };
  } catch (error) {
    return { ok: false, reason: message(error) };
  }
}

async function tryWasm(load: (s: string) => Promise<unknown>, fastMatMul: boolean): Promise<Attempt> {
  try {
    const wasm = (await load('@tensorflow/tfjs-backend-wasm')) as { setWasmPaths(prefix: string): void };
    wasm.setWasmPaths(wasmBinaryDir());
    if (!(await activate('wasm'))) return { ok: false, reason: 'the wasm backend did not start' };
    installWasmKernels({ fastMatMul });
    return { ok: true, provider: '@tensorflow/tfjs-backend-wasm' };
  } catch (error) {
    return { ok: false, reason: message(error) };
  }
}

/** Picks and activates a backend (see the module comment); resolves once it is ready. */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  const requested = options.requested ?? 'auto';
  const load = options.importModule ?? ((s: string) => import(s));
  const candidates: BackendName[] = requested === 'auto' ? [...BACKENDS] : [requested];
  const skipped: BackendSelection['skipped'] = [];
  for (const backend of candidates) {
    let attempt: Attempt;
    if (backend === 'tensorflow') attempt = await tryTensorflow(load);
    else if (backend === 'webgpu') attempt = await tryWebgpu(load);
    else if (backend === 'wasm') attempt = await tryWasm(load, options.fastWasmMatMul ?? true);
    else
      attempt = (await activate('cpu'))
        ? { ok: true }
        : { ok: false, reason: 'the cpu backend did not start' };
    if (attempt.ok) {
      const selection: BackendSelection = {
        backend,
        requested,
        skipped,
        ...(attempt.provider ? { provider: attempt.provider } : {}),
      };
      options.logger?.info('tensorflow backend selected', { ...selection });
      return selection;
    }
    skipped.push({ backend, reason: attempt.reason });
    options.logger?.debug('tensorflow backend unavailable', { backend, reason: attempt.reason });
  }
  throw new BackendError(
    `backend ${requested} is not available: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`,
  );
}
