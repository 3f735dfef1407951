import type { Config } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { selectBackend } from '../model/backend.js';
import { scoreLabelledSessions } from '../model/batches.js';
import { rocAuc } from '../model/evaluate.js';
import { runTraining } from '../model/training-run.js';
import { saveRunAsCandidate } from '../registry/candidate.js';
import { type ModelRegistry, decidePromotion } from '../registry/index.js';
import { loadModel } from '../registry/model-files.js';
import type { CorruptSegment, TimelineStore } from '../store/index.js';
import { progressTo } from '../util/progress.js';
import { sessionsOutsideWindow, trainingRange } from './range.js';
import { sessionsForTraining } from './read.js';
import type { RunOutcome, Trigger } from './service.js';

export interface TrainOnceOptions {
  config: Readonly<Config>;
  logger: Logger;
  store: TimelineStore;
  registry: ModelRegistry;
  trigger: Trigger;
  shouldStop?: () => boolean;
}

/**
 * One retraining run: the last `trainer.windowDays` of stored sessions →
 * dataset → LSTM → evaluation → candidate directory; then the champion (if
 * any) is scored on the SAME test sessions, and the candidate is registered
 * and promoted only if it beats it by `trainer.promotionMargin`.
 */
export async function trainOnce(options: TrainOnceOptions): Promise<RunOutcome> {
  const { config, logger, store, registry, shouldStop } = options;
  const trainer = config.trainer;
  let range: { from: number; to: number };
  try {
    range = await trainingRange(store, { days: trainer.windowDays }, logger);
  } catch (error) {
    return { result: 'skipped', reason: (error as Error).message };
  }
  const dataRange = { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() };
  const backend = await selectBackend({
    requested: trainer.backend,
    logger,
    fastWasmMatMul: trainer.training.fastWasmMatMul,
  });
  const skippedFiles: CorruptSegment[] = [];
  const run = await runTraining({
    sessions: sessionsForTraining(store, range, logger, skippedFiles),
    config: trainer,
    logger,
    checkpointDir: trainer.checkpointDir,
    resume: false,
    progress: progressTo(logger),
    shouldStop,
    window: { ...range, leftOut: await sessionsOutsideWindow(store, range) },
  });
  try {
    if (!run.report) {
      return { result: 'skipped', reason: 'training was interrupted before it finished', skippedFiles };
    }
    const { version, dir: candidateDir } = await saveRunAsCandidate({
      run: { ...run, report: run.report },
      config: trainer,
      backend,
      dataRange,
    });

    const candidateAuc = run.report.splits.test.rocAuc ?? Number.NaN;
    const champion = await registry.current();
    let championAuc: number | undefined;
    if (champion) {
      try {
        const loaded = await loadModel(await registry.localDirOf(champion));
        try {
          const { labels, scores } = await scoreLabelledSessions(
            loaded.model,
            loaded.encoder,
            run.testSessions(),
          );
          championAuc = rocAuc(labels, scores) ?? undefined;
        } finally {
          loaded.model.dispose();
        }
      } catch (error) {
        logger.error('the current champion could not be scored on the test window; treating it as absent', {
          champion,
          error,
        });
      }
    }
    const decision = decidePromotion(candidateAuc, championAuc, trainer.promotionMargin);
    await registry.register(candidateDir, version);
    await registry.recordDecision(version, {
      ...decision,
      candidateAuc,
      champion: champion ?? null,
      championAuc: championAuc ?? null,
      testWindow: run.dataset.summary.splits.test,
    });
    if (decision.promote) await registry.promote(version, decision.reason);
    logger.info(decision.promote ? 'candidate promoted' : 'candidate kept out: champion stays', {
      version,
      champion,
      ...decision,
    });
    const r = run.report;
    const auc = [
      { split: 'train', model: 'candidate', value: r.splits.train.rocAuc },
      { split: 'validation', model: 'candidate', value: r.splits.validation.rocAuc },
      { split: 'test', model: 'candidate', value: r.splits.test.rocAuc },
      { split: 'test', model: 'baseline', value: r.baseline.test.rocAuc },
      { split: 'test', model: 'shuffled', value: r.orderAblation.test.rocAuc },
      { split: 'test', model: 'champion', value: championAuc ?? null },
    ].filter((a): a is { split: string; model: string; value: number } => typeof a.value === 'number');
    return {
      result: decision.promote ? 'promoted' : 'rejected',
      reason: decision.reason,
      version,
      auc,
      examples: Object.fromEntries(
        Object.entries(run.dataset.summary.splits).map(([k, v]) => [k, v.examples]),
      ),
      backend: backend.backend,
      skippedFiles,
    };
  } finally {
    run.model.dispose();
  }
}
