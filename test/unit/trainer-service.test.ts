import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createMemoryLogger } from '../../src/log/logger.js';
import { TRAINER_METRICS, createTrainerMetrics } from '../../src/metrics/trainer-metrics.js';
import { acquireLock } from '../../src/trainer/lock.js';
import { type RunOutcome, createTrainerService } from '../../src/trainer/service.js';
import { waitFor } from '../helpers/wait.js';

async function setup(
  runOnce: () => Promise<RunOutcome>,
  firstModel?: { due: () => Promise<boolean>; intervalMs: number },
) {
  const registry = new Registry();
  const lockPath = join(await mkdtemp(join(tmpdir(), 'svc-')), 'train.lock');
  const service = createTrainerService({
    runOnce,
    lockPath,
    schedule: '0 */6 * * *',
    metrics: createTrainerMetrics(registry),
    logger: createMemoryLogger(),
    ...(firstModel ? { firstModel } : {}),
  });
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    const v = (metric?.values as { value: number; labels: Record<string, string> }[] | undefined)?.find((x) =>
      Object.entries(labels).every(([k, l]) => x.labels[k] === l),
    );
    return v?.value;
  };
  return { service, lockPath, value };
}

describe('trainer service', () => {
  it('never runs two at once: a concurrent trigger is skipped', async () => {
    let release!: () => void;
    let calls = 0;
    const { service, value } = await setup(async () => {
      calls++;
      await new Promise<void>((r) => {
        release = r;
      });
      return {
        result: 'promoted',
        reason: 'ok',
        auc: [{ split: 'test', model: 'candidate', value: 0.9 }],
        examples: { train: 10 },
      };
    });
    const first = service.trigger('cron');
    while (!release) await new Promise((r) => setImmediate(r));
    const second = await service.trigger('http');
    assert.equal(second.result, 'skipped');
    release();
    assert.equal((await first).result, 'promoted');
    assert.equal(calls, 1);
    assert.equal(await value(TRAINER_METRICS.runs, { result: 'promoted', trigger: 'cron' }), 1);
    assert.equal(await value(TRAINER_METRICS.runs, { result: 'skipped', trigger: 'http' }), 1);
    assert.equal(await value(TRAINER_METRICS.auc, { split: 'test', model: 'candidate' }), 0.9);
    assert.equal(await value(TRAINER_METRICS.examples, { split: 'train' }), 10);
    assert.ok(((await value(TRAINER_METRICS.lastSuccess)) ?? 0) > 0, 'last success time set');
  });

  it('skips while another holder has the lock file, and counts a failing run as failed', async () => {
    const { service, lockPath, value } = await setup(async () => {
      throw new Error('no sessions in range');
    });
    const held = await acquireLock(lockPath, 'someone else');
    const skipped = await service.trigger('cli');
    assert.equal(skipped.result, 'skipped');
    assert.match(skipped.reason, /held by pid/);
    await held.release();
    const failed = await service.trigger('cli');
    assert.equal(failed.result, 'failed');
    assert.match(failed.reason, /no sessions in range/);
    assert.equal(await value(TRAINER_METRICS.runs, { result: 'failed', trigger: 'cli' }), 1);
    assert.equal(await value(TRAINER_METRICS.lastSuccess), 0);
  });

  it('rejects an invalid cron expression naming the field', async () => {
    assert.throws(
      () =>
        createTrainerService({
          runOnce: async () => ({ result: 'skipped', reason: '' }),
          lockPath: '/tmp/x.lock',
          schedule: 'every hour',
          metrics: createTrainerMetrics(new Registry()),
          logger: createMemoryLogger(),
        }),
      /trainer\.schedule is not a valid cron expression/,
    );
  });

  it('trains the first model as soon as due() says so, then stops checking once a model exists', async () => {
    let checks = 0;
    let hasModel = false;
    let runs = 0;
    let firstRun!: () => void;
    const ran = new Promise<void>((r) => {
      firstRun = r;
    });
    const { service, value } = await setup(
      async () => {
        runs++;
        hasModel = true;
        firstRun();
        return { result: 'promoted', reason: 'no champion yet' };
      },
      {
        intervalMs: 5,
        due: async () => {
          checks++;
          return !hasModel && checks >= 3; // "enough sessions" from the third check on
        },
      },
    );
    service.start();
    await ran;
    const checksAtRun = checks;
    // Later checks keep answering false: no second run.
    await waitFor(() => checks >= checksAtRun + 3, { intervalMs: 5, what: 'three more first-model checks' });
    await service.stop();
    assert.equal(runs, 1, 'exactly one first-model run');
    assert.equal(checksAtRun, 3, 'the run started on the first check that was due');
    assert.equal(await value(TRAINER_METRICS.runs, { result: 'promoted', trigger: 'first-model' }), 1);
  });
});
