/** Shapes shared by the importer's parts (options, rows, rejects, errors). */
import type { Readable } from 'node:stream';
import { IntentstreamError } from '../errors.js';
import type { RejectReason } from '../schemas/rejections.js';

export type ImportFormat = 'csv' | 'ndjson';

/** The ShopEvent fields a source column can be mapped to. */
export const EVENT_FIELDS = [
  'cookie_id',
  'event_id',
  'event_type',
  'event_time',
  'item_id',
  'category_id',
  'price',
  'quantity',
  'page_type',
  'device',
  'referrer',
  'extras',
] as const;
export type EventField = (typeof EVENT_FIELDS)[number];
/** Fields a column can be mapped to: the event's, plus the export's own session id. */
export const MAPPABLE_FIELDS = [...EVENT_FIELDS, 'session_id'] as const;
export type MappableField = (typeof MAPPABLE_FIELDS)[number];
/** OUR field = THEIR column, the one direction every map reads. */
export type FieldMap = Partial<Record<MappableField, string>>;

/** One of the shop's event types renamed to one of ours: OUR type = THEIR type, like the field map. */
export interface EventTypeMapping {
  ours: string;
  theirs: string;
}

/** The import options an error can be about; the CLI names its flag for each. */
export type ImportOptionName =
  | 'map'
  | 'eventTypeMap'
  | 'timeFormat'
  | 'format'
  | 'grace'
  | 'store'
  | 'extras'
  | 'delimiter';

/** Why a row was not imported: the live reasons, plus `late` (older than the watermark) and `invalid_csv`. */
export type ImportRejectReason = RejectReason | 'late' | 'invalid_csv';

/** One line of the rejects file. */
export interface RejectedRow {
  file: string;
  line: number;
  reason: ImportRejectReason;
  field?: string;
  message: string;
  /** The row's text as it is in the file (a CSV record may span lines). */
  raw: string;
}

/** Fatal problems with the inputs or options (the CLI exits 1 with the message). */
export class ImportError extends IntentstreamError {
  /** The options that the message is about, so a caller can name its own spelling of them. */
  readonly options: readonly ImportOptionName[];
  constructor(message: string, options: readonly ImportOptionName[] = []) {
    super(message);
    this.name = 'ImportError';
    this.options = options;
  }
}

export interface ImportInput {
  /** As given on the command line; shown in the summary, logs and rejects. */
  path: string;
  /** Base name, part of derived event ids. */
  name: string;
  format: ImportFormat;
  /** Raw bytes of the file; gunzipped by runImport when `gzip`. */
  open(): Readable;
  gzip: boolean;
}
