import type { Rng } from '../util/random.js';
/**
 * What a shopper does inside one session: a Markov chain on the previous event
 * type and the cart state, which stages each chosen event (as plain fields, see
 * `StagedEvent`) and feeds it to the session's `IntentTracker`. The chain itself
 * does not look at the intent: intent only decides the session's outcome.
 */
import { IntentTracker } from './behaviour.js';
import type { Catalogue } from './catalogue.js';

const MINUTE = 60_000;

/** The next event of a cookie, kept as plain fields until it is emitted. */
export class StagedEvent {
  type = '';
  time = 0;
  /** Catalogue index of the item, -1 for none. */
  item = -1;
  categoryId: string | null = null;
  price: number | null = null;
  quantity: number | null = null;
  pageType = '';
  /** Whether the event carries an order id (purchase). */
  order = false;
}

export class Shopper {
  readonly tracker = new IntentTracker();
  /** Interest category: where category pages and most product views go. */
  private category = 0;
  private lastViewed = -1;
  private readonly cart: number[] = [];
  private readonly cartQty: number[] = [];
  private readonly removed: number[] = [];

  constructor(
    private readonly catalogue: Catalogue,
    private readonly out: StagedEvent,
  ) {}

  get cartSize(): number {
    return this.cart.length;
  }

  /** Forgets the previous session. */
  reset(): void {
    this.tracker.reset();
    this.cart.length = 0;
    this.cartQty.length = 0;
    this.removed.length = 0;
    this.lastViewed = -1;
  }

  /** Stages a session's landing event. */
  first(rng: Rng, time: number): void {
    this.category = this.catalogue.itemCategory[this.catalogue.sampleItem(rng)] as number;
    const r = rng.uniform();
    if (r < 0.55) this.browse(rng, 'page_view', -1, time);
    else if (r < 0.75) this.browse(rng, 'search', -1, time);
    else this.browse(rng, 'product_view', this.newItem(rng), time);
  }

  /** Gap before the next browsing step: mostly seconds to a few minutes, sometimes an idle 5.5-25 min. */
  gap(rng: Rng): number {
    if (rng.chance(0.05)) return rng.int(5.5 * MINUTE, 25 * MINUTE);
    const g = Math.exp(rng.normal(Math.log(25_000), 0.8));
    return Math.min(4 * MINUTE, Math.max(1_000, Math.floor(g)));
  }

  /** Chooses and stages the browsing step after `this.out` (the step just emitted). */
  next(rng: Rng, time: number): void {
    const prev = this.out.type;
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
        this.browse(rng, 'page_view', -1, time);
        break;
      case 1:
        this.category = this.catalogue.itemCategory[this.catalogue.sampleItem(rng)] as number;
        this.browse(rng, 'search', -1, time);
        break;
      case 2:
        this.browse(rng, 'product_view', this.newItem(rng), time);
        break;
      case 3:
        this.browse(rng, 'product_view', rng.choice(this.cart), time);
        break;
      case 4:
        this.browse(rng, 'product_view', rng.choice(this.removed), time);
        break;
      case 5: {
        const item = this.lastViewed;
        const qty = rng.chance(0.85) ? 1 : rng.int(2, 3);
        this.cart.push(item);
        this.cartQty.push(qty);
        const r = this.removed.indexOf(item);
        if (r >= 0) this.removed.splice(r, 1);
        this.browse(rng, 'add_to_cart', item, time, qty);
        break;
      }
      default: {
        const i = rng.int(0, this.cart.length - 1);
        const item = this.cart[i] as number;
        const qty = this.cartQty[i] as number;
        this.cart.splice(i, 1);
        this.cartQty.splice(i, 1);
        this.removed.push(item);
        this.browse(rng, 'remove_from_cart', item, time, qty);
      }
    }
  }

  /** Stages checkout / purchase of the whole cart (or of the last viewed item when the cart is empty). */
  order(type: 'checkout' | 'purchase', time: number): void {
    const cat = this.catalogue;
    let total = 0;
    let qty = 0;
    const items = this.cart.length > 0 ? this.cart : this.lastViewed >= 0 ? [this.lastViewed] : [];
    for (let i = 0; i < items.length; i++) {
      const q = this.cart.length > 0 ? (this.cartQty[i] as number) : 1;
      total += (cat.itemPrice[items[i] as number] as number) * q;
      qty += q;
    }
    const single = items.length === 1 ? (items[0] as number) : -1;
    this.stage(
      type,
      time,
      single,
      single >= 0 ? (cat.categoryIds[cat.itemCategory[single] as number] as string) : null,
      Math.round(total * 100) / 100,
      qty,
      type === 'purchase' ? 'confirmation' : 'checkout',
      type === 'purchase',
    );
  }

  /** Stages one step of a crawler: category pages and uniformly random product pages. */
  bot(rng: Rng, time: number): void {
    const cat = this.catalogue;
    if (rng.chance(0.3)) {
      const c = rng.int(0, cat.categoryCount - 1);
      this.stage('page_view', time, -1, cat.categoryIds[c] as string, null, null, 'category', false);
      return;
    }
    const item = rng.int(0, cat.itemCount - 1);
    const categoryId = cat.categoryIds[cat.itemCategory[item] as number] as string;
    this.stage('product_view', time, item, categoryId, cat.itemPrice[item] as number, null, 'product', false);
  }

  private newItem(rng: Rng): number {
    const cat = this.catalogue;
    return rng.chance(0.7) ? cat.sampleItemInCategory(rng, this.category) : cat.sampleItem(rng);
  }

  private browse(rng: Rng, type: string, item: number, time: number, qty: number | null = null): void {
    const cat = this.catalogue;
    this.tracker.observeStep(type, item >= 0 ? (cat.itemIds[item] as string) : null, time);
    if (type === 'product_view') this.lastViewed = item;
    let pageType: string;
    let categoryId: string | null = null;
    if (type === 'page_view') {
      const r = this.tracker.steps === 1 ? 0 : rng.uniform();
      pageType = r < 0.25 ? 'home' : r < 0.85 ? 'category' : 'content';
      if (pageType === 'category') categoryId = cat.categoryIds[this.category] as string;
    } else if (type === 'search') {
      pageType = 'search';
    } else {
      pageType = type === 'remove_from_cart' ? 'cart' : 'product';
      categoryId = cat.categoryIds[cat.itemCategory[item] as number] as string;
    }
    const price = item >= 0 ? (cat.itemPrice[item] as number) : null;
    this.stage(type, time, item, categoryId, price, qty, pageType, false);
  }

  private stage(
    type: string,
    time: number,
    item: number,
    categoryId: string | null,
    price: number | null,
    quantity: number | null,
    pageType: string,
    order: boolean,
  ): void {
    const out = this.out;
    out.type = type;
    out.time = time;
    out.item = item;
    out.categoryId = categoryId;
    out.price = price;
    out.quantity = quantity;
    out.pageType = pageType;
    out.order = order;
  }
}
