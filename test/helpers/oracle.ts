import type { DatasetSession } from '../../src/dataset/index.js';
import type { SessionEndItem } from '../../src/generator/index.js';
import { rocAuc } from '../../src/model/evaluate.js';

/**
 * The generator's oracle on a split's sessions: each session joined to its oracle record by `find`,
 * the ROC-AUC of the oracle's purchase probabilities on the joined ones, and how many stored labels
 * disagree with the generated outcome.
 */
export function oracleOn(
  sessions: readonly DatasetSession[],
  find: (s: DatasetSession) => SessionEndItem | undefined,
): { joined: number; disagreements: number; rocAuc: number } {
  const labels: number[] = [];
  const scores: number[] = [];
  let disagreements = 0;
  for (const s of sessions) {
    const o = find(s);
    if (!o) continue;
    labels.push(s.label);
    scores.push(o.purchaseProbability);
    if (Number(o.purchased) !== s.label) disagreements++;
  }
  return { joined: labels.length, disagreements, rocAuc: rocAuc(labels, scores)! };
}
