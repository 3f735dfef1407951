import { IntentstreamError } from '../errors.js';
/**
 * The scorer's model contract: a recurrent model advanced ONE event at a time per session, for many
 * sessions in one batched call. The LSTM step model (lstm-model.ts) implements it for the trainer's
 * models; tests plug in fakes behind the same interface.
 */
import type { StepEvent } from '../features/index.js';
import type { ShopEvent } from '../schemas/types.js';

/**
 * One session's next step: its current state, the event to apply and the event before it. Events are
 * StepEvents (the fields the feature encoder reads): that is all the scorer keeps of buffered events.
 */
export interface StepInput<State = unknown> {
  state: State;
  event: StepEvent;
  /** The session's previous event in the order the scorer applied them (undefined for the first). */
  previous: StepEvent | undefined;
  /** Event time of the session's first event (epoch ms). */
  sessionStart: number;
}

export interface StepOutput<State = unknown> {
  /**
   * New state per input, same order. A model may advance the input state objects in place and return
   * them, so callers replace each session's state with the returned one and never step an old state again.
   */
  states: State[];
  /** Class probabilities per input, same order; each row is aligned with `classes`. */
  probabilities: number[][];
}

export interface StepModel<State = unknown> {
  readonly version: string;
  /** Class names, e.g. ['purchase'] for a binary model. */
  readonly classes: readonly string[];
  initialState(): State;
  /** Advances each session by one event, all in ONE batched call; returns new states and class probabilities. */
  step(inputs: readonly StepInput<State>[]): StepOutput<State>;
  /** Frees whatever the model holds (the LSTM holds plain arrays only). Called once it is no longer served. */
  dispose(): void;
}

/** Where models come from: a registry directory whose CURRENT file names the served version. */
export interface ModelSource {
  /** Builds the model of `version`; throws if it is missing, corrupt or incompatible. */
  load(version: string): Promise<StepModel>;
  /** The version CURRENT names now (undefined when there is none yet). */
  current(): Promise<string | undefined>;
}

export class IncompatibleModelError extends IntentstreamError {
  override name = 'IncompatibleModelError';
}

const PROBE_EVENT: ShopEvent = {
  cookie_id: 'probe',
  event_id: 'probe-1',
  event_type: 'page_view',
  event_time: Date.UTC(2026, 0, 1),
  item_id: null,
  category_id: null,
  price: null,
  quantity: null,
  page_type: 'home',
  device: 'desktop',
  referrer: null,
  extras: {},
};

/**
 * Checks a freshly loaded model before it may serve: it names `positiveClass`, and a two-session probe
 * step returns one state and one probability row per input, rows as long as `classes`, values in [0, 1].
 * Returns the index of the positive class. Throws IncompatibleModelError otherwise.
 */
export function checkModel(model: StepModel, positiveClass: string): number {
  const fail = (why: string): never => {
    throw new IncompatibleModelError(`model ${String(model.version)} is not servable: ${why}`);
  };
  if (typeof model.version !== 'string' || model.version.length === 0) fail('it has no version');
  if (!Array.isArray(model.classes) || model.classes.length === 0) fail('it declares no classes');
  const positive = model.classes.indexOf(positiveClass);
  if (positive < 0) {
    fail(`its classes [${model.classes.join(', ')}] do not include the positive class "${positiveClass}"`);
  }
  const first = model.step([
    {
      state: model.initialState(),
      event: PROBE_EVENT,
      previous: undefined,
      sessionStart: PROBE_EVENT.event_time,
    },
    {
      state: model.initialState(),
      event: PROBE_EVENT,
      previous: undefined,
      sessionStart: PROBE_EVENT.event_time,
    },
  ]);
  if (first.states.length !== 2 || first.probabilities.length !== 2) {
    fail('a batched step of 2 inputs did not return 2 states and 2 probability rows');
  }
  for (const row of first.probabilities) {
    if (row.length !== model.classes.length) fail(`a probability row has ${row.length} values`);
    for (const p of row) if (!(p >= 0 && p <= 1)) fail(`a probability is ${p}, outside [0, 1]`);
  }
  return positive;
}
