import { readFileSync } from 'node:fs';
import { ConfigError } from './load.js';

const fieldError = (field: string, message: string) =>
  new ConfigError(`invalid configuration:\n  ${field}: ${message}`, [{ path: field, message }]);

/**
 * Reads a file a config field names (certificates, secret files), at start-up. A missing or
 * unreadable file, or with `secret` an empty one, is a ConfigError naming the field. With `secret`
 * the value is trimmed of surrounding whitespace (files written by `echo` end in a newline).
 */
export function readConfigFile(field: string, path: string, options: { secret?: boolean } = {}): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw fieldError(field, `cannot read ${path} (${why})`);
  }
  if (!options.secret) return text;
  const value = text.trim();
  if (value.length === 0) throw fieldError(field, `${path} is empty`);
  return value;
}
