/**
 * Roles: what the product reasons about, whatever a shop calls its events. A shop names its events
 * its own way (`home`, `cart`, `payment_done`, …); the roles say which of those names mean a product
 * view, an add to cart, a removal from the cart, a checkout and a purchase. Session-state features,
 * the label target and its truncation read roles, never event names, and the encoder stores the roles
 * it was fitted with, so the scorer applies exactly the trainer's. The defaults are the generator's
 * names.
 */

export const ROLE_NAMES = ['productView', 'addToCart', 'removeFromCart', 'checkout', 'purchase'] as const;
export type Role = (typeof ROLE_NAMES)[number];

/** Role → the shop's event types that play it (an event type plays at most one role). */
export type EventRoles = Readonly<Record<Role, readonly string[]>>;

export const DEFAULT_ROLES: EventRoles = Object.freeze({
  productView: Object.freeze(['product_view']),
  addToCart: Object.freeze(['add_to_cart']),
  removeFromCart: Object.freeze(['remove_from_cart']),
  checkout: Object.freeze(['checkout']),
  purchase: Object.freeze(['purchase']),
});

/** Event types named by more than one role, as "type (roleA, roleB)"; empty when the roles are sound. */
export function conflictingRoles(roles: EventRoles): string[] {
  const rolesOf = new Map<string, Role[]>();
  for (const role of ROLE_NAMES) {
    for (const type of roles[role]) rolesOf.set(type, [...(rolesOf.get(type) ?? []), role]);
  }
  return [...rolesOf].filter(([, r]) => r.length > 1).map(([type, r]) => `${type} (${r.join(', ')})`);
}

/** Event type → role lookup. */
export class RoleMap {
  private readonly byType = new Map<string, Role>();

  constructor(readonly roles: EventRoles) {
    const conflicts = conflictingRoles(roles);
    if (conflicts.length > 0) {
      throw new RangeError(`an event type can play one role only: ${conflicts.join('; ')}`);
    }
    for (const role of ROLE_NAMES) for (const type of roles[role]) this.byType.set(type, role);
  }

  /** The role an event type plays, or undefined for the shop's other events. */
  roleOf(type: string): Role | undefined {
    return this.byType.get(type);
  }

  /** The event types of a set of roles. */
  typesOf(roles: readonly Role[]): Set<string> {
    return new Set(roles.flatMap((r) => this.roles[r]));
  }
}
