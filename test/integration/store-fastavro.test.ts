/**
 * Acceptance: a file written by the timeline store is read back by an independent Avro reader
 * (Python fastavro) with the same records as store.read(). The store is filled by `runImport` from
 * generated traffic. Needs python3 with fastavro (scripts/test installs it); no broker.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createGenerator, toNdjsonLine } from '../../src/generator/index.js';
import { type ImportSummary, fileInput, importSourceName, runImport } from '../../src/ingest/import.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { DEFAULT_SESSION_RULES } from '../../src/sessionizer/index.js';
import { createTimelineStore } from '../../src/store/index.js';

const EVENTS = 3_000;

/**
 * Dumps every record of every segment file (days and files in sorted order, as store.read() goes) as
 * JSON. timestamp-millis fields come back from fastavro as aware datetimes: they are turned back into
 * epoch ms with exact integer arithmetic, and every one found is counted.
 */
const DUMP = `
import datetime, json, os, sys
import fastavro

root = sys.argv[1]
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
converted = 0

def plain(v):
    global converted
    if isinstance(v, datetime.datetime):
        converted += 1
        return (v - epoch) // datetime.timedelta(milliseconds=1)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v

files = []
for day in sorted(d for d in os.listdir(root) if d.startswith("dt=")):
    for name in sorted(f for f in os.listdir(os.path.join(root, day)) if f.endswith(".avro") and not f.startswith(".")):
        with open(os.path.join(root, day, name), "rb") as f:
            reader = fastavro.reader(f)
            schema = reader.writer_schema
            records = [plain(r) for r in reader]
            files.append({
                "file": day + "/" + name,
                "codec": reader.codec,
                "schema": schema.get("name"),
                "records": records,
            })
json.dump({"fastavro": fastavro.__version__, "timestampsConverted": converted, "files": files}, sys.stdout)
`;

interface Dump {
  fastavro: string;
  timestampsConverted: number;
  files: { file: string; codec: string; schema: string; records: SessionTimeline[] }[];
}

function dumpWithFastavro(storeDir: string): Dump {
  const r = spawnSync('python3', ['-c', DUMP, storeDir], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`cannot run python3: ${r.error.message}`);
  assert.equal(
    r.status,
    0,
    `python3 fastavro dump failed (is fastavro installed? pip install fastavro; scripts/test installs it):\n${r.stderr}`,
  );
  return JSON.parse(r.stdout) as Dump;
}

interface Fixture {
  summary: ImportSummary;
  uniqueIds: Set<string>;
  fromStore: SessionTimeline[];
  dump: Dump;
}

/** Generated traffic → NDJSON → runImport into a temp store → read back both ways. */
async function buildFixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'store-fastavro-'));
  const input = join(dir, 'generated.ndjson');
  const lines: string[] = [];
  const uniqueIds = new Set<string>();
  for (const item of createGenerator({ seed: 11, maxEvents: EVENTS, cookies: 300 })) {
    if (item.kind !== 'event') continue;
    lines.push(toNdjsonLine(item));
    uniqueIds.add(item.event.event_id);
  }
  assert.equal(lines.length, EVENTS);
  writeFileSync(input, `${lines.join('\n')}\n`);

  const storeDir = join(dir, 'store');
  const store = createTimelineStore(storeDir);
  const summary = await runImport({
    inputs: [fileInput(input)],
    store,
    rules: { ...DEFAULT_SESSION_RULES, graceMs: 3_600_000 },
    logger: createMemoryLogger('error'),
    source: importSourceName([input]),
    chunkSessions: 20, // several chunks, so several files
  });
  const fromStore: SessionTimeline[] = [];
  for await (const s of store.read()) fromStore.push(JSON.parse(JSON.stringify(s)));
  return { summary, uniqueIds, fromStore, dump: dumpWithFastavro(storeDir) };
}

describe('timeline store files read by fastavro', () => {
  let fixture: Promise<Fixture> | undefined;
  const get = () => {
    fixture ??= buildFixture();
    return fixture;
  };

  it('an import of generated traffic reads back identically through fastavro and store.read()', async () => {
    const { summary, uniqueIds, fromStore, dump } = await get();
    assert.equal(summary.rows, EVENTS);
    assert.equal(summary.rejected, 0, JSON.stringify(summary.rejectedByReason));
    assert.equal(summary.accepted, uniqueIds.size, 'every distinct generated event is accepted once');
    assert.equal(summary.duplicates, EVENTS - uniqueIds.size);
    const fromFastavro = dump.files.flatMap((f) => f.records);

    // the data is rich enough for the comparison to mean something
    assert.ok(dump.files.length >= 4, `several files (${dump.files.length})`);
    assert.equal(fromStore.length, summary.sessions);
    assert.ok(summary.sessions > 50, `many sessions (${summary.sessions})`);
    const events = fromStore.flatMap((s) => s.events);
    assert.equal(events.length, uniqueIds.size);
    assert.deepEqual(new Set(events.map((e) => e.event_id)), uniqueIds);
    assert.ok(
      events.some((e) => e.price !== null && !Number.isInteger(e.price)),
      'some fractional prices',
    );
    assert.ok(
      events.some((e) => Object.keys(e.extras).length > 0),
      'some events with extras',
    );
    assert.ok(
      fromStore.some((s) => s.close_reason === 'gap') &&
        fromStore.some((s) => s.close_reason === 'end_of_input'),
      'gap and end_of_input closes',
    );
    for (const f of dump.files) {
      assert.equal(f.schema, 'io.intentstream.SessionTimeline', f.file);
      assert.equal(f.codec, 'deflate', f.file);
    }

    // record by record, every field
    assert.equal(fromFastavro.length, fromStore.length);
    for (let i = 0; i < fromStore.length; i++) {
      const a = fromFastavro[i]!;
      const b = fromStore[i]!;
      assert.deepEqual(
        {
          session_id: a.session_id,
          cookie_id: a.cookie_id,
          start_time: a.start_time,
          end_time: a.end_time,
          close_reason: a.close_reason,
          event_count: a.event_count,
        },
        {
          session_id: b.session_id,
          cookie_id: b.cookie_id,
          start_time: b.start_time,
          end_time: b.end_time,
          close_reason: b.close_reason,
          event_count: b.event_count,
        },
        `session ${i} (${b.session_id})`,
      );
      assert.equal(a.events.length, b.event_count, `session ${i} event count`);
      for (let j = 0; j < b.events.length; j++) {
        assert.deepEqual(a.events[j], b.events[j], `session ${i} (${b.session_id}) event ${j}`);
      }
    }
    // and nothing else in either (key sets included)
    assert.deepEqual(fromFastavro, fromStore);
  });

  it('the files declare start_time, end_time and event_time as timestamp-millis, as session_timeline.avsc does', async () => {
    const { fromStore, dump } = await get();
    const events = fromStore.reduce((n, s) => n + s.events.length, 0);
    assert.equal(
      dump.timestampsConverted,
      fromStore.length * 2 + events,
      'fastavro decodes every start_time, end_time and event_time as a datetime',
    );
  });
});
