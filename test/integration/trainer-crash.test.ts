/**
 * The trainer process SIGKILLed at random moments of its runs — training, writing the candidate,
 * registering, switching CURRENT — and restarted each time, with its registry in the local models
 * directory and on S3 (the real server scripts/s3 starts; the trainer's own folders stay local, as on
 * a machine of its own). Every other kill lands in the promotion itself: between the "model evaluated"
 * log line and "candidate promoted" (writing the candidate, scoring the champion, uploading, the
 * decision, switching CURRENT, recording the history). After each kill the registry is valid: CURRENT
 * names a complete model that passes verification and that the scorer loads, the history reads as one
 * unbroken chain of switches ending at CURRENT (a switch killed before its entry was written included)
 * with nothing recorded twice, `models list` shows one CURRENT; and a final undisturbed run still trains and promotes, and `models show` prints its card.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import YAML from 'yaml';
import {
  type HistoryEntry,
  MODEL_FILES,
  type ModelStore,
  createLocalModelStore,
  createModelRegistry,
  createObjectModelStore,
} from '../../src/registry/index.js';
import { verifyModelDir } from '../../src/registry/verify.js';
import { lstmModelFactory } from '../../src/scoring/lstm-model.js';
import { createRegistryModelSource } from '../../src/scoring/registry-source.js';
import type { ObjectStorage } from '../../src/storage/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { seededRandom } from '../helpers/seeded.js';
import { s3StorageEnv, testS3Prefix, testS3Storage } from '../helpers/storage.js';
import { fillStoreFromGenerator } from '../helpers/store.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';
import { waitFor } from '../helpers/wait.js';

const KILLS = 6;

/** Where one trainer machine keeps its timelines and registered models. */
interface Backend {
  name: string;
  /** The environment that points the CLI there, where timelines are imported, and the registry as stored. */
  open(dir: string): { env: NodeJS.ProcessEnv; timelines?: ObjectStorage; models: ModelStore };
}

const backends: Backend[] = [
  {
    name: 'local models directory',
    open: (dir) => ({ env: {}, models: createLocalModelStore(join(dir, 'models')) }),
  },
  {
    name: 'S3 (SeaweedFS)',
    open(dir) {
      const prefix = testS3Prefix();
      return {
        env: { ...s3StorageEnv(prefix), INTENTSTREAM_STORAGE__S3__CACHE_DIR: join(dir, 'model-cache') },
        timelines: testS3Storage(`${prefix}timelines/`),
        models: createObjectModelStore(testS3Storage(`${prefix}models/`), join(dir, 'test-cache')),
      };
    },
  },
];

/**
 * The history the registry reads is one unbroken chain of switches (each starts where the previous one
 * left CURRENT) ending at `current`; as stored, no switch is recorded twice (every run promotes a new
 * version once, nobody rolls back).
 */
function assertHistory(read: HistoryEntry[], stored: HistoryEntry[], current: string, what: string) {
  assert.equal(read.at(-1)?.version, current, `${what}: history does not end with CURRENT`);
  read.forEach((entry, i) => {
    assert.equal(
      entry.previous,
      i === 0 ? null : read[i - 1]!.version,
      `${what}: history entry ${i} (${entry.action} ${entry.version}) does not follow entry ${i - 1}`,
    );
  });
  const versions = stored.map((e) => e.version);
  assert.equal(new Set(versions).size, versions.length, `${what}: a switch recorded twice: ${versions}`);
}

for (const backend of backends) {
  describe(`trainer SIGKILLed mid-run, registry in ${backend.name}`, () => {
    it(`leaves the registry and CURRENT valid after ${KILLS} kills at random moments, half of them mid-promotion`, async (t) => {
      const rand = seededRandom(t);
      const dir = mkdtempSync(join(tmpdir(), 'trainer-crash-'));
      const { env, timelines, models } = backend.open(dir);
      const { storeDir } = await fillStoreFromGenerator(
        dir,
        { seed: 21, cookies: 250, durationMs: 2 * 86_400_000 },
        timelines,
      );
      const configFile = join(dir, 'intentstream.yaml');
      writeFileSync(
        configFile,
        YAML.stringify({
          store: { dir: storeDir },
          http: { host: '127.0.0.1', ports: { trainer: 0 } },
          trainer: {
            ...tinyTrainerConfig(),
            modelsDir: join(dir, 'models'),
            checkpointDir: join(dir, 'checkpoints'),
            backend: 'cpu',
            // Same data and seed give the same AUC: margin 0 promotes every run, so each run writes CURRENT.
            promotionMargin: 0,
          },
        }),
      );
      const registry = createModelRegistry(join(dir, 'models'), { verify: verifyModelDir, store: models });
      const cli = (args: string[]) => runCli([...args, '--config', configFile], env);

      /** When the run's promotion begins: its model is evaluated, everything after writes the registry. */
      const PROMOTION_STARTS = /"msg":"model evaluated"/;
      const PROMOTION_ENDS = /"msg":"candidate (promoted|kept out)/;
      type Kill = { afterStartMs: number } | { intoPromotionMs: number };
      const runOnce = async (kill: Kill | undefined) => {
        const started = Date.now();
        const child = spawnCli(['trainer', '--config', configFile, '--run-now'], env);
        child.stdout!.resume();
        let stderr = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => {
          stderr += d;
        });
        const exited = new Promise((resolve) => child.once('exit', resolve));
        const gone = () => child.exitCode !== null || child.signalCode !== null;
        const seen = (pattern: RegExp, what: string) =>
          waitFor(() => pattern.test(stderr) || gone() || undefined, { what, timeoutMs: 180_000 });
        let promotionMs = 0;
        if (kill === undefined) {
          await seen(PROMOTION_STARTS, 'an undisturbed run to evaluate its model');
          const promoting = Date.now();
          await seen(PROMOTION_ENDS, 'an undisturbed run to finish');
          promotionMs = Date.now() - promoting;
          child.kill('SIGTERM');
        } else {
          if ('afterStartMs' in kill) await Promise.race([delay(kill.afterStartMs), exited]);
          else {
            await seen(PROMOTION_STARTS, 'the run to reach its promotion');
            await Promise.race([delay(kill.intoPromotionMs), exited]);
          }
          child.kill('SIGKILL');
        }
        await exited;
        return { stderr, runMs: Date.now() - started, promotionMs };
      };

      // A first model, then one undisturbed run timed so the kills spread over a whole run and over its
      // promotion, as the killed runs do it: with a champion to fetch and score.
      await runOnce(undefined);
      assert.ok(await registry.current(), 'the first undisturbed run promoted a model');
      const timing = await runOnce(undefined);
      t.diagnostic(`undisturbed run ${timing.runMs} ms, of which promotion ${timing.promotionMs} ms`);

      for (let k = 0; k < KILLS; k++) {
        const kill: Kill =
          k % 2 === 0
            ? { afterStartMs: Math.round(timing.runMs * rand(0.5, 1.1)) }
            : { intoPromotionMs: Math.round(timing.promotionMs * rand(0, 1.1)) };
        const before = await registry.current();
        await runOnce(kill);
        const current = await registry.current();
        assert.ok(current, `kill ${k}: CURRENT is gone`);
        const history = await registry.history();
        t.diagnostic(
          `kill ${k} ${JSON.stringify(kill)}: CURRENT ${current === before ? 'kept' : 'switched'}${/unrecorded/.test(history.at(-1)!.reason) ? ', its switch unrecorded' : ''}`,
        );
        await verifyModelDir(await registry.localDirOf(current));
        // What a scorer does with CURRENT: fetch the version (on S3) and build its step model.
        (await createRegistryModelSource(registry, lstmModelFactory).load(current)).dispose();
        assertHistory(history, await models.readHistory(), current, `kill ${k}`);
        const listed = await cli(['models', 'list', '--json']);
        assert.equal(listed.code, 0, listed.stderr);
        assert.equal(
          listed.stdout
            .toString()
            .split('\n')
            .filter((l) => l.includes('"current":true')).length,
          1,
          'models list shows exactly one CURRENT',
        );
      }
      const { stderr } = await runOnce(undefined);
      assert.match(stderr, /"msg":"candidate promoted"/);
      const last = (await models.readCurrent()).version;
      assert.ok(last, 'CURRENT after the final run');
      const lastDir = await registry.localDirOf(last);
      await verifyModelDir(lastDir);
      assert.ok(existsSync(join(lastDir, MODEL_FILES.checksums)), 'the final model has checksums');
      assertHistory(await registry.history(), await models.readHistory(), last, 'after the final run');
      const shown = await cli(['models', 'show', last]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(
        shown.stdout.toString(),
        new RegExp(`^# Model card: ${last}$`, 'm'),
        'models show prints the card of CURRENT',
      );
    });
  });
}
