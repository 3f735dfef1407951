import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INGEST_METRICS } from '../../src/metrics/ingest-metrics.js';
import { SCORER_METRICS } from '../../src/metrics/scorer-metrics.js';
import { TRAINER_METRICS } from '../../src/metrics/trainer-metrics.js';
import {
  type Snapshot,
  parseExposition,
  renderLine,
  renderScreen,
  summarize,
} from '../../src/ops/summary.js';

const render = {
  urls: { ingest: 'http://h:1', scorer: 'http://h:2', trainer: 'http://h:3' },
  minSessions: 500,
  startedAt: 0,
};

function snapshot(at: number, texts: Partial<Record<'ingest' | 'scorer' | 'trainer', string>>): Snapshot {
  return {
    at,
    metrics: Object.fromEntries(Object.entries(texts).map(([k, t]) => [k, parseExposition(t)])),
  };
}

describe('ops summary', () => {
  it('parses the text exposition: labels (escaped quotes included), values, comments skipped', () => {
    const samples = parseExposition(
      [
        '# HELP x help',
        '# TYPE x counter',
        'x_total{outcome="accepted",process="ingest"} 12',
        'y{v="a\\"b"} 1.5e3',
        'z 7',
      ].join('\n'),
    );
    assert.deepEqual(samples, [
      { name: 'x_total', labels: { outcome: 'accepted', process: 'ingest' }, value: 12 },
      { name: 'y', labels: { v: 'a"b' }, value: 1500 },
      { name: 'z', labels: {}, value: 7 },
    ]);
  });

  it('computes rates between two scrapes and shows the served model with its AUC', () => {
    const ingest = (accepted: number) =>
      `${INGEST_METRICS.events}{outcome="accepted"} ${accepted}\n${INGEST_METRICS.events}{outcome="rejected"} 5\n${INGEST_METRICS.openSessions}{partition="0"} 10\n${INGEST_METRICS.openSessions}{partition="1"} 20`;
    const scorer = (n: number) =>
      `${SCORER_METRICS.predictions} ${n}\n${SCORER_METRICS.modelInfo}{version="v7"} 1`;
    const trainer = `${TRAINER_METRICS.championAuc} 0.8123\n${TRAINER_METRICS.championAge} 100\n${TRAINER_METRICS.runs}{result="promoted",trigger="first-model"} 1\n${TRAINER_METRICS.running} 0`;
    const a = snapshot(100_000, { ingest: ingest(1000), scorer: scorer(50), trainer });
    const b = snapshot(110_000, { ingest: ingest(2500), scorer: scorer(450), trainer });
    const view = summarize(a, b);
    assert.equal(view.eventsPerSecond, 150, 'accepted events only');
    assert.equal(view.predictionsPerSecond, 40);
    assert.equal(view.openSessions, 30, 'summed over partitions');
    assert.equal(view.modelVersion, 'v7');
    assert.equal(view.modelAgeSeconds, 10);
    const screen = renderScreen(view, b, render).join('\n');
    assert.match(screen, /events\/s\s+150\.0/);
    assert.match(screen, /v7 {2}test ROC-AUC 0\.812 {2}trained 10s ago/);
    assert.match(screen, /predictions\/s\s+40\.0/);
    assert.match(screen, /promoted 1, rejected 0, failed 0/);
    for (const url of Object.values(render.urls)) assert.ok(screen.includes(`${url}/metrics`), url);
  });

  it('says what it waits for before the first model, and which process is not answering', () => {
    const cur = snapshot(120_000, {
      ingest: `${INGEST_METRICS.sessionsClosed}{reason="gap"} 120\n${INGEST_METRICS.sessionsClosed}{reason="max_events"} 3`,
    });
    const view = summarize(undefined, cur);
    assert.equal(view.eventsPerSecond, undefined, 'no rate from a single scrape');
    const line = renderLine(view, render);
    assert.match(line, /waiting for the first model: 123 of 500 sessions stored/);
    assert.match(line, /scorer not answering \| trainer not answering/);
    assert.match(renderScreen(view, cur, render).join('\n'), /scorer, trainer not answering: see the logs/);
  });

  it('keeps the notes under the screen, which a redraw would otherwise clear', () => {
    const cur = snapshot(0, {});
    const screen = renderScreen(summarize(undefined, cur), cur, {
      ...render,
      notes: ['Send your own:', '  kcat -P'],
    });
    assert.deepEqual(screen.slice(-3), ['', ' Send your own:', '   kcat -P']);
    assert.ok(!renderScreen(summarize(undefined, cur), cur, render).includes(' Send your own:'));
  });

  it('never shows a negative rate after a process restart resets its counters', () => {
    const a = snapshot(0, { scorer: `${SCORER_METRICS.predictions} 900` });
    const b = snapshot(10_000, { scorer: `${SCORER_METRICS.predictions} 30` });
    assert.equal(summarize(a, b).predictionsPerSecond, 0);
  });
});
