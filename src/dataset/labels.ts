/**
 * Labels are computed at training time from the stored events, so they can be redefined without
 * re-ingesting. The model may only see what a live scorer would have seen BEFORE the outcome was
 * known: the events before the first target event, and (by default) before a `checkout`, because
 * the generator's - and most shops' - purchase is checkout then purchase, so a checkout event all
 * but announces the label (it precedes every purchase, and only 30% of abandoned full carts). A
 * scorer sees the checkout too, but by then the question is answered; what is worth predicting is
 * the intent before it. `truncateAt: []` keeps checkouts in.
 */
import type { LabelConfig } from '../config/schema.js';
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
  truncateAt: Object.freeze(['checkout']) as string[],
});

/** Label and observable prefix of one session (events in event-time order, as the store keeps them). */
export function labelSession(session: Pick<SessionTimeline, 'events'>, labels: LabelConfig): LabeledSession {
  switch (labels.kind) {
    case 'binary': {
      const events = session.events;
      let cutIndex = events.length;
      let cut: CutReason = 'end';
      for (let i = 0; i < events.length; i++) {
        const type = events[i]!.event_type;
        if (type === labels.target) {
          cutIndex = i;
          cut = 'target';
          break;
        }
        if (labels.truncateAt.includes(type)) {
          cutIndex = i;
          cut = 'truncate';
          break;
        }
      }
      let label = cut === 'target' ? 1 : 0;
      if (cut === 'truncate') {
        for (let i = cutIndex + 1; i < events.length && label === 0; i++) {
          if (events[i]!.event_type === labels.target) label = 1;
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
