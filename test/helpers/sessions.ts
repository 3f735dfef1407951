import { type GeneratorOptions, type SessionEndItem, createGenerator } from '../../src/generator/index.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { Sessionizer } from '../../src/sessionizer/index.js';

/**
 * Generated traffic through the real sessionizer (what ingest or import would store), plus the
 * generator's oracle records keyed by the id of each session's first event.
 */
export function generatedSessions(options: GeneratorOptions): {
  sessions: SessionTimeline[];
  oracle: Map<string, SessionEndItem>;
} {
  const oracle = new Map<string, SessionEndItem>();
  const sessionizer = new Sessionizer({ graceMs: 120_000, dedupeWindow: 200_000 });
  const sessions: SessionTimeline[] = [];
  for (const item of createGenerator({ ...options, emitOracle: true })) {
    if (item.kind === 'event') {
      sessionizer.push(item.event);
      sessions.push(...sessionizer.drainClosed());
    } else if (item.kind === 'session_end' && item.eventIds[0] !== undefined) {
      oracle.set(item.eventIds[0], item);
    }
  }
  sessionizer.flushAll('end_of_input');
  sessions.push(...sessionizer.drainClosed());
  return { sessions, oracle };
}
