const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration: a non-negative number of milliseconds or a string such as
 * "500ms", "30s", "2m", "1.5h", "7d". Throws a RangeError explaining the format.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
    if (match) return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!);
  }
  throw new RangeError(
    `expected a duration such as 500ms, 30s, 2m, 24h, 7d or a number of milliseconds, got ${JSON.stringify(value)}`,
  );
}

/** The largest whole unit that fits, with one decimal where it helps: 1.5h, 3d, 250ms. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (Math.abs(ms) >= size) return `${Math.round((ms / size) * 10) / 10}${unit}`;
  }
  return `${Math.round(ms)}ms`;
}
