import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { uniqueName } from './kafka.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** tsx's loader by path, so a CLI process started in another working directory still finds it. */
const TSX = import.meta.resolve('tsx');

/**
 * Starts the real CLI from source (never a stale dist/) as a child process, with bin/intentstream.js's
 * V8 flags, in the repository root or in `cwd` (relative data paths then resolve there, as on a machine
 * of its own).
 */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  { cwd = REPO_ROOT }: { cwd?: string } = {},
): ChildProcess {
  return spawn(process.execPath, [...SERVICE_NODE_FLAGS, '--import', TSX, MAIN, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the CLI to completion and collects its output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = spawnCli(args, env);
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr }));
  });
}

/** Parses the JSON log lines a process wrote to stderr (non-JSON lines are skipped). */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface RunningService {
  child: ChildProcess;
  /** Base URL of its /metrics, /healthz, /readyz server (from its "http server listening" log line). */
  url: string;
  /** Everything it wrote to stderr so far (JSON log lines). */
  stderr(): string;
  /** SIGTERM, then the exit code once it has drained; rejects (and SIGKILLs it) after `drainTimeoutMs`. */
  stop(drainTimeoutMs?: number): Promise<number | null>;
}

/** How long stop() waits for a process to drain and exit after SIGTERM. */
const STOP_TIMEOUT_MS = 120_000;

/** Starts a long-running CLI process (ingest, score, trainer) and waits until its HTTP server listens. */
export async function startService(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  { timeoutMs = 60_000, cwd }: { timeoutMs?: number; cwd?: string } = {},
): Promise<RunningService> {
  const child = spawnCli(args, env, cwd === undefined ? {} : { cwd });
  child.stdout!.resume();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const deadline = setTimeout(
      () => reject(new Error(`${args[0]} did not start its HTTP server: ${stderr.slice(-2000)}`)),
      timeoutMs,
    );
    const look = () => {
      const found = /"msg":"http server listening"[^\n]*"url":"([^"]+)"/.exec(stderr)?.[1];
      if (!found) return;
      clearTimeout(deadline);
      child.stderr!.off('data', look);
      resolve(found);
    };
    child.stderr!.on('data', look);
    void exited.then((code) => {
      clearTimeout(deadline);
      reject(new Error(`${args[0]} exited with ${code} before listening: ${stderr.slice(-2000)}`));
    });
  });
  return {
    child,
    url,
    stderr: () => stderr,
    stop: (drainTimeoutMs = STOP_TIMEOUT_MS) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // A process that never exits must fail its test with its log, not hang the suite.
      let timer: NodeJS.Timeout | undefined;
      const overdue = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(
            new Error(
              `${args[0]} did not exit within ${drainTimeoutMs} ms of SIGTERM (killed): ${stderr.slice(-3000)}`,
            ),
          );
        }, drainTimeoutMs);
      });
      return Promise.race([exited, overdue]).finally(() => clearTimeout(timer));
    },
  };
}

/** Environment for an `ingest` process on `topic` (dead letters to `<topic>-dlq` unless given), storing under `dir`. */
export function ingestEnv(options: {
  topic: string;
  group: string;
  dir: string;
  deadLetter?: string;
  flushInterval?: string;
}): Record<string, string> {
  return {
    INTENTSTREAM_TOPICS__EVENTS: options.topic,
    INTENTSTREAM_TOPICS__DEAD_LETTER: options.deadLetter ?? `${options.topic}-dlq`,
    INTENTSTREAM_INGEST__GROUP_ID: options.group,
    INTENTSTREAM_STORE__DIR: join(options.dir, 'store'),
    INTENTSTREAM_INGEST__CHECKPOINT_DIR: join(options.dir, 'checkpoints'),
    INTENTSTREAM_INGEST__FLUSH_INTERVAL: options.flushInterval ?? '300ms',
  };
}

/** Starts the real ingest process; `started` resolves once it has joined the group and installed its handlers. */
export function startIngest(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  started: Promise<void>;
  log: () => string;
} {
  const child = spawnCli(['ingest', '--port', '0'], env);
  child.stdout!.resume();
  let buffered = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered = (buffered + chunk).slice(-100_000);
      if (buffered.includes('"msg":"ingest started"')) resolve();
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`ingest exited (${code ?? signal}) before starting: ${buffered.slice(-2000)}`)),
    );
  });
  started.catch(() => undefined);
  return { child, started, log: () => buffered };
}

/**
 * One ingest run's own folders, group and environment on `topic` (crash tests restart it with the same
 * group; `extra` points its storage elsewhere, e.g. at S3).
 */
export function ingestRun(topic: string, dlq: string, name: string, extra: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), `ingest-${name}-`));
  return {
    dir,
    groupId: uniqueName(`ingest-${name}`),
    env: (groupId: string): NodeJS.ProcessEnv => ({
      INTENTSTREAM_TOPICS__EVENTS: topic,
      INTENTSTREAM_TOPICS__DEAD_LETTER: dlq,
      INTENTSTREAM_INGEST__GROUP_ID: groupId,
      INTENTSTREAM_STORE__DIR: join(dir, 'store'),
      INTENTSTREAM_INGEST__CHECKPOINT_DIR: join(dir, 'checkpoints'),
      INTENTSTREAM_INGEST__FLUSH_INTERVAL: '250ms',
      INTENTSTREAM_KAFKA__SESSION_TIMEOUT: '2s',
      ...extra,
    }),
  };
}
