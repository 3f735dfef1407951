/**
 * bench/train-scale: does `intentstream train` stay within bounded memory as the window grows?
 * For each size (generated sessions: 0.25M, 1M, 4M by default) a timeline store is generated
 * (through the real sessionizer, written segment by segment, so generating is bounded too) and
 * `intentstream train --epochs 1` runs on it as a child process under /usr/bin/time, which gives
 * its peak RSS; its stdout gives training throughput (time steps per second) and test ROC-AUC.
 *
 * Reference, in the same run: the trainer of another git revision (default `main`, the in-memory
 * trainer before shards), extracted with `git archive`, on the smallest store: its peak RSS,
 * throughput and test ROC-AUC on the same data.
 *
 * Value: peak RSS at the largest size ÷ at the smallest (bounded memory: near 1). Also written:
 * throughput of this trainer ÷ the reference's at the smallest size, and the test ROC-AUC of both.
 *
 *   npx tsx bench/train-scale.ts [--sizes=250000,1000000,4000000] [--reference=main|none] [--days=14] [--seed=1]
 *                                [--epochs=1] [--result=train-scale] [--generate-only]
 *
 * --epochs: both trainers train this many epochs (early stopping as configured); --result: the name of
 * the results file (a converged comparison, e.g. --epochs=12, is kept apart from the memory run);
 * --generate-only: make the stores, train nothing.
 *
 * Stores are kept under $TMPDIR/intentstream-train-scale/ and reused by later runs (a store is
 * complete once its `done` marker is written). Progress goes to stderr as JSON lines.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGenerator } from '../src/generator/index.js';
import { createLogger } from '../src/log/logger.js';
import type { SessionTimeline } from '../src/schemas/types.js';
import { Sessionizer } from '../src/sessionizer/index.js';
import { createTimelineStore } from '../src/store/index.js';
import { machine, writeResult } from './common.js';

const DAY_MS = 86_400_000;
/**
 * Sessions per stored segment file while generating. The store decodes a whole segment file at a
 * time, so its size is part of any reader's memory: it is kept the same at every size, so the
 * measurement compares windows, not file layouts.
 */
const SEGMENT_SESSIONS = 10_000;
const repo = fileURLToPath(new URL('..', import.meta.url));
const log = createLogger({ level: 'info', bindings: { bench: 'train-scale' } });

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k!, v ?? 'true'];
  }),
);
const sizes = (args['sizes'] ?? process.env['TRAIN_SCALE_SIZES'] ?? '250000,1000000,4000000')
  .split(',')
  .map(Number);
const days = Number(args['days'] ?? 14);
const seed = Number(args['seed'] ?? 1);
const referenceRev = args['reference'] ?? 'main';
const generateOnly = args['generate-only'] === 'true';
const epochs = Number(args['epochs'] ?? 1);
const resultName = args['result'] ?? 'train-scale';
const root = join(tmpdir(), 'intentstream-train-scale');

/** A store of about `sessions` generated sessions over `days` days (cached). */
async function generateStore(sessions: number): Promise<string> {
  const dir = join(root, `store-${sessions}-d${days}-s${seed}`);
  if (existsSync(join(dir, 'done'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const store = createTimelineStore(dir);
  // About four sessions a cookie a day (the generator's mean gap between sessions is six hours).
  const cookies = Math.ceil((sessions / (4 * days)) * 1.1);
  const sessionizer = new Sessionizer({ graceMs: 120_000, dedupeWindow: 200_000 });
  let pending: SessionTimeline[] = [];
  let written = 0;
  let segment = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    await store.writeSegment(`generated-${String(segment++).padStart(5, '0')}`, pending);
    written += pending.length;
    pending = [];
    log.info('progress', { label: 'generate store', sessions: written, of: sessions });
  };
  for (const item of createGenerator({ seed, cookies, durationMs: days * DAY_MS, botCookies: 0 })) {
    if (item.kind !== 'event') continue;
    sessionizer.push(item.event);
    for (const s of sessionizer.drainClosed()) if (written + pending.length < sessions) pending.push(s);
    if (pending.length >= SEGMENT_SESSIONS) await flush();
    if (written >= sessions) break;
  }
  if (written + pending.length < sessions) {
    sessionizer.flushAll('end_of_input');
    for (const s of sessionizer.drainClosed()) if (written + pending.length < sessions) pending.push(s);
  }
  await flush();
  writeFileSync(join(dir, 'done'), `${written}\n`);
  return dir;
}

/** The trainer of git revision `rev`, extracted next to the stores, using this checkout's packages. */
function checkoutOf(rev: string): string {
  const commit = execFileSync('git', ['rev-parse', rev], { cwd: repo, encoding: 'utf8' }).trim();
  const dir = join(root, `rev-${commit.slice(0, 12)}`);
  if (!existsSync(join(dir, 'package.json'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C ${dir}`], { cwd: repo });
  }
  // Linked anew each run: a cached checkout may point at the packages of a checkout since removed.
  rmSync(join(dir, 'node_modules'), { force: true });
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

interface TrainMeasure {
  peakRssBytes: number;
  wallSeconds: number;
  stepsPerSecond: number;
  testRocAuc: number | null;
  splits: Record<string, number>;
  /** Epochs trained and the one kept (early stopping). */
  epochs: number;
  bestEpoch: number;
}

/** `intentstream train --epochs <epochs>` of checkout `dir` on `store`, under /usr/bin/time. */
async function train(dir: string, store: string, tag: string): Promise<TrainMeasure> {
  const work = join(root, `run-${resultName}-${tag}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const timeFile = join(work, 'time');
  const child = spawn(
    '/usr/bin/time',
    [
      '-f',
      '%M %e',
      '-o',
      timeFile,
      process.execPath,
      '--max-semi-space-size=32',
      join(dir, 'bin/intentstream.js'),
      'train',
      '--store',
      store,
      '--epochs',
      String(epochs),
      '--days',
      String(days * 2),
      '--out',
      join(work, 'candidate'),
      '--checkpoint-dir',
      join(work, 'checkpoints'),
      '--seed',
      String(seed),
    ],
    { cwd: work, env: { ...process.env, TMPDIR: work }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  // The trainer's progress lines, passed on.
  child.stderr.pipe(process.stderr);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`intentstream train (${tag}) exited with ${code}`);
  const [kb, seconds] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    stepsPerSecond: number;
    test: { rocAuc: number | null };
    sessions: Record<string, number>;
    epochs: number;
    bestEpoch: number;
  };
  rmSync(work, { recursive: true, force: true });
  return {
    peakRssBytes: kb! * 1024,
    wallSeconds: seconds!,
    stepsPerSecond: out.stepsPerSecond,
    testRocAuc: out.test.rocAuc,
    splits: out.sessions,
    epochs: out.epochs,
    bestEpoch: out.bestEpoch,
  };
}

const gib = (bytes: number) => Math.round((bytes / 2 ** 30) * 1000) / 1000;

async function main(): Promise<void> {
  mkdirSync(root, { recursive: true });
  const runs: ({ sessions: number } & TrainMeasure)[] = [];
  let reference: TrainMeasure | null = null;
  for (const [i, size] of sizes.entries()) {
    const store = await generateStore(size);
    log.info('store ready', { sessions: size, store });
    if (generateOnly) continue;
    if (i === 0 && referenceRev !== 'none') {
      reference = await train(checkoutOf(referenceRev), store, `reference-${size}`);
      log.info('measured', { trainer: referenceRev, sessions: size, ...reference });
    }
    const measured = await train(repo, store, `sharded-${size}`);
    runs.push({ sessions: size, ...measured });
    log.info('measured', { trainer: 'this checkout', sessions: size, ...measured });
    // Written after every size, so a long run that is stopped still leaves the sizes it finished.
    report(runs, reference);
  }
}

function report(runs: ({ sessions: number } & TrainMeasure)[], reference: TrainMeasure | null): void {
  const first = runs[0]!;
  const last = runs.at(-1)!;
  writeResult(resultName, {
    value: last.peakRssBytes / first.peakRssBytes,
    unit: `peak RSS at ${last.sessions} sessions / at ${first.sessions}`,
    reference: reference ? reference.stepsPerSecond : Number.NaN,
    ratio: reference ? first.stepsPerSecond / reference.stepsPerSecond : Number.NaN,
    ratioMeaning: `training steps/s of this trainer / the ${referenceRev} trainer, at ${first.sessions} sessions`,
    config: { sizes, days, seed, epochs, referenceRev },
    machine: machine(),
    runs: runs.map((r) => ({ ...r, peakRssGiB: gib(r.peakRssBytes) })),
    referenceRun: reference ? { ...reference, peakRssGiB: gib(reference.peakRssBytes) } : null,
    testRocAucDifference:
      reference?.testRocAuc != null && first.testRocAuc !== null
        ? first.testRocAuc - reference.testRocAuc
        : null,
  });
}

await main();
