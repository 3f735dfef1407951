/**
 * What the scorer stores in the metadata string of each committed consumer offset (committed in the
 * same Kafka transaction as the predictions): where a restarted scorer must start re-reading the
 * partition to rebuild its live state, and the partition's max event time at that point. kafkajs's
 * types omit that metadata in transactional commits: vendor-shims/kafkajs.ts (offsetWithMetadata,
 * committedMetadata) is where the scorer passes and reads it.
 */
import type { RebuildPoint } from './live-sessions.js';

export const COMMIT_METADATA_VERSION = 1;

export interface CommitMetadata extends RebuildPoint {
  /** The model version that was serving (informational). */
  model: string;
}

export function encodeCommitMetadata(m: CommitMetadata): string {
  return JSON.stringify({
    v: COMMIT_METADATA_VERSION,
    r: m.offset,
    m: m.maxTime,
    k: m.truncated,
    mv: m.model,
  });
}

/** Parses metadata written by encodeCommitMetadata; undefined for anything else (absent, foreign, older). */
export function decodeCommitMetadata(text: string | null | undefined): CommitMetadata | undefined {
  if (!text) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  if (o['v'] !== COMMIT_METADATA_VERSION) return undefined;
  const r = o['r'];
  const m = o['m'];
  const k = o['k'];
  if (!Number.isSafeInteger(r) || (r as number) < 0) return undefined;
  if (m !== null && !(typeof m === 'number' && Number.isFinite(m))) return undefined;
  if (!Number.isSafeInteger(k) || (k as number) < 0) return undefined;
  return {
    offset: r as number,
    maxTime: m as number | null,
    truncated: k as number,
    model: typeof o['mv'] === 'string' ? (o['mv'] as string) : '',
  };
}
