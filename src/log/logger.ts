/**
 * Structured JSON-lines logger: one object per line with time, level, msg and
 * fields. Processes log to stderr so stdout stays free for data (generate, consume).
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: Level;
  bindings?: Record<string, unknown>;
  write?: (line: string) => void;
  now?: () => number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const {
    level = 'info',
    bindings = {},
    write = (line) => process.stderr.write(line),
    now = Date.now,
  } = options;
  const threshold = RANK[level];
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < threshold) return;
    const record = { time: new Date(now()).toISOString(), level: lvl, msg, ...bindings, ...fields };
    write(`${JSON.stringify(record, errorReplacer)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (extra) => createLogger({ level, bindings: { ...bindings, ...extra }, write, now }),
  };
}

/** Errors serialize to their message, name and cause instead of `{}`. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, cause: value.cause, stack: value.stack };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** A logger that records lines in memory, for tests. */
export function createMemoryLogger(level: Level = 'debug'): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level, write: (l) => lines.push(JSON.parse(l)) });
  return Object.assign(logger, { lines });
}
