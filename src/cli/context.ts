import type { Command } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config/index.js';
import { exitCodeOf } from '../errors.js';
import { type Logger, createLogger } from '../log/logger.js';

export interface CliContext {
  config: Readonly<Config>;
  logger: Logger;
}

/** Loads config from the global --config option and env; builds the process logger. */
export function contextFrom(
  command: Command,
  component: string,
  overrides: Record<string, unknown> = {},
): CliContext {
  const globals = command.optsWithGlobals<{ config?: string; logLevel?: Config['log']['level'] }>();
  const config = loadConfig({
    file: globals.config,
    overrides: { ...overrides, ...(globals.logLevel ? { log: { level: globals.logLevel } } : {}) },
  });
  const logger = createLogger({ level: config.log.level, bindings: { component } });
  return { config, logger };
}

/** Wraps an async action: ConfigError → its message and exit 2; other errors → a JSON log line and their exit code (1 unless an IntentstreamError says otherwise). */
export function action<A extends unknown[]>(
  run: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`intentstream: ${error.message}\n`);
        process.exit(error.exitCode);
      }
      const err = error as Error;
      process.stderr.write(
        `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: err.message, error: { name: err.name, stack: err.stack } })}\n`,
      );
      process.exit(exitCodeOf(error));
    }
  };
}

export const parseIntOption = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return n;
};
export const parseNumberOption = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${value}`);
  return n;
};
