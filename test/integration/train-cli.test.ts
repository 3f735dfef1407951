/**
 * `intentstream train` end to end on the real file system (no broker): a store filled from
 * generated traffic, a run stopped by SIGTERM after its first epoch, `--resume` finishing it, and
 * the candidate directory read back with loadModel.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildDataset } from '../../src/dataset/index.js';
import { predictSessions } from '../../src/model/batches.js';
import { rocAuc } from '../../src/model/evaluate.js';
import type { EvaluationReport } from '../../src/model/report.js';
import { PLOT_FILES } from '../../src/plots/model-plots.js';
import { loadModel } from '../../src/registry/model-files.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { createTimelineStore } from '../../src/store/index.js';
import { logLines, runCli, spawnCli } from '../helpers/cli.js';
import { fillStoreFromGenerator } from '../helpers/store.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const EPOCHS = 8;

describe('intentstream train', () => {
  let dir: string;
  let storeDir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'train-cli-'));
    ({ storeDir } = await fillStoreFromGenerator(dir, {
      seed: 21,
      cookies: 250,
      durationMs: 2 * 86_400_000,
    }));
    const config = join(dir, 'trainer.yaml');
    writeFileSync(
      config,
      [
        'trainer:',
        `  modelsDir: ${join(dir, 'models')}`,
        `  checkpointDir: ${join(dir, 'checkpoints')}`,
        '  features: { maxSteps: 16, itemBuckets: 64, categoryBuckets: 16 }',
        '  model: { lstmUnits: [12], embeddingDims: { eventType: 4, item: 2, category: 2, device: 2, referrer: 2 } }',
        `  training: { epochs: ${EPOCHS}, batchSize: 128, patience: ${EPOCHS} }`,
        '',
      ].join('\n'),
    );
    env = { INTENTSTREAM_CONFIG: config, INTENTSTREAM_STORE__DIR: storeDir };
  });

  it('stops at SIGTERM keeping the last epoch checkpointed, and --resume finishes the run', async () => {
    const child = spawnCli(['train', '--backend', 'wasm'], env);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('"epoch finished"') && !child.killed) child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const lines = logLines(stderr);
    assert.equal(code, 130, `exit code 130 after SIGTERM; stderr:\n${stderr.slice(-2000)}`);
    assert.ok(
      lines.some(
        (l) =>
          l['msg'] ===
          'training interrupted; the last completed epoch is checkpointed: run again with --resume',
      ),
      'interruption logged',
    );
    const state = JSON.parse(readFileSync(join(dir, 'checkpoints', 'state.json'), 'utf8'));
    assert.ok(state.epoch >= 1 && state.epoch < EPOCHS, `checkpoint after epoch ${state.epoch}`);
    assert.equal(state.finished, false);
    assert.equal(existsSync(join(dir, 'models')), false, 'no candidate from an interrupted run');

    const resumed = await runCli(['train', '--resume', '--backend', 'wasm'], env);
    assert.equal(resumed.code, 0, resumed.stderr.slice(-3000));
    const summary = JSON.parse(resumed.stdout.toString());
    assert.equal(summary.resumedFromEpoch, state.epoch);
    assert.equal(summary.epochs, EPOCHS);
    assert.equal(summary.backend, 'wasm');
    assert.match(summary.version, /^v\d{14}-[0-9a-f]{7}$/);
    assert.deepEqual(
      readdirSync(summary.dir).sort(),
      [
        'checksums.json',
        'encoder.json',
        'manifest.json',
        'metrics.json',
        'model-card.md',
        'model.json',
        'weights.bin',
        ...Object.values(PLOT_FILES),
      ].sort(),
    );
    assert.ok(summary.dir.startsWith(join(dir, 'models', 'candidates')), summary.dir);

    // The candidate reproduces its own test metric when loaded back (cpu backend here).
    await tf.setBackend('cpu');
    const metrics = JSON.parse(readFileSync(join(summary.dir, 'metrics.json'), 'utf8')) as EvaluationReport;
    const manifest = JSON.parse(readFileSync(join(summary.dir, 'manifest.json'), 'utf8'));
    assert.equal(metrics.splits.test.rocAuc, summary.test.rocAuc);
    assert.ok(metrics.comparisons.testRocAucOverBaseline !== null, 'baseline comparison present');
    const card = readFileSync(join(summary.dir, 'model-card.md'), 'utf8');
    assert.match(card, /order-blind baseline/);
    assert.match(card, new RegExp(summary.version));

    const { model, encoder } = await loadModel(summary.dir);
    const sessions: SessionTimeline[] = [];
    const range = { from: Date.parse(manifest.dataRange.from), to: Date.parse(manifest.dataRange.to) };
    for await (const s of createTimelineStore(storeDir).read(range)) sessions.push(s);
    const config = tinyTrainerConfig();
    const dataset = buildDataset(sessions, {
      labels: config.labels,
      prefixesPerSession: config.dataset.prefixesPerSession,
      split: config.dataset.split,
      cookieSplit: config.dataset.cookieSplit,
      seed: 1,
    });
    assert.equal(dataset.summary.fingerprint, manifest.dataset.fingerprint, 'same test window');
    const scores = await predictSessions(model, encoder, dataset.test.sessions);
    const auc = rocAuc(
      dataset.test.sessions.map((s) => s.label),
      scores,
    );
    assert.ok(
      Math.abs((auc ?? 0) - (metrics.splits.test.rocAuc ?? 0)) < 1e-3,
      `${auc} vs ${metrics.splits.test.rocAuc}`,
    );
    model.dispose();
  });

  it('a trained candidate is listed, registered and promoted by hand; promoting it unregistered says how', async () => {
    const models = join(dir, 'by-hand', 'models');
    const file = join(dir, 'by-hand.yaml');
    writeFileSync(
      file,
      [
        'trainer:',
        `  modelsDir: ${models}`,
        `  checkpointDir: ${join(dir, 'by-hand', 'checkpoints')}`,
        '  features: { maxSteps: 16, itemBuckets: 64, categoryBuckets: 16 }',
        '  model: { lstmUnits: [12], embeddingDims: { eventType: 4, item: 2, category: 2, device: 2, referrer: 2 } }',
        '  training: { epochs: 1, batchSize: 128, patience: 1 }',
        '',
      ].join('\n'),
    );
    const byHand = { INTENTSTREAM_CONFIG: file, INTENTSTREAM_STORE__DIR: storeDir };
    const trained = await runCli(['train', '--backend', 'cpu'], byHand);
    assert.equal(trained.code, 0, trained.stderr.slice(-2000));
    const { version, dir: candidateDir } = JSON.parse(trained.stdout.toString().trim().split('\n').at(-1)!);
    const listRows = async () =>
      (await runCli(['models', 'list', '--json'], byHand)).stdout
        .toString()
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { version: string; current: boolean; registered: boolean; dir: string });
    assert.deepEqual(await listRows(), [
      {
        version,
        current: false,
        registered: false,
        testRocAuc: JSON.parse(readFileSync(join(candidateDir, 'metrics.json'), 'utf8')).splits.test.rocAuc,
        dir: candidateDir,
      },
    ]);

    const early = await runCli(['models', 'promote', version], byHand);
    assert.notEqual(early.code, 0, 'a candidate is promoted only once registered');
    assert.match(early.stderr, new RegExp(`it is a candidate in ${candidateDir}`));
    assert.match(early.stderr, new RegExp(`intentstream models register ${version}`));

    const registered = await runCli(['models', 'register', version], byHand);
    assert.equal(registered.code, 0, registered.stderr);
    assert.deepEqual(JSON.parse(registered.stdout.toString()), { version, dir: join(models, version) });
    const promoted = await runCli(['models', 'promote', version, '--reason', 'by hand'], byHand);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.equal(readFileSync(join(models, 'CURRENT'), 'utf8').trim(), version);
    assert.deepEqual(
      (await listRows()).map((r) => [r.version, r.current, r.registered]),
      [[version, true, true]],
    );

    // A model one can look at: `models show` (CURRENT by default) prints its card and the plots beside it.
    const shown = await runCli(['models', 'show'], byHand);
    assert.equal(shown.code, 0, shown.stderr);
    const text = shown.stdout.toString();
    assert.equal(
      text.split('\nPlots')[0]!.trim(),
      readFileSync(join(models, version, 'model-card.md'), 'utf8').trim(),
    );
    for (const plot of ['calibration.svg', 'lstm-vs-baseline.svg', 'precision-recall.svg', 'roc.svg']) {
      assert.ok(text.includes(`  ${join(models, version, plot)}\n`), `models show lists ${plot}`);
      assert.ok(existsSync(join(models, version, plot)));
    }
  });

  it('refuses --resume when the checkpoint belongs to another run', async () => {
    const other = await runCli(['train', '--resume', '--seed', '99', '--backend', 'cpu'], env);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /belongs to another run/);
  });

  it('after a SIGKILL mid-run, --resume ends with the same epoch count and a loss no worse than an uninterrupted run', async () => {
    const runDir = (name: string) => {
      const d = join(dir, name);
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        [
          'trainer:',
          `  modelsDir: ${join(d, 'models')}`,
          `  checkpointDir: ${join(d, 'checkpoints')}`,
          '  features: { maxSteps: 16, itemBuckets: 64, categoryBuckets: 16 }',
          '  model: { lstmUnits: [12], embeddingDims: { eventType: 4, item: 2, category: 2, device: 2, referrer: 2 } }',
          '  training: { epochs: 4, batchSize: 128, patience: 4 }',
          '',
        ].join('\n'),
      );
      return { INTENTSTREAM_CONFIG: file, INTENTSTREAM_STORE__DIR: storeDir };
    };
    const lastLoss = (summaryDir: string) => {
      const manifest = JSON.parse(readFileSync(join(summaryDir, 'manifest.json'), 'utf8'));
      const history = manifest.training.history as { epoch: number; loss: number }[];
      return { epochs: history.length, loss: history.at(-1)!.loss };
    };

    const uninterrupted = await runCli(['train', '--backend', 'wasm'], runDir('straight'));
    assert.equal(uninterrupted.code, 0, uninterrupted.stderr.slice(-2000));
    const straight = lastLoss(JSON.parse(uninterrupted.stdout.toString().trim().split('\n').at(-1)!).dir);

    const killedEnv = runDir('killed');
    const child = spawnCli(['train', '--backend', 'wasm'], killedEnv);
    let stderr = '';
    let epochs = 0;
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      epochs = (stderr.match(/"msg":"epoch finished"/g) ?? []).length;
      if (epochs >= 2 && !child.killed) child.kill('SIGKILL');
    });
    const [, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('close', (c, s) => resolve([c, s])),
    );
    assert.equal(signal, 'SIGKILL', 'the first run was killed');
    const resumed = await runCli(['train', '--resume', '--backend', 'wasm'], killedEnv);
    assert.equal(resumed.code, 0, resumed.stderr.slice(-2000));
    const summary = JSON.parse(resumed.stdout.toString().trim().split('\n').at(-1)!);
    assert.ok(summary.resumedFromEpoch >= 1, `resumed from a checkpoint (epoch ${summary.resumedFromEpoch})`);
    const after = lastLoss(summary.dir);
    assert.equal(after.epochs, straight.epochs, 'same epoch count');
    assert.ok(after.loss <= straight.loss + 1e-3, `loss ${after.loss} vs uninterrupted ${straight.loss}`);
  });
});
