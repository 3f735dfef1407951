/**
 * One simulated cookie: a lazy state machine that always holds its next event,
 * staged as plain fields at `nextTime`. The generator pops the cookie with the
 * earliest `nextTime`, materialises the event with `takeEvent()` (so event
 * objects are born just before they are emitted and die young) and calls
 * `advance()`, which stages the following event, or closes the session
 * (returning its oracle record) and schedules the next one. Memory per cookie
 * is one session's state.
 *
 * Sessions of a cookie are separated by > 30 min; inside a session events are
 * seconds to minutes apart, sometimes 5-25 min (idle, lowers intent), never 30.
 * When browsing stops (hazard STOP_HAZARD per step), the session's outcome is
 * drawn once: purchase (checkout, then purchase) with the oracle probability p,
 * an idle split (> 30 min pause, so a new session) with IDLE_SPLIT_PROBABILITY,
 * otherwise abandonment (with a checkout event 30% of the time if the cart is full).
 */
import type { ShopEvent } from '../schemas/types.js';
import { Rng, fmix32, hash32, hex8 } from '../util/random.js';
import { DEVICES, IDLE_SPLIT_PROBABILITY, REFERRERS, type SessionContext, utcHour } from './behaviour.js';
import { Shopper, StagedEvent } from './browse.js';
import type { Catalogue } from './catalogue.js';
import type { Taxonomy } from './taxonomy.js';
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
  /** The shop's names and noise events; null for ours (no noise, no renaming). */
  taxonomy: Taxonomy | null;
}

type Phase = 'browse' | 'checkout' | 'purchase' | 'checkout_abandon' | 'bot';

export class Cookie {
  readonly cookieId: string;
  /** True once the cookie has no more events. */
  done = false;

  private readonly rng: Rng;
  private readonly idPrefix: string;
  private readonly idSalt: number;
  private readonly abGroup: string | null;
  private readonly staged = new StagedEvent();
  private readonly shopper: Shopper;
  private device: string;
  private counter = 0;
  private sessionSeq = 0;
  // Session state.
  private phase: Phase = 'browse';
  private referrer: string | null = null;
  private returning = false;
  private sessionEvents = 0;
  private firstEventTime = 0;
  private eventIds: string[] = [];
  private decision: { index: number; time: number; p: number; context: SessionContext } | null = null;
  private botLeft = 0;
  // Noise events (taxonomies with noise): drawn from their own stream, so the shopping process and its
  // oracle are the same as without them; one may wait, staged, before the next real event.
  private readonly noiseRng: Rng | null;
  private noise: { time: number; name: string } | null = null;
  private tookNoise = false;
  private noiseInSession = 0;

  constructor(
    readonly index: number,
    readonly isBot: boolean,
    private readonly env: CookieEnv,
  ) {
    this.rng = new Rng(hash32(env.seed, index, 0x636f6f6b));
    this.shopper = new Shopper(env.catalogue, this.staged);
    this.noiseRng =
      env.taxonomy && env.taxonomy.noiseRate > 0 ? new Rng(hash32(env.seed, index, 0x6e6f6973)) : null;
    const h = fmix32((index ^ fmix32(env.seed ^ 0x1d)) >>> 0);
    this.cookieId = 'ck_' + hex8(h) + hex8(hash32(env.seed, index)).slice(0, 4);
    this.idPrefix = hex8(h ^ 0x5f3759df);
    this.idSalt = hash32(env.seed, index, 0x65766964);
    this.abGroup = this.rng.chance(0.3) ? this.rng.choice(['A', 'B']) : null;
    this.device = isBot ? 'desktop' : this.rng.weightedChoice(DEVICES, DEVICE_WEIGHTS);
    const span = env.endTime - env.startTime;
    if (isBot) {
      this.phase = 'bot';
      this.botLeft = this.rng.int(2_000, 6_000);
      this.startSession(env.startTime + Math.floor(this.rng.float(0, 0.6) * span));
    } else {
      this.startSession(env.startTime + Math.floor(this.rng.float(0, Math.min(span, env.meanSessionGapMs))));
    }
  }

  /** Event time of the staged event. */
  get nextTime(): number {
    return this.noise === null ? this.staged.time : this.noise.time;
  }

  /** The shop's id of the session the next event belongs to. */
  get sessionKey(): string {
    return `${this.cookieId}#${this.sessionSeq}`;
  }

  /** The staged event as a fresh ShopEvent (call once per staged event, before `advance()`). */
  takeEvent(): ShopEvent {
    if (this.noise !== null) return this.takeNoise(this.noise);
    const e = this.staged;
    const extras: Record<string, string> = this.abGroup === null ? {} : { ab_test: this.abGroup };
    if (e.order) extras['order_id'] = 'o' + hex8(hash32(this.idSalt, this.counter));
    const eventId = this.idPrefix + hex8(fmix32((this.counter++ ^ this.idSalt) >>> 0));
    if (this.env.emitOracle) this.eventIds.push(eventId);
    return {
      cookie_id: this.cookieId,
      event_id: eventId,
      event_type: this.env.taxonomy === null ? e.type : this.env.taxonomy.eventName(e.type, e.pageType),
      event_time: e.time,
      item_id: e.item >= 0 ? (this.env.catalogue.itemIds[e.item] as string) : null,
      category_id: e.categoryId,
      price: e.price,
      quantity: e.quantity,
      page_type: e.pageType,
      device: this.device,
      referrer: this.referrer,
      extras,
    };
  }

  /** Stages the event after the one just taken; returns the oracle record when that closed a session. */
  advance(): SessionEndItem | null {
    if (this.tookNoise) {
      this.tookNoise = false;
      this.noise = null;
      return null;
    }
    if (this.noiseRng === null) return this.advanceProcess();
    const t = this.staged.time;
    const session = this.sessionSeq;
    const record = this.advanceProcess();
    const gap = this.staged.time - t;
    // Noise only inside a human session, strictly between two of its events.
    if (!this.done && !this.isBot && session === this.sessionSeq && gap >= 2) {
      const rng = this.noiseRng;
      const taxonomy = this.env.taxonomy as Taxonomy;
      if (rng.chance(taxonomy.noiseRate)) {
        this.noise = { time: t + rng.int(1, gap - 1), name: rng.choice(taxonomy.noiseEvents) };
      }
    }
    return record;
  }

  /** A noise event: same cookie, device and referrer, no item. */
  private takeNoise(noise: { time: number; name: string }): ShopEvent {
    this.tookNoise = true;
    this.noiseInSession++;
    const eventId = this.idPrefix + hex8(fmix32((this.counter++ ^ this.idSalt) >>> 0));
    if (this.env.emitOracle) this.eventIds.push(eventId);
    return {
      cookie_id: this.cookieId,
      event_id: eventId,
      event_type: noise.name,
      event_time: noise.time,
      item_id: null,
      category_id: null,
      price: null,
      quantity: null,
      page_type: null,
      device: this.device,
      referrer: this.referrer,
      extras: this.abGroup === null ? {} : { ab_test: this.abGroup },
    };
  }

  private advanceProcess(): SessionEndItem | null {
    const rng = this.rng;
    const t = this.staged.time;
    switch (this.phase) {
      case 'bot':
        if (--this.botLeft <= 0) return this.endSession('bot', 0, false);
        this.shopper.bot(rng, t + rng.int(800, 4_000));
        this.sessionEvents++;
        return null;
      case 'checkout':
        this.phase = 'purchase';
        this.shopper.order('purchase', t + rng.int(15_000, 180_000));
        this.sessionEvents++;
        return null;
      case 'purchase':
        return this.endSession('purchase', this.decision?.p ?? 0, true);
      case 'checkout_abandon':
        return this.endSession('checkout_abandon', this.decision?.p ?? 0, false);
      case 'browse':
        break;
    }
    if (this.sessionEvents < MAX_BROWSE_STEPS && !rng.chance(STOP_HAZARD)) {
      this.shopper.next(rng, t + this.shopper.gap(rng));
      this.sessionEvents++;
      return null;
    }
    // Browsing stops: the purchase decision, drawn from the oracle probability.
    const context: SessionContext = {
      hour: utcHour(t),
      device: this.device,
      referrer: this.referrer,
      returning: this.returning,
    };
    const p = this.shopper.tracker.probability(context);
    this.decision = { index: this.sessionEvents + this.noiseInSession, time: t, p, context };
    const u = rng.uniform();
    if (u < p) {
      this.phase = 'checkout';
    } else if (u < p + IDLE_SPLIT_PROBABILITY) {
      return this.endSession('idle_split', p, false);
    } else if (this.shopper.cartSize > 0 && rng.chance(0.3)) {
      this.phase = 'checkout_abandon';
    } else {
      return this.endSession('abandon', p, false);
    }
    this.shopper.order('checkout', t + rng.int(10_000, 90_000));
    this.sessionEvents++;
    return null;
  }

  private startSession(time: number): void {
    const rng = this.rng;
    this.sessionSeq++;
    this.shopper.reset();
    this.sessionEvents = 1;
    this.noiseInSession = 0;
    this.firstEventTime = time;
    this.eventIds = [];
    this.decision = null;
    if (this.isBot) {
      this.shopper.bot(rng, time);
      return;
    }
    this.phase = 'browse';
    if (rng.chance(0.1)) this.device = rng.weightedChoice(DEVICES, DEVICE_WEIGHTS);
    this.referrer = rng.weightedChoice(REFERRERS, REFERRER_WEIGHTS);
    this.shopper.first(rng, time);
  }

  private endSession(outcome: SessionOutcome, p: number, purchased: boolean): SessionEndItem | null {
    const rng = this.rng;
    const last = this.staged.time;
    const record: SessionEndItem | null = this.env.emitOracle
      ? {
          kind: 'session_end',
          cookie_id: this.cookieId,
          sessionKey: `${this.cookieId}#${this.sessionSeq}`,
          firstEventTime: this.firstEventTime,
          lastEventTime: last,
          decisionTime: this.decision?.time ?? last,
          decisionIndex: this.decision?.index ?? this.sessionEvents + this.noiseInSession,
          purchaseProbability: p,
          purchased,
          outcome,
          bot: this.isBot,
          context: this.decision?.context ?? {
            hour: utcHour(last),
            device: this.device,
            referrer: this.referrer,
            returning: this.returning,
          },
          eventIds: this.eventIds,
        }
      : null;
    this.returning = true;
    let next: number;
    if (this.isBot) {
      next = Number.POSITIVE_INFINITY;
    } else if (outcome === 'idle_split') {
      next = last + rng.int(31 * MINUTE, 2 * HOUR);
    } else {
      next = last + this.sessionGap();
      // Fewer sessions start at night (01-06 UTC).
      const hour = utcHour(next);
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
}
