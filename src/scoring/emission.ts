/**
 * Emission policies: which scored events produce a prediction message. Pure; the per-session memory
 * (last scored and last emitted probability of the positive class) lives on the session and is part
 * of its rebuilt state, so a restarted scorer makes the same decisions as an uninterrupted one.
 *
 * - every:     every scored event.
 * - delta:     the session's first scored event, then whenever p moved by ≥ delta since the last EMITTED p.
 * - threshold: whenever p crosses the threshold (p ≥ threshold is "above"); a session starts "below",
 *              so its first event emits only if it scores above.
 */
export const EMIT_POLICIES = ['every', 'delta', 'threshold'] as const;
export type EmitPolicyName = (typeof EMIT_POLICIES)[number];

export interface EmitMemory {
  /** p of the session's last scored event; NaN before the first. */
  lastScored: number;
  /** p of the session's last emitted prediction; NaN before the first. */
  lastEmitted: number;
}

export interface EmitPolicyOptions {
  policy: EmitPolicyName;
  /** delta: minimum move of p since the last emitted prediction, in (0, 1]. */
  delta: number;
  /** threshold: the crossing point, in (0, 1). */
  threshold: number;
}

/** Decides for one scored event and updates `memory`. */
export type EmitDecision = (memory: EmitMemory, p: number) => boolean;

// Probabilities go through float arithmetic; a move of exactly `delta` must count as one.
const EPSILON = 1e-12;

export function createEmitDecision(options: EmitPolicyOptions): EmitDecision {
  const { policy, delta, threshold } = options;
  if (!EMIT_POLICIES.includes(policy)) throw new RangeError(`unknown emission policy ${String(policy)}`);
  if (!(delta > 0 && delta <= 1)) throw new RangeError(`emitDelta must be in (0, 1], got ${delta}`);
  if (!(threshold > 0 && threshold < 1))
    throw new RangeError(`threshold must be in (0, 1), got ${threshold}`);
  switch (policy) {
    case 'every':
      return (m, p) => {
        m.lastScored = p;
        m.lastEmitted = p;
        return true;
      };
    case 'delta':
      return (m, p) => {
        m.lastScored = p;
        if (Number.isNaN(m.lastEmitted) || Math.abs(p - m.lastEmitted) >= delta - EPSILON) {
          m.lastEmitted = p;
          return true;
        }
        return false;
      };
    case 'threshold':
      return (m, p) => {
        const wasAbove = !Number.isNaN(m.lastScored) && m.lastScored >= threshold;
        m.lastScored = p;
        if (p >= threshold === wasAbove) return false;
        m.lastEmitted = p;
        return true;
      };
  }
}
