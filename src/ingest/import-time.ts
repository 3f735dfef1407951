/**
 * event_time spellings of exports. `auto` takes numbers (and numeric strings) below 1e11 as epoch
 * seconds and larger ones as epoch milliseconds, and strings as ISO-8601 with `T` or a space between
 * date and time, with an optional zone: `Z`, `+hh:mm`, or a trailing ` UTC` / ` GMT` (as in
 * `2019-10-01 00:00:00 UTC`); no zone means UTC. Anything else takes a pattern such as
 * `DD/MM/YYYY HH:mm:ss` (tokens YYYY MM DD HH mm ss SSS, every other character literal, UTC).
 */
import { isNumericString, parseIso8601 } from '../schemas/event-json.js';
import { describeValue } from '../schemas/rejections.js';

export type NamedTimeFormat = 'epoch_ms' | 'epoch_s' | 'iso' | 'auto';
export const TIME_FORMATS: readonly NamedTimeFormat[] = ['epoch_ms', 'epoch_s', 'iso', 'auto'];
/** A named format, or a pattern with YYYY, MM, DD and optionally HH, mm, ss, SSS. */
export type TimeFormat = NamedTimeFormat | { pattern: string };

/** epoch ms, or why the value does not fit the format. */
export type TimeParse = { value: number } | { error: string };

const SECONDS_BELOW = 1e11;
const UTC_SUFFIX = /\s+(?:UTC|GMT)$/i;

const TOKENS: Record<string, { re: string; group: string }> = {
  YYYY: { re: '(\\d{4})', group: 'year' },
  MM: { re: '(\\d{1,2})', group: 'month' },
  DD: { re: '(\\d{1,2})', group: 'day' },
  HH: { re: '(\\d{1,2})', group: 'hour' },
  mm: { re: '(\\d{1,2})', group: 'minute' },
  ss: { re: '(\\d{1,2})', group: 'second' },
  SSS: { re: '(\\d{1,3})', group: 'ms' },
};

/** A named format or a pattern; throws a RangeError naming the tokens when the spec is neither. */
export function parseTimeFormatSpec(spec: string): TimeFormat {
  if ((TIME_FORMATS as readonly string[]).includes(spec)) return spec as NamedTimeFormat;
  if (/YYYY/.test(spec) && /MM/.test(spec) && /DD/.test(spec)) return { pattern: spec };
  throw new RangeError(
    `time format must be one of ${TIME_FORMATS.join(', ')} or a pattern with YYYY, MM, DD (and HH, mm, ss, SSS; other characters literal), got ${JSON.stringify(spec)}`,
  );
}

function compilePattern(pattern: string): (s: string) => number | undefined {
  const groups: string[] = [];
  let re = '';
  for (let i = 0; i < pattern.length; ) {
    const token = ['YYYY', 'SSS', 'MM', 'DD', 'HH', 'mm', 'ss'].find((t) => pattern.startsWith(t, i));
    if (token !== undefined) {
      const t = TOKENS[token]!;
      re += t.re;
      groups.push(t.group);
      i += token.length;
    } else {
      re += pattern[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  const regex = new RegExp(`^${re}$`);
  return (s) => {
    const m = regex.exec(s.trim());
    if (!m) return undefined;
    const f: Record<string, number> = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, ms: 0 };
    groups.forEach((g, i) => {
      f[g] = g === 'ms' ? Number(m[i + 1]!.padEnd(3, '0')) : Number(m[i + 1]);
    });
    const { year, month, day, hour, minute, second, ms } = f as Record<string, number>;
    if (month! < 1 || month! > 12 || day! < 1 || hour! > 23 || minute! > 59 || second! > 59) return undefined;
    const d = new Date(0);
    d.setUTCFullYear(year!, month! - 1, day!);
    if (d.getUTCDate() !== day) return undefined;
    d.setUTCHours(hour!, minute!, second!, ms!);
    return d.getTime();
  };
}

/** A parser for `format` that turns a row's raw event_time into epoch ms. */
export function createTimeParser(format: TimeFormat): (v: unknown) => TimeParse {
  if (typeof format === 'object') {
    const parse = compilePattern(format.pattern);
    return (v) => {
      const ms = typeof v === 'string' ? parse(v) : undefined;
      return ms === undefined
        ? {
            error: `event_time must match the time format ${JSON.stringify(format.pattern)}, got ${describeValue(v)}`,
          }
        : { value: ms };
    };
  }
  return (v) => {
    if (v === undefined || v === null || v === '') {
      return { error: `event_time is required but is ${describeValue(v)}` };
    }
    const numeric = typeof v === 'number' ? Number.isFinite(v) : typeof v === 'string' && isNumericString(v);
    if (numeric) {
      const n = Number(v);
      if (format === 'iso') {
        return { error: `event_time must be an ISO-8601 string (time format iso), got ${describeValue(v)}` };
      }
      const seconds = format === 'epoch_s' || (format === 'auto' && Math.abs(n) < SECONDS_BELOW);
      return { value: seconds ? Math.round(n * 1000) : Math.round(n) };
    }
    if (typeof v !== 'string' || format === 'epoch_ms' || format === 'epoch_s') {
      const what =
        format === 'epoch_s' ? 'epoch seconds' : format === 'epoch_ms' ? 'epoch milliseconds' : 'a time';
      return { error: `event_time must be ${what} (time format ${format}), got ${describeValue(v)}` };
    }
    const ms = parseIso8601(v.trim().replace(UTC_SUFFIX, 'Z'));
    return ms === undefined
      ? {
          error: `event_time must be epoch seconds or milliseconds or ISO-8601 (a space for T and a " UTC" suffix are fine), got ${describeValue(v)}; give another spelling as a pattern, e.g. DD/MM/YYYY HH:mm:ss`,
        }
      : { value: ms };
  };
}
