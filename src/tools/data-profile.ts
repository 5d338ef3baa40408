/**
 * The `data_profile` tool: reads an uploaded CSV and describes it, column by column (type, missing
 * values, distinct values, numeric summary, most frequent values), with an optional group-by
 * aggregation. It gives an analyst agent real numbers about a file without running code.
 *
 * Terms used below:
 * - missing: an empty field or NA, N/A, null, NaN (any case, surrounding spaces ignored).
 * - malformed row: a row whose field count differs from the header's; counted and skipped.
 * - numeric column: a column whose non-missing values all parse as finite numbers.
 *
 * The file is parsed with csv-parse's streaming API, fed in small chunks, in one pass that never
 * holds all rows: the synchronous API blocks the event loop for seconds on a 50 MB file (so neither
 * the timeout nor a cancel could fire) and keeps every parsed row in memory.
 */
import { parse } from 'csv-parse';
import { Readable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { ToolContext, ToolDefinition } from './types.js';

/** Limits of the tool. */
export const DATA_PROFILE_LIMITS = Object.freeze({
  /** Larger files are refused: the file's bytes are held in memory while it is read. */
  maxFileBytes: 50 * 1024 * 1024,
  /** Bytes handed to the parser at a time. */
  chunkBytes: 64 * 1024,
  /** Groups returned by `group_by`; the rest are dropped and `truncated` is set. */
  maxGroups: 200,
  /** Rows between two abort checks. */
  abortCheckEvery: 2000,
  /** Rows between two yields to the event loop, so that timeouts and cancels can fire. */
  yieldEvery: 10_000,
});

const AGGREGATE_OPS = ['count', 'sum', 'mean', 'min', 'max', 'median'] as const;
type AggregateOp = (typeof AGGREGATE_OPS)[number];

/** Defaults of the optional inputs, applied in `run` so that the advertised JSON schema keeps them optional. */
export const DATA_PROFILE_DEFAULTS = Object.freeze({ top: 5, sample_rows: 3 });

export const dataProfileInputSchema = z.object({
  file_id: z.string().min(1).describe('Id of an uploaded CSV file.'),
  group_by: z.string().min(1).optional().describe('Column to group rows by.'),
  aggregates: z
    .array(z.object({ column: z.string().min(1), op: z.enum(AGGREGATE_OPS) }))
    .max(50)
    .optional()
    .describe(
      'Aggregates computed per group, reported as values["op(column)"]. count counts non-missing values; ' +
        'the other ops need a numeric column. Default: sum and mean of every numeric column.',
    ),
  top: z.number().int().min(1).max(50).optional().describe('Most frequent values listed per column. Default 5.'),
  sample_rows: z.number().int().min(0).max(20).optional().describe('Leading rows included verbatim. Default 3.'),
});

const COLUMN_TYPES = ['integer', 'number', 'boolean', 'date', 'string', 'empty'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

const columnProfileSchema = z.object({
  name: z.string(),
  type: z.enum(COLUMN_TYPES),
  count: z.number().int(),
  missing: z.number().int(),
  distinct: z.number().int(),
  min: z.union([z.number(), z.string()]).optional(),
  max: z.union([z.number(), z.string()]).optional(),
  mean: z.number().optional(),
  median: z.number().optional(),
  stdev: z.number().optional(),
  sum: z.number().optional(),
  top: z.array(z.object({ value: z.string(), count: z.number().int() })),
});

export const dataProfileOutputSchema = z.object({
  file_id: z.string(),
  file_name: z.string(),
  rows: z.number().int(),
  malformed_rows: z.number().int(),
  delimiter: z.string(),
  columns: z.array(columnProfileSchema),
  sample: z.array(z.record(z.string(), z.string())),
  groups: z
    .object({
      by: z.string(),
      rows: z.array(
        z.object({ key: z.string(), count: z.number().int(), values: z.record(z.string(), z.number().nullable()) }),
      ),
      /** True when more than `maxGroups` groups existed and only the largest are listed. */
      truncated: z.boolean(),
      total_groups: z.number().int(),
    })
    .optional(),
});

export type DataProfileInput = z.output<typeof dataProfileInputSchema>;
export type DataProfileOutput = z.output<typeof dataProfileOutputSchema>;
export type ColumnProfile = z.output<typeof columnProfileSchema>;
type GroupRow = NonNullable<DataProfileOutput['groups']>['rows'][number];

function toolError(message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('TOOL_ERROR', message, { details: { tool: 'data_profile', ...details } });
}

// ---------------------------------------------------------------------------------------------
// Reading and parsing

interface SourceFile {
  name: string;
  /** The bytes, byte order mark removed. */
  data: Buffer;
  delimiter: string;
}

const DELIMITERS = [',', ';', '\t', '|'] as const;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

async function loadFile(fileId: string, ctx: ToolContext): Promise<SourceFile> {
  const meta = await ctx.files.get(fileId);
  if (meta && meta.size > DATA_PROFILE_LIMITS.maxFileBytes) throw tooLarge(fileId, meta.size);
  const file = await ctx.files.read(fileId);
  if (file.data.length > DATA_PROFILE_LIMITS.maxFileBytes) throw tooLarge(fileId, file.data.length);
  ctx.signal.throwIfAborted();
  const data = file.data.subarray(0, 3).equals(UTF8_BOM) ? file.data.subarray(3) : file.data;
  if (data.includes(0)) {
    throw toolError(`File "${file.name}" is binary (it contains NUL bytes), not a CSV text file`, { file_id: fileId });
  }
  if (isBlank(data)) throw toolError(`File "${file.name}" is empty`, { file_id: fileId });
  // The header line is near the start; 1 MB leaves room for very wide files.
  const delimiter = detectDelimiter(data.toString('utf8', 0, Math.min(data.length, 1024 * 1024)));
  return { name: file.name, data, delimiter };
}

function tooLarge(fileId: string, size: number): AppError {
  const limitMb = DATA_PROFILE_LIMITS.maxFileBytes / (1024 * 1024);
  return toolError(`File is ${(size / (1024 * 1024)).toFixed(1)} MB; data_profile reads files up to ${limitMb} MB`, {
    file_id: fileId,
    size,
  });
}

function isBlank(data: Buffer): boolean {
  for (const byte of data) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false;
  return true;
}

/** The candidate seen most often outside quotes on the header line; ties go to the earlier one. */
export function detectDelimiter(text: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, (counts.get(ch) as number) + 1);
  }
  let best: string = ',';
  for (const d of DELIMITERS) if ((counts.get(d) as number) > (counts.get(best) as number)) best = d;
  return best;
}

function* chunksOf(data: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += DATA_PROFILE_LIMITS.chunkBytes) {
    yield data.subarray(offset, offset + DATA_PROFILE_LIMITS.chunkBytes);
  }
}

/** The file's records, streamed; a parse error becomes TOOL_ERROR. */
async function* readRecords(file: SourceFile): AsyncGenerator<string[]> {
  const source = Readable.from(chunksOf(file.data));
  const options = { delimiter: file.delimiter, relax_column_count: true, relax_quotes: true, skip_empty_lines: true };
  const parser = source.pipe(parse(options));
  try {
    for await (const record of parser) yield record as string[];
  } catch (err) {
    // Only the parser's own errors land here; an error thrown by the consumer closes the generator instead.
    throw new AppError('TOOL_ERROR', `File "${file.name}" could not be parsed as CSV: ${(err as Error).message}`, {
      details: { tool: 'data_profile', file_name: file.name },
      cause: err,
    });
  } finally {
    source.destroy();
    parser.destroy();
  }
}

/** Trimmed names; blanks become column_N and repeats get a _2, _3 suffix so every name is unique. */
function normalizeHeader(fields: string[]): string[] {
  const seen = new Set<string>();
  return fields.map((field, i) => {
    const base = field.trim() || `column_${i + 1}`;
    let name = base;
    for (let n = 2; seen.has(name); n += 1) name = `${base}_${n}`;
    seen.add(name);
    return name;
  });
}

// ---------------------------------------------------------------------------------------------
// Values

const MISSING = new Set(['', 'na', 'n/a', 'null', 'nan']);
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const BOOLEAN = /^(?:true|false)$/i;
const DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function isMissing(trimmed: string): boolean {
  return MISSING.has(trimmed.toLowerCase());
}

/** The number a field holds, or undefined. Only plain decimal notation counts (no hex, no Infinity). */
export function parseNumber(trimmed: string): number | undefined {
  if (!NUMBER.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : undefined;
}

/** Milliseconds since the epoch of an ISO-like date (no zone means UTC), or undefined. */
export function parseDate(trimmed: string): number | undefined {
  const m = DATE.exec(trimmed);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((p) => Number(p ?? 0)) as [
    number, number, number, number, number, number,
  ];
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  // Out-of-range days roll over (2024-02-30 becomes March 1st); a real date round-trips.
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  const ms = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime() - zoneOffsetMinutes(m[8]) * 60_000;
}

function zoneOffsetMinutes(zone: string | undefined): number {
  if (!zone || zone === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
  return zone.startsWith('-') ? -minutes : minutes;
}

// ---------------------------------------------------------------------------------------------
// Column statistics

/**
 * What a cell held: a number (while its column is still numeric), NOT_NUMERIC for any other
 * present value, or null when missing. Returned by ColumnStats so groups need not parse again.
 */
const NOT_NUMERIC = Symbol('not numeric');
type Cell = number | typeof NOT_NUMERIC | null;

/** Everything one pass over a column learns; candidate types are ruled out as values arrive. */
class ColumnStats {
  count = 0;
  missing = 0;
  readonly frequencies = new Map<string, number>();
  /** Numbers seen while every value was numeric; null once a non-number appears. */
  numbers: number[] | null = [];
  integers = true;
  booleans = true;
  allDates = true;
  dates: { min: number; minText: string; max: number; maxText: string } | null = null;

  add(raw: string): Cell {
    const value = raw.trim();
    if (isMissing(value)) {
      this.missing += 1;
      return null;
    }
    this.count += 1;
    this.frequencies.set(value, (this.frequencies.get(value) ?? 0) + 1);
    if (this.booleans && !BOOLEAN.test(value)) this.booleans = false;
    if (this.allDates) this.#addDate(value);
    return this.#addNumber(value);
  }

  #addNumber(value: string): Cell {
    if (!this.numbers) return NOT_NUMERIC;
    const n = parseNumber(value);
    if (n === undefined) {
      this.numbers = null;
      return NOT_NUMERIC;
    }
    this.numbers.push(n);
    if (this.integers && !INTEGER.test(value)) this.integers = false;
    return n;
  }

  #addDate(value: string): void {
    const time = parseDate(value);
    if (time === undefined) {
      this.allDates = false;
      this.dates = null;
      return;
    }
    if (!this.dates) this.dates = { min: time, minText: value, max: time, maxText: value };
    else if (time < this.dates.min) Object.assign(this.dates, { min: time, minText: value });
    else if (time > this.dates.max) Object.assign(this.dates, { max: time, maxText: value });
  }

  get type(): ColumnType {
    if (this.count === 0) return 'empty';
    if (this.numbers) return this.integers ? 'integer' : 'number';
    if (this.booleans) return 'boolean';
    if (this.allDates) return 'date';
    return 'string';
  }
}

function medianOf(values: number[]): number {
  const sorted = Float64Array.from(values).sort();
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

type NumericSummary = Pick<ColumnProfile, 'mean' | 'median' | 'stdev' | 'sum'> & { min?: number; max?: number };

/** Numeric summary of a non-empty list; fields that overflow are left out rather than reported as Infinity. */
export function summarize(values: number[]): NumericSummary {
  const n = values.length;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  const summary: NumericSummary = {
    min,
    max,
    mean,
    median: medianOf(values),
    stdev: n >= 2 ? Math.sqrt(squares / (n - 1)) : undefined,
    sum,
  };
  return Object.fromEntries(Object.entries(summary).filter(([, v]) => v !== undefined && Number.isFinite(v)));
}

/** Entries ordered by count descending, then value. */
function byCountThenValue([va, ca]: [string, number], [vb, cb]: [string, number]): number {
  return cb - ca || compareText(va, vb);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The `n` first entries in byCountThenValue order, without sorting a million distinct values. */
function firstN(entries: Iterable<[string, number]>, n: number): Array<[string, number]> {
  const best: Array<[string, number]> = [];
  for (const entry of entries) {
    const last = best[best.length - 1];
    if (best.length === n && last && byCountThenValue(entry, last) >= 0) continue;
    let i = best.length;
    while (i > 0 && byCountThenValue(entry, best[i - 1] as [string, number]) < 0) i -= 1;
    best.splice(i, 0, entry);
    if (best.length > n) best.pop();
  }
  return best;
}

function profileColumn(name: string, stats: ColumnStats, top: number): ColumnProfile {
  const profile: ColumnProfile = {
    name,
    type: stats.type,
    count: stats.count,
    missing: stats.missing,
    distinct: stats.frequencies.size,
    top: firstN(stats.frequencies, top).map(([value, count]) => ({ value, count })),
  };
  if (stats.numbers && stats.numbers.length > 0) Object.assign(profile, summarize(stats.numbers));
  if (stats.type === 'date' && stats.dates) Object.assign(profile, { min: stats.dates.minText, max: stats.dates.maxText });
  return profile;
}

// ---------------------------------------------------------------------------------------------
// Grouping

interface Aggregate {
  column: number;
  op: AggregateOp;
  key: string;
}

/** What a group knows about one aggregated column. */
class ColumnInGroup {
  /** Non-missing values. */
  present = 0;
  /** Numeric values, and their running sum, min and max. */
  n = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** Kept only when a median was asked for. */
  readonly numbers: number[] | null;

  constructor(keepNumbers: boolean) {
    this.numbers = keepNumbers ? [] : null;
  }

  add(cell: Cell): void {
    if (cell === null) return;
    this.present += 1;
    if (cell === NOT_NUMERIC) return;
    this.n += 1;
    this.sum += cell;
    if (cell < this.min) this.min = cell;
    if (cell > this.max) this.max = cell;
    this.numbers?.push(cell);
  }

  value(op: AggregateOp): number | null {
    if (op === 'count') return this.present;
    if (this.n === 0) return null;
    const values = { sum: this.sum, mean: this.sum / this.n, min: this.min, max: this.max };
    const value = op === 'median' ? medianOf(this.numbers ?? []) : values[op];
    return Number.isFinite(value) ? value : null;
  }
}

interface Group {
  count: number;
  /** Indexed by column; only aggregated columns are present. */
  columns: Array<ColumnInGroup | undefined>;
}

/** Resolves a column name exactly, then case-insensitively, or fails listing the available columns. */
function resolveColumn(header: string[], name: string, role: string): number {
  let index = header.indexOf(name);
  if (index < 0) {
    const matches = header.flatMap((h, i) => (h.toLowerCase() === name.toLowerCase() ? [i] : []));
    if (matches.length === 1) index = matches[0] as number;
  }
  if (index < 0) {
    throw toolError(`Unknown column "${name}" in ${role}. Available columns: ${header.join(', ')}`, {
      column: name,
      available: header,
    });
  }
  return index;
}

/**
 * Groups rows while they stream by. Columns are resolved against the header up front, so a typo
 * fails before the file is read; whether a numeric aggregate fits its column is only known at the end.
 */
class GroupCollector {
  readonly by: number;
  /** Explicit aggregates, or null for the default (sum and mean of every numeric column). */
  readonly #requested: Aggregate[] | null;
  readonly #columns: number[];
  readonly #medianColumns: Set<number>;
  readonly #groups = new Map<string, Group>();

  constructor(header: string[], groupBy: string, aggregates: DataProfileInput['aggregates']) {
    this.by = resolveColumn(header, groupBy, 'group_by');
    if (aggregates && aggregates.length > 0) {
      const planned = new Map<string, Aggregate>();
      for (const { column, op } of aggregates) {
        const index = resolveColumn(header, column, 'aggregates');
        planned.set(`${op}(${header[index]})`, { column: index, op, key: `${op}(${header[index]})` });
      }
      this.#requested = [...planned.values()];
      this.#columns = [...new Set(this.#requested.map((a) => a.column))];
    } else {
      this.#requested = null;
      this.#columns = header.flatMap((_, i) => (i === this.by ? [] : [i]));
    }
    this.#medianColumns = new Set(this.#requested?.filter((a) => a.op === 'median').map((a) => a.column));
  }

  /** The group of a row, counted; rows with a missing group value share the key "". */
  enter(record: string[]): Group {
    const raw = (record[this.by] as string).trim();
    const key = isMissing(raw) ? '' : raw;
    let group = this.#groups.get(key);
    if (!group) {
      group = { count: 0, columns: [] };
      for (const c of this.#columns) group.columns[c] = new ColumnInGroup(this.#medianColumns.has(c));
      this.#groups.set(key, group);
    }
    group.count += 1;
    return group;
  }

  result(columns: ColumnProfile[]): NonNullable<DataProfileOutput['groups']> {
    const aggregates = this.#aggregates(columns);
    const rows: GroupRow[] = [...this.#groups]
      .sort(([ka, a], [kb, b]) => b.count - a.count || compareText(ka, kb))
      .slice(0, DATA_PROFILE_LIMITS.maxGroups)
      .map(([key, group]) => ({
        key,
        count: group.count,
        values: Object.fromEntries(aggregates.map((a) => [a.key, (group.columns[a.column] as ColumnInGroup).value(a.op)])),
      }));
    const total = this.#groups.size;
    return {
      by: (columns[this.by] as ColumnProfile).name,
      rows,
      truncated: total > DATA_PROFILE_LIMITS.maxGroups,
      total_groups: total,
    };
  }

  #aggregates(columns: ColumnProfile[]): Aggregate[] {
    if (!this.#requested) {
      return this.#columns.flatMap((i) => {
        const col = columns[i] as ColumnProfile;
        if (col.type !== 'integer' && col.type !== 'number') return [];
        return (['sum', 'mean'] as const).map((op) => ({ column: i, op, key: `${op}(${col.name})` }));
      });
    }
    for (const { column, op } of this.#requested) {
      const col = columns[column] as ColumnProfile;
      if (op !== 'count' && col.type !== 'integer' && col.type !== 'number' && col.type !== 'empty') {
        throw toolError(`Cannot compute ${op} of column "${col.name}": its values are ${col.type}, not numbers`, {
          column: col.name,
          type: col.type,
          op,
        });
      }
    }
    return this.#requested;
  }
}

// ---------------------------------------------------------------------------------------------
// The tool

/** One pass over the rows: column statistics, sample rows and groups. */
class Profiler {
  readonly header: string[];
  readonly stats: ColumnStats[];
  readonly sample: Array<Record<string, string>> = [];
  readonly groups: GroupCollector | null;
  readonly #sampleSize: number;
  rows = 0;
  malformed = 0;

  constructor(header: string[], input: DataProfileInput) {
    this.header = header;
    this.stats = header.map(() => new ColumnStats());
    this.#sampleSize = input.sample_rows ?? DATA_PROFILE_DEFAULTS.sample_rows;
    this.groups = input.group_by === undefined ? null : new GroupCollector(header, input.group_by, input.aggregates);
  }

  add(record: string[]): void {
    if (record.length !== this.header.length) {
      this.malformed += 1;
      return;
    }
    this.rows += 1;
    if (this.sample.length < this.#sampleSize) {
      this.sample.push(Object.fromEntries(this.header.map((name, i) => [name, record[i] as string])));
    }
    const group = this.groups?.enter(record);
    for (let c = 0; c < record.length; c += 1) {
      const cell = (this.stats[c] as ColumnStats).add(record[c] as string);
      group?.columns[c]?.add(cell);
    }
  }
}

/** Checks the signal every few thousand rows and lets the event loop run now and then. */
async function checkpoint(row: number, signal: AbortSignal): Promise<void> {
  if (row % DATA_PROFILE_LIMITS.abortCheckEvery !== 0) return;
  signal.throwIfAborted();
  if (row % DATA_PROFILE_LIMITS.yieldEvery === 0) {
    await yieldToEventLoop();
    signal.throwIfAborted();
  }
}

async function profileFile(file: SourceFile, input: DataProfileInput, signal: AbortSignal): Promise<Profiler> {
  let profiler: Profiler | undefined;
  let seen = 0;
  for await (const record of readRecords(file)) {
    seen += 1;
    await checkpoint(seen, signal);
    if (profiler) profiler.add(record);
    else profiler = new Profiler(normalizeHeader(record), input);
  }
  signal.throwIfAborted();
  if (!profiler) throw toolError(`File "${file.name}" has no header row`, { file_id: input.file_id });
  return profiler;
}

async function run(input: DataProfileInput, ctx: ToolContext): Promise<DataProfileOutput> {
  const file = await loadFile(input.file_id, ctx);
  const profiler = await profileFile(file, input, ctx.signal);
  const top = input.top ?? DATA_PROFILE_DEFAULTS.top;
  const columns = profiler.header.map((name, i) => profileColumn(name, profiler.stats[i] as ColumnStats, top));
  const output: DataProfileOutput = {
    file_id: input.file_id,
    file_name: file.name,
    rows: profiler.rows,
    malformed_rows: profiler.malformed,
    delimiter: file.delimiter,
    columns,
    sample: profiler.sample,
  };
  if (profiler.groups) output.groups = profiler.groups.result(columns);
  return output;
}

/** The `data_profile` tool. */
export const dataProfileTool: ToolDefinition<DataProfileInput, DataProfileOutput> = {
  name: 'data_profile',
  description:
    'Profiles an uploaded CSV file (comma, semicolon, tab or pipe separated): row count, and per column its type ' +
    '(integer, number, boolean, date, string, empty), missing and distinct counts, min/max/mean/median/stdev/sum ' +
    'for numeric columns, min/max for dates and the most frequent values; plus a few sample rows. With group_by, ' +
    'also aggregates (count, sum, mean, min, max, median) per group, largest groups first (at most 200); rows with ' +
    'a missing group value fall under the key "". Missing values are empty fields and NA, N/A, null, NaN. Rows ' +
    'with the wrong number of fields are skipped and counted as malformed_rows.',
  input: dataProfileInputSchema,
  output: dataProfileOutputSchema,
  timeoutMs: 30_000,
  effect: 'read_only',
  run,
};
