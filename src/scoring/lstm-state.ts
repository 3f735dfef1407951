/** The per-session state of the LSTM step model (lstm-model.ts). */
import type { ItemState, ItemStore } from '../features/index.js';

/** Distinct items a session keeps in a flat array before switching to a Map (bots meet thousands). */
const FEW_ITEMS = 16;
const CARTED = 1;
const REMOVED = 2;

/**
 * One session's state, mutable: `step` advances it in place (see StepModel.step). 500,000 of them
 * must fit next to the buffered events, so: h/c are a slice of a shared slab (no typed array per
 * session), and the state itself is the encoder's item store, a flat [item, flags, cartedAt, …] array
 * while the session met few items (no object per item; a Map costs ~300 bytes even when nearly empty).
 */
export class LstmState implements ItemStore {
  /** Encoder state: events encoded so far and items in the cart. */
  steps = 0;
  cartSize = 0;
  private met: (string | number)[] | Map<string, ItemState> | undefined = undefined;

  constructor(
    /** The slab holding [h, c] of layer 0, then of layer 1, … at `at`; float32 like tfjs's. */
    readonly slab: Float32Array,
    readonly at: number,
  ) {}

  /** The item's state as a fresh object (the encoder writes changes back with `set`). */
  get(item: string): ItemState | undefined {
    const met = this.met;
    if (met === undefined) return undefined;
    if (!Array.isArray(met)) return met.get(item);
    for (let i = 0; i < met.length; i += 3) {
      if (met[i] !== item) continue;
      const flags = met[i + 1] as number;
      return { cartedAt: flags & CARTED ? (met[i + 2] as number) : null, removed: (flags & REMOVED) !== 0 };
    }
    return undefined;
  }

  set(item: string, state: ItemState): void {
    const met = this.met;
    if (met !== undefined && !Array.isArray(met)) {
      met.set(item, state);
      return;
    }
    const flags = (state.cartedAt !== null ? CARTED : 0) | (state.removed ? REMOVED : 0);
    const cartedAt = state.cartedAt ?? 0;
    if (met === undefined) {
      this.met = [item, flags, cartedAt];
      return;
    }
    for (let i = 0; i < met.length; i += 3) {
      if (met[i] !== item) continue;
      met[i + 1] = flags;
      met[i + 2] = cartedAt;
      return;
    }
    if (met.length < 3 * FEW_ITEMS)
      this.met = [...met, item, flags, cartedAt]; // exact size: no spare capacity
    else this.met = new Map([...this.entries(), [item, { ...state }]]);
  }

  *entries(): IterableIterator<[string, ItemState]> {
    const met = this.met;
    if (met === undefined) return;
    if (!Array.isArray(met)) yield* met;
    else for (let i = 0; i < met.length; i += 3) yield [met[i] as string, this.get(met[i] as string)!];
  }
}
