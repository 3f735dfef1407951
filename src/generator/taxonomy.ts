/**
 * Event vocabularies of simulated shops. The shopping process (browse.ts, cookie.ts) and its oracle
 * (behaviour.ts) are the same for every shop; a taxonomy only decides what the events are called,
 * adds events that say nothing about intent, and whether file output carries the shop's own session
 * id. `ours` is the product's own naming (the default: output identical to the generator without
 * taxonomies); `shop2` names everything differently, so tests exercise a shop whose names the product
 * has never seen and must learn through roles.
 */

export const TAXONOMY_NAMES = ['ours', 'shop2'] as const;
export type TaxonomyName = (typeof TAXONOMY_NAMES)[number];

/** What the product reasons about, by the shop's names (the shape of the `roles` config section). */
export interface ShopRoles {
  productView: readonly string[];
  addToCart: readonly string[];
  removeFromCart: readonly string[];
  checkout: readonly string[];
  purchase: readonly string[];
}

export interface Taxonomy {
  readonly name: TaxonomyName;
  /** The shop's name for a step of the process: our event type and the page it was on. */
  eventName(type: string, pageType: string): string;
  /** Back to the process's event type; null for an event the process does not know (noise). */
  processType(name: string): string | null;
  /** Events unrelated to intent, sprinkled between a session's events. */
  readonly noiseEvents: readonly string[];
  /** Probability of a noise event after each event of a human session (before the next one). */
  readonly noiseRate: number;
  /** Whether file output carries a `session_id` column (the shop's own session id). */
  readonly sessionIdColumn: boolean;
  readonly roles: ShopRoles;
}

/** Our names, for comparison: the generator's default output. */
export const OUR_ROLES: ShopRoles = {
  productView: ['product_view'],
  addToCart: ['add_to_cart'],
  removeFromCart: ['remove_from_cart'],
  checkout: ['checkout'],
  purchase: ['purchase'],
};

/** shop2's names for our process's steps; page views are split by the page they land on. */
const SHOP2_NAMES: Record<string, string> = {
  search: 'search_query',
  product_view: 'product_page',
  add_to_cart: 'basket_add',
  remove_from_cart: 'basket_remove',
  checkout: 'checkout_start',
  purchase: 'payment_done',
};
const SHOP2_PAGE_VIEWS: Record<string, string> = {
  home: 'home',
  category: 'catalog',
  content: 'content_page',
};

/** Which of shop2's names mean what the product reasons about (for a `roles` config in tests). */
export const SHOP2_ROLES: ShopRoles = {
  productView: ['product_page'],
  addToCart: ['basket_add'],
  removeFromCart: ['basket_remove'],
  checkout: ['checkout_start'],
  purchase: ['payment_done'],
};

/** shop2's events that carry no purchase intent. */
export const SHOP2_NOISE_EVENTS = [
  'filter_results',
  'wishlist',
  'newsletter_popup',
  'cookie_consent',
  'image_zoom',
  'size_guide',
  'review_read',
  'share_click',
  'chat_open',
  'recommendation_impression',
  'scroll_depth',
] as const;

/** Every name shop2 uses. */
export const SHOP2_EVENT_TYPES: readonly string[] = [
  ...Object.values(SHOP2_PAGE_VIEWS),
  ...Object.values(SHOP2_NAMES),
  ...SHOP2_NOISE_EVENTS,
];

const SHOP2_PROCESS_TYPE = new Map<string, string>([
  ...Object.entries(SHOP2_NAMES).map(([ours, theirs]) => [theirs, ours] as [string, string]),
  ...Object.values(SHOP2_PAGE_VIEWS).map((theirs) => [theirs, 'page_view'] as [string, string]),
]);

const OURS: Taxonomy = {
  name: 'ours',
  eventName: (type) => type,
  processType: (name) => name,
  noiseEvents: [],
  noiseRate: 0,
  sessionIdColumn: false,
  roles: OUR_ROLES,
};

const SHOP2: Taxonomy = {
  name: 'shop2',
  eventName: (type, pageType) =>
    type === 'page_view' ? (SHOP2_PAGE_VIEWS[pageType] ?? 'home') : (SHOP2_NAMES[type] ?? type),
  processType: (name) => SHOP2_PROCESS_TYPE.get(name) ?? null,
  noiseEvents: SHOP2_NOISE_EVENTS,
  noiseRate: 0.25,
  sessionIdColumn: true,
  roles: SHOP2_ROLES,
};

export function taxonomyOf(name: TaxonomyName): Taxonomy {
  switch (name) {
    case 'ours':
      return OURS;
    case 'shop2':
      return SHOP2;
    default:
      throw new RangeError(`unknown taxonomy ${JSON.stringify(name)}: one of ${TAXONOMY_NAMES.join(', ')}`);
  }
}
