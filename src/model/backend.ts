/**
 * TensorFlow.js backend selection, best first: `tensorflow` (@tensorflow/tfjs-node-gpu, then
 * @tensorflow/tfjs-node: optional dependencies whose installers download libtensorflow, so they are
 * usually absent), `webgpu` (@tensorflow/tfjs-backend-webgpu; in Node on Dawn through the optional
 * `webgpu` package, which needs a Vulkan driver), `wasm` (always installed), `cpu`. A forced backend
 * that cannot start is an error, not a silent fallback. The choice is logged and returned so metrics
 * can label it.
 *
 * `auto` passes over a software WebGPU adapter (SwiftShader, lavapipe: a Vulkan device that runs on
 * the CPU, slower than wasm); `webgpu` requested by name uses it (that is how CI tests the backend).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { IntentstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { installWasmKernels } from './wasm-kernels.js';
import { installWebgpuKernels } from './webgpu-kernels.js';

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
  /** The WebGPU adapter, for webgpu. */
  adapter?: AdapterInfo;
}

/** What a WebGPU adapter says about itself (GPUAdapterInfo), plus whether it runs on the CPU. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software device (SwiftShader, lavapipe) or one the implementation marks as a fallback. */
  software: boolean;
}

export interface SelectBackendOptions {
  requested?: BackendChoice;
  logger?: Logger;
  /** Register the faster transposed matMul on wasm (see wasm-kernels.ts). */
  fastWasmMatMul?: boolean;
  /** Module loader (tests pass a fake to simulate installed or missing packages). */
  importModule?: (specifier: string) => Promise<unknown>;
}

export class BackendError extends IntentstreamError {
  override name = 'BackendError';
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

type Attempt = { ok: true; provider?: string; adapter?: AdapterInfo } | { ok: false; reason: string };

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

interface GpuAdapterLike {
  info?: Partial<Record<'vendor' | 'architecture' | 'device' | 'description', string>> & {
    isFallbackAdapter?: boolean;
  };
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|software/i;

export function describeAdapter(adapter: GpuAdapterLike): AdapterInfo {
  const info = adapter.info ?? {};
  const fields = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
  };
  const software =
    info.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true ||
    Object.values(fields).some((v) => SOFTWARE_ADAPTER.test(v));
  return { ...fields, software };
}

/** One line naming an adapter: its non-empty fields joined by " / ". */
export const adapterName = (a: AdapterInfo) =>
  [a.vendor, a.architecture, a.device, a.description].filter((v) => v !== '').join(' / ') || 'unnamed';

/** navigator.gpu, from the `webgpu` package (Dawn) where Node has none of its own. */
async function webgpuNavigator(load: (s: string) => Promise<unknown>): Promise<GpuLike> {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  if (nav?.gpu !== undefined) return nav.gpu;
  const dawn = (await load('webgpu')) as { create(args: string[]): GpuLike; globals?: object };
  // The GPU* classes and constants (GPUBufferUsage, ...) the tfjs backend refers to as globals.
  if (dawn.globals) Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(nav ?? {}), gpu },
    configurable: true,
    writable: true,
  });
  return gpu;
}

/**
 * The adapter is asked for here first (as the tfjs backend will: high performance) so that `auto`
 * can pass over a software one, and so the choice names the GPU.
 */
async function tryWebgpu(load: (s: string) => Promise<unknown>, auto: boolean): Promise<Attempt> {
  try {
    const gpu = await webgpuNavigator(load);
    const found = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (found === null) {
      return { ok: false, reason: 'no WebGPU adapter (Dawn found no Vulkan driver: see VK_ICD_FILENAMES)' };
    }
    const adapter = describeAdapter(found);
    if (auto && adapter.software) {
      return {
        ok: false,
        reason: `the WebGPU adapter is a software device (${adapterName(adapter)}), slower than wasm; --backend webgpu uses it anyway`,
      };
    }
    await load('@tensorflow/tfjs-backend-webgpu');
    if (!(await activate('webgpu'))) {
      return { ok: false, reason: `the webgpu backend did not start on ${adapterName(adapter)}` };
    }
    installWebgpuKernels();
    return { ok: true, provider: '@tensorflow/tfjs-backend-webgpu', adapter };
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
    else if (backend === 'webgpu') attempt = await tryWebgpu(load, requested === 'auto');
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
        ...(attempt.adapter ? { adapter: attempt.adapter } : {}),
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
