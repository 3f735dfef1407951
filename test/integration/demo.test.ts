import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodePrediction } from '../../src/schemas/index.js';
import type { SessionPrediction } from '../../src/schemas/types.js';
import { freePort } from '../helpers/broker.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { testConfig, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';

const run = promisify(execFile);
const hasPrometheus = await run('sh', ['-c', 'command -v prometheus']).then(
  () => true,
  () => false,
);

/** The pids of `root`'s descendants, read from /proc. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // comm may hold spaces and parentheses: the ppid is the second field after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parent) {
      if (ppid === pid) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * scripts/demo as a new user runs it, on the shared broker with its own topics, groups, ports and
 * data directory: bootstrap (history → import → train → register → promote), then real-time traffic.
 * An event sent with the kcat line the demo prints, for a new cookie at the current time, is scored.
 */
describe('scripts/demo', () => {
  it(
    'bootstraps a first model, scores an event sent with its kcat line, answers its Prometheus graph links, and stops cleanly on Ctrl-C',
    { timeout: 420_000 },
    async (t) => {
      const base = uniqueName('demo');
      const dir = mkdtempSync(join(tmpdir(), 'demo-'));
      const topics = {
        events: `${base}.events`,
        predictions: `${base}.predictions`,
        deadLetter: `${base}.dlq`,
        sessions: `${base}.sessions`,
      };
      const [ingestPort, scorerPort, trainerPort, prometheusPort] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        KAFKA_BROKERS: testConfig.kafka.brokers.join(','),
        DEMO_DIR: dir,
        DEMO_SKIP_INSTALL: '1',
        DEMO_PROMETHEUS_PORT: String(prometheusPort),
        INTENTSTREAM_TOPICS__EVENTS: topics.events,
        INTENTSTREAM_TOPICS__PREDICTIONS: topics.predictions,
        INTENTSTREAM_TOPICS__DEAD_LETTER: topics.deadLetter,
        INTENTSTREAM_TOPICS__SESSIONS: topics.sessions,
        INTENTSTREAM_INGEST__GROUP_ID: `${base}-ingest`,
        INTENTSTREAM_SCORER__GROUP_ID: `${base}-scorer`,
        INTENTSTREAM_HTTP__PORTS__INGEST: String(ingestPort),
        INTENTSTREAM_HTTP__PORTS__SCORER: String(scorerPort),
        INTENTSTREAM_HTTP__PORTS__TRAINER: String(trainerPort),
      };
      const startedAt = Date.now();
      // Its own process group, as a shell gives a foreground job: Ctrl-C is a SIGINT to that group.
      const demo = spawn(join(REPO_ROOT, 'scripts/demo'), [], {
        cwd: REPO_ROOT,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      demo.stdout!.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      demo.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        demo.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const kafka = testKafka();
      const predictions: SessionPrediction[] = [];
      const consumer = kafka.consumer({ groupId: uniqueName('demo-reader'), readUncommitted: false });
      let failure: unknown;
      const seen = new Map<number, string>(); // pid -> command line
      // Read again every time: a pid caught between the script's fork and its exec still shows the
      // script's own command line, and keeping that first reading lost the process it became.
      const collect = () => {
        for (const pid of descendants(demo.pid!)) {
          try {
            seen.set(pid, readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
          } catch {
            // exited meanwhile
          }
        }
      };
      try {
        // A wait fails as soon as the demo exits, with its output.
        const whileRunning = <T>(wait: Promise<T>): Promise<T> =>
          Promise.race([
            wait,
            exited.then(({ code }) => {
              throw new Error(`scripts/demo exited with ${code}: ${stderr}`);
            }),
          ]);
        // The topics exist once the live traffic starts.
        await whileRunning(
          waitFor(() => stderr.includes('[demo] live traffic'), {
            timeoutMs: 60_000,
            intervalMs: 200,
            what: 'the demo to create its topics and start the live traffic',
          }),
        );
        await consumer.connect();
        await consumer.subscribe({ topic: topics.predictions, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            predictions.push(decodePrediction(message.value!));
          },
        });

        await whileRunning(
          waitFor(
            () => {
              collect();
              return predictions.length > 0;
            },
            { timeoutMs: 240_000, intervalMs: 200, what: 'the first prediction' },
          ),
        );
        const firstPredictionS = (Date.now() - startedAt) / 1000;
        t.diagnostic(`broker up -> first prediction: ${firstPredictionS.toFixed(1)} s`);
        assert.match(stderr, /models register, models promote/, 'the first model came from the bootstrap');
        const current = readFileSync(join(dir, 'models', 'CURRENT'), 'utf8').trim();
        assert.ok(
          predictions.every((p) => p.model_version === current),
          'predictions come from the promoted model',
        );

        // The printed line, pasted with a new cookie: JSON, the current wall-clock time, no event_id.
        // The how-to-try lines are on stdout before stderr says how long the set-up took.
        await whileRunning(
          waitFor(() => stderr.includes('[demo] set up in'), {
            timeoutMs: 60_000,
            intervalMs: 200,
            what: 'the how-to-try lines',
          }),
        );
        const kcatLine = stdout
          .split('\n')
          .find((l) => l.includes('kcat -P'))
          ?.trim();
        assert.ok(kcatLine, `the demo printed no kcat line: ${stdout}`);
        const cookie = uniqueName('me');
        const sentAt = Date.now();
        await run('bash', ['-c', kcatLine.replaceAll('me-1', cookie)]);
        const mine = await waitFor(() => predictions.find((p) => p.cookie_id === cookie), {
          timeoutMs: 60_000,
          intervalMs: 200,
          what: `a prediction for ${cookie}`,
        });
        assert.equal(mine.model_version, current);
        assert.ok(
          mine.event_time >= sentAt - 1_000 && mine.event_time <= Date.now(),
          'scored at its own time',
        );
        assert.equal(mine.events_in_session, 1);
        assert.ok(mine.probabilities.purchase! >= 0 && mine.probabilities.purchase! <= 1);

        if (hasPrometheus) {
          const links = stdout
            .split('\n')
            .map((l) => /^\s+([^:]+): (http:\/\/127\.0\.0\.1:(\d+)\/graph\?\S+)$/.exec(l))
            .filter((m) => m !== null);
          assert.equal(links.length, 4, `four graph links printed: ${stdout}`);
          assert.equal(Number(links[0]![3]), prometheusPort);
          // Rates need two scrapes in their window: poll until events/s and predictions/s have data.
          for (const [, name, url] of links.slice(0, 2)) {
            const expr = new URL(url!).searchParams.get('g0.expr')!;
            await waitFor(
              async () => {
                const res = await fetch(
                  `http://127.0.0.1:${prometheusPort}/api/v1/query?query=${encodeURIComponent(expr)}`,
                );
                const body = (await res.json()) as { data?: { result: { value: [number, string] }[] } };
                const value = Number(body.data?.result[0]?.value[1]);
                return value > 0;
              },
              { timeoutMs: 90_000, intervalMs: 1_000, what: `Prometheus data for ${name}` },
            );
          }
        } else {
          t.diagnostic('prometheus is not installed: the graph links are not checked');
        }
      } catch (error) {
        failure = error;
      }
      collect();
      if (demo.exitCode === null) process.kill(-demo.pid!, 'SIGINT');
      const { code, signal } = await exited;
      await consumer.disconnect();
      t.diagnostic(`demo stderr tail: ${stderr.slice(-1500)}`);
      if (failure) throw failure;
      assert.equal(signal, null);
      assert.equal(code, 130, 'Ctrl-C: the script exits 130 after stopping everything');
      assert.doesNotMatch(stderr, /exited with/, 'every process drained and exited 0');
      const commands = [...seen.values()].join('\n');
      for (const service of [' generate ', ' ingest ', ' score ', ' trainer ', ' ops summary ']) {
        assert.ok(commands.includes(service), `the demo ran${service}: ${commands}`);
      }
      if (hasPrometheus) assert.match(commands, /^prometheus /m);
      await waitFor(() => [...seen.keys()].every((pid) => !alive(pid)), {
        timeoutMs: 5_000,
        what: 'every process the demo started to be gone',
      });
      rmSync(dir, { recursive: true, force: true });
    },
  );
});
