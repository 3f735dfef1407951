/**
 * The latent purchase-intent model: the generator's ground truth ("oracle").
 *
 * A session is a sequence of browsing steps (page_view, search, product_view,
 * add_to_cart, remove_from_cart). A latent intent `z` evolves step by step and
 * depends on the ORDER and TIMING of the steps, not only on their counts:
 *
 *  - every step the accumulated intent decays (x0.6): recent actions weigh more;
 *  - a gap > 5 min before a step lowers intent (-2.5);
 *  - viewing again an item that was carted <= 5 min ago raises it strongly
 *    (+3.5; an older carted item only +0.3);
 *  - viewing an item AFTER removing it from the cart lowers it (-3.5);
 *  - search -> product_view(x) -> add_to_cart(x), each within 90 s, raises it
 *    (+3.5) far more than a plain add to cart (+0.3, +0.5 right after viewing x);
 *  - removing from the cart lowers it (-0.7); an empty cart at the end too (-1.2).
 *
 * The constants make purchases a minority and leave a clear gap between the oracle and an
 * order-blind logistic regression (the quality tests and docs/trainer.md give the figures).
 *
 * When the session stops browsing, the purchase probability is
 * `(1 - IDLE_SPLIT_PROBABILITY) * sigmoid(BASE + z + context effects)` where the
 * context is the hour of day (UTC, evening up, night down), device, referrer and
 * whether the cookie was seen before. The generator draws the session outcome
 * from exactly this number, so it is P(purchase | everything before the decision).
 */

/** Event types that can occur before the purchase decision. */
export const BROWSE_EVENT_TYPES = [
  'page_view',
  'search',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
] as const;
export type BrowseEventType = (typeof BROWSE_EVENT_TYPES)[number];

export const DEVICES = ['desktop', 'mobile', 'tablet', 'app'] as const;
export type Device = (typeof DEVICES)[number];
export const REFERRERS = ['direct', 'search', 'social', 'email', 'ads', null] as const;
export type Referrer = (typeof REFERRERS)[number];

/** One pre-decision step: event type, item (null where the event has none), event time in epoch ms. */
export interface BehaviourStep {
  type: string;
  itemId: string | null;
  time: number;
}

/** What the model knows about a session besides its steps. */
export interface SessionContext {
  /** UTC hour of day (0-23) at the decision point. */
  hour: number;
  device: string | null;
  referrer: string | null;
  /** Whether the cookie had an earlier session. */
  returning: boolean;
}

/** Probability that a stopped session is really an idle pause (> 30 min) that ends it without a purchase. */
export const IDLE_SPLIT_PROBABILITY = 0.08;
/** Gap before a step above which intent drops. */
export const IDLE_GAP_MS = 5 * 60_000;
/** Window in which viewing a carted item again counts as a strong return. */
export const RETURN_WINDOW_MS = 5 * 60_000;
/** Max gap between the steps of a search -> view -> add chain. */
export const QUICK_STEP_MS = 90_000;

const DECAY = 0.6;
const BASE_LOGIT = -2.8;
const EMPTY_CART_LOGIT = -1.2;

/** Viewing an item after removing it from the cart. */
const K_REMOVED_VIEW = 3.5;
/** Viewing again an item carted <= RETURN_WINDOW_MS ago. */
const K_RETURN = 3.5;
/** search -> product_view(x) -> add_to_cart(x) in quick succession. */
const K_CHAIN = 3.5;
/** A gap > IDLE_GAP_MS before a step. */
const K_IDLE = 2.5;
const DEVICE_EFFECT: Record<string, number> = { app: 0.35, desktop: 0.15, tablet: 0, mobile: -0.25 };
const REFERRER_EFFECT: Record<string, number> = {
  email: 0.35,
  search: 0.15,
  ads: 0.1,
  direct: 0.05,
  social: -0.35,
};

export function hourEffect(hour: number): number {
  if (hour >= 18 && hour <= 22) return 0.45;
  if (hour >= 12 && hour <= 17) return 0.1;
  if (hour <= 5) return -0.6;
  return 0;
}

export function contextLogit(context: SessionContext): number {
  return (
    hourEffect(context.hour) +
    (context.device === null ? 0 : (DEVICE_EFFECT[context.device] ?? 0)) +
    (context.referrer === null ? 0 : (REFERRER_EFFECT[context.referrer] ?? 0)) +
    (context.returning ? 0.25 : 0)
  );
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Incremental form of the intent model; the generator feeds it one step at a time. */
export class IntentTracker {
  /** Accumulated, decayed intent from the steps so far. */
  z = 0;
  steps = 0;
  /** Items in the cart and when they were (last) added (parallel arrays; carts are small). */
  private readonly cart: string[] = [];
  private readonly cartTimes: number[] = [];
  /** Items removed from the cart and not added back. */
  private readonly removed: string[] = [];
  private prevType = '';
  private prevItem: string | null = null;
  private prevTime = 0;
  private prev2Type = '';
  private prev2Time = 0;

  /** Forgets everything (start of a new session). */
  reset(): void {
    this.z = 0;
    this.steps = 0;
    this.cart.length = 0;
    this.cartTimes.length = 0;
    this.removed.length = 0;
    this.prevType = this.prev2Type = '';
    this.prevItem = null;
    this.prevTime = this.prev2Time = 0;
  }

  observe(step: BehaviourStep): void {
    this.observeStep(step.type, step.itemId, step.time);
  }

  observeStep(type: string, itemId: string | null, time: number): void {
    const dt = this.steps === 0 ? 0 : time - this.prevTime;
    let z = this.z * DECAY;
    if (dt > IDLE_GAP_MS) z -= K_IDLE;
    switch (type) {
      case 'page_view':
        z -= 0.05;
        break;
      case 'search':
        z += 0.1;
        break;
      case 'product_view': {
        const c = itemId === null ? -1 : this.cart.indexOf(itemId);
        if (itemId !== null && this.removed.includes(itemId)) {
          z -= K_REMOVED_VIEW;
        } else if (c >= 0) {
          const age = time - (this.cartTimes[c] as number);
          z += age <= RETURN_WINDOW_MS ? K_RETURN : 0.3;
        } else {
          z += 0.05;
        }
        break;
      }
      case 'add_to_cart': {
        const viewedJustBefore = this.prevType === 'product_view' && this.prevItem === itemId;
        const quickChain =
          viewedJustBefore &&
          this.prev2Type === 'search' &&
          dt <= QUICK_STEP_MS &&
          this.prevTime - this.prev2Time <= QUICK_STEP_MS;
        z += quickChain ? K_CHAIN : viewedJustBefore ? 0.5 : 0.3;
        if (itemId !== null) {
          const c = this.cart.indexOf(itemId);
          if (c >= 0) {
            this.cartTimes[c] = time;
          } else {
            this.cart.push(itemId);
            this.cartTimes.push(time);
          }
          const r = this.removed.indexOf(itemId);
          if (r >= 0) this.removed.splice(r, 1);
        }
        break;
      }
      case 'remove_from_cart':
        z -= 0.7;
        if (itemId !== null) {
          const c = this.cart.indexOf(itemId);
          if (c >= 0) {
            this.cart.splice(c, 1);
            this.cartTimes.splice(c, 1);
          }
          if (!this.removed.includes(itemId)) this.removed.push(itemId);
        }
        break;
      default:
        break;
    }
    this.z = z;
    this.prev2Type = this.prevType;
    this.prev2Time = this.prevTime;
    this.prevType = type;
    this.prevItem = itemId;
    this.prevTime = time;
    this.steps++;
  }

  get cartSize(): number {
    return this.cart.length;
  }

  /** Items currently in the cart, in the order first added. */
  cartItems(): string[] {
    return [...this.cart];
  }

  /** P(purchase | steps so far, context) if the session stopped browsing now. */
  probability(context: SessionContext): number {
    const logit =
      BASE_LOGIT + this.z + (this.cart.length === 0 ? EMPTY_CART_LOGIT : 0) + contextLogit(context);
    return (1 - IDLE_SPLIT_PROBABILITY) * sigmoid(logit);
  }
}

/** UTC hour of day (0-23) of an epoch-ms time. */
export function utcHour(time: number): number {
  const h = Math.floor(time / 3_600_000) % 24;
  return h < 0 ? h + 24 : h;
}

/**
 * The oracle: probability that a session whose pre-decision steps are `steps`
 * (in order) ends in a purchase. Pure; the generator uses the same code.
 */
export function purchaseProbability(steps: readonly BehaviourStep[], context: SessionContext): number {
  const tracker = new IntentTracker();
  for (const step of steps) tracker.observe(step);
  return tracker.probability(context);
}

/**
 * Steps from tracker events (e.g. the first `decisionIndex` events of an oracle session). Events are
 * named by `processType` (a taxonomy's, for a shop with its own names); those it maps to null (noise)
 * are not steps.
 */
export function stepsFromEvents(
  events: readonly { event_type: string; item_id: string | null; event_time: number }[],
  processType: (name: string) => string | null = (name) => name,
): BehaviourStep[] {
  const steps: BehaviourStep[] = [];
  for (const e of events) {
    const type = processType(e.event_type);
    if (type !== null) steps.push({ type, itemId: e.item_id, time: e.event_time });
  }
  return steps;
}
