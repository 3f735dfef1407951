import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabelConfig } from '../../src/config/schema.js';
import {
  DEFAULT_LABELS,
  DatasetScanner,
  MissingTargetError,
  buildDataset,
  checkTargetPresent,
  labelSession,
  resolveLabels,
  samplePrefixLengths,
  sessionPrefixLengths,
  shuffleEventOrder,
  timeSplit,
} from '../../src/dataset/index.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { Rng } from '../../src/util/random.js';
import { T0, session } from '../helpers/events.js';
import { FOREIGN_EVENT_TYPES, FOREIGN_ROLES } from '../helpers/taxonomy.js';

const HOUR = 3_600_000;

describe('labelSession', () => {
  const cases: [string, string[], LabelConfig, { observable: string[]; label: number; cut: string }][] = [
    [
      'purchase after checkout: cut at the checkout',
      ['page_view', 'add_to_cart', 'checkout', 'purchase'],
      DEFAULT_LABELS,
      { observable: ['page_view', 'add_to_cart'], label: 1, cut: 'truncate' },
    ],
    [
      'a lone checkout (abandoned) is cut too, label 0',
      ['page_view', 'add_to_cart', 'checkout'],
      DEFAULT_LABELS,
      { observable: ['page_view', 'add_to_cart'], label: 0, cut: 'truncate' },
    ],
    [
      'purchase without checkout: cut at the target',
      ['search', 'product_view', 'purchase', 'page_view'],
      DEFAULT_LABELS,
      { observable: ['search', 'product_view'], label: 1, cut: 'target' },
    ],
    [
      'no target: everything is observable',
      ['page_view', 'search'],
      DEFAULT_LABELS,
      { observable: ['page_view', 'search'], label: 0, cut: 'end' },
    ],
    [
      'truncateAt [] keeps the checkout in view',
      ['page_view', 'checkout', 'purchase'],
      { kind: 'binary', target: 'purchase', truncateAt: [] },
      { observable: ['page_view', 'checkout'], label: 1, cut: 'target' },
    ],
    [
      'another target event type',
      ['page_view', 'add_to_cart', 'checkout'],
      { kind: 'binary', target: 'addToCart', truncateAt: [] },
      { observable: ['page_view'], label: 1, cut: 'target' },
    ],
    [
      'a session that starts with the target has nothing to see',
      ['purchase', 'page_view'],
      DEFAULT_LABELS,
      { observable: [], label: 1, cut: 'target' },
    ],
  ];
  for (const [name, types, labels, expected] of cases) {
    it(name, () => {
      const r = labelSession(session('s', T0, types), labels);
      assert.deepEqual(
        { observable: r.observable.map((e) => e.event_type), label: r.label, cut: r.cut },
        expected,
      );
    });
  }
});

describe('prefix sampling', () => {
  it('draws distinct lengths in 1..n-1, ascending, at most `count`', () => {
    const rng = new Rng(3);
    for (let n = 0; n < 30; n++) {
      for (const count of [0, 1, 2, 5, 40]) {
        const lengths = samplePrefixLengths(n, count, rng);
        assert.equal(lengths.length, Math.max(0, Math.min(count, n - 1)), `n=${n} count=${count}`);
        assert.equal(new Set(lengths).size, lengths.length, 'distinct');
        assert.ok(
          lengths.every((l) => l >= 1 && l < n),
          `in range: ${lengths}`,
        );
        assert.deepEqual(
          lengths,
          [...lengths].sort((a, b) => a - b),
        );
      }
    }
  });
  it('is reproducible per (seed, session id) and varies with the seed', () => {
    assert.deepEqual(sessionPrefixLengths('s1', 30, 3, 1), sessionPrefixLengths('s1', 30, 3, 1));
    const bySeed = new Set([1, 2, 3, 4, 5].map((seed) => sessionPrefixLengths('s1', 30, 3, seed).join()));
    assert.ok(bySeed.size > 1, 'different seeds give different prefixes');
  });
});

describe('timeSplit', () => {
  const items = (times: number[], cookies?: string[]) =>
    times.map((t, i) => ({ startTime: t, sessionId: `s${i}`, cookieId: cookies?.[i] ?? `c${i}` }));

  it('puts the oldest sessions in train and the newest in test', () => {
    const split = timeSplit(items([9, 1, 8, 2, 7, 3, 6, 4, 5, 10]), { train: 0.6, validation: 0.2 });
    assert.deepEqual(split.assignment, [
      'test',
      'train',
      'validation',
      'train',
      'validation',
      'train',
      'train',
      'train',
      'train',
      'test',
    ]);
    assert.deepEqual(split.boundaries, { validation: 7, test: 9 });
  });

  it('keeps sessions with the same start time in the same (older) split', () => {
    const split = timeSplit(items([1, 2, 3, 3, 3, 4, 5, 6, 7, 8]), { train: 0.3, validation: 0.3 });
    assert.deepEqual(split.assignment.slice(0, 5), ['train', 'train', 'train', 'train', 'train']);
    assert.equal(split.boundaries.validation, 4);
  });

  it('exclusive cookies: a cookie stays in the split of its first session, later ones are dropped', () => {
    const split = timeSplit(
      items([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], ['a', 'b', 'c', 'd', 'e', 'f', 'a', 'g', 'h', 'b']),
      { train: 0.6, validation: 0.2 },
      'exclusive',
    );
    assert.equal(split.assignment[6], 'dropped');
    assert.equal(split.assignment[9], 'dropped');
    assert.equal(split.droppedForCookie, 2);
    assert.equal(split.assignment[7], 'validation');
  });

  it('rejects fractions that leave no test share', () => {
    assert.throws(() => timeSplit([], { train: 0.8, validation: 0.2 }), RangeError);
  });
});

describe('buildDataset', () => {
  /** 40 sessions one hour apart; every 4th purchases; cookies repeat every 10 sessions. */
  function store(): SessionTimeline[] {
    return Array.from({ length: 40 }, (_, i) =>
      session(
        `s${String(i).padStart(2, '0')}`,
        T0 + i * HOUR,
        i % 4 === 0
          ? ['page_view', 'search', 'product_view', 'add_to_cart', 'checkout', 'purchase']
          : i % 7 === 0
            ? ['checkout', 'page_view']
            : ['page_view', 'search', 'product_view', 'page_view', 'product_view'].slice(0, 2 + (i % 4)),
        { cookie: `c${i % 10}` },
      ),
    );
  }
  const options = {
    labels: DEFAULT_LABELS,
    prefixesPerSession: 2,
    split: { train: 0.6, validation: 0.2 },
    cookieSplit: 'mixed' as const,
    seed: 1,
  };

  it('labels, truncates, drops empty sessions and splits by time', () => {
    const d = buildDataset(store(), options);
    // s07, s14, s21, s35 start with a checkout: nothing to see.
    assert.equal(d.summary.droppedEmpty, 4);
    assert.equal(d.summary.sessionsRead, 40);
    const total = d.train.sessions.length + d.validation.sessions.length + d.test.sessions.length;
    assert.equal(total, 36);
    assert.deepEqual(
      [d.train.sessions.length, d.validation.sessions.length, d.test.sessions.length],
      [22, 7, 7],
    );
    const last = (xs: { startTime: number }[]) => xs.at(-1)!.startTime;
    assert.ok(last(d.train.sessions) < d.validation.sessions[0]!.startTime, 'train before validation');
    assert.ok(last(d.validation.sessions) < d.test.sessions[0]!.startTime, 'validation before test');
    const s00 = d.train.sessions[0]!;
    assert.equal(s00.label, 1);
    assert.deepEqual(
      s00.events.map((e) => e.event_type),
      ['page_view', 'search', 'product_view', 'add_to_cart'],
    );
    assert.equal(d.summary.splits.train.positives, d.train.sessions.filter((s) => s.label === 1).length);
  });

  it('adds sampled prefixes for training sessions only; validation and test get the full sequence', () => {
    const d = buildDataset(store(), options);
    for (const split of [d.validation, d.test]) {
      assert.equal(split.examples.length, split.sessions.length);
      assert.ok(
        split.examples.every((e) => e.full && e.length === split.sessions[e.session]!.events.length),
        'full',
      );
    }
    const perSession = new Map<number, number[]>();
    for (const e of d.train.examples)
      perSession.set(e.session, [...(perSession.get(e.session) ?? []), e.length]);
    d.train.sessions.forEach((s, i) => {
      const lengths = perSession.get(i)!;
      const n = s.events.length;
      assert.equal(lengths.at(-1), n, 'the full sequence is always there');
      assert.equal(lengths.length, 1 + Math.min(2, n - 1));
      assert.deepEqual(lengths.slice(0, -1), sessionPrefixLengths(s.sessionId, n, 2, 1));
    });
  });

  it('does not depend on the order the store yields sessions in', () => {
    const a = buildDataset(store(), options);
    const shuffled = store();
    shuffled.reverse();
    const b = buildDataset(shuffled, options);
    assert.deepEqual(b.summary, a.summary);
    assert.deepEqual(b.train.examples, a.train.examples);
  });

  it('keeps a cookie in one split with cookieSplit exclusive', () => {
    const d = buildDataset(store(), { ...options, cookieSplit: 'exclusive' });
    const cookiesOf = (xs: { cookieId: string }[]) => new Set(xs.map((s) => s.cookieId));
    const train = cookiesOf(d.train.sessions);
    for (const s of [...d.validation.sessions, ...d.test.sessions]) {
      assert.ok(!train.has(s.cookieId), `${s.cookieId} is also in train`);
    }
    assert.ok(d.summary.droppedForCookieSplit > 0, 'later sessions of training cookies are dropped');
  });
  it('places each session on its own after a scan: the split of timeSplit, in any read order', () => {
    for (const cookieSplit of ['mixed', 'exclusive'] as const) {
      const opts = { ...options, cookieSplit };
      const scanner = new DatasetScanner(opts);
      for (const s of store().reverse()) scanner.add(s);
      const plan = scanner.finish();
      const kept = store().filter((s) => plan.place(s) !== 'empty');
      const reference = timeSplit(
        kept.map((s) => ({ startTime: s.start_time, sessionId: s.session_id, cookieId: s.cookie_id })),
        opts.split,
        cookieSplit,
      );
      const placed = kept.map((s) => plan.place(s));
      assert.deepEqual(
        placed.map((p) => (p === 'dropped_for_cookie' ? 'dropped' : typeof p === 'string' ? p : p.split)),
        reference.assignment,
        cookieSplit,
      );
      const tally = plan.tally();
      for (const s of store()) tally.add(s, plan.place(s));
      assert.deepEqual(tally.summary(), buildDataset(store(), opts).summary, cookieSplit);
    }
  });

  it('has a fingerprint that changes with a label or an observable length', () => {
    const a = buildDataset(store(), options).summary.fingerprint;
    const changed = store();
    changed[1] = {
      ...changed[1]!,
      events: [...changed[1]!.events, { ...changed[1]!.events[0]!, event_type: 'purchase' }],
    };
    assert.notEqual(buildDataset(changed, options).summary.fingerprint, a);
    assert.equal(buildDataset(store(), options).summary.fingerprint, a);
  });
});

describe('shuffleEventOrder', () => {
  it('permutes event content, keeps the timestamp sequence, and is seeded', () => {
    const s = session('x', T0, [
      'page_view',
      'search',
      'product_view',
      'add_to_cart',
      'remove_from_cart',
      'page_view',
    ]);
    const a = shuffleEventOrder(s.events, 1, 'x');
    assert.deepEqual(a, shuffleEventOrder(s.events, 1, 'x'));
    assert.deepEqual(
      a.map((e) => e.event_time),
      s.events.map((e) => e.event_time),
    );
    assert.deepEqual(a.map((e) => e.event_id).sort(), s.events.map((e) => e.event_id).sort());
    assert.notDeepEqual(
      a.map((e) => e.event_id),
      s.events.map((e) => e.event_id),
    );
  });
});

describe('labels through roles', () => {
  const sessions = (rename: boolean) =>
    Array.from({ length: 30 }, (_, i) =>
      session(
        `s${String(i).padStart(2, '0')}`,
        T0 + i * HOUR,
        (i % 3 === 0
          ? ['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase']
          : i % 5 === 0
            ? ['search', 'checkout', 'page_view']
            : ['page_view', 'search', 'product_view'].slice(0, 1 + (i % 3))
        ).map((t) => (rename ? FOREIGN_EVENT_TYPES[t]! : t)),
      ),
    );
  const options = {
    labels: DEFAULT_LABELS,
    prefixesPerSession: 1,
    split: { train: 0.6, validation: 0.2 },
    cookieSplit: 'mixed' as const,
    seed: 1,
  };

  it('labels and truncates a renamed shop exactly as the original when the roles follow the names', () => {
    const ours = buildDataset(sessions(false), options);
    const theirs = buildDataset(sessions(true), { ...options, roles: FOREIGN_ROLES });
    assert.equal(theirs.summary.fingerprint, ours.summary.fingerprint, 'same labels and observable lengths');
    assert.deepEqual(theirs.summary.cuts, ours.summary.cuts);
    assert.deepEqual(theirs.summary.splits, ours.summary.splits);
    assert.equal(theirs.summary.eventTypes['order_done'], ours.summary.eventTypes['purchase']);
  });

  it('stops before training when no stored event plays the target role, naming the types seen', () => {
    const d = buildDataset(sessions(true), options); // the foreign names without their roles
    assert.equal(d.summary.splits.train.positives, 0);
    const counts = new Map(Object.entries(d.summary.eventTypes));
    assert.throws(
      () => checkTargetPresent(resolveLabels(options.labels), counts),
      (error: unknown) =>
        error instanceof MissingTargetError &&
        error.target === 'purchase' &&
        /Event types seen: home 30, find 20, pdp 18, /.test(error.message) &&
        /order_done 10/.test(error.message) &&
        /trainer\.roles\.purchase: \[<event type>\]/.test(error.message),
    );
    assert.doesNotThrow(() => checkTargetPresent(resolveLabels(options.labels, FOREIGN_ROLES), counts));
  });
});
