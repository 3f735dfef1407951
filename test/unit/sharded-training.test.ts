/**
 * The trainer's sharded path against the in-memory one on the same small generated data: the same
 * dataset (split, labels, summary), a test ROC-AUC within a small tolerance (batch order differs:
 * shards are shuffled a buffer at a time), and a baseline sample that is bounded and does not
 * depend on the order the store yields sessions in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { DatasetScanner, buildDataset } from '../../src/dataset/index.js';
import { FeatureEncoder } from '../../src/features/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { encodeSplit, predictSessions } from '../../src/model/batches.js';
import { rocAuc } from '../../src/model/evaluate.js';
import { buildModel, correctPriorShift } from '../../src/model/lstm.js';
import { ShardEncoder } from '../../src/model/shard-dataset.js';
import { train } from '../../src/model/train.js';
import { datasetOptionsOf, runTraining, trainingOptionsOf } from '../../src/model/training-run.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { generatedSessions } from '../helpers/sessions.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const config = tinyTrainerConfig({
  training: { epochs: 3 },
  dataset: { prefixesPerSession: 1 },
  evaluation: { bootstrapResamples: 20 },
});
const datasetOptions = datasetOptionsOf(config);
let sessions: SessionTimeline[];
const dirs: string[] = [];

before(async () => {
  await tf.setBackend('cpu');
  tf.env().set('PROD', true);
  sessions = generatedSessions({ seed: 5, cookies: 160, durationMs: 2 * 86_400_000, botCookies: 0 }).sessions;
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Today's in-memory path: the whole dataset encoded in memory, trained, test ROC-AUC. */
async function inMemoryTestAuc(): Promise<number> {
  const dataset = buildDataset(sessions, datasetOptions);
  const encoder = FeatureEncoder.fit(
    dataset.train.sessions.map((s) => s.events),
    { ...config.features, hashSeed: config.seed, roles: config.roles },
  );
  const model = buildModel(encoder, { ...config.model, seed: config.seed });
  const full = (split: typeof dataset.validation) => ({
    sessions: split.sessions,
    examples: split.sessions.map((s, session) => ({ session, length: s.events.length, full: true })),
  });
  const result = await train({
    model,
    encoder,
    train: encodeSplit(encoder, dataset.train),
    validation: encodeSplit(encoder, full(dataset.validation)),
    ...trainingOptionsOf(config),
    logger: createMemoryLogger('error'),
  });
  if (config.training.correctPriorShift) correctPriorShift(model, result.positiveWeight);
  const scores = await predictSessions(model, encoder, dataset.test.sessions);
  model.dispose();
  return rocAuc(
    dataset.test.sessions.map((s) => s.label),
    scores,
  )!;
}

describe('the sharded trainer', () => {
  it('trains on the same dataset as the in-memory path, to the same test ROC-AUC within tolerance', async () => {
    const shardDir = mkdtempSync(join(tmpdir(), 'sharded-training-'));
    dirs.push(shardDir);
    const run = await runTraining({
      sessions,
      config,
      logger: createMemoryLogger('error'),
      shardDir,
      sessionsPerShard: 40, // several shards per split, more than one shuffle buffer
    });
    const reference = buildDataset(sessions, datasetOptions);
    assert.deepEqual(run.dataset.summary, reference.summary, 'the same split, labels and summary');
    const report = run.report!;
    assert.equal(report.splits.test.examples, reference.test.sessions.length);
    assert.equal(
      report.testPrefixes.examples,
      reference.summary.splits.test.sessions * 2 - countOneEvent(reference),
    );
    assert.deepEqual(report.baseline.fittedOn, {
      examples: reference.train.examples.length,
      of: reference.train.examples.length,
    });
    const testSessions = [];
    for await (const s of run.testSessions()) testSessions.push(s);
    assert.deepEqual(
      testSessions.map((s) => s.sessionId).sort(),
      reference.test.sessions.map((s) => s.sessionId).sort(),
    );
    assert.deepEqual(readdirSync(shardDir), [], 'the shards are removed at the end of the run');
    run.model.dispose();

    const sharded = report.splits.test.rocAuc!;
    const inMemory = await inMemoryTestAuc();
    assert.ok(inMemory > 0.6 && sharded > 0.6, `both learn (in memory ${inMemory}, sharded ${sharded})`);
    assert.ok(Math.abs(sharded - inMemory) < 0.02, `test ROC-AUC in memory ${inMemory}, sharded ${sharded}`);
  });

  it('fits the baseline on a bounded sample that does not depend on the read order', () => {
    const sample = (order: SessionTimeline[]) => {
      const scanner = new DatasetScanner(datasetOptions);
      for (const s of order) scanner.add(s);
      const plan = scanner.finish();
      const tally = plan.tally();
      for (const s of order) tally.add(s, plan.place(s));
      const summary = tally.summary();
      const dir = mkdtempSync(join(tmpdir(), 'sharded-sample-'));
      dirs.push(dir);
      const encoder = FeatureEncoder.fit([order.flatMap((s) => s.events)], {
        ...config.features,
        hashSeed: config.seed,
      });
      const shards = new ShardEncoder({
        dir,
        encoder,
        plan,
        summary,
        seed: config.seed,
        evaluationPrefixes: 1,
        baselineSample: 100,
      });
      for (const s of order) shards.add(s);
      const { baselineSample } = shards.finish();
      assert.equal(baselineSample.examples, summary.splits.train.examples);
      return baselineSample.rows.map((r, i) => `${baselineSample.labels[i]}:${r.join(',')}`).sort();
    };
    const forward = sample(sessions);
    const backward = sample([...sessions].reverse());
    assert.ok(forward.length >= 50 && forward.length <= 150, `about 100 rows: ${forward.length}`);
    assert.deepEqual(backward, forward);
  });
});

/** Test sessions with one observable event have no prefix besides the full sequence. */
function countOneEvent(dataset: ReturnType<typeof buildDataset>): number {
  return dataset.test.sessions.filter((s) => s.events.length === 1).length;
}
