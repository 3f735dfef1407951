import type { Kafka } from 'kafkajs';
import type { Config } from '../../config/index.js';
import { untilDone } from '../../kafka/connect.js';
import { createEventIntake } from '../../kafka/event-intake.js';
import {
  type ConsumerCrashedError,
  type PartitionedService,
  createPartitionedConsumer,
} from '../../kafka/partitioned-consumer.js';
import type { Logger } from '../../log/logger.js';
import type { ScorerMetrics } from '../../metrics/scorer-metrics.js';
import { sessionRulesFromConfig } from '../../sessionizer/rules.js';
import { createMutex } from '../../util/mutex.js';
import { ScorerCore } from '../core.js';
import type { ModelSource, StepModel } from '../model.js';
import { createModelWatcher } from '../reload.js';
import { type BatchInfo, type ConsumerLoop, createConsumerLoop } from './consumer-loop.js';
import { type PartitionLifecycle, createPartitionLifecycle } from './partition-lifecycle.js';
import { createTransactionalOutput } from './transactional-output.js';

export type { BatchInfo } from './consumer-loop.js';

export interface ScorerOptions {
  kafka: Kafka;
  config: Readonly<Config>;
  logger: Logger;
  metrics: ScorerMetrics;
  source: ModelSource;
  now?: () => number;
  onBatch?: (info: BatchInfo) => void;
  /** The consumer crashed for good: the owner exits so a supervisor restarts the process. */
  onFatal?: (error: ConsumerCrashedError) => void;
}

/** `ready`: partitions assigned and a model loaded. */
export interface ScorerProcess extends PartitionedService {
  readonly modelVersion: string | undefined;
  readonly openSessions: number;
}

/**
 * Partitions whose batches kafkajs hands to the scorer concurrently. One: with several in flight
 * (measured in BENCHMARKS.md) throughput stayed the same and batches queued for the scoring lock, so
 * the p99 processing latency grew.
 */
export const PARTITIONS_IN_FLIGHT = 1;

/** What exists once the first model is there: the core and the parts that use it. */
interface Serving {
  core: ScorerCore;
  partitions: PartitionLifecycle;
  loop: ConsumerLoop;
}

/**
 * `intentstream score`: live scoring of the events topic (group `scorer.groupId`). A facade over the
 * shared partitioned-consumer runtime and three parts: the partition lifecycle (assignment, fencing,
 * rebuild), the transactional output (predictions + dead letters + offset in one transaction), and the
 * consumer loop (the per-batch step). The scoring core is built when the first model is loaded; later
 * models are swapped in between batches, under the same lock the batches run under.
 */
export function createScorer(options: ScorerOptions): ScorerProcess {
  const { kafka, config, logger, metrics, source, now = Date.now, onBatch, onFatal } = options;
  const topic = config.topics.events;
  const groupId = config.scorer.groupId;
  const exclusive = createMutex();
  let serving: Serving | undefined;
  let stopping = false;
  let stopped: Promise<void> | undefined;
  let starting: Promise<void> | undefined;

  const input = createPartitionedConsumer({
    kafka,
    config,
    logger,
    groupId,
    topic,
    maxWaitTimeInMs: 500,
    partitionsConsumedConcurrently: PARTITIONS_IN_FLIGHT,
    onAssigned: (mine) =>
      void exclusive(async () => {
        if (!serving) return;
        await serving.partitions.reassign(mine);
        serving.loop.updateGauges();
      }),
    ...(onFatal ? { onFatal } : {}),
  });
  const output = createTransactionalOutput({ kafka, config, input, metrics });
  const intake = createEventIntake({ config, topic, counters: metrics, consumerGroup: groupId, now });

  function serve(model: StepModel): Serving {
    const core = new ScorerCore({
      rules: sessionRulesFromConfig(config.sessions),
      maxOpenSessions: config.scorer.maxOpenSessions,
      maxBufferedEvents: config.scorer.maxBufferedEvents,
      rebuildWindowMs: config.scorer.rebuildWindow,
      emit: {
        policy: config.scorer.emit,
        delta: config.scorer.emitDelta,
        threshold: config.scorer.threshold,
      },
      positiveClass: config.scorer.positiveClass,
      model,
      now,
    });
    const partitions = createPartitionLifecycle({ core, input, output, config, logger, metrics, now });
    const loop = createConsumerLoop({
      core,
      partitions,
      intake,
      seek: (partition, offset) => input.consumer.seek({ topic, partition, offset: String(offset) }),
      exclusive,
      stopping: () => stopping,
      config,
      logger,
      metrics,
      onBatch,
    });
    return { core, partitions, loop };
  }

  function swapModel(core: ScorerCore, model: StepModel): void {
    const started = performance.now();
    const { previous, recomputed, steps } = core.swapModel(model);
    previous.dispose();
    logger.info('model swapped in between batches; open sessions recomputed from their buffered events', {
      version: model.version,
      previous: previous.version,
      sessions: recomputed,
      steps,
      ms: Math.round(performance.now() - started),
    });
  }

  const watcher = createModelWatcher({
    source,
    intervalMs: config.scorer.reloadInterval,
    logger,
    install: (model) =>
      exclusive(async () => {
        if (serving) swapModel(serving.core, model);
        else serving = serve(model);
      }),
    onInstalled: (version, first) => {
      metrics.modelInfo.reset();
      metrics.modelInfo.set({ version }, 1);
      if (!first) metrics.reloads.inc();
    },
    onRefused: () => metrics.reloadsRefused.inc(),
  });

  async function startOnce(): Promise<void> {
    // A broker that is down at start-up delays the scorer instead of ending it (stop() ends the wait).
    const shouldStop = () => stopping;
    await input.connectAdmin(shouldStop);
    await untilDone('connect to Kafka (producer)', () => output.connect(), { logger, shouldStop });
    logger.info('waiting for a model', { modelDir: config.scorer.modelDir });
    if (!(await watcher.waitForFirst()) || !serving) return;
    watcher.start();
    const { loop } = serving;
    await input.run((payload) => loop.eachBatch(payload), shouldStop);
    logger.info('scorer started', {
      topic,
      groupId,
      predictions: config.topics.predictions,
      model: watcher.served,
      emit: config.scorer.emit,
      exactlyOnce: config.scorer.exactlyOnce,
    });
  }

  return {
    get ready() {
      return input.assigned.length > 0 && serving !== undefined && !stopping;
    },
    get assignedPartitions() {
      return input.assigned;
    },
    get modelVersion() {
      return watcher.served;
    },
    get openSessions() {
      return serving?.core.table.openSessions ?? 0;
    },
    start() {
      starting ??= startOnce();
      return starting;
    },
    stop() {
      stopped ??= (async () => {
        stopping = true; // batches not yet started are skipped; the in-flight one finishes under the lock
        await watcher.stop(); // also ends a start() still waiting for its first model
        await starting?.catch(() => undefined);
        await exclusive(async () => undefined);
        await input.stop();
        await exclusive(async () => serving?.partitions.discardAll());
        await output.close();
        serving?.core.model.dispose();
        logger.info('scorer stopped: in-flight batch committed, consumer and producers disconnected');
      })();
      return stopped;
    },
  };
}
