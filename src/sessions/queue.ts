/**
 * Internal data structures of the sessionizer: a binary min-heap of per-cookie deadlines
 * with lazy invalidation, and a bounded FIFO of recently closed event ids.
 */

/** What the heap orders: anything with a stable string id and a generation counter. */
export interface Scheduled {
  readonly id: string;
  /** Bumped whenever the owner is rescheduled or removed; heap entries with an older gen are stale. */
  gen: number;
}

interface Entry<T extends Scheduled> {
  deadline: number;
  gen: number;
  item: T;
}

/**
 * Min-heap ordered by (deadline, item.id). Entries are never removed eagerly: an entry is
 * valid only while `entry.gen === entry.item.gen`. The order among valid entries is a pure
 * function of (deadline, id), never of insertion history, so a heap rebuilt from the same
 * items pops them in the same order.
 */
export class DeadlineHeap<T extends Scheduled> {
  private entries: Entry<T>[] = [];

  get size(): number {
    return this.entries.length;
  }

  clear(): void {
    this.entries = [];
  }

  push(item: T, deadline: number): void {
    const a = this.entries;
    a.push({ deadline, gen: item.gen, item });
    this.siftUp(a.length - 1);
  }

  /** The smallest entry (possibly stale), or undefined when empty. */
  peek(): Readonly<Entry<T>> | undefined {
    return this.entries[0];
  }

  isValid(entry: Readonly<Entry<T>>): boolean {
    return entry.gen === entry.item.gen;
  }

  pop(): void {
    const a = this.entries;
    const last = a.pop();
    if (last !== undefined && a.length > 0) {
      a[0] = last;
      this.siftDown(0);
    }
  }

  /** Replaces the top entry by a new one for `item` (cheaper than pop + push). */
  replaceTop(item: T, deadline: number): void {
    const top = this.entries[0];
    if (top === undefined) {
      this.push(item, deadline);
      return;
    }
    top.deadline = deadline;
    top.gen = item.gen;
    top.item = item;
    this.siftDown(0);
  }

  private less(x: Entry<T>, y: Entry<T>): boolean {
    if (x.deadline !== y.deadline) return x.deadline < y.deadline;
    return x.item.id < y.item.id;
  }

  private siftUp(i: number): void {
    const a = this.entries;
    const e = a[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent]!;
      if (!this.less(e, p)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = e;
  }

  private siftDown(i: number): void {
    const a = this.entries;
    const n = a.length;
    const e = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(a[r]!, a[l]!)) c = r;
      const child = a[c]!;
      if (!this.less(child, e)) break;
      a[i] = child;
      i = c;
    }
    a[i] = e;
  }
}

/**
 * Bounded FIFO of event ids (ring buffer + multiplicity map). `add` evicts the oldest id once
 * `capacity` ids are held; capacity 0 remembers nothing.
 */
export class RecentIds {
  private readonly ring: (string | undefined)[];
  private start = 0;
  private length = 0;
  private readonly counts = new Map<string, number>();

  constructor(readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity);
  }

  /** Restores from an oldest-first list; when it is longer than `capacity` only the newest ids are kept. */
  static from(ids: readonly string[], capacity: number): RecentIds {
    const r = new RecentIds(capacity);
    for (let i = Math.max(0, ids.length - capacity); i < ids.length; i++) r.add(ids[i]!);
    return r;
  }

  get size(): number {
    return this.length;
  }

  has(id: string): boolean {
    return this.counts.has(id);
  }

  add(id: string): void {
    const cap = this.capacity;
    if (cap === 0) return;
    if (this.length === cap) {
      const old = this.ring[this.start]!;
      const n = this.counts.get(old)!;
      if (n === 1) this.counts.delete(old);
      else this.counts.set(old, n - 1);
      this.ring[this.start] = id;
      this.start = this.start + 1 === cap ? 0 : this.start + 1;
    } else {
      const at = this.start + this.length;
      this.ring[at >= cap ? at - cap : at] = id;
      this.length++;
    }
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }

  /** Oldest first. */
  toArray(): string[] {
    const out = new Array<string>(this.length);
    const cap = this.capacity;
    for (let i = 0; i < this.length; i++) {
      const at = this.start + i;
      out[i] = this.ring[at >= cap ? at - cap : at]!;
    }
    return out;
  }
}
