import { constants, access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import {
  type EventTypeMapping,
  type FieldMap,
  ImportError,
  type ImportFormat,
  type ImportOptionName,
  MAPPABLE_FIELDS,
  type MappableField,
  type TimeFormat,
  createRejectsFile,
  fileInput,
  importSourceName,
  parseTimeFormatSpec,
  runImport,
  sanitizedStem,
} from '../ingest/import.js';
import { sessionRulesFromConfig } from '../sessionizer/index.js';
import { createStorageFromConfig } from '../storage/index.js';
import { createTimelineStore } from '../store/index.js';
import { parseDuration } from '../util/duration.js';
import { createProgress } from '../util/progress.js';
import { action, contextFrom, parseIntOption } from './context.js';

interface ImportFlags {
  format?: string;
  map?: FieldMap;
  timeFormat: TimeFormat;
  eventTypeMap?: EventTypeMapping[];
  extras?: string;
  delimiter?: string;
  store?: string;
  grace: string;
  sort: boolean;
  sortRunEvents: number;
  rejects?: string;
  maxRejectsRatio: number;
  name?: string;
  chunkSessions: number;
}

/** The flag for each import option an ImportError can be about. */
const FLAG_OF: Record<ImportOptionName, string> = {
  map: '--map',
  eventTypeMap: '--event-type-map',
  timeFormat: '--time-format',
  format: '--format',
  grace: '--grace',
  store: '--store',
  extras: '--extras',
  delimiter: '--delimiter',
};

/** Parses `a=b,c=d` into pairs; `flag` names the option in errors. */
function parsePairs(spec: string, flag: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (key === '' || value === '') {
      throw new ImportError(
        `${flag}: expected name=value pairs (ours=theirs) separated by commas, got ${JSON.stringify(part)}`,
      );
    }
    pairs.push([key, value]);
  }
  return pairs;
}

/** `--map cookie_id=user_id,event_time=ts,session_id=sid`: OUR field = THEIR column. */
export function parseFieldMap(spec: string): FieldMap {
  const map: FieldMap = {};
  for (const [ours, theirs] of parsePairs(spec, '--map')) {
    if (!(MAPPABLE_FIELDS as readonly string[]).includes(ours)) {
      const hint = (MAPPABLE_FIELDS as readonly string[]).includes(theirs)
        ? `; reversed? write ${theirs}=${ours}`
        : '';
      throw new ImportError(
        `--map: ${JSON.stringify(ours)} is not an event field (the left side names ours: ${MAPPABLE_FIELDS.join(', ')})${hint}`,
      );
    }
    if (map[ours as MappableField] !== undefined) throw new ImportError(`--map: ${ours} is mapped twice`);
    map[ours as MappableField] = theirs;
  }
  return map;
}

/** `--event-type-map page_view=view,add_to_cart=cart`: OUR event type = THEIR event type, like --map. */
export function parseEventTypeMap(spec: string): EventTypeMapping[] {
  const out: EventTypeMapping[] = [];
  for (const [ours, theirs] of parsePairs(spec, '--event-type-map')) {
    if (out.some((m) => m.theirs === theirs)) {
      throw new ImportError(`--event-type-map: their ${theirs} is mapped twice`);
    }
    out.push({ ours, theirs });
  }
  return out;
}

export function parseTimeFormat(value: string): TimeFormat {
  try {
    return parseTimeFormatSpec(value);
  } catch (err) {
    throw new ImportError(`--time-format: ${(err as Error).message}`);
  }
}

function parseRatio(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new Error(`must be a fraction between 0 and 1, got ${v}`);
  return n;
}

/** Option parser that reports a bad value as a commander usage error. */
const wrap =
  <T>(parse: (v: string) => T) =>
  (v: string): T => {
    try {
      return parse(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };

/** An ImportError about options, with this command's flags named. */
function withFlags(err: unknown): unknown {
  if (!(err instanceof ImportError) || err.options.length === 0) return err;
  return new ImportError(`${err.message} (${err.options.map((o) => FLAG_OF[o]).join(', ')})`, err.options);
}

/** The store directory exists and is writable, or can be created under a writable parent. */
async function checkStoreDir(dir: string): Promise<void> {
  const s = await stat(dir).catch(() => undefined);
  if (s !== undefined && !s.isDirectory()) {
    throw new ImportError(`--store ${dir} is not a directory`);
  }
  let probe = resolve(dir);
  while ((await stat(probe).catch(() => undefined)) === undefined && dirname(probe) !== probe) {
    probe = dirname(probe);
  }
  await access(probe, constants.W_OK).catch(() => {
    throw new ImportError(`--store ${dir}: ${probe} is not writable`);
  });
}

async function checkWritableParent(flag: string, file: string): Promise<void> {
  const parent = dirname(resolve(file));
  await access(parent, constants.W_OK).catch(() => {
    throw new ImportError(`${flag} ${file}: the folder ${parent} does not exist or is not writable`);
  });
}

/**
 * `intentstream import <file...>`: sessionizes a historical export (CSV or NDJSON, optionally .gz)
 * into the timeline store with the same validation and sessionizer as live ingest. Prints one JSON
 * summary on stdout. Rows are sorted by event time first (in bounded memory, spilling sorted runs
 * to temp files) unless --no-sort. Every map reads ours=theirs. Flags become a typed options object
 * here; the importer never sees them. Exit 1 when more than --max-rejects-ratio of the rows were
 * rejected (the valid rows are still imported and the summary printed), or on a fatal error: a bad
 * flag, --store not a writable folder, an unreadable file, a mapped column missing from a CSV header
 * or from every row, a reversed or unknown --event-type-map pair, a record over 4 MiB (unbalanced
 * quote), or the first 1,000 rows all rejected (nothing is written in these cases). Chunks written
 * before a later fatal error stay; re-running the same import overwrites them.
 */
export function registerImport(program: Command): void {
  program
    .command('import')
    .description('sessionize a historical export (CSV/NDJSON, .gz ok) into the timeline store')
    .argument('<files...>', 'export files, read in this order as one stream')
    .option('--format <format>', 'csv | ndjson (default from the extension: .csv/.tsv, .ndjson/.jsonl/.json)')
    .option(
      '--map <pairs>',
      'our field = their column, comma-separated, e.g. cookie_id=user_id,event_time=ts,session_id=sid (unmapped fields use their own name; dotted paths reach into NDJSON objects; session_id: a change of their session id starts a new session)',
      wrap(parseFieldMap),
    )
    .option(
      '--time-format <format>',
      'event_time as epoch_ms | epoch_s | iso | auto (numbers < 1e11 are seconds, larger ones ms; ISO-8601 with T or a space, a " UTC" suffix ok, UTC when no zone) or a pattern such as "DD/MM/YYYY HH:mm:ss"',
      wrap(parseTimeFormat),
      'auto',
    )
    .option(
      '--event-type-map <pairs>',
      'our event type = theirs, like --map, e.g. page_view=view,add_to_cart=cart (others kept as they are; a reversed or unknown pair stops the import)',
      wrap(parseEventTypeMap),
    )
    .option('--extras <columns>', 'comma-separated source columns copied into extras')
    .option('--delimiter <char>', 'CSV delimiter (default "," and tab for .tsv; "tab" or "\\t" for tab)')
    .option('--store <dir>', 'timeline store directory (default: store.dir)')
    .option(
      '--grace <duration>',
      'with --no-sort: how far rows may be out of time order; older rows are rejected as late',
      '1h',
    )
    .option('--no-sort', 'the export is already in event-time order: stream it without sorting')
    .option(
      '--sort-run-events <n>',
      'events held in memory while sorting; more spill to sorted temp files',
      wrap(parseIntOption('sort-run-events')),
      200_000,
    )
    .option('--rejects <file>', 'write rejected rows (file, line, reason, field, message, raw) as NDJSON')
    .option(
      '--max-rejects-ratio <fraction>',
      'exit 1 when more than this fraction of the rows is rejected (the valid rows are still imported)',
      wrap(parseRatio),
      0.1,
    )
    .option(
      '--name <source>',
      'segment source name (default import-<file stem>); re-importing under the same name replaces',
    )
    .option(
      '--chunk-sessions <n>',
      'sessions per segment file chunk (also cut at 250000 events)',
      wrap(parseIntOption('chunk-sessions')),
      50_000,
    )
    .action(
      action(async (files: string[], opts: ImportFlags, cmd: Command) => {
        const { config, logger } = contextFrom(cmd, 'import');
        if (opts.format !== undefined && opts.format !== 'csv' && opts.format !== 'ndjson') {
          throw new ImportError(`--format must be csv or ndjson, got ${opts.format}`);
        }
        if (opts.chunkSessions < 1) throw new ImportError('--chunk-sessions must be at least 1');
        let inputs: ReturnType<typeof fileInput>[];
        try {
          inputs = files.map((f) => fileInput(f, opts.format as ImportFormat | undefined));
        } catch (err) {
          throw withFlags(err);
        }
        // every file must be readable before anything is written
        for (const f of files) {
          await access(f, constants.R_OK).catch((err: Error) => {
            throw new ImportError(`cannot read ${f}: ${err.message}`);
          });
        }
        let delimiter = opts.delimiter;
        if (delimiter === 'tab' || delimiter === '\\t') delimiter = '\t';
        if (delimiter === undefined && files.every((f) => /\.tsv(\.gz)?$/i.test(f))) delimiter = '\t';
        if (delimiter !== undefined && delimiter.length !== 1) {
          throw new ImportError(
            `--delimiter must be one character (or "tab"), got ${JSON.stringify(delimiter)}`,
          );
        }
        if (opts.sortRunEvents < 1) throw new ImportError('--sort-run-events must be at least 1');
        const source = opts.name ? `import-${sanitizedStem(opts.name)}` : importSourceName(files);
        const storeDir = opts.store ?? config.store.dir;
        if (opts.store !== undefined || config.storage.backend === 'local') await checkStoreDir(storeDir);
        if (opts.rejects) await checkWritableParent('--rejects', opts.rejects);
        const store = createTimelineStore(createStorageFromConfig(config, 'timelines', opts.store));
        const rules = sessionRulesFromConfig({ ...config.sessions, grace: parseDuration(opts.grace) });
        const rejects = opts.rejects ? createRejectsFile(opts.rejects) : undefined;
        const progress = createProgress({ logger, label: 'import', unit: 'rows' });
        logger.info('import started', {
          files,
          store: store.dir,
          source,
          graceMs: rules.graceMs,
          inactivityGapMs: rules.inactivityGapMs,
        });
        let summary: Awaited<ReturnType<typeof runImport>>;
        try {
          summary = await runImport({
            sortByTime: opts.sort,
            sort: { runEvents: opts.sortRunEvents },
            inputs,
            store,
            rules,
            logger,
            source,
            map: opts.map,
            timeFormat: opts.timeFormat,
            eventTypeMap: opts.eventTypeMap,
            extras: opts.extras
              ?.split(',')
              .map((c) => c.trim())
              .filter(Boolean),
            delimiter,
            onReject: rejects?.write,
            maxRejectsRatio: opts.maxRejectsRatio,
            chunkSessions: opts.chunkSessions,
            progress,
          }).catch((err) => {
            throw withFlags(err);
          });
        } finally {
          await rejects?.close();
        }
        progress.done({ accepted: summary.accepted, rejected: summary.rejected, sessions: summary.sessions });
        process.stdout.write(`${JSON.stringify({ ...summary, rejectsFile: opts.rejects ?? null })}\n`);
        if (!summary.ok) {
          throw new ImportError(
            `${summary.rejected} of ${summary.rows} rows rejected (${(summary.rejectedRatio * 100).toFixed(2)}%), more than --max-rejects-ratio ${opts.maxRejectsRatio}; the valid rows were imported${opts.rejects ? `; see ${opts.rejects}` : '; use --rejects <file> to see them'}`,
          );
        }
      }),
    );
}
