/**
 * Internal data structures of the sessionizer: an indexed binary min-heap of per-cookie
 * deadlines, and a bounded FIFO of recently closed event ids.
 */

/** What the heap orders: anything with a stable string id; the heap owns `deadline` and `heapIndex`. */
export interface Scheduled {
  readonly id: string;
  deadline: number;
  /** Position in the heap, or -1 when not queued. */
  heapIndex: number;
}

/**
 * Indexed binary min-heap ordered by (deadline, id): every item is queued at most once and its
 * deadline can be moved in O(log n) without leaving stale entries behind. The pop order is a pure
 * function of the queued (deadline, id) pairs, never of insertion history, so a heap rebuilt from
 * the same items pops them in the same order.
 */
export class DeadlineHeap<T extends Scheduled> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The item with the smallest (deadline, id), or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Queues `item` at `deadline`, or moves it there if it is already queued. */
  set(item: T, deadline: number): void {
    if (item.heapIndex < 0) {
      item.deadline = deadline;
      item.heapIndex = this.items.length;
      this.items.push(item);
      this.siftUp(item.heapIndex);
      return;
    }
    const old = item.deadline;
    item.deadline = deadline;
    if (deadline < old) this.siftUp(item.heapIndex);
    else if (deadline > old) this.siftDown(item.heapIndex);
  }

  /** Removes `item` if it is queued. */
  delete(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    item.heapIndex = -1;
    const a = this.items;
    const last = a.pop()!;
    if (i === a.length) return;
    a[i] = last;
    last.heapIndex = i;
    this.siftUp(i);
    this.siftDown(last.heapIndex);
  }

  clear(): void {
    for (const item of this.items) item.heapIndex = -1;
    this.items = [];
  }

  private siftUp(i: number): void {
    const a = this.items;
    const e = a[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent]!;
      if (!less(e, p)) break;
      a[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    a[i] = e;
    e.heapIndex = i;
  }

  private siftDown(i: number): void {
    const a = this.items;
    const n = a.length;
    const e = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && less(a[r]!, a[l]!)) c = r;
      const child = a[c]!;
      if (!less(child, e)) break;
      a[i] = child;
      child.heapIndex = i;
      i = c;
    }
    a[i] = e;
    e.heapIndex = i;
  }
}

function less(x: Scheduled, y: Scheduled): boolean {
  if (x.deadline !== y.deadline) return x.deadline < y.deadline;
  return x.id < y.id;
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
