/**
 * One simulated cookie: a lazy state machine that always holds its next event
 * (`pending`, at `nextTime`). The generator pops the cookie with the earliest
 * `nextTime`, emits `pending` and calls `advance()`, which draws the following
 * event, or closes the session (returning its oracle record) and schedules the
 * next one. Memory per cookie is one session's state.
 *
 * Sessions of a cookie are separated by > 30 min; inside a session events are
 * seconds to minutes apart, sometimes 5-25 min (idle, lowers intent), never 30.
 */
import type { ShopEvent } from '../schemas/types.js';
import {
  DEVICES,
  IDLE_SPLIT_PROBABILITY,
  IntentTracker,
  REFERRERS,
  type SessionContext,
} from './behaviour.js';
import type { Catalogue } from './catalogue.js';
import { Rng, fmix32, hash32, hex8 } from './rng.js';
import type { SessionEndItem, SessionOutcome } from './types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Per-step probability that browsing stops (mean ~8 steps per session). */
const STOP_HAZARD = 0.12;
const MAX_BROWSE_STEPS = 60;
const DEVICE_WEIGHTS = [0.35, 0.45, 0.08, 0.12];
const REFERRER_WEIGHTS = [0.3, 0.25, 0.12, 0.08, 0.15, 0.1];

export interface CookieEnv {
  catalogue: Catalogue;
  seed: number;
  startTime: number;
  endTime: number;
  meanSessionGapMs: number;
  emitOracle: boolean;
}

type Phase = 'browse' | 'checkout' | 'purchase' | 'checkout_abandon' | 'bot';

export class Cookie {
  readonly cookieId: string;
  nextTime = 0;
  pending: ShopEvent | null = null;
  done = false;

  private readonly rng: Rng;
  private readonly idPrefix: string;
  private readonly idSalt: number;
  private readonly abGroup: string | null;
  private device: string;
  private counter = 0;
  private sessionSeq = 0;
  // Session state.
  private phase: Phase = 'browse';
  private tracker = new IntentTracker();
  private referrer: string | null = null;
  private returning = false;
  private sessionEvents = 0;
  private firstEventTime = 0;
  private lastTime = 0;
  private eventIds: string[] = [];
  private decision: { index: number; time: number; p: number; context: SessionContext } | null = null;
  private category = 0;
  private lastViewed = -1;
  private cart: number[] = [];
  private cartQty: number[] = [];
  private removed: number[] = [];
  private botLeft = 0;

  constructor(
    readonly index: number,
    readonly isBot: boolean,
    private readonly env: CookieEnv,
  ) {
    this.rng = new Rng(hash32(env.seed, index, 0x636f6f6b));
    const h = fmix32((index ^ fmix32(env.seed ^ 0x1d)) >>> 0);
    this.cookieId = 'ck_' + hex8(h) + hex8(hash32(env.seed, index)).slice(0, 4);
    this.idPrefix = hex8(h ^ 0x5f3759df);
    this.idSalt = hash32(env.seed, index, 0x65766964);
    this.abGroup = this.rng.chance(0.3) ? this.rng.choice(['A', 'B']) : null;
    this.device = isBot ? 'desktop' : this.rng.weightedChoice(DEVICES, DEVICE_WEIGHTS);
    const span = env.endTime - env.startTime;
    if (isBot) {
      this.phase = 'bot';
      this.referrer = null;
      this.botLeft = this.rng.int(2_000, 6_000);
      this.startSession(env.startTime + Math.floor(this.rng.float(0, 0.6) * span));
    } else {
      this.startSession(env.startTime + Math.floor(this.rng.float(0, Math.min(span, env.meanSessionGapMs))));
    }
  }

  /** Draws the event after `pending`; returns the oracle record when that closed a session. */
  advance(): SessionEndItem | null {
    const rng = this.rng;
    const t = this.lastTime;
    switch (this.phase) {
      case 'bot':
        if (--this.botLeft <= 0) return this.endSession('bot', 0, false);
        this.botStep(t + rng.int(800, 4_000));
        return null;
      case 'checkout':
        this.phase = 'purchase';
        this.setPending(this.orderEvent('purchase', t + rng.int(15_000, 180_000)));
        return null;
      case 'purchase':
        return this.endSession('purchase', this.decision?.p ?? 0, true);
      case 'checkout_abandon':
        return this.endSession('checkout_abandon', this.decision?.p ?? 0, false);
      case 'browse':
        break;
    }
    if (this.sessionEvents < MAX_BROWSE_STEPS && !rng.chance(STOP_HAZARD)) {
      this.browseStep(t + this.browseGap());
      return null;
    }
    // Browsing stops: the purchase decision, drawn from the oracle probability.
    const context: SessionContext = {
      hour: new Date(t).getUTCHours(),
      device: this.device,
      referrer: this.referrer,
      returning: this.returning,
    };
    const p = this.tracker.probability(context);
    this.decision = { index: this.sessionEvents, time: t, p, context };
    const u = rng.uniform();
    if (u < p) {
      this.phase = 'checkout';
      this.setPending(this.orderEvent('checkout', t + rng.int(10_000, 90_000)));
      return null;
    }
    if (u < p + IDLE_SPLIT_PROBABILITY) return this.endSession('idle_split', p, false);
    if (this.cart.length > 0 && rng.chance(0.3)) {
      this.phase = 'checkout_abandon';
      this.setPending(this.orderEvent('checkout', t + rng.int(10_000, 90_000)));
      return null;
    }
    return this.endSession('abandon', p, false);
  }

  private startSession(time: number): void {
    const rng = this.rng;
    this.sessionSeq++;
    this.tracker = new IntentTracker();
    this.sessionEvents = 0;
    this.firstEventTime = time;
    this.eventIds = [];
    this.decision = null;
    this.cart = [];
    this.cartQty = [];
    this.removed = [];
    this.lastViewed = -1;
    if (this.isBot) {
      this.botStep(time);
      return;
    }
    this.phase = 'browse';
    if (rng.chance(0.1)) this.device = rng.weightedChoice(DEVICES, DEVICE_WEIGHTS);
    this.referrer = rng.weightedChoice(REFERRERS, REFERRER_WEIGHTS);
    this.category = this.env.catalogue.itemCategory[this.env.catalogue.sampleItem(rng)] as number;
    const r = rng.uniform();
    if (r < 0.55) this.browse('page_view', -1, time);
    else if (r < 0.75) this.browse('search', -1, time);
    else this.browse('product_view', this.newItem(), time);
  }

  private endSession(outcome: SessionOutcome, p: number, purchased: boolean): SessionEndItem | null {
    const rng = this.rng;
    const last = this.lastTime;
    const record: SessionEndItem | null = this.env.emitOracle
      ? {
          kind: 'session_end',
          cookie_id: this.cookieId,
          sessionKey: `${this.cookieId}#${this.sessionSeq}`,
          firstEventTime: this.firstEventTime,
          lastEventTime: last,
          decisionTime: this.decision?.time ?? last,
          decisionIndex: this.decision?.index ?? this.sessionEvents,
          purchaseProbability: p,
          purchased,
          outcome,
          bot: this.isBot,
          context: this.decision?.context ?? {
            hour: new Date(last).getUTCHours(),
            device: this.device,
            referrer: this.referrer,
            returning: this.returning,
          },
          eventIds: this.eventIds,
        }
      : null;
    this.pending = null;
    this.returning = true;
    let next: number;
    if (this.isBot) {
      next = Number.POSITIVE_INFINITY;
    } else if (outcome === 'idle_split') {
      next = last + rng.int(31 * MINUTE, 2 * HOUR);
    } else {
      next = last + this.sessionGap();
      // Fewer sessions start at night (01-06 UTC).
      const hour = new Date(next).getUTCHours();
      if (hour >= 1 && hour < 6 && rng.chance(0.6)) next += this.sessionGap();
    }
    if (next >= this.env.endTime) this.done = true;
    else this.startSession(next);
    return record;
  }

  private sessionGap(): number {
    const rng = this.rng;
    if (rng.chance(0.3)) return rng.int(31 * MINUTE, 2 * HOUR);
    return 31 * MINUTE + Math.floor(rng.exponential(this.env.meanSessionGapMs));
  }

  /** Gap before the next browsing step: mostly seconds to a few minutes, sometimes an idle 5.5-25 min. */
  private browseGap(): number {
    const rng = this.rng;
    if (rng.chance(0.05)) return rng.int(5.5 * MINUTE, 25 * MINUTE);
    const g = Math.exp(rng.normal(Math.log(25_000), 0.8));
    return Math.min(4 * MINUTE, Math.max(1_000, Math.floor(g)));
  }

  private newItem(): number {
    const cat = this.env.catalogue;
    return this.rng.chance(0.7)
      ? cat.sampleItemInCategory(this.rng, this.category)
      : cat.sampleItem(this.rng);
  }

  /** Chooses and stages the next browsing step (a Markov chain on the previous step and cart state). */
  private browseStep(time: number): void {
    const rng = this.rng;
    const prev = this.pending?.event_type ?? 'page_view';
    const hasCart = this.cart.length > 0;
    const hasRemoved = this.removed.length > 0;
    const canAdd = this.lastViewed >= 0 && !this.cart.includes(this.lastViewed);
    // Weights: page_view, search, view new, view carted, view removed, add, remove.
    let w: [number, number, number, number, number, number, number];
    switch (prev) {
      case 'search':
        w = [0.08, 0.15, 0.77, 0, 0, 0, 0];
        break;
      case 'product_view':
        w = [0.1, 0.12, 0.36, 0.08, 0.04, 0.24, 0.06];
        break;
      case 'add_to_cart':
        w = [0.12, 0.15, 0.4, 0.25, 0, 0, 0.08];
        break;
      case 'remove_from_cart':
        w = [0.15, 0.15, 0.4, 0.05, 0.25, 0, 0];
        break;
      default:
        w = [0.2, 0.25, 0.5, 0.05, 0, 0, 0];
    }
    if (!hasCart) w[3] = w[6] = 0;
    if (!hasRemoved) w[4] = 0;
    if (!canAdd) w[5] = 0;
    const total = w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6];
    let x = rng.uniform() * total;
    let action = 0;
    while (action < 6 && x >= w[action]!) x -= w[action++]!;
    if (action === 6 && !hasCart) action = 2; // floating-point edge: never remove from an empty cart
    switch (action) {
      case 0:
        this.browse('page_view', -1, time);
        break;
      case 1:
        this.category = this.env.catalogue.itemCategory[this.env.catalogue.sampleItem(rng)] as number;
        this.browse('search', -1, time);
        break;
      case 2:
        this.browse('product_view', this.newItem(), time);
        break;
      case 3:
        this.browse('product_view', rng.choice(this.cart), time);
        break;
      case 4:
        this.browse('product_view', rng.choice(this.removed), time);
        break;
      case 5: {
        const item = this.lastViewed;
        const qty = rng.chance(0.85) ? 1 : rng.int(2, 3);
        this.cart.push(item);
        this.cartQty.push(qty);
        const r = this.removed.indexOf(item);
        if (r >= 0) this.removed.splice(r, 1);
        this.browse('add_to_cart', item, time, qty);
        break;
      }
      default: {
        const i = rng.int(0, this.cart.length - 1);
        const item = this.cart[i] as number;
        const qty = this.cartQty[i] as number;
        this.cart.splice(i, 1);
        this.cartQty.splice(i, 1);
        this.removed.push(item);
        this.browse('remove_from_cart', item, time, qty);
      }
    }
  }

  private browse(type: string, item: number, time: number, qty: number | null = null): void {
    const cat = this.env.catalogue;
    const itemId = item >= 0 ? (cat.itemIds[item] as string) : null;
    this.tracker.observe({ type, itemId, time });
    if (type === 'product_view') this.lastViewed = item;
    let pageType: string;
    let categoryId: string | null = null;
    if (type === 'page_view') {
      const r = this.sessionEvents === 0 ? 0 : this.rng.uniform();
      pageType = r < 0.25 ? 'home' : r < 0.85 ? 'category' : 'content';
      if (pageType === 'category') categoryId = cat.categoryIds[this.category] as string;
    } else if (type === 'search') {
      pageType = 'search';
    } else {
      pageType = type === 'remove_from_cart' ? 'cart' : 'product';
      categoryId = cat.categoryIds[cat.itemCategory[item] as number] as string;
    }
    const price = item >= 0 ? (cat.itemPrice[item] as number) : null;
    this.setPending(this.makeEvent(type, time, itemId, categoryId, price, qty, pageType, null));
  }

  private botStep(time: number): void {
    const cat = this.env.catalogue;
    if (this.rng.chance(0.3)) {
      const c = this.rng.int(0, cat.categoryCount - 1);
      this.setPending(
        this.makeEvent('page_view', time, null, cat.categoryIds[c] as string, null, null, 'category', null),
      );
      return;
    }
    const item = this.rng.int(0, cat.itemCount - 1);
    const categoryId = cat.categoryIds[cat.itemCategory[item] as number] as string;
    const price = cat.itemPrice[item] as number;
    this.setPending(
      this.makeEvent(
        'product_view',
        time,
        cat.itemIds[item] as string,
        categoryId,
        price,
        null,
        'product',
        null,
      ),
    );
  }

  /** checkout / purchase of the whole cart (or of the last viewed item when the cart is empty). */
  private orderEvent(type: 'checkout' | 'purchase', time: number): ShopEvent {
    const cat = this.env.catalogue;
    let total = 0;
    let qty = 0;
    const items = this.cart.length > 0 ? this.cart : this.lastViewed >= 0 ? [this.lastViewed] : [];
    for (let i = 0; i < items.length; i++) {
      const q = this.cart.length > 0 ? (this.cartQty[i] as number) : 1;
      total += (cat.itemPrice[items[i] as number] as number) * q;
      qty += q;
    }
    const single = items.length === 1 ? (items[0] as number) : -1;
    const extras = type === 'purchase' ? { order_id: 'o' + hex8(hash32(this.idSalt, this.counter)) } : null;
    return this.makeEvent(
      type,
      time,
      single >= 0 ? (cat.itemIds[single] as string) : null,
      single >= 0 ? (cat.categoryIds[cat.itemCategory[single] as number] as string) : null,
      Math.round(total * 100) / 100,
      qty,
      type === 'purchase' ? 'confirmation' : 'checkout',
      extras,
    );
  }

  private makeEvent(
    type: string,
    time: number,
    itemId: string | null,
    categoryId: string | null,
    price: number | null,
    quantity: number | null,
    pageType: string,
    extra: Record<string, string> | null,
  ): ShopEvent {
    const extras: Record<string, string> = this.abGroup === null ? {} : { ab_test: this.abGroup };
    if (extra !== null) Object.assign(extras, extra);
    const eventId = this.idPrefix + hex8(fmix32((this.counter++ ^ this.idSalt) >>> 0));
    return {
      cookie_id: this.cookieId,
      event_id: eventId,
      event_type: type,
      event_time: time,
      item_id: itemId,
      category_id: categoryId,
      price,
      quantity,
      page_type: pageType,
      device: this.device,
      referrer: this.referrer,
      extras,
    };
  }

  private setPending(event: ShopEvent): void {
    this.pending = event;
    this.nextTime = event.event_time;
    this.lastTime = event.event_time;
    if (this.sessionEvents === 0) this.firstEventTime = event.event_time;
    this.sessionEvents++;
    if (this.env.emitOracle) this.eventIds.push(event.event_id);
  }
}
