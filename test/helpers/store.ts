import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type GeneratorOptions,
  type SessionEndItem,
  createGenerator,
  toNdjsonLine,
} from '../../src/generator/index.js';
import { type ImportSummary, fileInput, importSourceName, runImport } from '../../src/ingest/import.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { DEFAULT_SESSION_RULES } from '../../src/sessions/index.js';
import { createTimelineStore } from '../../src/store/index.js';

/**
 * Generated traffic → NDJSON file → `runImport` (the real sessionizer) → a timeline store under
 * `dir`, as `intentstream generate --out` + `intentstream import` would. Returns the oracle records
 * keyed by the id of each session's first event.
 */
export async function fillStoreFromGenerator(
  dir: string,
  options: GeneratorOptions,
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
    store: createTimelineStore(storeDir),
    rules: { ...DEFAULT_SESSION_RULES, graceMs: 3_600_000, dedupeWindow: 500_000 },
    logger: createMemoryLogger('error'),
    source: importSourceName([input]),
  });
  return { storeDir, summary, oracle };
}
