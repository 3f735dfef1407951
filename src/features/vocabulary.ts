/**
 * Small categorical vocabularies (event type, device, referrer) fitted on the TRAINING split only. Index layout
 * shared by every categorical input of the model: 0 = padding (masked time step), 1 = out of
 * vocabulary (a value not kept at fit time, or never seen), 2.. = the kept values in order.
 */

/** A missing value (null) is a value of its own: "no referrer" is information, not noise. */
export const NONE_TOKEN = '(none)';
export const PAD_INDEX = 0;
export const OOV_INDEX = 1;
/** Indices below this are reserved (padding, OOV). */
export const FIRST_VALUE_INDEX = 2;

export interface VocabularyFitOptions {
  /** Keep at most this many values (most frequent first). */
  maxSize: number;
  /** Keep only values seen at least this many times. */
  minCount: number;
}

/** Counts of raw values (null counted as NONE_TOKEN). */
export class ValueCounter {
  private readonly counts = new Map<string, number>();

  add(value: string | null): void {
    const key = value ?? NONE_TOKEN;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** The kept values: by count descending, ties by value, so the fit is deterministic. */
  fit(options: VocabularyFitOptions): string[] {
    return [...this.counts]
      .filter(([, n]) => n >= options.minCount)
      .sort(([a, n], [b, m]) => m - n || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, options.maxSize)
      .map(([v]) => v);
  }
}

/** Value → index lookup for a fitted vocabulary. */
export class Vocabulary {
  private readonly index: Map<string, number>;

  constructor(readonly values: readonly string[]) {
    this.index = new Map(values.map((v, i) => [v, i + FIRST_VALUE_INDEX]));
    if (this.index.size !== values.length) throw new RangeError('vocabulary values must be distinct');
  }

  /** Number of embedding rows this vocabulary needs (values + padding + OOV). */
  get cardinality(): number {
    return this.values.length + FIRST_VALUE_INDEX;
  }

  has(value: string | null): boolean {
    return this.index.has(value ?? NONE_TOKEN);
  }

  lookup(value: string | null): number {
    return this.index.get(value ?? NONE_TOKEN) ?? OOV_INDEX;
  }
}
