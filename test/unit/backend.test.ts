/**
 * Backend selection with the optional packages simulated as missing, and the wasm kernels this
 * project registers checked against the cpu backend's results.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { createMemoryLogger } from '../../src/log/logger.js';
import { BackendError, adapterName, describeAdapter, selectBackend } from '../../src/model/backend.js';

const missing = (specifier: string) => {
  const error = new Error(`Cannot find package '${specifier}'`) as NodeJS.ErrnoException;
  error.code = 'ERR_MODULE_NOT_FOUND';
  return error;
};
/** Loads real modules except the optional ones, which are "not installed". */
const withoutOptional = async (specifier: string) => {
  if (/tfjs-node|webgpu/.test(specifier)) throw missing(specifier);
  return import(specifier);
};

/** Runs `f` on a backend and returns plain values. */
async function on<T>(backend: string, f: () => T): Promise<T> {
  await tf.setBackend(backend);
  return f();
}

describe('selectBackend', () => {
  it('a forced tensorflow backend that is not installed is an error naming both packages', async () => {
    await assert.rejects(
      selectBackend({ requested: 'tensorflow', importModule: withoutOptional }),
      (error: unknown) =>
        error instanceof BackendError &&
        /tfjs-node-gpu/.test(error.message) &&
        /@tensorflow\/tfjs-node:/.test(error.message),
    );
  });

  it('a forced webgpu backend that is not installed is an error', async () => {
    await assert.rejects(selectBackend({ requested: 'webgpu', importModule: withoutOptional }), BackendError);
  });

  it('auto skips what is missing, takes wasm, and logs the choice', async () => {
    const logger = createMemoryLogger('debug');
    const selection = await selectBackend({ importModule: withoutOptional, logger });
    assert.equal(selection.backend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.deepEqual(
      selection.skipped.map((s) => s.backend),
      ['tensorflow', 'webgpu'],
    );
    assert.ok(
      selection.skipped.every((s) => s.reason.length > 0),
      'each skip has a reason',
    );
    const line = logger.lines.find((l) => l['msg'] === 'tensorflow backend selected');
    assert.equal(line?.['backend'], 'wasm');
  });

  it('auto passes over a software WebGPU adapter, naming it', async () => {
    const adapter = { info: { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true } };
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu: { requestAdapter: async () => adapter } },
      configurable: true,
    });
    try {
      const selection = await selectBackend({ importModule: withoutOptional });
      assert.equal(selection.backend, 'wasm');
      const reason = selection.skipped.find((s) => s.backend === 'webgpu')?.reason ?? '';
      assert.ok(/software device \(google \/ swiftshader\)/.test(reason), reason);
    } finally {
      if (saved) Object.defineProperty(globalThis, 'navigator', saved);
      else Reflect.deleteProperty(globalThis, 'navigator');
    }
  });

  it('cpu can be forced', async () => {
    const selection = await selectBackend({ requested: 'cpu' });
    assert.equal(selection.backend, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
  });
});

describe('describeAdapter', () => {
  it('marks CPU Vulkan devices and fallback adapters as software, and a GPU not', () => {
    const software = (info: Record<string, unknown>) => describeAdapter({ info }).software;
    assert.equal(software({ vendor: 'google', architecture: 'swiftshader' }), true);
    assert.equal(software({ vendor: 'mesa', device: 'llvmpipe (LLVM 15.0.6, 256 bits)' }), true);
    assert.equal(software({ vendor: 'x', isFallbackAdapter: true }), true);
    assert.equal(software({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100' }), false);
    const gpu = describeAdapter({
      info: { vendor: 'nvidia', architecture: '', device: 'NVIDIA H100 80GB HBM3' },
    });
    assert.equal(adapterName(gpu), 'nvidia / NVIDIA H100 80GB HBM3');
    assert.deepEqual(describeAdapter({}), {
      vendor: '',
      architecture: '',
      device: '',
      description: '',
      software: false,
    });
  });
});

describe('wasm kernels', () => {
  it('BatchMatMul with transposed operands matches the cpu backend', async () => {
    await selectBackend({ requested: 'wasm', fastWasmMatMul: true });
    const a = [2, 3, 4];
    const b = [2, 4, 5];
    const values = (shape: number[], k: number) =>
      Array.from({ length: shape.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(i * k));
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const sa = ta ? [2, 4, 3] : a;
      const sb = tb ? [2, 5, 4] : b;
      const run = () =>
        tf.tidy(() =>
          Array.from(
            tf.matMul(tf.tensor(values(sa, 1.3), sa), tf.tensor(values(sb, 0.7), sb), ta, tb).dataSync(),
          ),
        );
      const wasm = await on('wasm', run);
      const cpu = await on('cpu', run);
      wasm.forEach((v, i) =>
        assert.ok(Math.abs(v - cpu[i]!) < 1e-5, `ta=${ta} tb=${tb} [${i}]: ${v} vs ${cpu[i]}`),
      );
    }
  });

  it('UnsortedSegmentSum (the gradient of an embedding lookup) exists on wasm and matches cpu', async () => {
    await selectBackend({ requested: 'wasm' });
    const run = () =>
      tf.tidy(() => {
        const table = tf.variable(
          tf.tensor2d([
            [1, 2],
            [3, 4],
            [5, 6],
          ]),
        );
        const ids = tf.tensor1d([2, 0, 2, 2], 'int32');
        const grad = tf.grad((t: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.gather(t, ids),
              tf.tensor2d([
                [1, 1],
                [2, 2],
                [3, 3],
                [4, 4],
              ]),
            ),
          ),
        );
        const g = Array.from(grad(table).dataSync());
        const direct = Array.from(
          tf
            .unsortedSegmentSum(
              tf.tensor2d([
                [1, 2],
                [3, 4],
                [5, 6],
              ]),
              tf.tensor1d([1, 1, 0], 'int32'),
              3,
            )
            .dataSync(),
        );
        table.dispose();
        return [...g, ...direct];
      });
    const wasm = await on('wasm', run);
    assert.deepEqual(wasm, await on('cpu', run));
    assert.deepEqual(wasm, [2, 2, 0, 0, 8, 8, 5, 6, 4, 6, 0, 0]);
  });
});
