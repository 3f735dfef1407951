/**
 * bench/soak: the whole pipeline — ingest, trainer (first model as soon as there is data) and the
 * scorer — under a steady generated load for a fixed time, sampling each process's RSS and event-loop
 * lag from its /metrics. value = the scorer's RSS at the end, reference = its RSS one minute after
 * it started scoring (ratio > 1 is growth); the ingest figures and the lag series are in the JSON.
 *
 *   npx tsx bench/soak.ts [minutes=10] [eventsPerSecond=3000]
 * Needs a broker (scripts/kafka start, or KAFKA_BROKERS).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { SERVICE_NODE_FLAGS } from '../src/cli/node-flags.js';
import { createLogger } from '../src/log/logger.js';
import { machine, percentile, waitUntil, writeResult } from './common.js';

const MINUTES = Number(process.argv[2] ?? 10);
const RATE = Number(process.argv[3] ?? 3_000);
const SAMPLE_MS = 5_000;
const logger = createLogger({ level: 'info', bindings: { component: 'bench-soak' } });
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const run = Date.now().toString(36);
const dir = mkdtempSync(join(tmpdir(), 'soak-'));
const topic = `bench-soak-${run}`;
const configFile = join(dir, 'intentstream.yaml');
writeFileSync(
  configFile,
  YAML.stringify({
    topics: {
      events: topic,
      predictions: `${topic}-predictions`,
      deadLetter: `${topic}-dlq`,
      sessions: `${topic}-sessions`,
    },
    store: { dir: join(dir, 'timelines') },
    ingest: { groupId: `${topic}-ingest`, checkpointDir: join(dir, 'checkpoints') },
    scorer: { groupId: `${topic}-scorer`, modelDir: join(dir, 'models'), emit: 'every' },
    http: { host: '127.0.0.1', ports: { ingest: 0, scorer: 0, trainer: 0, generator: 0 } },
    trainer: {
      modelsDir: join(dir, 'models'),
      checkpointDir: join(dir, 'trainer-checkpoints'),
      firstModel: { minSessions: 2_000, checkInterval: '10s' },
      training: { epochs: 3 },
    },
  }),
);

interface Proc {
  name: string;
  child: ChildProcess;
  url?: string;
  log: string;
}
function start(name: string, args: string[]): Proc {
  const child = spawn(
    process.execPath,
    [...SERVICE_NODE_FLAGS, '--import', 'tsx', MAIN, ...args, '--config', configFile],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const p: Proc = { name, child, log: '' };
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    p.log = (p.log + d).slice(-200_000);
    p.url ??= /"msg":"http server listening"[^\n]*"url":"([^"]+)"/.exec(p.log)?.[1];
  });
  return p;
}
const stop = (p: Proc) =>
  new Promise<number | null>((resolve) => {
    if (p.child.exitCode !== null) return resolve(p.child.exitCode);
    p.child.once('exit', (code) => resolve(code));
    p.child.kill('SIGTERM');
  });

const value = (text: string, name: string, label = '') => {
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(label));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
};

interface Sample {
  t: number;
  rssMiB: number;
  lagP99Ms: number;
  processed: number;
}
const samples: Record<string, Sample[]> = { ingest: [], scorer: [] };
const ingest = start('ingest', ['ingest']);
const trainer = start('trainer', ['trainer']);
const scorer = start('scorer', ['score']);
const procs = [ingest, trainer, scorer];
await waitUntil(() => procs.every((p) => p.url !== undefined), 60_000, 'all processes listening');
const generator = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    MAIN,
    'generate',
    '--config',
    configFile,
    '--rate',
    String(RATE),
    '--events',
    String(RATE * 60 * MINUTES),
    '--cookies',
    '20000',
    '--duration',
    '30d',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const t0 = Date.now();
let firstScored: number | undefined;
let timer: NodeJS.Timeout | undefined;
await new Promise<void>((resolve) => {
  timer = setInterval(async () => {
    const t = (Date.now() - t0) / 1000;
    for (const [name, p, counter] of [
      ['ingest', ingest, 'intentstream_ingest_events_total'],
      ['scorer', scorer, 'intentstream_scorer_events_total'],
    ] as const) {
      try {
        const text = await (await fetch(`${p.url}/metrics`)).text();
        const processed = text
          .split('\n')
          .filter((l) => l.startsWith(`${counter}{`))
          .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
        samples[name]!.push({
          t,
          rssMiB: value(text, 'intentstream_process_resident_memory_bytes') / 2 ** 20,
          lagP99Ms: value(text, 'intentstream_nodejs_eventloop_lag_p99_seconds') * 1000,
          processed,
        });
        if (name === 'scorer' && processed > 0) firstScored ??= t;
      } catch (error) {
        logger.warn('sample failed', { process: name, error: (error as Error).message });
      }
    }
    const last = (n: string) => samples[n]!.at(-1);
    logger.info('soak progress', {
      elapsedS: Math.round(t),
      ofS: MINUTES * 60,
      ingest: last('ingest'),
      scorer: last('scorer'),
    });
    if (generator.exitCode !== null || t >= MINUTES * 60 + 30) resolve();
  }, SAMPLE_MS);
});
clearInterval(timer);
generator.kill('SIGTERM');
const codes = Object.fromEntries(await Promise.all(procs.map(async (p) => [p.name, await stop(p)] as const)));

const summary = (list: Sample[]) => {
  const lags = list
    .map((s) => s.lagP99Ms)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  return {
    rssMiB: {
      first: list[0]?.rssMiB,
      max: Math.max(...list.map((s) => s.rssMiB)),
      last: list.at(-1)?.rssMiB,
    },
    eventLoopLagP99Ms: { median: percentile(lags, 50), max: lags.at(-1) },
    processed: list.at(-1)?.processed,
  };
};
const scorerSamples = samples.scorer!;
const warm =
  scorerSamples.find((s) => firstScored !== undefined && s.t >= firstScored + 60) ?? scorerSamples[0]!;
const end = scorerSamples.at(-1)!;
writeResult('soak', {
  value: Math.round(end.rssMiB),
  unit: 'MiB scorer RSS at the end',
  reference: Math.round(warm.rssMiB),
  ratio: end.rssMiB / warm.rssMiB,
  config: { minutes: MINUTES, eventsPerSecond: RATE, cookies: 20_000, sampleEverySeconds: SAMPLE_MS / 1000 },
  machine: machine(),
  firstPredictionAfterS: firstScored,
  exitCodes: codes,
  ingest: summary(samples.ingest!),
  scorer: summary(scorerSamples),
  series: samples,
});
