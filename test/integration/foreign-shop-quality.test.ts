/**
 * Acceptance on a shop that is not ours: the generator's second taxonomy (shop2: its own names for
 * every event, noise events between the process's steps, its own session id column), exported as a
 * foreign shop would (no event ids, rows in random order, exact duplicate rows, `… UTC` times) →
 * the real importer (session id column mapped) → roles from a config file → runTraining with the
 * default trainer config on wasm. On the test window:
 *  - the learned vocabulary holds every shop2 type the data has, with < 1 % of events out of it;
 *  - the duplicate rows were dropped (the store holds each distinct event once);
 *  - the LSTM's ROC-AUC is within 0.03 of the generator's oracle;
 *  - it beats the strong order-blind baseline, with the paired bootstrap interval above 0.
 * The numbers are printed as test diagnostics. Deterministic on a given machine; takes minutes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import type { DatasetSession } from '../../src/dataset/index.js';
import { SHOP2_EVENT_TYPES, SHOP2_ROLES } from '../../src/generator/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { selectBackend } from '../../src/model/backend.js';
import { runTraining } from '../../src/model/training-run.js';
import { createTimelineStore } from '../../src/store/index.js';
import { oracleOn } from '../helpers/oracle.js';
import { foreignSessionKey, importForeignExport } from '../helpers/store.js';

const COOKIES = 2_500;
const DAYS = 3;
const MARGIN = 0.03;

describe('trainer quality on a foreign shop (shop2 taxonomy)', () => {
  it(
    'unsorted export with duplicates → roles → LSTM ≈ oracle and > order-blind baseline',
    { timeout: 25 * 60_000 },
    async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'foreign-shop-'));
      const started = performance.now();
      const exported = await importForeignExport(dir, {
        seed: 12,
        cookies: COOKIES,
        durationMs: DAYS * 86_400_000,
        taxonomy: 'shop2',
        copyRate: 0.02,
      });
      const { summary } = exported;
      assert.equal(summary.rejected, 0, JSON.stringify(summary.rejectedByReason));
      assert.ok(summary.sortedByTime);
      assert.ok(exported.copiesAdded > 0);
      assert.equal(summary.accepted, exported.distinctEvents, 'each distinct event stored once');
      assert.equal(summary.duplicates, exported.rows - exported.distinctEvents, 'every copy dropped');
      assert.equal(summary.events, exported.distinctEvents);
      const importSeconds = (performance.now() - started) / 1000;

      const configFile = join(dir, 'shop2.yaml');
      writeFileSync(configFile, `trainer:\n  roles: ${JSON.stringify(SHOP2_ROLES)}\n`);
      const loaded = loadConfig({ env: {}, file: configFile }).trainer;
      assert.deepEqual(loaded.roles, SHOP2_ROLES);
      const backend = await selectBackend({ requested: 'wasm' });
      const config = { ...loaded, checkpointDir: join(dir, 'checkpoints') };
      const run = await runTraining({
        sessions: () => createTimelineStore(exported.storeDir).read(),
        config,
        logger: createMemoryLogger('info'),
        checkpointDir: config.checkpointDir,
      });
      const report = run.report;
      assert.ok(report, 'training finished');

      const test: DatasetSession[] = [];
      for await (const s of run.testSessions()) test.push(s);
      const oracleOnTest = oracleOn(test, (s) =>
        exported.oracle.get(foreignSessionKey(s.cookieId, s.startTime)),
      );
      assert.ok(
        oracleOnTest.joined >= 0.99 * test.length,
        `oracle joined for ${oracleOnTest.joined} of ${test.length} sessions`,
      );
      assert.equal(
        oracleOnTest.disagreements,
        0,
        'labels from the purchase role agree with the generated outcomes',
      );
      const oracleAuc = oracleOnTest.rocAuc;
      const lstmAuc = report.splits.test.rocAuc!;
      const baselineAuc = report.baseline.test.rocAuc!;
      const { full, prefixes } = report.comparisons.overBaseline;
      const vocabulary = report.eventTypes.types.filter((e) => e.inVocabulary).map((e) => e.type);
      const seen = report.eventTypes.types.map((e) => e.type);

      t.diagnostic(
        JSON.stringify({
          rows: exported.rows,
          copiesAdded: exported.copiesAdded,
          duplicatesDropped: summary.duplicates,
          sessions: run.dataset.summary.sessionsRead,
          testSessions: test.length,
          backend: backend.backend,
          oracleAuc,
          lstmAuc,
          baselineAuc,
          overBaseline: { full, prefixes },
          testPrefixAuc: report.testPrefixes.rocAuc,
          shuffledAuc: report.orderAblation.test.rocAuc,
          outOfVocabulary: report.eventTypes.outOfVocabularyShare,
          vocabularySize: report.eventTypes.vocabularySize,
          typesOutOfVocabulary: seen.filter((s) => !vocabulary.includes(s)),
          labelDrift: report.labelDrift,
          epochs: run.training.epochsCompleted,
          bestEpoch: run.training.bestEpoch,
          trainingSeconds: Math.round(run.training.seconds),
          importSeconds: Math.round(importSeconds),
          totalSeconds: Math.round((performance.now() - started) / 1000),
        }),
      );

      assert.ok(
        seen.every((type) => SHOP2_EVENT_TYPES.includes(type)),
        `only shop2's names are stored: ${seen.join(', ')}`,
      );
      for (const type of SHOP2_EVENT_TYPES) {
        if (type === SHOP2_ROLES.purchase[0] || type === SHOP2_ROLES.checkout[0]) continue; // truncated away
        assert.ok(vocabulary.includes(type), `${type} is in the learned vocabulary`);
      }
      assert.ok(
        report.eventTypes.outOfVocabularyShare['test']! < 0.01,
        'under 1 % of test events out of vocabulary',
      );
      assert.ok(
        lstmAuc >= oracleAuc - MARGIN,
        `LSTM test ROC-AUC ${lstmAuc.toFixed(4)} within ${MARGIN} of the oracle's ${oracleAuc.toFixed(4)}`,
      );
      assert.ok(
        lstmAuc > baselineAuc,
        `LSTM ${lstmAuc.toFixed(4)} above the order-blind baseline ${baselineAuc.toFixed(4)}`,
      );
      assert.ok(
        full.lower! > 0,
        `the paired bootstrap interval of LSTM − baseline is above 0 ([${full.lower}, ${full.upper}])`,
      );
      run.model.dispose();
    },
  );
});
