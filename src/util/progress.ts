import type { Logger } from '../log/logger.js';

export interface Progress {
  /** Adds `n` units of work done. */
  tick(n?: number, extra?: Record<string, unknown>): void;
  /** Final line (always logged). */
  done(extra?: Record<string, unknown>): void;
}

/** What a long job reports progress on: its label, the unit it counts and, where known, the total. */
export interface ProgressTask {
  label: string;
  unit: string;
  total?: number;
}

/** Makes a Progress per phase of a job (dataset building, training, evaluation, …). */
export type ProgressFactory = (task: ProgressTask) => Progress;

/** A factory whose phases report through `createProgress` to this logger. */
export function progressTo(logger: Logger): ProgressFactory {
  return (task) => createProgress({ logger, ...task });
}

export interface ProgressOptions {
  logger: Logger;
  label: string;
  unit?: string;
  total?: number;
  /** Interval between structured log lines when stderr is not a TTY. */
  intervalMs?: number;
  stream?: NodeJS.WriteStream;
  now?: () => number;
}

/**
 * Progress for long jobs: a redrawn bar with rate and ETA on a TTY, periodic
 * structured log lines (`progress`, with count, rate and ETA) otherwise.
 */
export function createProgress(options: ProgressOptions): Progress {
  const {
    logger,
    label,
    unit = 'items',
    total,
    intervalMs = 5_000,
    stream = process.stderr,
    now = Date.now,
  } = options;
  const started = now();
  const tty = Boolean(stream.isTTY);
  let count = 0;
  let lastReport = started;
  let lastExtra: Record<string, unknown> = {};

  const figures = () => {
    const elapsedS = Math.max((now() - started) / 1000, 1e-9);
    const rate = count / elapsedS;
    const etaS = total !== undefined && rate > 0 ? Math.max(total - count, 0) / rate : undefined;
    return {
      count,
      total,
      rate: Math.round(rate),
      elapsedS: Math.round(elapsedS * 10) / 10,
      etaS: etaS === undefined ? undefined : Math.round(etaS),
    };
  };
  const draw = () => {
    const f = figures();
    if (tty) {
      const width = 30;
      const frac = total ? Math.min(count / total, 1) : 0;
      const bar = total
        ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${(frac * 100).toFixed(1)}% `
        : '';
      const eta = f.etaS !== undefined ? ` eta ${f.etaS}s` : '';
      stream.write(`\r${label} ${bar}${count}${total ? `/${total}` : ''} ${unit} ${f.rate}/s${eta}   `);
    } else {
      logger.info('progress', { task: label, unit, ...f, ...lastExtra });
    }
  };
  return {
    tick(n, extra) {
      count += n ?? 1;
      if (extra) lastExtra = extra;
      const t = now();
      if (t - lastReport >= (tty ? 200 : intervalMs)) {
        lastReport = t;
        draw();
      }
    },
    done(extra) {
      if (tty) stream.write('\n');
      logger.info(`${label} finished`, { unit, ...figures(), ...lastExtra, ...extra });
    },
  };
}
