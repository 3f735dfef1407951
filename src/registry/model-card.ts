/** model-card.md: what a person deciding on promotion needs on one page. */
import type { DatasetSummary } from '../dataset/index.js';
import type { AucDifference } from '../model/bootstrap.js';
import type { SplitMetrics } from '../model/evaluate.js';
import type { EvaluationReport } from '../model/report.js';
import { PLOT_FILES, modelPlots, plotInputFromReport } from '../plots/model-plots.js';
import type { CandidateManifest } from './candidate.js';

const f = (v: number | null | undefined, digits = 4) =>
  v === null || v === undefined ? '—' : v.toFixed(digits);
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function metricsRow(name: string, m: SplitMetrics): string {
  const t = m.atThreshold;
  return `| ${name} | ${m.examples} | ${m.positives} | ${f(m.rocAuc)} | ${f(m.prAuc)} | ${f(m.logLoss)} | ${f(m.brier)} | ${f(t.precision, 3)} | ${f(t.recall, 3)} | ${f(t.f1, 3)} |`;
}

const interval = (d: AucDifference) =>
  `${f(d.difference, 3)} (95% paired bootstrap [${f(d.lower, 3)}, ${f(d.upper, 3)}], ${d.used} resamples)`;

/** The window's kept and left-out stored sessions, and how to widen it. */
function windowLine(d: DatasetSummary): string {
  const w = d.window;
  if (!w) return '';
  const left = w.leftOutBefore + w.leftOutAfter;
  return left === 0
    ? `The window kept all ${w.kept} stored sessions.\n`
    : `The window kept ${w.kept} stored sessions and left out ${left} (${w.leftOutBefore} older, ${w.leftOutAfter} newer): widen it with \`intentstream train --from/--to\` (or \`--days\`), or \`trainer.windowDays\` for the scheduled trainer.\n`;
}

/** The SVG plots written beside the card (candidate.ts), embedded by relative path. */
function plotsSection(report: EvaluationReport): string {
  const files = Object.keys(modelPlots(plotInputFromReport(report)));
  const titles: Record<string, string> = {
    [PLOT_FILES.roc]: 'ROC, LSTM and baseline',
    [PLOT_FILES.precisionRecall]: 'precision-recall, LSTM and baseline',
    [PLOT_FILES.calibration]: 'calibration',
    [PLOT_FILES.comparison]: 'LSTM − baseline with 95% intervals',
  };
  return `${files.map((f) => `![${titles[f] ?? f}](${f})`).join(' ')}\n\n`;
}

/** The shop's event types, their roles and what fell out of the vocabulary. */
function eventTypesSection(report: EvaluationReport): string {
  const e = report.eventTypes;
  const rows = e.types
    .map((t) => `| \`${t.type}\` | ${t.count} | ${t.role ?? '—'} | ${t.inVocabulary ? 'yes' : 'no (OOV)'} |`)
    .join('\n');
  const oov = Object.entries(e.outOfVocabularyShare)
    .map(([split, share]) => `${split} ${pct(share)}`)
    .join(', ');
  return `## Event types

${e.types.length} event types among the stored events read; the vocabulary (fitted on the training
split) keeps ${e.vocabularySize}. Events out of the vocabulary: ${oov}. Types the label cuts off (its
target and truncation roles) never reach the model, so they stay out of the vocabulary.

| event type | events | role | in vocabulary |
| --- | --- | --- | --- |
${rows}
`;
}

/** LSTM minus the strong baseline, with its verdict, and label drift. */
function honestyLines(report: EvaluationReport): string {
  const { full, prefixes } = report.comparisons.overBaseline;
  const verdict =
    full.lower !== null && full.lower > 0
      ? 'the LSTM beats the order-blind baseline on full test sessions'
      : '**the LSTM does not beat the order-blind baseline on full test sessions** (the lower bound of the interval is not above 0): on this data it has not shown a gain from the order of events';
  const drift = report.labelDrift;
  const fitted = report.baseline.fittedOn;
  const sample =
    fitted && fitted.examples < fitted.of
      ? `; fitted on a seeded sample of ${fitted.examples} of the ${fitted.of} training examples`
      : '';
  return `- LSTM − order-blind baseline (logistic regression on counts of every learned event type, length,
  duration, last event type, last gap, time of day/week${sample}), test ROC-AUC: full sessions
  **${interval(full)}**; mid-session prefixes (what live scoring sees) ${interval(prefixes)}. Verdict:
  ${verdict}.
- Label drift: positive rate train ${pct(drift.trainPositiveRate)}, test ${pct(drift.testPositiveRate)}${drift.flagged ? ` — **flagged** (z ${f(drift.z, 1)}): the test window's outcome rate differs from what the model was trained on; its calibration and threshold may not hold` : ' (not flagged)'}.
`;
}

export function modelCard(manifest: CandidateManifest, report: EvaluationReport): string {
  const d = manifest.dataset;
  const t = manifest.training;
  const p = manifest.parameters as {
    roles: Record<string, string[]>;
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
outside what the model was trained on. Target and truncation are roles; the shop's event types
that played them: ${Object.entries(p.roles)
    .map(([role, types]) => `${role} ${types.length ? types.map((t) => `\`${t}\``).join(', ') : '(none)'}`)
    .join('; ')}.

## Data

Sessions that started in [${manifest.dataRange.from}, ${manifest.dataRange.to}), split by start
time (train ${p.dataset.split.train}, validation ${p.dataset.split.validation}, test the rest;
cookies ${p.dataset.cookieSplit}). ${d.sessionsRead} sessions read, ${d.droppedEmpty} with nothing
observable before the outcome dropped${d.droppedForCookieSplit ? `, ${d.droppedForCookieSplit} dropped to keep cookies in one split` : ''}.
${windowLine(d)}
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

${honestyLines(report)}- Test ROC-AUC lost when the events of each test session are shuffled: **${f(report.comparisons.testRocAucOverShuffled, 3)}**
  (how much the model relies on order).
- Test ROC-AUC over mid-session prefixes (${report.testPrefixes.examples} examples): ${f(report.testPrefixes.rocAuc)}.

${plotsSection(report)}Calibration on test:

| predicted | sessions | mean predicted | observed rate |
| --- | --- | --- | --- |
${calibration}

${eventTypesSection(report)}
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
