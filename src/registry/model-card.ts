import type { SplitMetrics } from '../model/evaluate.js';
import type { EvaluationReport } from '../model/report.js';
/** model-card.md: what a person deciding on promotion needs on one page. */
import type { CandidateManifest } from './candidate.js';

const f = (v: number | null | undefined, digits = 4) =>
  v === null || v === undefined ? '—' : v.toFixed(digits);
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function metricsRow(name: string, m: SplitMetrics): string {
  const t = m.atThreshold;
  return `| ${name} | ${m.examples} | ${m.positives} | ${f(m.rocAuc)} | ${f(m.prAuc)} | ${f(m.logLoss)} | ${f(m.brier)} | ${f(t.precision, 3)} | ${f(t.recall, 3)} | ${f(t.f1, 3)} |`;
}

export function modelCard(manifest: CandidateManifest, report: EvaluationReport): string {
  const d = manifest.dataset;
  const t = manifest.training;
  const p = manifest.parameters as {
    labels: { target: string; truncateAt: string[] };
    dataset: {
      prefixesPerSession: number;
      split: { train: number; validation: number };
      cookieSplit: string;
    };
    features: Record<string, unknown>;
    model: { lstmUnits: number[]; dropout: number; embeddingDims: Record<string, number> };
    training: Record<string, unknown>;
    seed: number;
    epochs: number;
  };
  const split = (name: 'train' | 'validation' | 'test') => {
    const s = d.splits[name];
    return `| ${name} | ${s.from ?? '—'} | ${s.to ?? '—'} | ${s.sessions} | ${s.positives} (${pct(s.positiveRate)}) | ${s.examples} |`;
  };
  const calibration = report.splits.test.calibration
    .map(
      (b) =>
        `| ${b.lower.toFixed(1)}–${b.upper.toFixed(1)} | ${b.count} | ${f(b.meanPredicted, 3)} | ${f(b.observedRate, 3)} |`,
    )
    .join('\n');
  const history = t.history
    .map(
      (h) =>
        `| ${h.epoch} | ${h.loss.toFixed(4)} | ${f(h.validationAuc)} | ${h.seconds.toFixed(1)} | ${Math.round(h.stepsPerSecond)} |`,
    )
    .join('\n');
  return `# Model card: ${manifest.version}

Session purchase-intent model (LSTM over the events of a session) trained by \`intentstream train\`
on ${manifest.createdAt} on the \`${manifest.backend.name}\` backend${manifest.backend.device ? ` (${manifest.backend.device})` : ''}.

**Predicts** P(the session reaches \`${p.labels.target}\`) from the events before the first
\`${p.labels.target}\`${p.labels.truncateAt.length ? ` or ${p.labels.truncateAt.map((x) => `\`${x}\``).join(', ')}` : ''}
event, after every event (trained on ${p.dataset.prefixesPerSession} sampled prefixes per session
plus the full sequence). Events after that point are never seen; scores after a checkout are
outside what the model was trained on.

## Data

Sessions that started in [${manifest.dataRange.from}, ${manifest.dataRange.to}), split by start
time (train ${p.dataset.split.train}, validation ${p.dataset.split.validation}, test the rest;
cookies ${p.dataset.cookieSplit}). ${d.sessionsRead} sessions read, ${d.droppedEmpty} with nothing
observable before the outcome dropped${d.droppedForCookieSplit ? `, ${d.droppedForCookieSplit} dropped to keep cookies in one split` : ''}.

| split | first session | last session | sessions | positive | examples |
| --- | --- | --- | --- | --- | --- |
${split('train')}
${split('validation')}
${split('test')}

## Metrics

Threshold ${report.threshold.value.toFixed(4)} (${report.threshold.source === 'config' ? 'configured' : 'max F1 on validation'}); full observable sequences, one per session.

| split / model | n | positive | ROC-AUC | PR-AUC | log loss | Brier | precision | recall | F1 |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${metricsRow('train', report.splits.train)}
${metricsRow('validation', report.splits.validation)}
${metricsRow('**test**', report.splits.test)}
${metricsRow('test: order-blind baseline', report.baseline.test)}
${metricsRow('test: events shuffled', report.orderAblation.test)}

- Test ROC-AUC over the order-blind baseline (logistic regression on event-type counts, length,
  duration): **${f(report.comparisons.testRocAucOverBaseline, 3)}**.
- Test ROC-AUC lost when the events of each test session are shuffled: **${f(report.comparisons.testRocAucOverShuffled, 3)}**
  (how much the model relies on order).
- Test ROC-AUC over mid-session prefixes (${report.testPrefixes.examples} examples): ${f(report.testPrefixes.rocAuc)}.

Calibration on test:

| predicted | sessions | mean predicted | observed rate |
| --- | --- | --- | --- |
${calibration}

## Model and training

LSTM ${p.model.lstmUnits.join(' → ')} units, dropout ${p.model.dropout}, embeddings
${Object.entries(p.model.embeddingDims)
  .map(([k, v]) => `${k} ${v}`)
  .join(', ')}; ${manifest.modelParameters} parameters. Features: ${JSON.stringify(p.features)}.
Training: ${JSON.stringify(p.training)}, seed ${p.seed}, at most ${p.epochs} epochs.

${t.epochsCompleted} epochs (best ${t.bestEpoch}${t.stoppedEarly ? ', stopped early' : ''}${t.resumedFromEpoch ? `, resumed after epoch ${t.resumedFromEpoch}` : ''}),
${t.seconds.toFixed(0)} s, ${Math.round(t.stepsPerSecond)} time steps/s; positive class weight ${t.positiveWeight.toFixed(2)}
(output bias corrected for it).

| epoch | loss | validation ROC-AUC | seconds | steps/s |
| --- | --- | --- | --- | --- |
${history}

Fingerprint (data + config + seed): \`${manifest.fingerprint.slice(0, 16)}\`.
`;
}
