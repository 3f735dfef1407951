import type { TrainerConfig } from '../../src/config/schema.js';
import type { ShopEvent } from '../../src/schemas/types.js';

/**
 * The generator's event names as a foreign shop spells them (no name kept, and their alphabetical
 * order changed), with the roles that map them: a renamed copy of generated data must be encoded,
 * labelled and scored exactly as the original.
 */
export const FOREIGN_EVENT_TYPES: Readonly<Record<string, string>> = {
  page_view: 'home',
  search: 'find',
  product_view: 'pdp',
  add_to_cart: 'basket_add',
  remove_from_cart: 'basket_drop',
  checkout: 'pay_start',
  purchase: 'order_done',
};

export const FOREIGN_ROLES: TrainerConfig['roles'] = {
  productView: ['pdp'],
  addToCart: ['basket_add'],
  removeFromCart: ['basket_drop'],
  checkout: ['pay_start'],
  purchase: ['order_done'],
};

export function renameEvents<E extends Pick<ShopEvent, 'event_type'>>(events: readonly E[]): E[] {
  return events.map((e) => ({ ...e, event_type: FOREIGN_EVENT_TYPES[e.event_type] ?? e.event_type }));
}
