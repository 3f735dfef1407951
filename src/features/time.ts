/** Time of day and day of week as points on circles, so 23:59 sits next to 00:00 (UTC). */

const DAY_MS = 86_400_000;
const TWO_PI = 2 * Math.PI;

/** Writes hour sin, hour cos, weekday sin, weekday cos of event time `t` (ms) at out[at..at+3]. */
export function writeCyclicTime(t: number, out: { [i: number]: number }, at: number): void {
  const dayFraction = (((t % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS;
  // 1970-01-01 was a Thursday: day 0 is weekday 4 (Sunday = 0).
  const weekday = (((Math.floor(t / DAY_MS) + 4) % 7) + 7) % 7;
  out[at] = Math.sin(TWO_PI * dayFraction);
  out[at + 1] = Math.cos(TWO_PI * dayFraction);
  out[at + 2] = Math.sin((TWO_PI * weekday) / 7);
  out[at + 3] = Math.cos((TWO_PI * weekday) / 7);
}
