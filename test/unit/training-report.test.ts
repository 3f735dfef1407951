/**
 * What one training run tells its user, on a tiny run of a renamed shop (cpu backend, one epoch):
 * the stored sessions its window kept and left out, the shop's event types with their roles and the
 * share out of the vocabulary, LSTM minus the strong baseline with bootstrap intervals, label drift,
 * in the log and the model card; and a label target no event plays stops the run before training.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { MissingTargetError } from '../../src/dataset/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { runTraining } from '../../src/model/training-run.js';
import { PLOT_FILES } from '../../src/plots/model-plots.js';
import { saveRunAsCandidate } from '../../src/registry/candidate.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { createTimelineStore } from '../../src/store/index.js';
import { sessionsOutsideWindow, trainingRange } from '../../src/trainer/range.js';
import { generatedSessions } from '../helpers/sessions.js';
import { assertWellFormedSvg } from '../helpers/svg.js';
import { FOREIGN_ROLES, renameEvents } from '../helpers/taxonomy.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const DAY = 86_400_000;

describe('what a training run tells', () => {
  let sessions: SessionTimeline[];
  before(async () => {
    await tf.setBackend('cpu');
    tf.env().set('PROD', true);
    sessions = generatedSessions({ seed: 3, cookies: 90, durationMs: 2 * DAY, botCookies: 0 }).sessions.map(
      (s) => ({ ...s, events: renameEvents(s.events) }),
    );
  });

  it('stops before training when no stored event plays the target role', async () => {
    await assert.rejects(
      runTraining({ sessions, config: tinyTrainerConfig(), logger: createMemoryLogger('error') }),
      (error: unknown) => error instanceof MissingTargetError && /order_done \d+/.test(error.message),
    );
  });

  it('logs and writes the window, the event types and roles, the honest comparison and drift', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'training-report-'));
    const store = createTimelineStore(join(dir, 'store'));
    await store.writeSegment('t', sessions);
    const logger = createMemoryLogger('info');
    const range = await trainingRange(store, { days: 1.5 }, logger);
    const leftOut = await sessionsOutsideWindow(store, range);
    const inWindow = sessions.filter((s) => s.start_time >= range.from && s.start_time < range.to).length;
    assert.deepEqual(leftOut, { before: sessions.length - inWindow, after: 0 });
    assert.ok(leftOut.before > 0);

    const config = tinyTrainerConfig({ training: { epochs: 1 }, evaluation: { bootstrapResamples: 50 } });
    const phases: { label: string; ticks: number; total?: number; done: boolean }[] = [];
    const run = await runTraining({
      sessions: () => store.read(range),
      config: { ...config, roles: FOREIGN_ROLES },
      logger,
      window: { ...range, leftOut },
      progress: (task) => {
        const phase = { label: task.label, ticks: 0, total: task.total, done: false };
        phases.push(phase);
        return {
          tick: (n = 1) => {
            phase.ticks += n;
          },
          done: () => {
            phase.done = true;
          },
        };
      },
    });
    // No silent phase: reading, training and evaluation each report progress and finish.
    assert.deepEqual(
      phases.map((p) => [p.label, p.done]),
      [
        ['read sessions', true],
        ['fit encoder', true],
        ['encode', true],
        ['train', true],
        ['evaluate', true],
      ],
    );
    assert.equal(phases[0]!.ticks, inWindow, 'one tick per session read');
    assert.equal(phases[4]!.ticks, phases[4]!.total, 'every evaluation step');
    assert.equal(phases[2]!.ticks, inWindow, 'every session encoded');
    const report = run.report!;
    const window = logger.lines.find((l) => l['msg'] === 'training window');
    assert.equal(window?.['level'], 'warn');
    assert.equal(window?.['kept'], inWindow);
    assert.equal(window?.['leftOutBefore'], leftOut.before);
    assert.match(String(window?.['advice']), /--from <ISO time> --to <ISO time>.*trainer\.windowDays/);

    const types = logger.lines.find((l) => l['msg'] === 'event types') as unknown as typeof report.eventTypes;
    assert.deepEqual(
      types.types.find((t) => t.type === 'basket_add'),
      {
        type: 'basket_add',
        count: types.types.find((t) => t.type === 'basket_add')!.count,
        role: 'addToCart',
        inVocabulary: true,
      },
    );
    assert.equal(types.types.find((t) => t.type === 'order_done')?.role, 'purchase');
    assert.equal(types.types.find((t) => t.type === 'order_done')?.inVocabulary, false, 'never observable');
    assert.ok(types.outOfVocabularyShare['test']! < 0.01, 'the shop types are learned');
    assert.deepEqual(run.encoder.toJSON().roles, FOREIGN_ROLES, 'the model keeps its roles');

    const { full, prefixes } = report.comparisons.overBaseline;
    assert.equal(full.used, 50);
    assert.ok(full.lower! <= full.difference! && full.difference! <= full.upper!);
    assert.ok(prefixes.lower! <= prefixes.upper!);
    assert.equal(report.comparisons.testRocAucOverBaseline, full.difference);
    assert.equal(report.baseline.model, 'logistic_regression_order_blind');
    assert.ok(
      report.baseline.features.includes('count_basket_add') &&
        report.baseline.features.includes('last_is_pdp'),
    );
    assert.equal(report.labelDrift.trainPositiveRate, run.dataset.summary.splits.train.positiveRate);

    const { dir: candidate } = await saveRunAsCandidate({
      run: { ...run, report },
      config: { ...config, roles: FOREIGN_ROLES },
      backend: { backend: 'cpu' } as never,
      dataRange: { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() },
      dir: join(dir, 'candidate'),
    });
    run.model.dispose();
    const card = readFileSync(join(candidate, 'model-card.md'), 'utf8');
    assert.match(
      card,
      new RegExp(
        `The window kept ${inWindow} stored sessions and left out ${leftOut.before} \\(${leftOut.before} older, 0 newer\\): widen it`,
      ),
    );
    assert.match(card, /\| `basket_add` \| \d+ \| addToCart \| yes \|/);
    assert.match(card, /Events out of the vocabulary: train 0\.0%/);
    assert.match(card, /purchase `order_done`/);
    assert.match(card, /LSTM − order-blind baseline .*\n.*\n.*95% paired bootstrap \[/);
    assert.match(card, /Label drift: positive rate train \d+\.\d%, test \d+\.\d%/);

    // The plots beside the card: embedded in it, well-formed, drawing the numbers of metrics.json.
    const metrics = JSON.parse(readFileSync(join(candidate, 'metrics.json'), 'utf8')) as typeof report;
    for (const file of Object.values(PLOT_FILES)) {
      assert.ok(card.includes(`](${file})`), `the card embeds ${file}`);
      assertWellFormedSvg(readFileSync(join(candidate, file), 'utf8'));
    }
    const roc = readFileSync(join(candidate, PLOT_FILES.roc), 'utf8');
    assert.ok(roc.includes(`data-series="LSTM (AUC ${metrics.splits.test.rocAuc!.toFixed(3)})"`));
    assert.ok(
      roc.includes(`data-series="order-blind baseline (AUC ${metrics.baseline.test.rocAuc!.toFixed(3)})"`),
    );
    assert.ok(
      roc.includes(`data-points="${metrics.curves!.model.roc!.map((p) => `${p.x},${p.y}`).join(' ')}"`),
      "the LSTM curve is metrics.json's",
    );
    const comparison = readFileSync(join(candidate, PLOT_FILES.comparison), 'utf8');
    assert.ok(
      comparison.includes(
        `data-series="full sessions" data-value="${full.difference}" data-low="${full.lower}" data-high="${full.upper}"`,
      ),
    );
    const calibration = readFileSync(join(candidate, PLOT_FILES.calibration), 'utf8');
    const filled = metrics.splits.test.calibration.filter((b) => b.count > 0);
    assert.equal([...calibration.matchAll(/<circle /g)].length, filled.length, 'one marker per filled bin');
  });
});
