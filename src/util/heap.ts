/**
 * Binary min-heap ordered by (key, tie): used to interleave cookies by their next
 * event time (tie = cookie index) and to release delayed messages (tie = arrival
 * sequence). Equal keys come out in tie order, so output is deterministic.
 */
export class MinHeap<T> {
  private keys: number[] = [];
  private ties: number[] = [];
  private values: T[] = [];

  get size(): number {
    return this.values.length;
  }

  push(key: number, tie: number, value: T): void {
    this.keys.push(key);
    this.ties.push(tie);
    this.values.push(value);
    this.siftUp(this.values.length - 1);
  }

  /** Key of the minimum (Infinity when empty). */
  peekKey(): number {
    return this.values.length > 0 ? (this.keys[0] as number) : Number.POSITIVE_INFINITY;
  }

  peek(): T | undefined {
    return this.values[0];
  }

  pop(): T | undefined {
    const n = this.values.length;
    if (n === 0) return undefined;
    const top = this.values[0];
    const lastKey = this.keys.pop() as number;
    const lastTie = this.ties.pop() as number;
    const lastValue = this.values.pop() as T;
    if (n > 1) {
      this.keys[0] = lastKey;
      this.ties[0] = lastTie;
      this.values[0] = lastValue;
      this.siftDown(0);
    }
    return top;
  }

  /** Changes the minimum's key (e.g. its next event time) and restores the heap. */
  updateTopKey(key: number): void {
    if (this.values.length === 0) throw new RangeError('updateTopKey() on an empty heap');
    this.keys[0] = key;
    this.siftDown(0);
  }

  private less(i: number, j: number): boolean {
    const ki = this.keys[i] as number;
    const kj = this.keys[j] as number;
    return ki < kj || (ki === kj && (this.ties[i] as number) < (this.ties[j] as number));
  }

  private swap(i: number, j: number): void {
    const k = this.keys[i] as number;
    this.keys[i] = this.keys[j] as number;
    this.keys[j] = k;
    const t = this.ties[i] as number;
    this.ties[i] = this.ties[j] as number;
    this.ties[j] = t;
    const v = this.values[i] as T;
    this.values[i] = this.values[j] as T;
    this.values[j] = v;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.values.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.less(r, l) ? r : l;
      if (!this.less(m, i)) return;
      this.swap(i, m);
      i = m;
    }
  }
}
