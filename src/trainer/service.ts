import cron from 'node-cron';
import type { Logger } from '../log/logger.js';
import type { TrainerMetrics } from '../metrics/trainer-metrics.js';
import type { CorruptSegment } from '../store/index.js';
import { LockBusyError, acquireLock } from './lock.js';
import type { RunResult, Trigger } from './outcomes.js';

export type { Trigger } from './outcomes.js';

export interface RunOutcome {
  result: RunResult;
  reason: string;
  version?: string;
  /** Filled by the run for metrics: ROC-AUC by split/model, examples by split. */
  auc?: { split: string; model: string; value: number }[];
  examples?: Record<string, number>;
  backend?: string;
  /** Timeline files the run skipped as corrupt (see TimelineStore.read). */
  skippedFiles?: CorruptSegment[];
}

export interface TrainerServiceOptions {
  /** One full run: dataset → train → evaluate → registry decision. */
  runOnce: (trigger: Trigger) => Promise<RunOutcome>;
  lockPath: string;
  schedule: string;
  metrics: TrainerMetrics;
  logger: Logger;
  now?: () => number;
  /**
   * Until a first model exists: every `intervalMs`, `due()` says whether one should be trained now
   * (no champion yet and enough stored sessions); then a run starts without waiting for the schedule.
   */
  firstModel?: { due: () => Promise<boolean>; intervalMs: number };
}

/**
 * Runs training on a node-cron schedule, on HTTP POST /train and from the CLI,
 * never two at once: an in-process flag plus a lock file that survives crashes
 * (see lock.ts), so a second trainer process or a manual `intentstream train`
 * skips instead of racing.
 */
export function createTrainerService(options: TrainerServiceOptions) {
  const { runOnce, lockPath, schedule, metrics, logger, now = Date.now, firstModel } = options;
  if (!cron.validate(schedule))
    throw new RangeError(`trainer.schedule is not a valid cron expression: ${JSON.stringify(schedule)}`);
  let inFlight: Promise<RunOutcome> | undefined;
  let task: ReturnType<typeof cron.schedule> | undefined;
  let firstModelTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function guarded(trigger: Trigger): Promise<RunOutcome> {
    let lock: Awaited<ReturnType<typeof acquireLock>>;
    try {
      lock = await acquireLock(lockPath, `training run (${trigger})`);
    } catch (error) {
      if (error instanceof LockBusyError) return { result: 'skipped', reason: error.message };
      throw error;
    }
    const started = now();
    metrics.running.set(1);
    try {
      logger.info('training run started', { trigger });
      const outcome = await runOnce(trigger);
      metrics.duration.observe((now() - started) / 1000);
      if (outcome.result === 'promoted' || outcome.result === 'rejected')
        metrics.lastSuccess.set(now() / 1000);
      metrics.skippedFiles.inc(outcome.skippedFiles?.length ?? 0);
      for (const a of outcome.auc ?? []) metrics.auc.set({ split: a.split, model: a.model }, a.value);
      for (const [split, n] of Object.entries(outcome.examples ?? {})) metrics.examples.set({ split }, n);
      if (outcome.backend) {
        metrics.backend.reset();
        metrics.backend.set({ backend: outcome.backend }, 1);
      }
      return outcome;
    } catch (error) {
      logger.error('training run failed', { trigger, error });
      return { result: 'failed', reason: (error as Error).message };
    } finally {
      metrics.running.set(0);
      await lock.release();
    }
  }

  return {
    /** Starts a run unless one is in progress here or in another process (then: skipped, with who holds it). */
    async trigger(trigger: Trigger): Promise<RunOutcome> {
      let outcome: RunOutcome;
      if (inFlight) {
        outcome = { result: 'skipped', reason: 'a training run is already in progress in this process' };
      } else {
        inFlight = guarded(trigger);
        outcome = await inFlight.finally(() => {
          inFlight = undefined;
        });
      }
      metrics.runs.inc({ result: outcome.result, trigger });
      logger.info('training run finished', { trigger, ...outcome, auc: undefined });
      return outcome;
    },
    get running() {
      return inFlight !== undefined;
    },
    start(): void {
      task = cron.schedule(schedule, () => {
        void this.trigger('cron');
      });
      logger.info('training scheduled', { schedule });
      if (firstModel) this.watchForFirstModel(firstModel);
    },
    /** Checks `due()` every interval (and once now); the first check that says no is the last while a model exists. */
    watchForFirstModel({ due, intervalMs }: NonNullable<TrainerServiceOptions['firstModel']>): void {
      const check = async () => {
        firstModelTimer = undefined;
        if (stopped) return;
        try {
          if (!inFlight && (await due())) await this.trigger('first-model');
        } catch (error) {
          logger.error('first-model check failed', { error });
        }
        if (!stopped) firstModelTimer = setTimeout(() => void check(), intervalMs);
      };
      void check();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(firstModelTimer);
      await task?.stop();
      await inFlight?.catch(() => undefined);
    },
  };
}
export type TrainerService = ReturnType<typeof createTrainerService>;
