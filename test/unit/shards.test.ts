/**
 * Shards of encoded sessions (src/model/shards.ts): records round-trip through the files; an epoch
 * yields every example exactly once, in an order that changes with the epoch; and no more than the
 * shuffle buffer's shards are in memory at a time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CATEGORICAL_COUNT, type FeatureEncoder } from '../../src/features/index.js';
import { EXAMPLE_KIND, type ShardRecord, type ShardSet, ShardWriter } from '../../src/model/shards.js';
import { Rng } from '../../src/util/random.js';

const NUMERIC = 3;
const encoder = { maxSteps: 50 } as FeatureEncoder;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function record(i: number, rng: Rng, extras: boolean): ShardRecord {
  const n = 1 + (i % 7);
  const steps = () => ({
    length: n,
    categorical: Int32Array.from({ length: n * CATEGORICAL_COUNT }, () => Math.floor(rng.uniform() * 1000)),
    numeric: Float32Array.from({ length: n * NUMERIC }, () => rng.uniform()),
  });
  const examples = [
    ...Array.from({ length: n - 1 }, (_, k) => ({ length: k + 1, kind: EXAMPLE_KIND.trainingPrefix })),
    { length: n, kind: EXAMPLE_KIND.full },
  ];
  return {
    steps: steps(),
    label: i % 3 === 0 ? 1 : 0,
    examples,
    ...(extras
      ? {
          shuffled: steps(),
          features: Float64Array.from({ length: examples.length * 4 }, () => rng.uniform() * 1e6),
        }
      : {}),
  };
}

function write(records: ShardRecord[], shards: number, budget?: number): ShardSet {
  const dir = mkdtempSync(join(tmpdir(), 'shards-'));
  dirs.push(dir);
  const writer = new ShardWriter(dir, 'train', shards, NUMERIC, 7, budget);
  records.forEach((r, i) => writer.append(`session-${i}`, r));
  return writer.close();
}

/** A session's identity inside a shard: its first categorical value and step count. */
const keyOf = (steps: { categorical: Int32Array; length: number }) =>
  `${steps.length}:${Array.from(steps.categorical.subarray(0, CATEGORICAL_COUNT)).join(',')}`;

describe('shards', () => {
  for (const [what, budget] of [
    ['held until close', undefined],
    ['written out many times on the way (a tiny pending budget)', 4096],
  ] as const)
    it(`give back every record as written, with its examples, shuffled copy and feature rows (${what})`, async () => {
      const rng = new Rng(1);
      const records = Array.from({ length: 200 }, (_, i) => record(i, rng, true));
      const set = write(records, 5, budget);
      assert.equal(set.sessions, 200);
      assert.equal(
        set.examples,
        records.reduce((n, r) => n + r.examples.length, 0),
      );
      const byKey = new Map(records.map((r) => [keyOf(r.steps), r]));
      let seen = 0;
      for await (const shard of set.each()) {
        let example = 0;
        shard.split.steps.forEach((steps, s) => {
          const original = byKey.get(keyOf(steps))!;
          assert.ok(original, 'a record that was written');
          assert.deepEqual(steps.categorical, original.steps.categorical);
          assert.deepEqual(steps.numeric, original.steps.numeric);
          assert.deepEqual(shard.shuffled[s]!.numeric, original.shuffled!.numeric);
          assert.equal(shard.split.labels[s], original.label);
          original.examples.forEach((e, k) => {
            const got = shard.split.examples[example]!;
            assert.deepEqual(
              [got.session, got.length, got.full, shard.kinds[example]],
              [s, e.length, e.kind === EXAMPLE_KIND.full, e.kind],
            );
            assert.deepEqual(shard.features[example], original.features!.subarray(k * 4, (k + 1) * 4));
            example++;
          });
          seen++;
        });
        assert.equal(example, shard.split.examples.length);
      }
      assert.equal(seen, 200);
    });

  it('put a session in the same shard whatever else is written', () => {
    const a = new ShardWriter(tmpdir(), 'x', 16, NUMERIC, 3);
    const b = new ShardWriter(tmpdir(), 'x', 16, NUMERIC, 3);
    const shards = Array.from({ length: 100 }, (_, i) => a.shardOf(`s${i}`));
    assert.deepEqual(
      shards,
      Array.from({ length: 100 }, (_, i) => b.shardOf(`s${i}`)),
    );
    assert.ok(new Set(shards).size > 8, 'sessions spread over the shards');
  });

  it('yield every example once per epoch, in an order that changes with the epoch, a bounded buffer at a time', async () => {
    const rng = new Rng(2);
    const records = Array.from({ length: 300 }, (_, i) => record(i, rng, false));
    const set = write(records, 10);
    const largestShard = Math.max(
      ...(await Promise.all(Array.from({ length: set.count }, (_, i) => set.load(i)))).map(
        (s) => s.split.steps.length,
      ),
    );
    const epoch = async (seed: number) => {
      const seen: string[] = [];
      const buffers = new Set<object>();
      for await (const { split, batch } of set.batches(encoder, 16, new Rng(seed), 2)) {
        buffers.add(split);
        assert.ok(split.steps.length <= 2 * largestShard, 'at most two shards in the buffer');
        assert.ok(batch.length <= 16);
        for (const i of batch) {
          const e = split.examples[i]!;
          seen.push(`${keyOf(split.steps[e.session]!)}/${e.length}`);
        }
      }
      return { seen, buffers: buffers.size };
    };
    const first = await epoch(1);
    const expected = records.flatMap((r) => r.examples.map((e) => `${keyOf(r.steps)}/${e.length}`));
    assert.deepEqual([...first.seen].sort(), [...expected].sort(), 'each example exactly once');
    assert.equal(first.buffers, 5, 'ten shards, two at a time');
    const second = await epoch(2);
    assert.deepEqual([...second.seen].sort(), [...expected].sort());
    assert.notDeepEqual(second.seen, first.seen, 'another order in another epoch');
  });
});
