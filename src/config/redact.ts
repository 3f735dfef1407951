import type { Config } from './schema.js';

export const REDACTED = '<redacted>';

/** Config field paths that hold secrets: never printed, logged or exported as metrics. */
export const SECRET_FIELDS = ['kafka.sasl.password', 'http.token'] as const;

/** A deep copy of `config` with every set secret replaced by REDACTED (for `config show` and logs). */
export function redactSecrets(config: Readonly<Config>): Config {
  const copy = structuredClone(config) as Config;
  for (const field of SECRET_FIELDS) {
    const path = field.split('.');
    let node = copy as unknown as Record<string, unknown>;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
    const last = path.at(-1)!;
    if (node[last] !== null && node[last] !== undefined) node[last] = REDACTED;
  }
  return copy;
}
