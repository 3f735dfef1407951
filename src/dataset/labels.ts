/**
 * Labels are computed at training time from the stored events, so they can be redefined without
 * re-ingesting. The model may only see what a live scorer would have seen BEFORE the outcome was
 * known: the events before the first target event, and (by default) before a `checkout`, because
 * the generator's - and most shops' - purchase is checkout then purchase, so a checkout event all
 * but announces the label (it precedes every purchase, and only 30% of abandoned full carts). A
 * scorer sees the checkout too, but by then the question is answered; what is worth predicting is
 * the intent before it. `truncateAt: []` keeps checkouts in. Target and truncation are roles: the
 * shop's event types that play them come from the roles (features/roles.ts).
 */
import type { LabelConfig } from '../config/schema.js';
import { IntentstreamError } from '../errors.js';
import { DEFAULT_ROLES, type EventRoles } from '../features/roles.js';
import type { SessionTimeline, ShopEvent } from '../schemas/types.js';

export type { LabelConfig };

/** Why the observable prefix ends where it does. */
export type CutReason = 'target' | 'truncate' | 'end';

export interface LabeledSession {
  /** The events the model may see (a prefix of the session's events; may be empty). */
  observable: ShopEvent[];
  /** Binary: 1 when the session reaches the target event. */
  label: number;
  cut: CutReason;
}

export const DEFAULT_LABELS: LabelConfig = Object.freeze({
  kind: 'binary',
  target: 'purchase',
  truncateAt: Object.freeze(['checkout']) as LabelConfig['truncateAt'],
});

/**
 * A label rule resolved to the shop's event types. Build it once per dataset: labelSession runs
 * for every stored session.
 */
export interface ResolvedLabels {
  config: LabelConfig;
  target: ReadonlySet<string>;
  truncateAt: ReadonlySet<string>;
}

export function resolveLabels(labels: LabelConfig, roles: EventRoles = DEFAULT_ROLES): ResolvedLabels {
  return {
    config: labels,
    target: new Set(roles[labels.target]),
    truncateAt: new Set(labels.truncateAt.flatMap((r) => roles[r])),
  };
}

/** Label and observable prefix of one session (events in event-time order, as the store keeps them). */
export function labelSession(
  session: Pick<SessionTimeline, 'events'>,
  rule: LabelConfig | ResolvedLabels,
): LabeledSession {
  const resolved = 'config' in rule ? rule : resolveLabels(rule);
  const labels = { target: resolved.target, truncateAt: resolved.truncateAt };
  switch (resolved.config.kind) {
    case 'binary': {
      const events = session.events;
      let cutIndex = events.length;
      let cut: CutReason = 'end';
      for (let i = 0; i < events.length; i++) {
        const type = events[i]!.event_type;
        if (labels.target.has(type)) {
          cutIndex = i;
          cut = 'target';
          break;
        }
        if (labels.truncateAt.has(type)) {
          cutIndex = i;
          cut = 'truncate';
          break;
        }
      }
      let label = cut === 'target' ? 1 : 0;
      if (cut === 'truncate') {
        for (let i = cutIndex + 1; i < events.length && label === 0; i++) {
          if (labels.target.has(events[i]!.event_type)) label = 1;
        }
      }
      return { observable: events.slice(0, cutIndex), label, cut };
    }
  }
}

/** Class names of a label config (index = label value), for reports and predictions. */
export function labelClasses(labels: LabelConfig): string[] {
  switch (labels.kind) {
    case 'binary':
      return [`no_${labels.target}`, labels.target];
  }
}

/**
 * No stored event plays the label's target role: every session would be negative and the run would
 * train on nothing. Raised before training, with the event types seen and how to map one.
 */
export class MissingTargetError extends IntentstreamError {
  constructor(
    readonly target: string,
    readonly targetTypes: readonly string[],
    readonly eventTypes: ReadonlyMap<string, number>,
  ) {
    const seen = [...eventTypes]
      .sort(([a, n], [b, m]) => m - n || (a < b ? -1 : 1))
      .map(([type, n]) => `${type} ${n}`);
    super(
      `no stored event plays the label target role '${target}' (event types ${targetTypes.length ? targetTypes.join(', ') : 'none'}), so every session would be negative. ` +
        `Event types seen: ${seen.length ? seen.join(', ') : 'none'}. ` +
        `Map the shop's ${target} event to the role in the config file, e.g. trainer.roles.${target}: [<event type>] ` +
        '(or its environment variable, listed by `intentstream config env`), or choose another trainer.labels.target.',
    );
    this.name = 'MissingTargetError';
  }
}

/** Throws MissingTargetError when no event of `eventTypes` (type → count) plays the target role. */
export function checkTargetPresent(labels: ResolvedLabels, eventTypes: ReadonlyMap<string, number>): void {
  for (const type of labels.target) if ((eventTypes.get(type) ?? 0) > 0) return;
  throw new MissingTargetError(labels.config.target, [...labels.target], eventTypes);
}
