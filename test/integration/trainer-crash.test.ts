/**
 * The trainer process SIGKILLed at random moments of its runs — training, writing the candidate,
 * registering, switching CURRENT — and restarted each time: the registry stays valid (CURRENT names
 * a complete model that passes verification, history parses, `models list` works), and a final
 * undisturbed run still trains and promotes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import YAML from 'yaml';
import { createRng } from '../../src/generator/index.js';
import { createModelRegistry } from '../../src/registry/index.js';
import { verifyModelDir } from '../../src/registry/verify.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/kafka.js';
import { fillStoreFromGenerator } from '../helpers/store.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const KILLS = 6;

describe('trainer SIGKILLed mid-run', () => {
  it(`leaves the registry and CURRENT valid after ${KILLS} kills at random moments`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trainer-crash-'));
    const { storeDir } = await fillStoreFromGenerator(dir, {
      seed: 21,
      cookies: 250,
      durationMs: 2 * 86_400_000,
    });
    const models = join(dir, 'models');
    const configFile = join(dir, 'intentstream.yaml');
    writeFileSync(
      configFile,
      YAML.stringify({
        store: { dir: storeDir },
        http: { host: '127.0.0.1', ports: { trainer: 0 } },
        trainer: {
          ...tinyTrainerConfig(),
          modelsDir: models,
          checkpointDir: join(dir, 'checkpoints'),
          backend: 'cpu',
          // Same data and seed give the same AUC: margin 0 promotes every run, so each run writes CURRENT.
          promotionMargin: 0,
        },
      }),
    );
    const runOnce = async (killAfterMs: number | undefined): Promise<string> => {
      const child = spawnCli(['trainer', '--config', configFile, '--run-now']);
      child.stdout!.resume();
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (killAfterMs === undefined) {
        await waitFor(() => /"msg":"candidate (promoted|kept out)/.test(stderr) || undefined, {
          what: 'an undisturbed training run to finish',
          timeoutMs: 180_000,
        });
        child.kill('SIGTERM');
      } else {
        await Promise.race([delay(killAfterMs), exited]);
        child.kill('SIGKILL');
      }
      await exited;
      return stderr;
    };

    // Time one undisturbed run so the kills spread over a whole run, write phase included.
    const t0 = Date.now();
    await runOnce(undefined);
    const runMs = Date.now() - t0;
    const registry = createModelRegistry(models, { verify: verifyModelDir });
    const first = await registry.current();
    assert.ok(first, 'the undisturbed run promoted a model');

    const rng = createRng(5);
    for (let k = 0; k < KILLS; k++) {
      await runOnce(Math.round(runMs * (0.5 + 0.6 * rng.uniform())));
      const current = await registry.current();
      assert.ok(current, `kill ${k}: CURRENT is gone`);
      await verifyModelDir(registry.dirOf(current));
      const history = await registry.history();
      assert.equal(history.at(-1)?.version, current, `kill ${k}: history does not end with CURRENT`);
      const listed = await runCli(['models', 'list', '--json', '--config', configFile]);
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
    const log = await runOnce(undefined);
    assert.match(log, /"msg":"candidate promoted"/);
    const last = (await registry.current())!;
    await verifyModelDir(registry.dirOf(last));
    assert.ok(existsSync(join(models, last, 'checksums.json')), 'the final model has checksums');
    assert.equal(readFileSync(join(models, 'CURRENT'), 'utf8').trim(), last);
  });
});
