/**
 * The start-up self-check of src/vendor-shims/: the installed (pinned) packages pass it, and a package
 * whose internal moved is reported with the package, the internal and what to do: fatal (the service
 * stops) for internals the code relies on, a warning for the performance-only kafkajs patch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { IntentstreamError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { checkAvscInternals } from '../../src/vendor-shims/avsc.js';
import { VendorShimError, checkVendorShims, findShimProblems } from '../../src/vendor-shims/check.js';
import { LINEAR, QUADRATIC } from '../../src/vendor-shims/kafkajs-grouping-patch.mjs';
import { checkKafkajsInternals } from '../../src/vendor-shims/kafkajs.js';
import type { ShimProblem } from '../../src/vendor-shims/problems.js';
import { checkCpuBackendInternals } from '../../src/vendor-shims/tfjs-backend-cpu.js';
import { checkWasmBackendInternals } from '../../src/vendor-shims/tfjs-backend-wasm.js';
import {
  checkLiveWebgpuBackend,
  checkWebgpuBackendInternals,
} from '../../src/vendor-shims/tfjs-backend-webgpu.js';
import { checkTfjsCoreInternals } from '../../src/vendor-shims/tfjs-core.js';
import { checkTfjsLayersInternals } from '../../src/vendor-shims/tfjs-layers.js';

const fn = () => undefined;
const internals = (problems: ShimProblem[]) => problems.map((p) => `${p.severity} ${p.internal}`);

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const TXN_ENCODER = 'const encodePartition = ({ partition, offset, metadata }) => {}';
const CONSUMER_GROUP =
  'class ConsumerGroup {\n  constructor({ cluster }) {\n    this.cluster = cluster\n  }\n\n  joinAndSync() {\n  }\n}';

describe('vendor shims self-check', () => {
  it('passes for the installed packages (the versions pinned in package.json)', async () => {
    assert.deepEqual(await findShimProblems(['kafkajs', 'avsc', 'tfjs']), []);
    const limits = {
      maxComputeWorkgroupStorageSize: 16_384,
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupSizeX: 256,
    };
    // The start-up check leaves webgpu out where navigator.gpu is not set up yet (as here).
    assert.deepEqual(await checkWebgpuBackendInternals(), []);
    const methods = { shouldExecuteOnCPU: fn, runWebGPUProgram: fn, disposeData: fn };
    assert.deepEqual(checkLiveWebgpuBackend({ ...methods, tensorMap: new Map(), device: { limits } }), []);
  });

  it('names each avsc internal that moved', () => {
    const avscProto = { _read: fn, _skip: fn };
    const tap = { _invalidate: fn, readLong: fn, skipLong: fn, readString: fn, skipString: fn };
    const healthy = {
      types: { MapType: { prototype: avscProto }, ArrayType: { prototype: avscProto } },
      Tap: { prototype: tap },
      resolver: { _readerType: {} },
    };
    assert.deepEqual(checkAvscInternals(healthy), []);
    const { _invalidate: _dropped, ...tapWithout } = tap;
    const problems = checkAvscInternals({
      ...healthy,
      types: { ...healthy.types, ArrayType: { prototype: { _read: fn } } },
      Tap: { prototype: tapWithout },
      resolver: {},
    });
    assert.deepEqual(internals(problems), [
      'fatal ArrayType.prototype._skip',
      'fatal Tap.prototype._invalidate',
      'fatal resolver._readerType',
    ]);
    assert.match(
      problems[1]!.message,
      /^avsc: Tap\.prototype\._invalidate is missing, not a function; .*package\.json/,
    );
  });

  it('only warns when the kafkajs grouping patch is missing, and says how to apply it', () => {
    const sources = (grouping: string | undefined, txn: string | undefined = TXN_ENCODER) => ({
      grouping: () => grouping,
      txnOffsetCommit: () => txn,
      consumerGroup: () => CONSUMER_GROUP,
    });
    assert.deepEqual(checkKafkajsInternals(sources(`x\n${LINEAR}\n`)), []);
    const unpatched = checkKafkajsInternals(sources(`x\n${QUADRATIC}\n`));
    assert.deepEqual(internals(unpatched), ['warning producer/groupMessagesPerPartition.js']);
    assert.match(unpatched[0]!.message, /not applied .*--ignore-scripts.*node scripts\/postinstall\.mjs/);
    const changed = checkKafkajsInternals(sources('module.exports = () => ({})'));
    assert.match(changed[0]!.message, /not the 2\.2\.4 text the patch knows/);
    assert.match(checkKafkajsInternals(sources(undefined))[0]!.message, /is not found/);
  });

  it('fails when kafkajs no longer sends a transactional offset metadata', () => {
    const problems = checkKafkajsInternals({
      grouping: () => LINEAR,
      txnOffsetCommit: () => 'const encodePartition = ({ partition, offset }) => {}',
      consumerGroup: () => CONSUMER_GROUP,
    });
    assert.deepEqual(internals(problems), ['fatal protocol/requests/txnOffsetCommit']);
    assert.match(problems[0]!.message, /no longer encodes a partition offset metadata/);
  });

  it("fails when kafkajs's consumer group no longer joins through joinAndSync (ingest's rebalance lock)", () => {
    const check = (group: string | undefined) =>
      checkKafkajsInternals({
        grouping: () => LINEAR,
        txnOffsetCommit: () => TXN_ENCODER,
        consumerGroup: () => group,
      });
    assert.deepEqual(check(CONSUMER_GROUP), []);
    for (const group of [CONSUMER_GROUP.replace('joinAndSync', 'rejoin'), undefined]) {
      const problems = check(group);
      assert.deepEqual(internals(problems), ['fatal consumer/consumerGroup.js joinAndSync']);
      assert.match(problems[0]!.message, /ingest runs under its lock/);
    }
  });

  it('names each tfjs internal that moved', async () => {
    const problems = checkTfjsCoreInternals({
      engine: {},
      AdamOptimizer: { toString: () => 'class AdamOptimizer { constructor(lr) { this.rate = lr; } }' },
    });
    assert.deepEqual(internals(problems), [
      'fatal engine.runKernelFunc',
      'fatal AdamOptimizer.learningRate, beta1, beta2, epsilon, accBeta1, accBeta2, accumulatedFirstMoment, accumulatedSecondMoment',
    ]);
    const renamedMoments = tf.AdamOptimizer.toString().replaceAll('accumulatedSecondMoment', 'moments2');
    assert.deepEqual(
      internals(
        checkTfjsCoreInternals({ engine: tf.engine(), AdamOptimizer: { toString: () => renamedMoments } }),
      ),
      ['fatal AdamOptimizer.accumulatedSecondMoment'],
    );
    assert.deepEqual(checkTfjsCoreInternals(), []);
    assert.deepEqual(internals(await checkWasmBackendInternals({ makeOutput: fn })), [
      'fatal BackendWasm.prototype.typedArrayFromHeap',
      'fatal BackendWasm.prototype.disposeData',
    ]);
    assert.deepEqual(internals(await checkWebgpuBackendInternals({ runWebGPUProgram: 1 })), [
      'fatal WebGPUBackend.prototype.shouldExecuteOnCPU',
      'fatal WebGPUBackend.prototype.runWebGPUProgram',
      'fatal WebGPUBackend.prototype.disposeData',
    ]);
    assert.deepEqual(internals(await checkCpuBackendInternals({ makeTensorInfo: fn })), [
      'fatal MathBackendCPU.prototype.disposeIntermediateTensorInfo',
    ]);
    assert.deepEqual(internals(checkLiveWebgpuBackend({})), [
      'fatal WebGPUBackend.shouldExecuteOnCPU',
      'fatal WebGPUBackend.runWebGPUProgram',
      'fatal WebGPUBackend.disposeData',
      'fatal WebGPUBackend.tensorMap.get',
      'fatal WebGPUBackend.device.limits',
    ]);
    class NotLstm {}
    class Embedding {
      static className = 'Embedding';
      maskZero = false; // no longer the field the constructor fills
    }
    assert.deepEqual(
      internals(
        checkTfjsLayersInternals({
          lstm: () => new NotLstm(),
          dropout: () => ({ rate: 0.5 }),
          embedding: () => new Embedding(),
          concatenate: () => ({}),
        }),
      ),
      ['fatal Embedding class', 'fatal Concatenate class', 'fatal LSTM class', 'fatal Dropout.seed'],
    );
  });

  it('logs warnings and goes on; stops the service on a fatal problem', async () => {
    const warning: ShimProblem = {
      package: 'kafkajs',
      internal: 'producer/groupMessagesPerPartition.js',
      severity: 'warning',
      message: 'kafkajs: slow',
    };
    const fatal: ShimProblem = {
      package: 'avsc',
      internal: 'Tap',
      severity: 'fatal',
      message: 'avsc: moved',
    };
    const { logger, lines } = capturingLogger();
    assert.deepEqual(await checkVendorShims(['kafkajs'], logger, async () => [warning]), [warning]);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!['level'], 'warn');
    assert.equal(lines[0]!['msg'], 'kafkajs: slow');
    assert.equal(lines[0]!['event'], 'vendor_shim_warning');
    await assert.rejects(
      checkVendorShims(['kafkajs', 'avsc'], logger, async () => [warning, fatal]),
      (e: unknown) =>
        e instanceof VendorShimError &&
        e instanceof IntentstreamError &&
        !e.retriable &&
        e.problems.length === 1 &&
        /dependency internals changed .*: avsc: moved$/.test(e.message),
    );
    assert.equal(lines.length, 2, 'the warning is logged before the fatal problem stops the service');
  });
});
