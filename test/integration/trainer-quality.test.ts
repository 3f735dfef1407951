/**
 * Acceptance: does the LSTM learn what the synthetic generator hides in ORDER and TIMING?
 *
 * Generated traffic (3 days) → NDJSON → runImport into a store on disk → runTraining with the
 * default trainer config on the wasm backend. On the test window (the newest sessions):
 *  - the LSTM's ROC-AUC is within 0.03 of the generator's oracle, the exact purchase probability
 *    it drew each outcome from (joined by the id of each session's first event);
 *  - it beats the order-blind logistic regression by at least 0.03, and the paired bootstrap
 *    interval of the difference lies above 0; fewer than 1 % of test events are out of vocabulary;
 *  - shuffling the order of each test session's events costs it at least 0.03.
 * The numbers are printed as test diagnostics. Deterministic on a given machine (seeded data,
 * initializers, batches and dropout; wasm runs single-threaded); takes a few minutes on 2 cores.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import type { DatasetSession } from '../../src/dataset/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { selectBackend } from '../../src/model/backend.js';
import { runTraining } from '../../src/model/training-run.js';
import { createTimelineStore } from '../../src/store/index.js';
import { oracleOn } from '../helpers/oracle.js';
import { fillStoreFromGenerator } from '../helpers/store.js';

const COOKIES = 2_500;
const DAYS = 3;
const MARGIN = 0.03;

describe('trainer quality against the generator oracle', () => {
  it(
    'LSTM ≈ oracle, > order-blind baseline, and > itself on shuffled events',
    { timeout: 20 * 60_000 },
    async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'trainer-quality-'));
      const started = performance.now();
      const { storeDir, summary, oracle } = await fillStoreFromGenerator(dir, {
        seed: 11,
        cookies: COOKIES,
        durationMs: DAYS * 86_400_000,
      });
      assert.equal(summary.rejected, 0);
      const importSeconds = (performance.now() - started) / 1000;

      const backend = await selectBackend({ requested: 'wasm' });
      const config = { ...loadConfig({ env: {} }).trainer, checkpointDir: join(dir, 'checkpoints') };
      const logger = createMemoryLogger('info');
      const run = await runTraining({
        sessions: () => createTimelineStore(storeDir).read(),
        config,
        logger,
        checkpointDir: config.checkpointDir,
      });
      const report = run.report;
      assert.ok(report, 'training finished');

      const sessionsRead = run.dataset.summary.sessionsRead;
      assert.ok(sessionsRead >= 20_000, `at least 20,000 sessions (${sessionsRead})`);

      // The oracle on exactly the test sessions.
      const test: DatasetSession[] = [];
      for await (const s of run.testSessions()) test.push(s);
      const oracleOnTest = oracleOn(test, (s) => oracle.get(s.events[0]!.event_id));
      assert.ok(
        oracleOnTest.joined >= 0.99 * test.length,
        `oracle joined for ${oracleOnTest.joined} of ${test.length} sessions`,
      );
      assert.equal(oracleOnTest.disagreements, 0, 'stored labels agree with the generated outcomes');
      const oracleAuc = oracleOnTest.rocAuc;
      const lstmAuc = report.splits.test.rocAuc!;
      const baselineAuc = report.baseline.test.rocAuc!;
      const shuffledAuc = report.orderAblation.test.rocAuc!;

      const numbers = {
        sessions: sessionsRead,
        splits: Object.fromEntries(
          Object.entries(run.dataset.summary.splits).map(([k, v]) => [k, v.sessions]),
        ),
        backend: backend.backend,
        oracleAuc,
        lstmAuc,
        baselineAuc,
        shuffledAuc,
        testPrefixAuc: report.testPrefixes.rocAuc,
        overBaseline: report.comparisons.overBaseline,
        outOfVocabulary: report.eventTypes.outOfVocabularyShare,
        labelDrift: report.labelDrift,
        validationAuc: report.splits.validation.rocAuc,
        testLogLoss: report.splits.test.logLoss,
        epochs: run.training.epochsCompleted,
        bestEpoch: run.training.bestEpoch,
        trainingSeconds: Math.round(run.training.seconds),
        stepsPerSecond: Math.round(run.training.stepsPerSecond),
        importSeconds: Math.round(importSeconds),
        totalSeconds: Math.round((performance.now() - started) / 1000),
        history: run.training.history.map((h) => [
          h.epoch,
          Number(h.loss.toFixed(4)),
          Number(h.validationAuc?.toFixed(4)),
        ]),
      };
      t.diagnostic(JSON.stringify(numbers));

      assert.ok(
        lstmAuc >= oracleAuc - MARGIN,
        `LSTM test ROC-AUC ${lstmAuc.toFixed(4)} within ${MARGIN} of the oracle's ${oracleAuc.toFixed(4)}`,
      );
      assert.ok(
        lstmAuc >= baselineAuc + MARGIN,
        `LSTM ${lstmAuc.toFixed(4)} beats the order-blind baseline ${baselineAuc.toFixed(4)} by ${MARGIN}`,
      );
      const { full } = report.comparisons.overBaseline;
      assert.ok(
        full.lower! > 0,
        `the paired bootstrap interval of LSTM − baseline is above 0 ([${full.lower}, ${full.upper}])`,
      );
      assert.ok(report.eventTypes.outOfVocabularyShare['test']! < 0.01, 'the event types are learned');
      assert.ok(
        shuffledAuc <= lstmAuc - MARGIN,
        `shuffling events costs at least ${MARGIN}: ${lstmAuc.toFixed(4)} → ${shuffledAuc.toFixed(4)}`,
      );
      run.model.dispose();
    },
  );
});
