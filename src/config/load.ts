import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import type { ZodIssue } from 'zod';
import { EXIT_USAGE, IntentstreamError } from '../errors.js';
import { SECRET_FIELDS } from './redact.js';
import { type Config, configSchema } from './schema.js';

export const DEFAULT_CONFIG_PATH = new URL('../../config/default.yaml', import.meta.url);
export const ENV_PREFIX = 'INTENTSTREAM_';

/** Raised when configuration is invalid; `issues` name each failing field path. */
export class ConfigError extends IntentstreamError {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: { path: string; message: string; source?: string }[] = [],
  ) {
    super(message, { exitCode: EXIT_USAGE });
  }
}

export interface LoadConfigOptions {
  /** Extra YAML file layered over the defaults (e.g. --config or INTENTSTREAM_CONFIG). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Programmatic overrides layered last (CLI flags, tests). */
  overrides?: Record<string, unknown>;
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** camelCase path segment -> SCREAMING_SNAKE (inactivityGap -> INACTIVITY_GAP). */
const envSegment = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

export function envNameFor(path: string[]): string {
  return ENV_PREFIX + path.map(envSegment).join('__');
}

function readYaml(path: string | URL, label: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${label}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${label} is not valid YAML: ${(error as Error).message}`);
  }
  if (parsed == null) return {};
  if (!isTree(parsed)) throw new ConfigError(`config file ${label} must hold a mapping at the top level`);
  return parsed;
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isTree(current) && isTree(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** Leaf paths of the defaults: those are the settable variables. */
function leafPaths(tree: Tree, prefix: string[] = []): string[][] {
  return Object.entries(tree).flatMap(([key, value]) =>
    isTree(value) ? leafPaths(value, [...prefix, key]) : [[...prefix, key]],
  );
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    if (!isTree(node[key])) node[key] = {};
    node = node[key] as Tree;
  }
  node[path.at(-1)!] = value;
}

/** Every environment variable intentstream reads, with the path it sets. */
export function listEnvVariables(): { name: string; path: string }[] {
  const defaults = readYaml(DEFAULT_CONFIG_PATH, 'config/default.yaml');
  return [
    ...leafPaths(defaults).map((p) => ({ name: envNameFor(p), path: p.join('.') })),
    { name: 'KAFKA_BROKERS', path: 'kafka.brokers' },
    { name: 'INTENTSTREAM_CONFIG', path: '(extra YAML file layered over the defaults)' },
  ];
}

/**
 * Loads config/default.yaml, an optional YAML file, environment overrides and
 * programmatic overrides, then validates. Fails with a ConfigError naming every
 * invalid field path, where the value came from, and why.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const defaults = readYaml(DEFAULT_CONFIG_PATH, 'config/default.yaml');
  const sources = new Map<string, string>();
  let merged = defaults;

  const file = options.file ?? env[`${ENV_PREFIX}CONFIG`];
  if (file) {
    const layer = readYaml(file, file);
    for (const p of leafPaths(layer)) sources.set(p.join('.'), file);
    merged = deepMerge(merged, layer);
  }

  const known = new Map(leafPaths(defaults).map((p) => [envNameFor(p), p]));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === `${ENV_PREFIX}CONFIG` || raw === undefined) continue;
    const path = known.get(name);
    if (!path) {
      throw new ConfigError(
        `unknown environment variable ${name}: it matches no config field (run \`intentstream config env\` for the list)`,
        [{ path: name, message: 'unknown variable', source: 'env' }],
      );
    }
    // Secrets are taken verbatim (YAML would turn "0042" into 42 or "yes" into true); empty = unset.
    const secret = (SECRET_FIELDS as readonly string[]).includes(path.join('.'));
    setPath(merged, path, secret ? (raw === '' ? null : raw) : YAML.parse(raw));
    sources.set(path.join('.'), `env ${name}`);
  }
  if (env.KAFKA_BROKERS) {
    setPath(
      merged,
      ['kafka', 'brokers'],
      env.KAFKA_BROKERS.split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    );
    sources.set('kafka.brokers', 'env KAFKA_BROKERS');
  }
  if (options.overrides) {
    for (const p of leafPaths(options.overrides)) sources.set(p.join('.'), 'override');
    merged = deepMerge(merged, options.overrides);
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) throw configErrorFrom(result.error.issues, sources);
  return deepFreeze(result.data);
}

function configErrorFrom(issues: ZodIssue[], sources: Map<string, string>): ConfigError {
  const seen = new Set<string>();
  const firstPerPath = issues.filter((issue) => {
    const key = issue.path.join('.');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const described = firstPerPath.map((issue) => {
    const path = issue.path.join('.') || '(root)';
    const extra =
      issue.code === 'unrecognized_keys' ? `: ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` : '';
    const source = sources.get(path) ?? sources.get(issue.path.slice(0, -1).join('.'));
    return { path, message: issue.message + extra, ...(source ? { source } : {}) };
  });
  const lines = described.map((d) => `  ${d.path}: ${d.message}${d.source ? ` (from ${d.source})` : ''}`);
  return new ConfigError(`invalid configuration:\n${lines.join('\n')}`, described);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
