import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseEventTypeMap, parseFieldMap, parseTimeFormat } from '../../src/cli/import.js';
import { createGenerator, toNdjsonLine } from '../../src/generator/index.js';
import { type CsvRecord, TextFormatError, parseCsv, readLines } from '../../src/ingest/import-text.js';
import {
  ImportError,
  type ImportOptions,
  type ImportSummary,
  type RejectedRow,
  fileInput,
  formatFromPath,
  importSourceName,
  runImport,
} from '../../src/ingest/import.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { contentEventId } from '../../src/schemas/event-id.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { DEFAULT_SESSION_RULES } from '../../src/sessionizer/index.js';
import { createTimelineStore } from '../../src/store/index.js';
import { Rng, shuffleInPlace } from '../../src/util/random.js';
import { T0S, tempDir, writeInput } from '../helpers/input-files.js';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const T0 = T0S * SEC;

const RULES = { ...DEFAULT_SESSION_RULES, inactivityGapMs: 30 * MIN, graceMs: HOUR };

async function readAll(storeDir: string): Promise<SessionTimeline[]> {
  const out: SessionTimeline[] = [];
  // plain objects: avsc decodes into per-reader record classes, which deepStrictEqual tells apart
  for await (const s of createTimelineStore(storeDir).read()) out.push(JSON.parse(JSON.stringify(s)));
  return out;
}

/** Sessions in a stable order, for comparison across runs. */
const sorted = (list: SessionTimeline[]) =>
  [...list].sort((a, b) => a.cookie_id.localeCompare(b.cookie_id) || a.start_time - b.start_time);

/** Store files relative to the store root (dt=.../name.avro). */
function storeFiles(storeDir: string): string[] {
  const out: string[] = [];
  for (const day of readdirSync(storeDir).sort()) {
    for (const f of readdirSync(join(storeDir, day)).sort()) out.push(`${day}/${f}`);
  }
  return out;
}

async function importFiles(
  paths: string[],
  storeDir: string,
  options: Partial<ImportOptions> = {},
): Promise<{ summary: ImportSummary; rejects: RejectedRow[] }> {
  const rejects: RejectedRow[] = [];
  const summary = await runImport({
    inputs: paths.map((p) => fileInput(p)),
    store: createTimelineStore(storeDir),
    rules: RULES,
    logger: createMemoryLogger('error'),
    source: importSourceName(paths),
    onReject: (r) => {
      rejects.push(r);
    },
    ...options,
  });
  return { summary, rejects };
}

const brief = (s: SessionTimeline) => ({
  cookie: s.cookie_id,
  types: s.events.map((e) => e.event_type),
  start: s.start_time,
  end: s.end_time,
  reason: s.close_reason,
  count: s.event_count,
});

// A CSV export with its own column names, epoch seconds, quoted fields (a comma, an escaped quote, a line break).
const SHOP_CSV = [
  'user,action,ts,sku,price,qty,note,ignored',
  `u1,view,${T0S},"sku,1",9.5,,"multi`,
  'line ""quoted""",x',
  `u1,cart,${T0S + 60},sku1,9.5,2,,x`,
  `u2,view,${T0S + 30},x,,,,x`,
  `u1,view,${T0S + 60 + 31 * 60},sku2,,,,x`, // 31 minutes after the cart: a new session
].join('\n');
const SHOP_MAP = parseFieldMap('cookie_id=user,event_type=action,event_time=ts,item_id=sku,quantity=qty');
const SHOP_TYPES = parseEventTypeMap('page_view=view,add_to_cart=cart');

describe('runImport: CSV', () => {
  it('maps columns, converts epoch seconds, splits sessions by gap, and the store reads them back', async () => {
    const dir = tempDir();
    const file = writeInput(dir, 'shop.csv', SHOP_CSV);
    const store = join(dir, 'store');
    const { summary, rejects } = await importFiles([file], store, {
      map: SHOP_MAP,
      eventTypeMap: SHOP_TYPES,
      extras: ['note'],
    });
    assert.deepEqual(rejects, []);
    assert.equal(summary.ok, true);
    assert.equal(summary.rows, 4);
    assert.equal(summary.accepted, 4);
    assert.equal(summary.sessions, 3);
    assert.equal(summary.events, 4);
    assert.deepEqual(summary.sessionsByCloseReason, {
      evicted: 0,
      gap: 1,
      max_duration: 0,
      max_events: 0,
      end_of_input: 2,
    });
    assert.deepEqual(summary.days, ['2023-11-14']);
    assert.equal(summary.source, 'import-shop');
    assert.deepEqual(storeFiles(store), ['dt=2023-11-14/import-shop-p0-e0000000000.avro']);

    const sessions = sorted(await readAll(store));
    assert.deepEqual(sessions.map(brief), [
      {
        cookie: 'u1',
        types: ['page_view', 'add_to_cart'],
        start: T0,
        end: T0 + MIN,
        reason: 'gap',
        count: 2,
      },
      {
        cookie: 'u1',
        types: ['page_view'],
        start: T0 + MIN + 31 * MIN,
        end: T0 + MIN + 31 * MIN,
        reason: 'end_of_input',
        count: 1,
      },
      {
        cookie: 'u2',
        types: ['page_view'],
        start: T0 + 30 * SEC,
        end: T0 + 30 * SEC,
        reason: 'end_of_input',
        count: 1,
      },
    ]);
    const first = sessions[0]!.events[0]!;
    assert.equal(first.item_id, 'sku,1');
    assert.equal(first.price, 9.5);
    assert.equal(first.quantity, null);
    assert.deepEqual(first.extras, { note: 'multi\nline "quoted"' });
    const cart = sessions[0]!.events[1]!;
    assert.equal(cart.quantity, 2);
    assert.deepEqual(cart.extras, {}, 'an empty --extras cell is left out');
    // rows without an event id get one derived from their content (not their line)
    assert.equal(cart.event_id, contentEventId(cart));
    assert.equal(first.event_id, contentEventId(first));
  });

  it('sends bad rows to the rejects with their line number and reason, and imports the rest', async () => {
    const dir = tempDir();
    const text = [
      'cookie_id,event_type,event_time,price',
      `c1,page_view,${T0S},"1.5"`,
      `,page_view,${T0S + 1},`, // line 3: missing cookie
      `c1,page_view,"not a time",`, // line 4: non-numeric time
      `c1,page_view,${T0S + 2},"multi`, // lines 5-6: bad price spanning two lines
      'line"',
      `c1,page_view,${T0S + 3}`, // line 7: too few fields
      `c1,"page_view"x,${T0S + 4},`, // line 8: text after a closing quote
      `c1,search,${T0S + 5},2`, // line 9: good
    ].join('\r\n');
    const file = writeInput(dir, 'bad.csv', text);
    const store = join(dir, 'store');
    const { summary, rejects } = await importFiles([file], store, { maxRejectsRatio: 0.5 });
    assert.deepEqual(
      rejects.map((r) => [r.line, r.reason, r.field]),
      [
        [3, 'missing_field', 'cookie_id'],
        [4, 'invalid_field', 'event_time'],
        [5, 'invalid_field', 'price'],
        [7, 'invalid_csv', undefined],
        [8, 'invalid_csv', undefined],
      ],
    );
    assert.equal(rejects[0]!.raw, `,page_view,${T0S + 1},`);
    assert.equal(rejects[0]!.file, file);
    assert.match(rejects[1]!.message, /"not a time"/);
    assert.equal(rejects[2]!.raw, `c1,page_view,${T0S + 2},"multi\r\nline"`);
    assert.match(rejects[3]!.message, /3 field\(s\) but the header has 4/);
    assert.equal(summary.rows, 7);
    assert.equal(summary.accepted, 2);
    assert.equal(summary.rejected, 5);
    assert.deepEqual(summary.rejectedByReason, { missing_field: 1, invalid_field: 2, invalid_csv: 2 });
    assert.equal(summary.ok, false, '5 of 7 rejected is more than 0.5');
    const sessions = await readAll(store);
    assert.equal(sessions.length, 1);
    assert.deepEqual(
      sessions[0]!.events.map((e) => [e.event_type, e.price]),
      [
        ['page_view', 1.5],
        ['search', 2],
      ],
    );
  });

  it('fails before reading rows when a mapped or required column is not in the header', async () => {
    const dir = tempDir();
    const file = writeInput(dir, 'cols.csv', `user,event_type,event_time\nu1,page_view,${T0S}\n`);
    await assert.rejects(
      importFiles([file], join(dir, 'store'), { map: { cookie_id: 'user_id' } }),
      (err: Error) =>
        err instanceof ImportError && /"user_id"/.test(err.message) && /"user"/.test(err.message),
    );
    assert.deepEqual(readdirSync(dir), ['cols.csv'], 'nothing was written');
  });

  it('reads gzipped CSV and a TSV delimiter the same way', async () => {
    const dir = tempDir();
    const plain = await importFiles([writeInput(dir, 'shop.csv', SHOP_CSV)], join(dir, 'a'), {
      map: SHOP_MAP,
      eventTypeMap: SHOP_TYPES,
    });
    const gz = await importFiles([writeInput(dir, 'shop2.csv.gz', gzipSync(SHOP_CSV))], join(dir, 'b'), {
      map: SHOP_MAP,
      eventTypeMap: SHOP_TYPES,
    });
    const tsvText = SHOP_CSV.replace('"sku,1"', 'sku-1').replaceAll(',', '\t');
    const tsv = await importFiles([writeInput(dir, 'shop3.tsv', tsvText)], join(dir, 'c'), {
      map: SHOP_MAP,
      eventTypeMap: SHOP_TYPES,
      delimiter: '\t',
    });
    for (const r of [plain, gz, tsv]) {
      assert.equal(r.summary.accepted, 4);
      assert.equal(r.summary.sessions, 3);
    }
    assert.equal(gz.summary.inputs[0]!.gzip, true);
    const strip = (l: SessionTimeline[]) => sorted(l).map(brief);
    assert.deepEqual(strip(await readAll(join(dir, 'b'))), strip(await readAll(join(dir, 'a'))));
    assert.deepEqual(strip(await readAll(join(dir, 'c'))), strip(await readAll(join(dir, 'a'))));
  });
});

describe('runImport: NDJSON', () => {
  it('imports NDJSON with ISO times, an event-type map, dotted --map paths and extras', async () => {
    const dir = tempDir();
    const lines = [
      { uid: { id: 'a' }, kind: 'view', at: '2024-03-01T10:00:00Z', item_id: 7, extras: { ab: 'x' } },
      { uid: { id: 'a' }, kind: 'cart', at: '2024-03-01T11:10:00+01:00', price: '12.25', quantity: 1 },
      {
        uid: { id: 'a' },
        kind: 'purchase',
        at: '2024-03-01 10:30:00',
        event_id: 'given-id',
        device: 'mobile',
      },
      { uid: { id: 'b' }, kind: 'view', at: '2024-03-02T00:00:00.5Z' },
    ];
    const text = `\ufeff${lines.map((l) => JSON.stringify(l)).join('\n')}\n\n`;
    const file = writeInput(dir, 'events.ndjson', text);
    const store = join(dir, 'store');
    const { summary, rejects } = await importFiles([file], store, {
      map: parseFieldMap('cookie_id=uid.id,event_type=kind,event_time=at'),
      eventTypeMap: SHOP_TYPES,
    });
    assert.deepEqual(rejects, []);
    assert.equal(summary.rows, 4);
    assert.deepEqual(summary.days, ['2024-03-01', '2024-03-02']);
    const sessions = sorted(await readAll(store));
    assert.deepEqual(sessions.map(brief), [
      {
        cookie: 'a',
        types: ['page_view', 'add_to_cart', 'purchase'],
        start: Date.parse('2024-03-01T10:00:00Z'),
        end: Date.parse('2024-03-01T10:30:00Z'),
        reason: 'gap', // b's event moved the watermark past 10:30 + 30 min
        count: 3,
      },
      {
        cookie: 'b',
        types: ['page_view'],
        start: Date.parse('2024-03-02T00:00:00.500Z'),
        end: Date.parse('2024-03-02T00:00:00.500Z'),
        reason: 'end_of_input',
        count: 1,
      },
    ]);
    const [view, cart, purchase] = sessions[0]!.events;
    assert.equal(view!.item_id, '7');
    assert.deepEqual(view!.extras, { ab: 'x' });
    assert.equal(view!.event_id, contentEventId(view!));
    assert.equal(cart!.price, 12.25);
    assert.equal(cart!.quantity, 1);
    assert.equal(purchase!.event_id, 'given-id');
    assert.equal(purchase!.device, 'mobile');
  });

  it('rejects lines that are not JSON objects or fail validation, with their line numbers', async () => {
    const dir = tempDir();
    const text = [
      JSON.stringify({ cookie_id: 'a', event_type: 'page_view', event_time: T0 }),
      '{"cookie_id": "a", oops',
      '',
      '[1,2]',
      JSON.stringify({ cookie_id: 'a', event_type: 'page_view', event_time: T0 + 1, price: -1 }),
      JSON.stringify({ event_type: 'page_view', event_time: T0 + 2 }),
    ].join('\n');
    const { summary, rejects } = await importFiles([writeInput(dir, 'x.jsonl', text)], join(dir, 'store'), {
      maxRejectsRatio: 1,
    });
    assert.deepEqual(
      rejects.map((r) => [r.line, r.reason, r.field]),
      [
        [2, 'invalid_json', undefined],
        [4, 'not_an_object', undefined],
        [5, 'invalid_field', 'price'],
        [6, 'missing_field', 'cookie_id'],
      ],
    );
    assert.equal(summary.rows, 5, 'the blank line is not a row');
    assert.equal(summary.accepted, 1);
    assert.equal(summary.ok, true, 'maxRejectsRatio 1 accepts everything');
  });

  it('applies --time-format: epoch_ms, epoch_s, iso, and auto for milliseconds', async () => {
    const dir = tempDir();
    const row = (t: unknown) => JSON.stringify({ cookie_id: 'c', event_type: 'page_view', event_time: t });
    const file = writeInput(
      dir,
      't.ndjson',
      [row(T0), row(`${T0S + 1}`), row('2023-11-14T22:13:22Z')].join('\n'),
    );
    const times = async (timeFormat: ImportOptions['timeFormat'], storeName: string) => {
      const { rejects } = await importFiles([file], join(dir, storeName), { timeFormat, maxRejectsRatio: 1 });
      const events = (await readAll(join(dir, storeName))).flatMap((s) => s.events);
      return { times: events.map((e) => e.event_time), rejected: rejects.map((r) => r.line) };
    };
    assert.deepEqual(await times('auto', 'auto'), { times: [T0, T0 + 1000, T0 + 2000], rejected: [] });
    // epoch_ms: the seconds value is taken as ms (out of range), the ISO string is refused
    assert.deepEqual(await times('epoch_ms', 'ms'), { times: [T0], rejected: [2, 3] });
    assert.deepEqual(await times('epoch_s', 's'), { times: [T0 + 1000], rejected: [1, 3] });
    assert.deepEqual(await times('iso', 'iso'), { times: [T0 + 2000], rejected: [1, 2] });
  });
});

describe('runImport: ordering, duplicates, idempotence', () => {
  it('sorts rows out of order within the grace; rows beyond it are rejected as late', async () => {
    const dir = tempDir();
    const rows = [
      ['c', 'e1', T0 + 10 * MIN],
      ['c', 'e2', T0 + 0], // 10 min back: within the 1h grace
      ['c', 'e3', T0 + 5 * MIN],
      ['c', 'e4', T0 + 3 * HOUR],
      ['c', 'e5', T0 + 20 * MIN], // watermark is now T0 + 2h: late by 1h40m
      ['c', 'e1', T0 + 10 * MIN], // duplicate
    ];
    const text = rows
      .map(([c, id, t]) =>
        JSON.stringify({ cookie_id: c, event_id: id, event_type: 'page_view', event_time: t }),
      )
      .join('\n');
    const store = join(dir, 'store');
    const { summary, rejects } = await importFiles([writeInput(dir, 'o.ndjson', text)], store, {
      maxRejectsRatio: 1,
      sortByTime: false,
    });
    assert.deepEqual(
      rejects.map((r) => [r.line, r.reason, r.field]),
      [[5, 'late', 'event_time']],
    );
    assert.match(rejects[0]!.message, /6000000 ms older than the watermark/);
    assert.equal(summary.late, 1);
    assert.equal(summary.duplicates, 1);
    assert.equal(summary.accepted, 4);
    assert.equal(summary.rows, summary.accepted + summary.duplicates + summary.rejected);
    const sessions = sorted(await readAll(store));
    assert.deepEqual(
      sessions.map((s) => s.events.map((e) => e.event_id)),
      [['e2', 'e3', 'e1'], ['e4']],
    );
    assert.equal(sessions[0]!.close_reason, 'gap');

    // a larger grace keeps the row
    const wide = await importFiles([join(dir, 'o.ndjson')], join(dir, 'wide'), {
      rules: { ...RULES, graceMs: 4 * HOUR },
      sortByTime: false,
    });
    assert.equal(wide.summary.late, 0);
    assert.equal(wide.summary.accepted, 5);
  });

  it('re-running the same import gives the same store contents; a different chunking leaves no stale files', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    for (let i = 0; i < 60; i++) {
      // 20 cookies, 3 sessions each, spread over 3 days
      const cookie = `c${i % 20}`;
      const t = Date.UTC(2024, 0, 1, 1) + Math.floor(i / 20) * 24 * HOUR + (i % 20) * SEC;
      lines.push(JSON.stringify({ cookie_id: cookie, event_type: 'page_view', event_time: t }));
    }
    const file = writeInput(dir, 'many.ndjson', lines.join('\n'));
    const store = join(dir, 'store');
    const first = await importFiles([file], store, { chunkSessions: 7 });
    const filesFirst = storeFiles(store);
    const contentFirst = sorted(await readAll(store));
    assert.equal(first.summary.sessions, 60);
    assert.equal(first.summary.chunks, 9);
    assert.ok(filesFirst.length >= 9, `several segment files (${filesFirst.length})`);

    const second = await importFiles([file], store, { chunkSessions: 7 });
    assert.deepEqual(storeFiles(store), filesFirst, 'same file names: overwritten, not added');
    assert.deepEqual(sorted(await readAll(store)), contentFirst);
    assert.equal(second.summary.staleFilesRemoved, 0);

    const third = await importFiles([file], store, { chunkSessions: 1000 });
    assert.equal(third.summary.chunks, 1);
    // chunk 0 of the first run held only sessions of the first day: every other old file is stale
    assert.equal(third.summary.staleFilesRemoved, filesFirst.length - 1);
    assert.deepEqual(storeFiles(store), [
      'dt=2024-01-01/import-many-p0-e0000000000.avro',
      'dt=2024-01-02/import-many-p0-e0000000000.avro',
      'dt=2024-01-03/import-many-p0-e0000000000.avro',
    ]);
    assert.deepEqual(sorted(await readAll(store)), contentFirst, 'no duplicates, nothing lost');
  });

  it('leaves other sources alone (another import and live segments)', async () => {
    const dir = tempDir();
    const store = join(dir, 'store');
    const row = (c: string) => JSON.stringify({ cookie_id: c, event_type: 'page_view', event_time: T0 });
    await importFiles([writeInput(dir, 'one.ndjson', row('a'))], store);
    const imported = (await readAll(store))[0]!;
    await createTimelineStore(store).writeSegment('ingest-shop.events-p0-e0000000001', [
      { ...imported, cookie_id: 'live', events: imported.events.map((e) => ({ ...e, cookie_id: 'live' })) },
    ]);
    await importFiles([writeInput(dir, 'two.ndjson', row('b'))], store);
    await importFiles([join(dir, 'one.ndjson')], store);
    assert.deepEqual((await readAll(store)).map((s) => s.cookie_id).sort(), ['a', 'b', 'live']);
  });

  it('derives event ids from the row content: exact duplicate rows are dropped, whatever the line or file', async () => {
    const dir = tempDir();
    const text = [
      'cookie_id,event_type,event_time',
      `c,page_view,${T0S}`,
      `c,search,${T0S + 5}`,
      `c,page_view,${T0S}`,
    ].join('\n');
    const a = writeInput(dir, 'a.csv', text);
    const b = writeInput(dir, 'b.csv', text);
    const ids = async (file: string, store: string) => {
      const { summary } = await importFiles([file], join(dir, store));
      assert.equal(summary.duplicates, 1, 'the repeated row is a duplicate');
      return (await readAll(join(dir, store))).flatMap((s) => s.events.map((e) => e.event_id));
    };
    const first = await ids(a, 's1');
    assert.equal(first.length, 2, 'identical rows on different lines are one event');
    assert.deepEqual(await ids(a, 's2'), first, 'the same ids on every import');
    assert.deepEqual(await ids(b, 's3'), first, 'the file name does not enter the id');
    assert.match(first[0]!, /^cid_[0-9a-f]{24}$/);
  });

  it('reads several files as one stream: a session spans them', async () => {
    const dir = tempDir();
    const row = (t: number) => JSON.stringify({ cookie_id: 'c', event_type: 'page_view', event_time: t });
    const p1 = writeInput(dir, 'day1.ndjson', row(T0));
    const p2 = writeInput(dir, 'day2.csv', `cookie_id,event_type,event_time\nc,page_view,${T0 + 10 * MIN}\n`);
    const { summary } = await importFiles([p1, p2], join(dir, 'store'));
    assert.match(summary.source, /^import-day1-x2-[0-9a-f]{8}$/);
    assert.deepEqual(
      summary.inputs.map((i) => [i.format, i.rows]),
      [
        ['ndjson', 1],
        ['csv', 1],
      ],
    );
    const sessions = await readAll(join(dir, 'store'));
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.event_count, 2);
  });

  it('writes chunks while reading (streaming), not only at the end', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    // 3000 one-event sessions a minute apart: each closes (gap) about 90 rows after its event
    for (let i = 0; i < 3000; i++) {
      lines.push(JSON.stringify({ cookie_id: `c${i}`, event_type: 'page_view', event_time: T0 + i * MIN }));
    }
    const store = join(dir, 'store');
    const rowsAtWrite: number[] = [];
    const base = createTimelineStore(store);
    let rowsSoFar = 0;
    const { summary } = await importFiles([writeInput(dir, 's.ndjson', lines.join('\n'))], store, {
      chunkSessions: 500,
      sortByTime: false,
      store: {
        ...base,
        writeSegment: async (name, sessions) => {
          rowsAtWrite.push(rowsSoFar);
          return base.writeSegment(name, sessions);
        },
      },
      progress: {
        tick: (n = 1) => {
          rowsSoFar += n;
        },
      },
    });
    assert.equal(summary.chunks, 6);
    assert.equal(rowsAtWrite.length, 6);
    assert.ok(
      rowsAtWrite[0]! < 3000,
      `the first chunk is written before the end (at ${rowsAtWrite.join(', ')})`,
    );
    assert.equal(rowsAtWrite.at(-1), 3000, 'the last chunk after the end (flushAll)');
    assert.equal((await readAll(store)).length, 3000);
  });

  it('stops early when the first rows are all rejected (a wrong --map), writing nothing', async () => {
    const dir = tempDir();
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ user: 'u', t: T0 + i }));
    const store = join(dir, 'store');
    await assert.rejects(
      importFiles([writeInput(dir, 'w.ndjson', lines.join('\n'))], store, { failFastRows: 20 }),
      (err: Error) =>
        err instanceof ImportError &&
        /first 20 rows were all rejected \(mostly missing_field\)/.test(err.message),
    );
    assert.equal(existsSync(store), false, 'no store directory was created');
  });
});

describe('runImport: exports as they come', () => {
  /** Three cookies' sessions, each event listed by cookie (a user-sorted export). */
  const USER_SORTED = [
    ['a', 'page_view', T0],
    ['a', 'product_view', T0 + 2 * MIN],
    ['a', 'add_to_cart', T0 + 3 * MIN],
    ['a', 'page_view', T0 + 4 * HOUR],
    ['b', 'page_view', T0 + 30 * SEC],
    ['b', 'search', T0 + 5 * MIN],
    ['c', 'page_view', T0 + 2 * HOUR],
    ['c', 'page_view', T0 + 2 * HOUR + MIN],
  ] as const;
  const ndjson = (rows: readonly (readonly [string, string, number])[]) =>
    rows.map(([c, t, time]) => JSON.stringify({ cookie_id: c, event_type: t, event_time: time })).join('\n');

  it('sorts a user-sorted export by time: nothing is late, sessions as if time-ordered', async () => {
    const dir = tempDir();
    const file = writeInput(dir, 'users.ndjson', ndjson(USER_SORTED));
    const { summary, rejects } = await importFiles([file], join(dir, 'store'));
    assert.deepEqual(rejects, []);
    assert.equal(summary.late, 0);
    assert.equal(summary.accepted, USER_SORTED.length);
    assert.equal(summary.sortedByTime, true);
    assert.deepEqual(summary.eventTypes, { page_view: 5, product_view: 1, add_to_cart: 1, search: 1 });
    const got = sorted(await readAll(join(dir, 'store'))).map((s) => [s.cookie_id, s.event_count]);
    assert.deepEqual(got, [
      ['a', 3],
      ['a', 1],
      ['b', 2],
      ['c', 2],
    ]);
    // without sorting, the same export loses rows as late (the grace is 1 h)
    const streamed = await importFiles([file], join(dir, 'streamed'), {
      sortByTime: false,
      maxRejectsRatio: 1,
    });
    assert.ok(streamed.summary.late > 0);
  });

  it('spills sorted runs to temp files when the export exceeds the run size, with the same result', async () => {
    const dir = tempDir();
    const rows: [string, string, number][] = [];
    for (let i = 0; i < 200; i++)
      rows.push([`c${i % 13}`, i % 3 === 0 ? 'search' : 'page_view', T0 + ((i * 7919) % 200) * MIN]);
    rows.push(rows[17]!, rows[150]!); // exact duplicates far from their originals
    const file = writeInput(dir, 'shuffled.ndjson', ndjson(rows));
    const tempParent = mkdtempSync(join(tmpdir(), 'import-sort-'));
    const spilled = await importFiles([file], join(dir, 'spilled'), {
      sort: { runEvents: 16, fanIn: 3, tempDir: tempParent },
    });
    const inMemory = await importFiles([file], join(dir, 'memory'));
    assert.ok(spilled.summary.spilledRuns > 13, `runs spilled (${spilled.summary.spilledRuns})`);
    assert.equal(inMemory.summary.spilledRuns, 0);
    assert.equal(spilled.summary.duplicates, 2);
    assert.equal(spilled.summary.accepted, 200);
    assert.deepEqual(await readAll(join(dir, 'spilled')), await readAll(join(dir, 'memory')));
    assert.deepEqual(readdirSync(tempParent), [], 'temp files removed');
  });

  it('parses common timestamp spellings and a --time-format pattern', async () => {
    const dir = tempDir();
    const t = Date.UTC(2019, 9, 1, 0, 0, 0);
    const spellings = [
      '2019-10-01 00:00:00 UTC',
      '2019-10-01 00:00:01',
      '2019-10-01T00:00:02Z',
      '2019-10-01 02:00:03+02:00',
      `${t / 1000 + 4}`,
      t + 5000,
    ];
    const rows = spellings.map((time, i) =>
      JSON.stringify({ cookie_id: 'c', event_type: `e${i}`, event_time: time }),
    );
    const { summary } = await importFiles(
      [writeInput(dir, 'times.ndjson', rows.join('\n'))],
      join(dir, 'store'),
    );
    assert.equal(summary.rejected, 0);
    const times = (await readAll(join(dir, 'store'))).flatMap((s) => s.events.map((e) => e.event_time - t));
    assert.deepEqual(times, [0, 1000, 2000, 3000, 4000, 5000]);

    const csvText = [
      'cookie_id,event_type,event_time',
      'c,page_view,01/10/2019 00:00:07',
      'c,page_view,2019-10-01',
    ].join('\n');
    const custom = await importFiles([writeInput(dir, 'dmy.csv', csvText)], join(dir, 'dmy'), {
      timeFormat: parseTimeFormat('DD/MM/YYYY HH:mm:ss'),
      maxRejectsRatio: 1,
    });
    assert.equal(custom.summary.accepted, 1);
    assert.deepEqual(
      custom.rejects.map((r) => [r.line, r.field]),
      [[3, 'event_time']],
    );
    assert.match(custom.rejects[0]!.message, /must match the time format "DD\/MM\/YYYY HH:mm:ss"/);
    assert.equal((await readAll(join(dir, 'dmy')))[0]!.start_time, t + 7000);
    assert.throws(() => parseTimeFormat('dd.mm.yy'), /--time-format: .*YYYY, MM, DD/);
  });

  it('stops before writing on a reversed or unknown event-type map, and on a mapped column no row has', async () => {
    const dir = tempDir();
    const text = [
      JSON.stringify({ user: 'u', kind: 'view', t: T0 }),
      JSON.stringify({ user: 'u', kind: 'cart', t: T0 + MIN }),
    ].join('\n');
    const file = writeInput(dir, 'shop.ndjson', text);
    const map = parseFieldMap('cookie_id=user,event_type=kind,event_time=t');
    const store = join(dir, 'store');
    const failsWith = async (options: Partial<ImportOptions>, pattern: RegExp, option: string) =>
      assert.rejects(
        importFiles([file], store, { map, ...options }),
        (err: Error) =>
          err instanceof ImportError && pattern.test(err.message) && err.options.includes(option as never),
      );
    await failsWith(
      { eventTypeMap: parseEventTypeMap('view=page_view') },
      /looks reversed; write page_view=view/,
      'eventTypeMap',
    );
    await failsWith(
      { eventTypeMap: parseEventTypeMap('page_view=visit') },
      /no "visit" events \(event types seen: view \(1\), cart \(1\)\)/,
      'eventTypeMap',
    );
    await failsWith(
      { map: parseFieldMap('cookie_id=user,event_type=kind,event_time=t,item_id=sku') },
      /item_id=sku names a column no row has/,
      'map',
    );
    assert.equal(existsSync(store), false, 'nothing was written');
    const ok = await importFiles([file], store, { map, eventTypeMap: parseEventTypeMap('page_view=view') });
    assert.deepEqual(ok.summary.eventTypes, { page_view: 1, cart: 1 });
  });

  it('honours a mapped session id column: a change of their session id starts a new session', async () => {
    const dir = tempDir();
    const rows = [
      { u: 'a', sid: 's1', t: T0 },
      { u: 'a', sid: 's1', t: T0 + MIN },
      { u: 'a', sid: 's2', t: T0 + 2 * MIN }, // their new session, 1 minute later
      { u: 'a', sid: 's2', t: T0 + 3 * MIN },
      { u: 'a', sid: 's2', t: T0 + 3 * MIN + 31 * MIN }, // the gap still cuts
    ].map((r) =>
      JSON.stringify({ cookie_id: r.u, session: r.sid, event_type: 'page_view', event_time: r.t }),
    );
    const file = writeInput(dir, 'sessions.ndjson', rows.join('\n'));
    await importFiles([file], join(dir, 'with'), { map: parseFieldMap('session_id=session') });
    const withSid = sorted(await readAll(join(dir, 'with')));
    assert.deepEqual(
      withSid.map((s) => [s.cookie_id, s.event_count, s.start_time - T0]),
      [
        ['a', 2, 0],
        ['a', 2, 2 * MIN],
        ['a', 1, 34 * MIN],
      ],
    );
    assert.ok(
      withSid.every((s) => s.events.every((e) => e.cookie_id === 'a')),
      'cookie ids as in the export',
    );
    assert.equal(new Set(withSid.map((s) => s.session_id)).size, 3);
    await importFiles([file], join(dir, 'without'));
    assert.deepEqual(
      sorted(await readAll(join(dir, 'without'))).map((s) => s.event_count),
      [4, 1],
      'without the column only the gap cuts',
    );
  });
});

describe('runImport: a shop2 export as it comes', () => {
  it("shuffled, with exact duplicate rows and no event ids: the sessions are the generator's sessions", async () => {
    const dir = tempDir();
    const items = [
      ...createGenerator({
        seed: 4,
        cookies: 150,
        botCookies: 0,
        duplicateRate: 0,
        emitOracle: true,
        taxonomy: 'shop2',
      }),
    ];
    const rows: string[] = [];
    for (const item of items) {
      if (item.kind !== 'event') continue;
      const { event_id: _id, ...row } = JSON.parse(toNdjsonLine(item)) as Record<string, unknown>;
      rows.push(JSON.stringify(row));
      if (rows.length % 17 === 0) rows.push(JSON.stringify(row)); // an exact duplicate row
    }
    const rng = new Rng(9);
    shuffleInPlace(rows, rng);
    const file = writeInput(dir, 'shop2.ndjson', rows.join('\n'));
    const { summary, rejects } = await importFiles([file], join(dir, 'store'), {
      map: parseFieldMap('session_id=session_id'),
      sort: { runEvents: 500 },
    });
    assert.deepEqual(rejects, []);
    assert.ok(summary.spilledRuns > 1);
    const oracle = items.flatMap((i) => (i.kind === 'session_end' ? [i] : []));
    const events = items.flatMap((i) => (i.kind === 'event' ? [i.event] : []));
    assert.equal(summary.duplicates, rows.length - events.length);
    assert.equal(summary.accepted, events.length);
    assert.equal(summary.sessions, oracle.length);
    const byId = new Map(events.map((e) => [e.event_id, e]));
    const key = (e: { cookie_id: string; event_time: number; event_type: string }) =>
      `${e.cookie_id}/${e.event_time}/${e.event_type}`;
    const expected = oracle.map((s) => s.eventIds.map((id) => key(byId.get(id)!)).join(',')).sort();
    const got = (await readAll(join(dir, 'store'))).map((s) => s.events.map(key).join(',')).sort();
    assert.deepEqual(got, expected);
  });
});

describe('import option parsing', () => {
  it('parses --map, --event-type-map and --time-format, naming mistakes', () => {
    assert.deepEqual(parseFieldMap('cookie_id=user_id, event_time = ts'), {
      cookie_id: 'user_id',
      event_time: 'ts',
    });
    assert.throws(() => parseFieldMap('user_id=cookie_id'), /"user_id" is not an event field/);
    assert.throws(() => parseFieldMap('cookie_id'), /name=value pairs/);
    assert.throws(() => parseFieldMap('cookie_id=a,cookie_id=b'), /mapped twice/);
    assert.deepEqual(parseEventTypeMap('page_view=view,add_to_cart=cart,page_view=home'), [
      { ours: 'page_view', theirs: 'view' },
      { ours: 'add_to_cart', theirs: 'cart' },
      { ours: 'page_view', theirs: 'home' },
    ]);
    assert.throws(() => parseEventTypeMap('page_view=view,search=view'), /their view is mapped twice/);
    assert.throws(() => parseFieldMap('user_id=cookie_id'), /reversed\? write cookie_id=user_id/);
    assert.equal(parseTimeFormat('epoch_s'), 'epoch_s');
    assert.throws(() => parseTimeFormat('seconds'), /epoch_ms, epoch_s, iso, auto/);
  });

  it('derives the format, gzip and segment source name from file names', () => {
    assert.equal(formatFromPath('x/Export.CSV.gz'), 'csv');
    assert.equal(formatFromPath('a.jsonl'), 'ndjson');
    assert.equal(formatFromPath('a.txt'), undefined);
    assert.throws(
      () => fileInput('a.txt'),
      (err: Error) => err instanceof ImportError && err.options.includes('format'),
    );
    assert.equal(fileInput('a.txt', 'csv').format, 'csv');
    assert.equal(fileInput('d/a.ndjson.gz').gzip, true);
    assert.equal(importSourceName(['/data/My Export (2024).csv.gz']), 'import-My_Export_2024_');
    assert.notEqual(importSourceName(['a.csv', 'b.csv']), importSourceName(['a.csv', 'c.csv']));
  });
});

async function* chunksOf(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

async function csv(text: string, size = 1 << 20, delimiter?: string): Promise<CsvRecord[]> {
  const out: CsvRecord[] = [];
  for await (const r of parseCsv(chunksOf(text, size), delimiter ? { delimiter } : {})) out.push(r);
  return out;
}

describe('parseCsv', () => {
  const TEXT = [
    'a,b,c',
    '1,"x,y","he said ""hi"""',
    '',
    '   ',
    '2,"multi',
    'line",',
    '3,,',
    '"q"r,s,t',
    '4,"open',
  ].join('\r\n');
  const EXPECTED = [
    { line: 1, fields: ['a', 'b', 'c'], raw: 'a,b,c' },
    { line: 2, fields: ['1', 'x,y', 'he said "hi"'], raw: '1,"x,y","he said ""hi"""' },
    { line: 5, fields: ['2', 'multi\r\nline', ''], raw: '2,"multi\r\nline",' },
    { line: 7, fields: ['3', '', ''], raw: '3,,' },
    {
      line: 8,
      fields: ['qr', 's', 't'],
      raw: '"q"r,s,t',
      error: 'unexpected text after the closing quote of field 1',
    },
    {
      line: 9,
      fields: ['4', 'open'],
      raw: '4,"open',
      error: 'quoted field 2 is not closed before the end of the file',
    },
  ];

  it('parses quotes, escaped quotes, embedded CRLF, blank lines and errors with exact start lines', async () => {
    assert.deepEqual(await csv(TEXT), EXPECTED);
  });

  it('gives the same records whatever the chunk boundaries, and with LF or CR line ends', async () => {
    for (let size = 1; size <= 12; size++)
      assert.deepEqual(await csv(TEXT, size), EXPECTED, `chunk size ${size}`);
    const lf = EXPECTED.map((r) => ({
      ...r,
      fields: r.fields.map((f) => f.replace('\r\n', '\n')),
      raw: r.raw.replace('\r\n', '\n'),
    }));
    assert.deepEqual(await csv(TEXT.replaceAll('\r\n', '\n'), 3), lf);
    const cr = EXPECTED.map((r) => ({
      ...r,
      fields: r.fields.map((f) => f.replace('\r\n', '\r')),
      raw: r.raw.replace('\r\n', '\r'),
    }));
    assert.deepEqual(await csv(TEXT.replaceAll('\r\n', '\r'), 5), cr);
  });

  it('handles a trailing newline, a trailing delimiter and another delimiter', async () => {
    assert.deepEqual(
      (await csv('a;b\n1;\n', 2, ';')).map((r) => r.fields),
      [
        ['a', 'b'],
        ['1', ''],
      ],
    );
  });

  it('refuses a record longer than the limit instead of buffering the rest of the file', async () => {
    const text = `a,b\n1,"${'x'.repeat(5000)}`;
    await assert.rejects(
      async () => {
        for await (const _ of parseCsv(chunksOf(text, 100), { maxRecordChars: 1000 })) {
          // drain
        }
      },
      (err: Error) => err instanceof TextFormatError && /line 2 .*unbalanced quote/.test(err.message),
    );
  });

  it('readLines numbers lines, skips blank ones and handles CRLF across chunks', async () => {
    const out: [number, string][] = [];
    for await (const l of readLines(chunksOf('a\r\n\r\nbb\n  \nccc', 2))) out.push([l.line, l.text]);
    assert.deepEqual(out, [
      [1, 'a'],
      [3, 'bb'],
      [5, 'ccc'],
    ]);
  });
});
