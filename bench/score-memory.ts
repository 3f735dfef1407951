import v8 from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../src/config/index.js';
/**
 * bench/score-memory (run by bench/score.ts in its own process): RSS of the scorer core holding
 * N open sessions (default 500,000) of 1–10 events each (5.5 on average), every event decoded from
 * Avro like a live one, fields drawn from generated traffic, each session with its LSTM state (the
 * default trainer config's size). Prints one JSON line.
 *
 *   node --expose-gc --import tsx bench/score-memory.ts [sessions=500000]
 */
import { createGenerator } from '../src/generator/index.js';
import { selectBackend } from '../src/model/backend.js';
import type { ShopEvent } from '../src/schemas/index.js';
import { createEventDecoder, encodeEvent } from '../src/schemas/index.js';
import { type BatchItem, ScorerCore } from '../src/scoring/index.js';
import { DEFAULT_SESSION_RULES } from '../src/sessionizer/index.js';
import { initializedStepModel } from '../test/helpers/models.js';

const SESSIONS = Number(process.argv[2] ?? 500_000);
const { trainer } = loadConfig({ env: {} });
tf.env().set('PROD', true);
await selectBackend({ requested: 'wasm' }); // as `intentstream score`
const templates: ShopEvent[] = [];
for (const item of createGenerator({ seed: 3, maxEvents: 20_000 }))
  if (item.kind === 'event') templates.push(item.event);

const core = new ScorerCore({
  rules: DEFAULT_SESSION_RULES,
  maxOpenSessions: SESSIONS,
  maxBufferedEvents: 50,
  rebuildWindowMs: 3_600_000,
  emit: { policy: 'every', delta: 0.05, threshold: 0.5 },
  positiveClass: 'purchase',
  model: initializedStepModel('v1', { features: trainer.features, model: trainer.model }),
});
const decoder = createEventDecoder();
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const t0 = Date.UTC(2026, 10, 1);
let offset = 0;
let events = 0;
// Cookie i lives on partition i % 4 (as keyed messages would); one batch of ~1,000 events per partition.
const batches: BatchItem[][] = [[], [], [], []];
for (let i = 0; i < SESSIONS; i++) {
  const cookie = `ck_${hex(i, 12)}`;
  const k = 1 + (i % 10);
  for (let j = 0; j < k; j++) {
    const template = templates[(i * 7 + j) % templates.length]!;
    // Sessions start 2 ms apart, events 5 s apart: nothing is late, nothing expires.
    const event = {
      ...template,
      cookie_id: cookie,
      event_id: `${hex(i, 10)}${hex(j, 6)}`,
      event_time: t0 + i * 2 + j * 5_000,
    };
    const decoded = decoder.decode(encodeEvent(event)); // fresh objects shaped like live ones
    if (!decoded.ok) throw new Error(decoded.rejection.message);
    batches[i % 4]!.push({ offset: offset++, event: decoded.event });
    events++;
  }
  if (batches[i % 4]!.length >= 1_000) {
    core.process(i % 4, batches[i % 4]!, true);
    batches[i % 4] = [];
  }
}
batches.forEach((batch, p) => batch.length > 0 && core.process(p, batch, true));
// Measured after full GCs and a pause (V8 returns freed pages lazily), as a long-running scorer settles.
for (let i = 0; i < 3; i++) globalThis.gc?.();
await new Promise((r) => setTimeout(r, 2_000));
globalThis.gc?.();
const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
const space = (name: string) => v8.getHeapSpaceStatistics().find((s) => s.space_name === name)?.space_size;
process.stdout.write(
  `${JSON.stringify({ sessions: core.table.openSessions, events, rss, heapUsed, heapTotal, external, oldSpace: space('old_space'), newSpace: space('new_space'), execArgv: process.execArgv })}\n`,
);
