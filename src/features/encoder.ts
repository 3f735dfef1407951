/**
 * The feature encoder shared by the trainer and the live scorer (no train/serve skew): both call
 * the same `writeStep` for every event, the trainer over whole stored sessions, the scorer one
 * event at a time as they arrive.
 *
 * Per event: five categorical ids (embedded by the model) and a few numeric features.
 *   eventType  the shop's event types, a vocabulary fitted on the training split (index layout of
 *              vocabulary.ts: 0 pad, 1 OOV, 2.. values)
 *   item       1 = no item, 2.. = stableHash(item_id) mod itemBuckets
 *   category   1 = no category, 2.. = stableHash(category_id) mod categoryBuckets
 *   device, referrer   vocabularies fitted on the training split
 *   numeric    log1p(price), log1p(s since previous event), log1p(s since session start),
 *              log1p(step index), hour of day and day of week as sin/cos (UTC); with
 *              sessionState also item/cart relations to earlier events of the session
 *              (see SESSION_STATE_FEATURES), which need the running `StepState`; which events
 *              add to or remove from the cart is said by the roles stored with the encoder.
 */
import type { ShopEvent } from '../schemas/types.js';
import { stableHash32 } from './hash.js';
import { DEFAULT_ROLES, type EventRoles, RoleMap } from './roles.js';
import { ENCODER_VERSION, type EncoderSpec, numericFeatureNames, upgradeEncoderSpec } from './spec.js';
import { writeCyclicTime } from './time.js';
import {
  FIRST_VALUE_INDEX,
  PAD_INDEX,
  ValueCounter,
  Vocabulary,
  type VocabularyFitOptions,
} from './vocabulary.js';

/** The model's categorical inputs, in this order everywhere (encoded arrays, model inputs). */
export const CATEGORICAL_INPUTS = ['eventType', 'item', 'category', 'device', 'referrer'] as const;
export type CategoricalInput = (typeof CATEGORICAL_INPUTS)[number];
export const CATEGORICAL_COUNT = CATEGORICAL_INPUTS.length;

/** Index of "the event has no item / category" (the OOV slot of the vocabulary layout). */
const NO_ID = 1;

export interface EncoderOptions {
  maxSteps: number;
  itemBuckets: number;
  categoryBuckets: number;
  /** Device/referrer vocabularies keep at most this many values seen at least minCount times. */
  maxVocabulary: number;
  minCount: number;
  sessionState: boolean;
  hashSeed?: number;
  /** The event-type vocabulary: most frequent first, at most maxSize types seen minCount times. */
  eventTypes?: VocabularyFitOptions;
  /** Which of the shop's event types add to and remove from the cart (and the label's roles). */
  roles?: EventRoles;
}

/** Event types kept when EncoderOptions.eventTypes is not given. */
const DEFAULT_EVENT_TYPES: VocabularyFitOptions = { maxSize: 200, minCount: 1 };

export interface ItemState {
  /** Event time the item was (last) added to the cart while still in it; null when not in the cart. */
  cartedAt: number | null;
  /** Removed from the cart and not added back since. */
  removed: boolean;
}

/**
 * What the step encoder needs to know about the session so far: its start, the previous event and
 * (with sessionState) the items met. The scorer keeps one per live session (stepStateToJSON for
 * snapshots).
 */
export interface StepState {
  sessionStart: number;
  steps: number;
  previousTime: number | null;
  previousItem: string | null;
  cartSize: number;
  items: ItemStore;
}

/**
 * The items a session met: a Map, or any store with its get/set/entries (the scorer keeps a compact
 * one). The encoder writes every item it updated back with `set`, so `get` may return a copy.
 */
export interface ItemStore {
  get(item: string): ItemState | undefined;
  set(item: string, state: ItemState): unknown;
  entries(): Iterable<[string, ItemState]>;
}

/** The fields of an event the step encoding reads (what the scorer keeps of buffered events). */
export type StepEvent = Pick<
  ShopEvent,
  'event_id' | 'event_type' | 'event_time' | 'item_id' | 'category_id' | 'price' | 'device' | 'referrer'
>;

/** One encoded event. */
export interface EncodedStep {
  categorical: Int32Array;
  numeric: Float32Array;
}

/** Every event of a sequence encoded, unpadded: step i is at [i * width, (i + 1) * width). */
export interface EncodedSteps {
  length: number;
  categorical: Int32Array;
  numeric: Float32Array;
}

/** The model's view of one sequence: its LAST maxSteps events, right-padded to maxSteps. */
export interface PaddedSequence extends EncodedSteps {
  /** 1 for a real step, 0 for padding. */
  mask: Uint8Array;
}

export class FeatureEncoder {
  readonly maxSteps: number;
  readonly numericNames: readonly string[];
  readonly numericSize: number;
  /** Embedding rows per categorical input, in CATEGORICAL_INPUTS order. */
  readonly cardinalities: Readonly<Record<CategoricalInput, number>>;
  /** The roles the encoder was fitted with (the scorer applies these, not today's config). */
  readonly roles: RoleMap;
  private readonly eventTypes: Vocabulary;
  private readonly devices: Vocabulary;
  private readonly referrers: Vocabulary;

  private constructor(private readonly spec: EncoderSpec) {
    this.maxSteps = spec.maxSteps;
    this.numericNames = spec.numericFeatures;
    this.numericSize = spec.numericFeatures.length;
    this.eventTypes = new Vocabulary(spec.eventTypes);
    this.roles = new RoleMap(spec.roles);
    this.devices = new Vocabulary(spec.devices);
    this.referrers = new Vocabulary(spec.referrers);
    this.cardinalities = Object.freeze({
      eventType: this.eventTypes.cardinality,
      item: spec.itemBuckets + FIRST_VALUE_INDEX,
      category: spec.categoryBuckets + FIRST_VALUE_INDEX,
      device: this.devices.cardinality,
      referrer: this.referrers.cardinality,
    });
  }

  /** Fits the event-type, device and referrer vocabularies on the given (training) sequences. */
  static fit(sequences: Iterable<readonly ShopEvent[]>, options: EncoderOptions): FeatureEncoder {
    const fitter = FeatureEncoder.fitter(options);
    for (const events of sequences) fitter.add(events);
    return fitter.finish();
  }

  /** The same fit, one sequence at a time (a trainer streaming its training split). */
  static fitter(options: EncoderOptions): {
    add(events: readonly ShopEvent[]): void;
    finish(): FeatureEncoder;
  } {
    const eventTypes = new ValueCounter();
    const devices = new ValueCounter();
    const referrers = new ValueCounter();
    return {
      add(events) {
        for (const e of events) {
          eventTypes.add(e.event_type);
          devices.add(e.device);
          referrers.add(e.referrer);
        }
      },
      finish() {
        const fitOptions = { maxSize: options.maxVocabulary, minCount: options.minCount };
        return FeatureEncoder.fromSpec({
          version: ENCODER_VERSION,
          maxSteps: options.maxSteps,
          hashSeed: options.hashSeed ?? 0,
          itemBuckets: options.itemBuckets,
          categoryBuckets: options.categoryBuckets,
          eventTypes: eventTypes.fit(options.eventTypes ?? DEFAULT_EVENT_TYPES),
          devices: devices.fit(fitOptions),
          referrers: referrers.fit(fitOptions),
          sessionState: options.sessionState,
          numericFeatures: numericFeatureNames(options.sessionState),
          roles: structuredClone(options.roles ?? DEFAULT_ROLES) as EncoderSpec['roles'],
        });
      },
    };
  }

  /** Reads encoder.json of any known version (older ones are upgraded). */
  static fromJSON(json: unknown): FeatureEncoder {
    return new FeatureEncoder(upgradeEncoderSpec(json));
  }

  private static fromSpec(spec: EncoderSpec): FeatureEncoder {
    return FeatureEncoder.fromJSON(spec);
  }

  /** The kept event types, in index order. */
  get eventTypeVocabulary(): readonly string[] {
    return this.eventTypes.values;
  }

  /** Whether an event type has its own embedding row (else it falls into the OOV bucket). */
  knowsEventType(type: string): boolean {
    return this.eventTypes.has(type);
  }

  toJSON(): EncoderSpec {
    return structuredClone(this.spec);
  }

  /** State before the first event of a session that started at `sessionStart`. */
  startSession(sessionStart: number): StepState {
    return {
      sessionStart,
      steps: 0,
      previousTime: null,
      previousItem: null,
      cartSize: 0,
      items: new Map(),
    };
  }

  /** Encodes the next event of a session and advances `state` past it (the scorer's entry point). */
  encodeStep(event: StepEvent, state: StepState): EncodedStep {
    const step: EncodedStep = {
      categorical: new Int32Array(CATEGORICAL_COUNT),
      numeric: new Float32Array(this.numericSize),
    };
    this.writeStep(event, state, step.categorical, 0, step.numeric, 0);
    return step;
  }

  /** Encodes every event of a session in order (events must be in event-time order). */
  encodeEvents(events: readonly ShopEvent[], sessionStart = events[0]?.event_time ?? 0): EncodedSteps {
    const n = events.length;
    const categorical = new Int32Array(n * CATEGORICAL_COUNT);
    const numeric = new Float32Array(n * this.numericSize);
    const state = this.startSession(sessionStart);
    for (let i = 0; i < n; i++) {
      this.writeStep(events[i]!, state, categorical, i * CATEGORICAL_COUNT, numeric, i * this.numericSize);
    }
    return { length: n, categorical, numeric };
  }

  /**
   * The whole-sequence encoder for training: the LAST maxSteps events (their features still see the
   * earlier ones: gaps, elapsed time, cart state), right-padded to maxSteps with a mask.
   */
  encodeSequence(events: readonly ShopEvent[], sessionStart?: number): PaddedSequence {
    return this.pad(this.encodeEvents(events, sessionStart), events.length);
  }

  /** The first `prefixLength` steps of an encoded session, cut to its last maxSteps and padded. */
  pad(steps: EncodedSteps, prefixLength = steps.length): PaddedSequence {
    const T = this.maxSteps;
    const end = Math.min(prefixLength, steps.length);
    const start = Math.max(0, end - T);
    const length = end - start;
    const categorical = new Int32Array(T * CATEGORICAL_COUNT);
    const numeric = new Float32Array(T * this.numericSize);
    const mask = new Uint8Array(T);
    categorical.set(steps.categorical.subarray(start * CATEGORICAL_COUNT, end * CATEGORICAL_COUNT));
    numeric.set(steps.numeric.subarray(start * this.numericSize, end * this.numericSize));
    mask.fill(1, 0, length);
    return { length, categorical, numeric, mask };
  }

  /**
   * Writes one event's features at the given offsets and advances the state: the one step encoding
   * behind encodeStep and encodeEvents. Public for callers that encode many sessions' next events
   * into one preallocated batch (the scorer's LSTM step model).
   */
  writeStep(
    e: StepEvent,
    state: StepState,
    cat: Int32Array,
    catAt: number,
    num: Float32Array,
    numAt: number,
  ): void {
    const spec = this.spec;
    const t = e.event_time;
    cat[catAt] = this.eventTypes.lookup(e.event_type);
    cat[catAt + 1] =
      e.item_id === null
        ? NO_ID
        : FIRST_VALUE_INDEX + (stableHash32(e.item_id, spec.hashSeed) % spec.itemBuckets);
    cat[catAt + 2] =
      e.category_id === null
        ? NO_ID
        : FIRST_VALUE_INDEX + (stableHash32(e.category_id, spec.hashSeed) % spec.categoryBuckets);
    cat[catAt + 3] = this.devices.lookup(e.device);
    cat[catAt + 4] = this.referrers.lookup(e.referrer);

    const gapS = state.previousTime === null ? 0 : Math.max(0, t - state.previousTime) / 1000;
    const elapsedS = Math.max(0, t - state.sessionStart) / 1000;
    num[numAt] = Math.log1p(Math.max(0, e.price ?? 0));
    num[numAt + 1] = Math.log1p(gapS);
    num[numAt + 2] = Math.log1p(elapsedS);
    num[numAt + 3] = Math.log1p(state.steps);
    writeCyclicTime(t, num, numAt + 4);

    if (spec.sessionState) {
      const item = e.item_id;
      const known = item === null ? undefined : state.items.get(item);
      num[numAt + 8] = item !== null && item === state.previousItem ? 1 : 0;
      num[numAt + 9] = known !== undefined ? 1 : 0;
      num[numAt + 10] = known?.cartedAt != null ? 1 : 0;
      num[numAt + 11] = known?.removed ? 1 : 0;
      num[numAt + 12] = known?.cartedAt != null ? Math.log1p(Math.max(0, t - known.cartedAt) / 1000) : 0;
      num[numAt + 13] = Math.log1p(state.cartSize);
      if (item !== null) this.updateItem(state, item, e.event_type, t, known);
    }
    state.previousTime = t;
    state.previousItem = e.item_id;
    state.steps++;
  }

  private updateItem(
    state: StepState,
    item: string,
    type: string,
    t: number,
    known: ItemState | undefined,
  ): void {
    const s = known ?? { cartedAt: null, removed: false };
    const role = this.roles.roleOf(type);
    if (role === 'addToCart') {
      if (s.cartedAt === null) state.cartSize++;
      s.cartedAt = t;
      s.removed = false;
    } else if (role === 'removeFromCart') {
      if (s.cartedAt !== null) state.cartSize--;
      s.cartedAt = null;
      s.removed = true;
    }
    state.items.set(item, s); // also when known: a store may hand out copies (the scorer's compact one does)
  }
}

/** A StepState as plain JSON (for scorer snapshots). */
export function stepStateToJSON(state: StepState): unknown {
  return { ...state, items: [...state.items.entries()] };
}

export function stepStateFromJSON(json: unknown): StepState {
  const s = json as Omit<StepState, 'items'> & { items: [string, ItemState][] };
  return { ...s, items: new Map(s.items.map(([k, v]) => [k, { ...v }])) };
}

export { PAD_INDEX };
