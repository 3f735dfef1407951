/**
 * The scorer's Kafka-free core: applies a partition's batch of decoded events to the live sessions,
 * advances the model with ONE batched `step` call per batch position (round r steps every session's
 * r-th event of the batch), applies the emission policy and returns the predictions in offset order.
 * Also swaps models (recomputing open sessions from their buffered events).
 *
 * Work per event is constant: a session's state is advanced by one step, never recomputed from its
 * whole sequence (except on a model swap, from at most maxBufferedEvents events).
 */
import type { StepEvent } from '../features/index.js';
import type { SessionPrediction, ShopEvent } from '../schemas/types.js';
import type { SessionRules } from '../sessionizer/rules.js';
import { type EmitPolicyOptions, createEmitDecision } from './emission.js';
import {
  type LiveSession,
  type PartitionSessions,
  SessionTable,
  bufferedCount,
  bufferedEvent,
} from './live-sessions.js';
import { type StepInput, type StepModel, checkModel } from './model.js';

export interface ScorerCoreOptions {
  rules: Pick<SessionRules, 'inactivityGapMs' | 'maxDurationMs' | 'maxEvents' | 'graceMs'>;
  maxOpenSessions: number;
  maxBufferedEvents: number;
  rebuildWindowMs: number;
  emit: EmitPolicyOptions;
  positiveClass: string;
  model: StepModel;
  now?: () => number;
  /** Sessions per `step` call when a swap recomputes open sessions (bounds the LSTM's batch). */
  recomputeChunk?: number;
}

/** One message of a batch: its offset and the decoded event (undefined when it did not decode). */
export interface BatchItem {
  offset: number;
  event: ShopEvent | undefined;
}

export interface BatchOutcome {
  /** Predictions selected by the emission policy, in offset order (empty when not emitting). */
  predictions: SessionPrediction[];
  scored: number;
  duplicates: number;
  late: number;
  /** How far behind the watermark each late event was (ms). */
  lateByMs: number[];
  /** model.step calls made (= the largest number of events one session had in the batch). */
  rounds: number;
  /** scored_at of the predictions. */
  scoredAt: number;
}

interface Request {
  offset: number;
  event: ShopEvent;
  previous: StepEvent | undefined;
  session: LiveSession;
  eventsInSession: number;
  emit: boolean;
  probabilities: number[] | undefined;
}

export class ScorerCore {
  readonly table: SessionTable;
  private currentModel: StepModel;
  private positive: number;
  private readonly decide: ReturnType<typeof createEmitDecision>;
  private readonly now: () => number;
  private readonly recomputeChunk: number;
  private readonly positiveClass: string;

  constructor(options: ScorerCoreOptions) {
    this.decide = createEmitDecision(options.emit);
    this.positiveClass = options.positiveClass;
    this.positive = checkModel(options.model, options.positiveClass);
    this.currentModel = options.model;
    this.now = options.now ?? Date.now;
    this.recomputeChunk = options.recomputeChunk ?? 8_192;
    this.table = new SessionTable({
      rules: options.rules,
      maxOpenSessions: options.maxOpenSessions,
      maxBufferedEvents: options.maxBufferedEvents,
      rebuildWindowMs: options.rebuildWindowMs,
      initialState: () => this.currentModel.initialState(),
    });
  }

  get model(): StepModel {
    return this.currentModel;
  }

  /**
   * Applies a batch of one partition in offset order. With `emit` false (rebuild after a restart) the
   * state and the emission memory advance exactly as with `emit` true, but no prediction is returned.
   */
  process(partition: number, items: readonly BatchItem[], emit: boolean): BatchOutcome {
    const part = this.table.partition(partition);
    const table = this.table;
    const requests: Request[] = [];
    const groups = new Map<LiveSession, Request[]>();
    let duplicates = 0;
    const lateByMs: number[] = [];
    for (const { offset, event } of items) {
      if (event === undefined) {
        table.skip(part, offset);
        continue;
      }
      const applied = table.apply(part, event, offset);
      if (applied.outcome === 'duplicate') duplicates++;
      else if (applied.outcome === 'late') lateByMs.push(applied.lateByMs);
      else {
        const { session } = applied;
        const request: Request = {
          offset,
          event,
          previous: applied.previous,
          session,
          eventsInSession: session.count,
          emit: false,
          probabilities: undefined,
        };
        requests.push(request);
        const group = groups.get(session);
        if (group) group.push(request);
        else groups.set(session, [request]);
      }
    }
    const rounds = this.stepRounds([...groups.values()]);
    table.expire(part);
    const scoredAt = this.now();
    const predictions: SessionPrediction[] = [];
    if (emit) {
      const classes = this.currentModel.classes;
      const version = this.currentModel.version;
      for (const r of requests) {
        if (!r.emit) continue;
        const probabilities: Record<string, number> = {};
        for (let c = 0; c < classes.length; c++) probabilities[classes[c]!] = r.probabilities![c]!;
        predictions.push({
          cookie_id: r.session.cookieId,
          session_id: r.session.sessionId,
          model_version: version,
          event_id: r.event.event_id,
          event_time: r.event.event_time,
          scored_at: scoredAt,
          events_in_session: r.eventsInSession,
          probabilities,
        });
      }
    }
    return {
      predictions,
      scored: requests.length,
      duplicates,
      late: lateByMs.length,
      lateByMs,
      rounds,
      scoredAt,
    };
  }

  /** One batched model.step per round; round r advances every session that has an r-th request. */
  private stepRounds(groups: Request[][]): number {
    if (groups.length === 0) return 0;
    groups.sort((a, b) => b.length - a.length); // sessions with more events first: round r uses a prefix
    const model = this.currentModel;
    const positive = this.positive;
    const rounds = groups[0]!.length;
    let active = groups.length;
    const inputs: StepInput[] = [];
    for (let r = 0; r < rounds; r++) {
      while (groups[active - 1]!.length <= r) active--;
      inputs.length = active;
      for (let i = 0; i < active; i++) {
        const q = groups[i]![r]!;
        inputs[i] = {
          state: q.session.state,
          event: q.event,
          previous: q.previous,
          sessionStart: q.session.startTime,
        };
      }
      const out = model.step(inputs);
      if (out.states.length !== active || out.probabilities.length !== active) {
        throw new Error(
          `model ${model.version} returned ${out.states.length} states for ${active} inputs in one step`,
        );
      }
      for (let i = 0; i < active; i++) {
        const q = groups[i]![r]!;
        const probabilities = out.probabilities[i]!;
        q.session.state = out.states[i];
        q.probabilities = probabilities;
        q.emit = this.decide(q.session, probabilities[positive]!);
      }
    }
    return rounds;
  }

  /**
   * Serves `model` from now on: checks it (throws IncompatibleModelError, leaving the old model in
   * place), then recomputes every open session's state from its buffered events under it (batched per
   * buffer position, `recomputeChunk` sessions per call). Emission memory is kept: the next decision
   * compares with what consumers last saw. Returns the old model (the caller disposes it).
   */
  swapModel(model: StepModel): { previous: StepModel; recomputed: number; steps: number } {
    const positive = checkModel(model, this.positiveClass);
    const sessions: LiveSession[] = [];
    for (const part of this.table.partitions()) for (const s of part.sessions.values()) sessions.push(s);
    sessions.sort((a, b) => b.buffer.length - a.buffer.length); // longest buffer first
    const states = recompute(model, sessions, this.recomputeChunk);
    const previous = this.currentModel;
    this.currentModel = model;
    this.positive = positive;
    let steps = 0;
    for (let i = 0; i < sessions.length; i++) {
      sessions[i]!.state = states[i];
      steps += bufferedCount(sessions[i]!);
    }
    return { previous, recomputed: sessions.length, steps };
  }

  partitionState(partition: number): PartitionSessions | undefined {
    return this.table.has(partition) ? this.table.partition(partition) : undefined;
  }

  /**
   * Starts a partition afresh at `offset` (its previous state, if any, is dropped). `maxTime` is the
   * partition's max event time before that offset, from the rebuild point committed with the offsets.
   */
  resetPartition(partition: number, offset: number, maxTime: number | null): PartitionSessions {
    this.table.dropPartition(partition);
    const part = this.table.partition(partition);
    part.nextOffset = offset;
    part.maxTime = maxTime ?? Number.NEGATIVE_INFINITY;
    return part;
  }
}

/**
 * States of `sessions` (sorted by buffer length, longest first) recomputed from their buffers under
 * `model`. Nothing is assigned until every step succeeded, so a model that throws changes nothing.
 */
function recompute(model: StepModel, sessions: LiveSession[], chunk: number): unknown[] {
  const states: unknown[] = new Array(sessions.length);
  for (let from = 0; from < sessions.length; from += chunk) {
    const to = Math.min(sessions.length, from + chunk);
    for (let i = from; i < to; i++) states[i] = model.initialState();
    const rounds = bufferedCount(sessions[from]!);
    let active = to;
    const inputs: StepInput[] = [];
    let previous: (StepEvent | undefined)[] = [];
    for (let r = 0; r < rounds; r++) {
      while (bufferedCount(sessions[active - 1]!) <= r) active--;
      const current: StepEvent[] = new Array(active - from);
      inputs.length = active - from;
      for (let i = from; i < active; i++) {
        const s = sessions[i]!;
        const event = bufferedEvent(s, r);
        current[i - from] = event;
        inputs[i - from] = {
          state: states[i],
          event,
          previous: previous[i - from],
          sessionStart: s.startTime,
        };
      }
      previous = current;
      const out = model.step(inputs);
      for (let i = from; i < active; i++) states[i] = out.states[i - from];
    }
  }
  return states;
}
