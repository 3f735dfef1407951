/**
 * The live one-screen summary of `scripts/demo` (`intentstream ops summary`):
 * scrapes the processes' /metrics, computes rates between two scrapes and
 * renders a few lines. Pure functions here; the CLI does the fetching.
 */
import { INGEST_METRICS } from '../metrics/ingest-metrics.js';
import { SCORER_METRICS } from '../metrics/scorer-metrics.js';
import { TRAINER_METRICS } from '../metrics/trainer-metrics.js';

export type ProcessName = 'ingest' | 'scorer' | 'trainer';
export const SUMMARY_PROCESSES: readonly ProcessName[] = ['ingest', 'scorer', 'trainer'];

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a Prometheus text exposition (comments skipped; label values unescaped). */
export function parseExposition(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** One scrape of every process at `at` (ms); a process that did not answer is absent. */
export interface Snapshot {
  at: number;
  metrics: Partial<Record<ProcessName, MetricSample[]>>;
}

function sum(
  samples: MetricSample[] | undefined,
  name: string,
  where: Record<string, string> = {},
): number | undefined {
  if (!samples) return undefined;
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v),
  );
  return matching.length === 0 ? undefined : matching.reduce((a, s) => a + s.value, 0);
}

function ratePerSecond(
  prev: Snapshot | undefined,
  cur: Snapshot,
  process: ProcessName,
  name: string,
  where: Record<string, string> = {},
): number | undefined {
  const now = sum(cur.metrics[process], name, where);
  const before = prev ? sum(prev.metrics[process], name, where) : undefined;
  if (now === undefined || before === undefined || !prev || cur.at <= prev.at) return undefined;
  return Math.max(0, now - before) / ((cur.at - prev.at) / 1000); // a restart resets a counter: no negative rate
}

/** What the summary shows; undefined = not known (yet). */
export interface SummaryView {
  up: Record<ProcessName, boolean>;
  eventsPerSecond?: number;
  eventsAccepted?: number;
  deadLetters?: number;
  openSessions?: number;
  sessionsStored?: number;
  ingestLag?: number;
  modelVersion?: string;
  modelAuc?: number;
  modelAgeSeconds?: number;
  training: boolean;
  runs: Record<string, number>;
  predictionsPerSecond?: number;
  predictions?: number;
  scorerLag?: number;
}

export function summarize(prev: Snapshot | undefined, cur: Snapshot): SummaryView {
  const { ingest, scorer, trainer } = cur.metrics;
  const runs: Record<string, number> = {};
  for (const s of trainer ?? [])
    if (s.name === TRAINER_METRICS.runs && s.labels.result)
      runs[s.labels.result] = (runs[s.labels.result] ?? 0) + s.value;
  const created = sum(trainer, TRAINER_METRICS.championAge);
  const view: SummaryView = {
    up: { ingest: ingest !== undefined, scorer: scorer !== undefined, trainer: trainer !== undefined },
    eventsPerSecond: ratePerSecond(prev, cur, 'ingest', INGEST_METRICS.events, { outcome: 'accepted' }),
    eventsAccepted: sum(ingest, INGEST_METRICS.events, { outcome: 'accepted' }),
    deadLetters: sum(ingest, INGEST_METRICS.deadLetters),
    openSessions: sum(ingest, INGEST_METRICS.openSessions),
    sessionsStored: sum(ingest, INGEST_METRICS.sessionsClosed),
    ingestLag: sum(ingest, INGEST_METRICS.consumerLag),
    modelVersion: scorer?.find((s) => s.name === SCORER_METRICS.modelInfo && s.value === 1)?.labels.version,
    modelAuc: sum(trainer, TRAINER_METRICS.championAuc),
    modelAgeSeconds: created === undefined ? undefined : Math.max(0, cur.at / 1000 - created),
    training: sum(trainer, TRAINER_METRICS.running) === 1,
    runs,
    predictionsPerSecond: ratePerSecond(prev, cur, 'scorer', SCORER_METRICS.predictions),
    predictions: sum(scorer, SCORER_METRICS.predictions),
    scorerLag: sum(scorer, SCORER_METRICS.consumerLag),
  };
  return view;
}

const int = (n: number | undefined) => (n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const perSecond = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(1));
function age(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

export interface RenderOptions {
  urls: Record<ProcessName, string>;
  /** trainer.firstModel.minSessions: shown while no model is served. */
  minSessions: number;
  startedAt: number;
  logsDir?: string;
  /** Lines shown under the screen (the demo's how-to-try lines), since a redraw clears what was printed before. */
  notes?: readonly string[];
}

function modelText(view: SummaryView, minSessions: number): string {
  if (!view.modelVersion) {
    const stored = view.sessionsStored ?? 0;
    return view.training
      ? 'training the first model…'
      : `waiting for the first model: ${int(stored)} of ${int(minSessions)} sessions stored`;
  }
  const auc = view.modelAuc === undefined ? '' : `  test ROC-AUC ${view.modelAuc.toFixed(3)}`;
  const trained = view.modelAgeSeconds === undefined ? '' : `  trained ${age(view.modelAgeSeconds)} ago`;
  return `${view.modelVersion}${auc}${trained}${view.training ? '  (retraining now)' : ''}`;
}

/** The one-screen summary (a TTY redraws it). */
export function renderScreen(view: SummaryView, cur: Snapshot, options: RenderOptions): string[] {
  const down = SUMMARY_PROCESSES.filter((p) => !view.up[p]);
  const runs = ['promoted', 'rejected', 'failed'].map((r) => `${r} ${int(view.runs[r] ?? 0)}`).join(', ');
  const lines = [
    `intentstream demo · ${new Date(cur.at).toISOString().slice(11, 19)} UTC · up ${age((cur.at - options.startedAt) / 1000)} · Ctrl-C stops everything`,
    '',
    ` events/s       ${perSecond(view.eventsPerSecond).padStart(9)}   accepted ${int(view.eventsAccepted)}, dead letters ${int(view.deadLetters)}, ingest lag ${int(view.ingestLag)}`,
    ` open sessions  ${int(view.openSessions).padStart(9)}   sessions stored ${int(view.sessionsStored)}`,
    ` model          ${modelText(view, options.minSessions)}`,
    `                training runs: ${runs}`,
    ` predictions/s  ${perSecond(view.predictionsPerSecond).padStart(9)}   predictions ${int(view.predictions)}, scorer lag ${int(view.scorerLag)}`,
    '',
    ...SUMMARY_PROCESSES.map(
      (p) => ` ${p.padEnd(8)} ${options.urls[p]}/metrics${view.up[p] ? '' : '   (not answering yet)'}`,
    ),
  ];
  if (options.logsDir) lines.push('', ` logs: ${options.logsDir}/*.log`);
  lines.push(' predictions: npx intentstream consume --predictions');
  if (options.notes && options.notes.length > 0) lines.push('', ...options.notes.map((l) => ` ${l}`));
  if (down.length > 0 && cur.at - options.startedAt > 60_000)
    lines.push('', ` ! ${down.join(', ')} not answering: see the logs`);
  return lines;
}

/** One line per interval when the output is not a terminal. */
export function renderLine(view: SummaryView, options: RenderOptions): string {
  return [
    `events/s ${perSecond(view.eventsPerSecond)}`,
    `open sessions ${int(view.openSessions)}`,
    `model ${modelText(view, options.minSessions)}`,
    `predictions/s ${perSecond(view.predictionsPerSecond)} (total ${int(view.predictions)})`,
    ...SUMMARY_PROCESSES.filter((p) => !view.up[p]).map((p) => `${p} not answering`),
  ].join(' | ');
}
