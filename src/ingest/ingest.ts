import type { EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import type { Config } from '../config/index.js';
import { untilDone } from '../kafka/connect.js';
import { createEventIntake } from '../kafka/event-intake.js';
import {
  type ConsumerCrashedError,
  type PartitionedService,
  createPartitionedConsumer,
  isRebalanceRefusal,
} from '../kafka/partitioned-consumer.js';
import type { Logger } from '../log/logger.js';
import type { IngestMetrics } from '../metrics/ingest-metrics.js';
import { encodeTimeline } from '../schemas/index.js';
import type { SessionTimeline } from '../schemas/types.js';
import { Sessionizer, restoreSessionizer, sessionRulesFromConfig } from '../sessionizer/index.js';
import { type TimelineStore, parseSegmentName, segmentName } from '../store/index.js';
import { createMutex } from '../util/mutex.js';
import type { CheckpointStore } from './checkpoint.js';
import { lateEventReason } from './late-events.js';

/** One assigned partition's live state. */
interface PartitionState {
  partition: number;
  sessionizer: Sessionizer;
  nextOffset: number;
  epoch: number;
  /** Closed sessions not yet written to the store. */
  closed: SessionTimeline[];
  /** Offsets processed since the last checkpoint. */
  dirty: boolean;
  /**
   * The checkpointed position may be ahead of the group's committed offset: after a load from a
   * checkpoint, and after every join of the group (kafkajs drops a commit silently while its
   * consumer is between a crash and the next join). The next flush commits even with nothing new.
   */
  commitPending: boolean;
  lastFlush: number;
}

export interface IngestOptions {
  kafka: Kafka;
  config: Readonly<Config>;
  logger: Logger;
  metrics: IngestMetrics;
  store: TimelineStore;
  checkpoints: CheckpointStore;
  now?: () => number;
  /** The consumer crashed for good: the owner exits so a supervisor restarts the process. */
  onFatal?: (error: ConsumerCrashedError) => void;
}

/** stop() also stores closed sessions and checkpoints before it commits. */
export type IngestProcess = PartitionedService;

/**
 * The ingest consumer (group `ingest.groupId`): decode → validate → dedupe →
 * sessionize in event time → closed sessions to the timeline store.
 *
 * Durability protocol per partition, every `ingest.flushInterval`:
 *   1. closed sessions → store segment `<group>-<topic>-p<P>-e<epoch+1>` (atomic file per day);
 *   2. checkpoint {nextOffset, epoch+1, open-session snapshot} (atomic);
 *   3. commit nextOffset to Kafka.
 * On (re)assignment the checkpoint is the source of truth: messages before its
 * offset are skipped, and segments with a higher epoch (written by a run that
 * crashed before checkpointing them) are deleted before replay re-creates them.
 * So a crash at any point neither loses a committed event nor stores a session twice.
 * Dead letters and the optional sessions topic are at-least-once (a replay may repeat them).
 */
export function createIngest(options: IngestOptions): IngestProcess {
  const { kafka, config, logger, metrics, store, checkpoints, now = Date.now, onFatal } = options;
  const topic = config.topics.events;
  const groupId = config.ingest.groupId;
  const source = `${groupId}-${topic}`;
  const rules = sessionRulesFromConfig(config.sessions);
  const intake = createEventIntake({ config, topic, counters: metrics, now });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const states = new Map<number, PartitionState>();
  const exclusive = createMutex();
  const input = createPartitionedConsumer({
    kafka,
    config,
    logger,
    groupId,
    topic,
    maxWaitTimeInMs: 1_000,
    // A rebalance waits for a flush under way, and no flush starts until the new assignment is known.
    rejoinGate: (join) => exclusive(join),
    // Partitions we no longer own: drop their in-memory state; the new owner resumes from the checkpoint.
    onAssigned: (mine) =>
      void exclusive(async () => {
        for (const [p, state] of [...states]) {
          if (mine.includes(p)) state.commitPending = true;
          else states.delete(p);
        }
      }),
    ...(onFatal ? { onFatal } : {}),
  });
  let stopping = false;
  let starting: Promise<void> | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let retentionTimer: NodeJS.Timeout | undefined;
  let stopped: Promise<void> | undefined;

  async function loadPartition(partition: number): Promise<PartitionState> {
    const checkpoint = await checkpoints.load(topic, partition);
    const mine = (file: string) => {
      const s = parseSegmentName(file);
      return s?.source === source && s.partition === partition ? s : undefined;
    };
    if (checkpoint) {
      const orphans = await store.removeSegments((f) => (mine(f)?.epoch ?? 0) > checkpoint.epoch);
      if (orphans.length > 0)
        logger.warn('removed segments written after the last checkpoint (crash recovery)', {
          partition,
          orphans,
        });
      logger.info('partition resumed from checkpoint', {
        partition,
        nextOffset: checkpoint.nextOffset,
        epoch: checkpoint.epoch,
      });
      return {
        partition,
        sessionizer: restoreSessionizer(checkpoint.snapshot, rules),
        nextOffset: checkpoint.nextOffset,
        epoch: checkpoint.epoch,
        closed: [],
        dirty: false,
        commitPending: true,
        lastFlush: now(),
      };
    }
    const { offset: committed } = await input.committedOffset(partition);
    let epoch = 0;
    if (committed === undefined) {
      // Fresh partition: any segment of ours is an orphan of a run that crashed before its first checkpoint.
      const orphans = await store.removeSegments((f) => mine(f) !== undefined);
      if (orphans.length > 0)
        logger.warn('removed segments of a run that never checkpointed', { partition, orphans });
    } else {
      const existing = (await store.listSegments()).flatMap((s) => mine(s.file)?.epoch ?? []);
      epoch = Math.max(0, ...existing);
      logger.error(
        'no checkpoint for a partition with committed offsets: its open sessions are lost; resuming at the committed offset',
        {
          partition,
          committed,
          checkpoints: checkpoints.location,
        },
      );
    }
    return {
      partition,
      sessionizer: new Sessionizer(rules),
      nextOffset: committed ?? 0,
      epoch,
      closed: [],
      dirty: false,
      commitPending: false,
      lastFlush: now(),
    };
  }

  async function flush(state: PartitionState): Promise<void> {
    state.closed.push(...state.sessionizer.drainClosed());
    if (!state.dirty && state.closed.length === 0) {
      if (state.commitPending) await commitPosition(state);
      return;
    }
    const epoch = state.epoch + 1;
    if (state.closed.length > 0) {
      const end = metrics.storeWrite.startTimer();
      await store.writeSegment(segmentName(source, state.partition, epoch), state.closed);
      end();
      if (config.ingest.publishSessions) {
        await producer.send({
          topic: config.topics.sessions,
          acks: -1,
          messages: state.closed.map((s) => ({ key: s.cookie_id, value: encodeTimeline(s) })),
        });
      }
      for (const s of state.closed) {
        metrics.sessionsClosed.inc({ reason: s.close_reason });
        metrics.sessionEvents.observe(s.event_count);
      }
    }
    const endCheckpoint = metrics.checkpointWrite.startTimer();
    const bytes = await checkpoints.save({
      topic,
      partition: state.partition,
      nextOffset: state.nextOffset,
      epoch,
      savedAt: now(),
      snapshot: state.sessionizer.snapshot(),
    });
    endCheckpoint();
    metrics.checkpointBytes.set({ partition: String(state.partition) }, bytes);
    state.epoch = epoch;
    state.closed = [];
    state.dirty = false;
    state.lastFlush = now();
    metrics.flushes.inc();
    state.commitPending = true;
    await commitPosition(state);
  }

  /** Commits the checkpointed position of `state`'s partition. */
  async function commitPosition(state: PartitionState): Promise<void> {
    try {
      await input.commit(state.partition, state.nextOffset);
      state.commitPending = false;
    } catch (error) {
      if (!isRebalanceRefusal(error)) throw error;
      // The checkpoint is where this partition's next owner resumes (see above), so a commit the
      // coordinator refuses while the group rebalances loses nothing; a later flush commits again.
      logger.warn('offset commit refused while the group rebalances; the checkpoint holds the position', {
        partition: state.partition,
        nextOffset: state.nextOffset,
        error: (error as Error).message,
      });
    }
  }

  function updateGauges(): void {
    let open = 0;
    let pending = 0;
    for (const s of states.values()) {
      open += s.sessionizer.openSessions;
      pending += s.sessionizer.pendingEvents;
      const wm = s.sessionizer.watermark;
      if (Number.isFinite(wm)) metrics.watermark.set({ partition: String(s.partition) }, wm / 1000);
    }
    metrics.openSessions.set(open);
    metrics.pendingEvents.set(pending);
  }

  async function processBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    if (stopping || batch.messages.length === 0) return;
    await exclusive(async () => {
      if (stopping) return;
      let state = states.get(batch.partition);
      if (!state) {
        state = await loadPartition(batch.partition);
        states.set(batch.partition, state);
      }
      await intake.prepare(batch.messages);
      const dead: Message[] = [];
      const { sessionizer } = state;
      let accepted = 0;
      let duplicates = 0;
      for (const message of batch.messages) {
        const offset = Number(message.offset);
        if (offset < state.nextOffset) continue; // already reflected in the checkpointed state
        const decoded = intake.decode(message);
        if (!decoded.ok) dead.push(intake.reject(batch.partition, message, decoded.rejection));
        else {
          const pushed = sessionizer.push(decoded.event);
          if (pushed.outcome === 'accepted') accepted++;
          else if (pushed.outcome === 'duplicate') duplicates++;
          else {
            metrics.events.inc({ outcome: 'late' });
            metrics.lateness.observe(pushed.lateByMs / 1000);
            dead.push(
              intake.refuse(batch.partition, message, lateEventReason(pushed.lateByMs, rules.graceMs)),
            );
          }
        }
        state.nextOffset = offset + 1;
        state.dirty = true;
      }
      metrics.events.inc({ outcome: 'accepted' }, accepted);
      metrics.events.inc({ outcome: 'duplicate' }, duplicates);
      if (dead.length > 0) await producer.send({ topic: config.topics.deadLetter, acks: -1, messages: dead });
      state.closed.push(...sessionizer.drainClosed());
      metrics.consumerLag.set(
        { partition: String(batch.partition) },
        Math.max(0, Number(batch.highWatermark) - state.nextOffset),
      );
      updateGauges();
      if (now() - state.lastFlush >= config.ingest.flushInterval) await flush(state);
    });
    const last = batch.messages.at(-1);
    if (last) resolveOffset(last.offset);
    await heartbeat();
  }

  /** Flushes every partition due (all of them at shutdown); one that fails does not keep the others from it. */
  async function flushAll(reason: 'timer' | 'shutdown'): Promise<void> {
    await exclusive(async () => {
      let failure: { error: unknown } | undefined;
      for (const state of states.values()) {
        // A partition the last rebalance gave to another member is its to flush (its state is dropped next).
        if (!input.assigned.includes(state.partition)) continue;
        if (reason === 'timer' && now() - state.lastFlush < config.ingest.flushInterval) continue;
        try {
          await flush(state);
        } catch (error) {
          logger.error('flush failed: the partition resumes from its last checkpoint', {
            partition: state.partition,
            reason,
            error,
          });
          failure ??= { error };
        }
      }
      updateGauges();
      if (failure) throw failure.error;
    });
  }

  return {
    get ready() {
      return input.assigned.length > 0 && !stopping;
    },
    get assignedPartitions() {
      return input.assigned;
    },
    start() {
      starting ??= startOnce();
      return starting;
    },
    stop() {
      stopped ??= (async () => {
        stopping = true; // batches not yet started are skipped; the in-flight one finishes under the lock
        await starting?.catch(() => undefined);
        if (flushTimer) clearInterval(flushTimer);
        if (retentionTimer) clearInterval(retentionTimer);
        // A failed flush still leaves the group (or the process would stay a member holding its
        // partitions), then fails the stop; what was not checkpointed is replayed by the next owner.
        const flushed = await flushAll('shutdown').then(
          () => ({ ok: true as const }),
          (error: unknown) => ({ ok: false as const, error }),
        );
        // What the partitions' next owners resume from: where, and with how many sessions still open.
        const handedOver = [...states.values()]
          .filter((s) => input.assigned.includes(s.partition))
          .map((s) => ({
            partition: s.partition,
            nextOffset: s.nextOffset,
            openSessions: s.sessionizer.openSessions,
          }))
          .sort((a, b) => a.partition - b.partition);
        await input.stop();
        await producer.disconnect();
        if (!flushed.ok) throw flushed.error;
        logger.info('ingest stopped: closed sessions stored, state checkpointed, offsets committed', {
          handedOver,
        });
      })();
      return stopped;
    },
  };

  async function startOnce(): Promise<void> {
    const shouldStop = () => stopping;
    await untilDone('connect to Kafka (producer)', () => producer.connect(), { logger, shouldStop });
    await input.run(processBatch, shouldStop);
    if (stopping) return;
    flushTimer = setInterval(
      () => {
        // flushAll logs each partition's failure; that partition is flushed again on the next tick.
        flushAll('timer').catch(() => undefined);
      },
      Math.max(100, Math.floor(config.ingest.flushInterval / 2)),
    );
    const applyRetention = () =>
      store
        .applyRetention(config.store.retentionDays, now())
        .then((days) => days.length > 0 && logger.info('retention deleted days', { days }))
        .catch((error: unknown) => logger.error('retention failed', { error }));
    void applyRetention();
    retentionTimer = setInterval(applyRetention, 3_600_000);
    retentionTimer.unref();
    logger.info('ingest started', {
      topic,
      groupId,
      store: store.dir,
      checkpoints: checkpoints.location,
    });
  }
}
