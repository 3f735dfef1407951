import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type GeneratorOptions,
  type SessionEndItem,
  canonicalEvent,
  createGenerator,
  createRng,
  hash32,
  toNdjsonLine,
} from '../../src/generator/index.js';
import { type ImportSummary, fileInput, importSourceName, runImport } from '../../src/ingest/import.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { DEFAULT_SESSION_RULES } from '../../src/sessionizer/index.js';
import type { ObjectStorage } from '../../src/storage/index.js';
import { createTimelineStore } from '../../src/store/index.js';

/**
 * Generated traffic → NDJSON file → `runImport` (the real sessionizer) → a timeline store under
 * `dir` (or in `into`, e.g. a bucket prefix; `storeDir` then stays empty), as `intentstream generate
 * --out` + `intentstream import` would. Returns the oracle records keyed by the id of each session's
 * first event.
 */
export async function fillStoreFromGenerator(
  dir: string,
  options: GeneratorOptions,
  into?: ObjectStorage,
): Promise<{ storeDir: string; summary: ImportSummary; oracle: Map<string, SessionEndItem> }> {
  const input = join(dir, 'generated.ndjson');
  const lines: string[] = [];
  const oracle = new Map<string, SessionEndItem>();
  for (const item of createGenerator({ ...options, emitOracle: true })) {
    if (item.kind === 'event') lines.push(toNdjsonLine(item));
    else if (item.kind === 'session_end' && item.eventIds[0] !== undefined)
      oracle.set(item.eventIds[0], item);
  }
  writeFileSync(input, `${lines.join('\n')}\n`);
  const storeDir = join(dir, 'store');
  const summary = await runImport({
    inputs: [fileInput(input)],
    store: createTimelineStore(into ?? storeDir),
    rules: { ...DEFAULT_SESSION_RULES, graceMs: 3_600_000, dedupeWindow: 500_000 },
    logger: createMemoryLogger('error'),
    source: importSourceName([input]),
  });
  return { storeDir, summary, oracle };
}

export interface ForeignExport {
  storeDir: string;
  summary: ImportSummary;
  /** Oracle records keyed by `foreignSessionKey(cookie, first event time)`. */
  oracle: Map<string, SessionEndItem>;
  /** Rows written: the generated events plus the exact copies. */
  rows: number;
  /** Exact copies of rows the export was given on top of the generator's own re-sent events. */
  copiesAdded: number;
  /** Distinct events among the rows (by content): what the store must hold. */
  distinctEvents: number;
}

/** How a session is found in the oracle of a foreign export, which has no event ids to join on. */
export function foreignSessionKey(cookieId: string, firstEventTime: number): string {
  return `${cookieId}@${firstEventTime}`;
}

/**
 * Generated traffic of a taxonomy (e.g. shop2) written as a foreign shop would export it, then
 * imported with the real importer: no event_id column (ids derive from content), the shop's session id
 * in a `visit_id` column (mapped as session_id), times spelled `2026-11-01 00:00:00.123 UTC`, rows in
 * a seeded random order, and a share of rows copied verbatim (exact duplicates).
 */
export async function importForeignExport(
  dir: string,
  options: GeneratorOptions & { copyRate: number },
): Promise<ForeignExport> {
  const rng = createRng(hash32(options.seed ?? 1, 0x666f7265)); // 'fore'
  const lines: string[] = [];
  const distinct = new Set<string>();
  const oracle = new Map<string, SessionEndItem>();
  for (const item of createGenerator({ ...options, emitOracle: true })) {
    if (item.kind === 'session_end') {
      oracle.set(foreignSessionKey(item.cookie_id, item.firstEventTime), item);
      continue;
    }
    if (item.kind !== 'event') continue;
    const { event_id: _id, event_time, ...event } = canonicalEvent(item.event);
    const row = {
      visit_id: item.session,
      ...event,
      event_time: new Date(event_time).toISOString().replace('T', ' ').replace('Z', ' UTC'),
    };
    const line = JSON.stringify(row);
    lines.push(line);
    distinct.add(line);
  }
  const generated = lines.length;
  for (let i = 0; i < generated; i++) if (rng.chance(options.copyRate)) lines.push(lines[i]!);
  for (let i = lines.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  const input = join(dir, 'export.ndjson');
  writeFileSync(input, `${lines.join('\n')}\n`);
  const storeDir = join(dir, 'store');
  const summary = await runImport({
    inputs: [fileInput(input)],
    store: createTimelineStore(storeDir),
    rules: { ...DEFAULT_SESSION_RULES, dedupeWindow: 500_000 },
    map: { session_id: 'visit_id' },
    logger: createMemoryLogger('error'),
    source: importSourceName([input]),
  });
  return {
    storeDir,
    summary,
    oracle,
    rows: lines.length,
    copiesAdded: lines.length - generated,
    distinctEvents: distinct.size,
  };
}
