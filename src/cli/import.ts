import { constants, access } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import {
  type FieldMap,
  ImportError,
  type ImportFormat,
  type TimeFormat,
  createRejectsFile,
  fileInput,
  importSourceName,
  parseEventTypeMap,
  parseFieldMap,
  parseTimeFormat,
  runImport,
  sanitizedStem,
} from '../ingest/import.js';
import { sessionRulesFromConfig } from '../sessions/index.js';
import { createTimelineStore } from '../store/index.js';
import { parseDuration } from '../util/duration.js';
import { createProgress } from '../util/progress.js';
import { action, contextFrom, parseIntOption } from './context.js';

interface ImportOptions {
  format?: string;
  map?: FieldMap;
  timeFormat: TimeFormat;
  eventTypeMap?: Record<string, string>;
  extras?: string;
  delimiter?: string;
  store?: string;
  grace: string;
  rejects?: string;
  maxRejectsRatio: number;
  name?: string;
  chunkSessions: number;
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

/**
 * `intentstream import <file...>`: sessionizes a historical export (CSV or NDJSON, optionally .gz)
 * into the timeline store with the same validation and sessionizer as live ingest. Prints one JSON
 * summary on stdout. Exit 1 when more than --max-rejects-ratio of the rows were rejected (the valid
 * rows are still imported and the summary printed), or on a fatal error: an unreadable file, a mapped
 * column missing from a CSV header, a record over 4 MiB (unbalanced quote), or the first 1,000 rows all
 * rejected (a wrong --map; nothing is written). Chunks written before a fatal error stay; re-running the
 * same import overwrites them.
 */
export function registerImport(program: Command): void {
  program
    .command('import')
    .description('sessionize a historical export (CSV/NDJSON, .gz ok) into the timeline store')
    .argument('<files...>', 'export files, read in this order as one stream')
    .option('--format <format>', 'csv | ndjson (default from the extension: .csv/.tsv, .ndjson/.jsonl/.json)')
    .option(
      '--map <pairs>',
      'our field = their column, comma-separated, e.g. cookie_id=user_id,event_time=ts (unmapped fields use their own name; dotted paths reach into NDJSON objects)',
      wrap(parseFieldMap),
    )
    .option(
      '--time-format <format>',
      'event_time as epoch_ms | epoch_s | iso | auto (numbers < 1e11 are seconds, larger ones ms; strings ISO-8601, UTC when no zone)',
      wrap(parseTimeFormat),
      'auto',
    )
    .option(
      '--event-type-map <pairs>',
      'their event type = ours, e.g. view=page_view,cart=add_to_cart (others kept as they are)',
      wrap(parseEventTypeMap),
    )
    .option('--extras <columns>', 'comma-separated source columns copied into extras')
    .option('--delimiter <char>', 'CSV delimiter (default "," and tab for .tsv; "tab" or "\\t" for tab)')
    .option('--store <dir>', 'timeline store directory (default: store.dir)')
    .option(
      '--grace <duration>',
      'how far rows may be out of time order; older rows are rejected as late',
      '1h',
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
      action(async (files: string[], opts: ImportOptions, cmd: Command) => {
        const { config, logger } = contextFrom(cmd, 'import');
        if (opts.format !== undefined && opts.format !== 'csv' && opts.format !== 'ndjson') {
          throw new ImportError(`--format must be csv or ndjson, got ${opts.format}`);
        }
        if (opts.chunkSessions < 1) throw new ImportError('--chunk-sessions must be at least 1');
        const inputs = files.map((f) => fileInput(f, opts.format as ImportFormat | undefined));
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
        const source = opts.name ? `import-${sanitizedStem(opts.name)}` : importSourceName(files);
        const store = createTimelineStore(opts.store ?? config.store.dir);
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
