/**
 * The `sql_query` tool: one read-only SQL query over either the task's uploaded data files
 * (CSV, JSON, Parquet; through an in-process DuckDB) or a PostgreSQL database the operator
 * configured as a named source. Results come back as a capped table an agent can reason over.
 *
 * Terms used below:
 * - source: where a query runs; `files` (the task's uploads) or the name of a configured database.
 * - table (files source): a DuckDB view over one uploaded file, named after the file
 *   (`Sales 2024.csv` becomes `sales_2024`).
 * - row cap: at most `max_rows` rows are returned; one more is fetched to know whether the result
 *   was cut (`truncated`). Rows are never all materialised.
 *
 * Read-only is enforced by each engine, with a cheap first line in front:
 * - files: every call gets a fresh in-memory DuckDB. The files are written to a private temp folder;
 *   DuckDB may read that folder only (`allowed_directories`), external access (host files, URLs,
 *   extension installs) is switched off and the configuration is locked before the query runs, so
 *   no statement can switch it back. Only statements DuckDB's own parser classifies as SELECT or
 *   EXPLAIN run; COPY, ATTACH, INSTALL, LOAD, SET, CREATE and the rest are refused.
 * - PostgreSQL: the query runs inside `BEGIN READ ONLY` with `SET LOCAL statement_timeout`, through
 *   a cursor (`DECLARE ... CURSOR FOR <query>`, then `FETCH max_rows + 1`), and the transaction is
 *   always rolled back. The server refuses writes in a read-only transaction (SQLSTATE 25006), and
 *   the extended protocol refuses more than one statement. A keyword check refuses statements that
 *   cannot be read-only (INSERT, DROP, ...) before they reach the server. Superuser connections are
 *   refused by default: a superuser can read and write server files from a plain SELECT
 *   (`pg_read_file`, `lo_export`), which no transaction mode prevents.
 *
 * Values in rows are JSON-safe: 64-bit integers and exact decimals become numbers when a double
 * holds them exactly (at most 15 significant digits) and text otherwise; dates, times and
 * timestamps are the engine's text (`2024-01-15`, `2024-01-15 08:00:00+00`, PostgreSQL sessions in
 * UTC); bytes are the engine's text form (PostgreSQL `\x` hex, DuckDB `\xNN` escapes); NaN and
 * Infinity are text; JSON, arrays and structs nest.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTypeId, StatementType } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBResultReader } from '@duckdb/node-api';
import pg from 'pg';
import type { CustomTypesConfig, QueryArrayConfig } from 'pg';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { FileAccess, StoredFile, ToolContext, ToolDefinition } from './types.js';

/** Hard limits, whatever the options say. */
export const SQL_QUERY_LIMITS = Object.freeze({
  /** Characters of a query. */
  maxQueryLength: 20_000,
  /** Files one call may query. */
  maxFiles: 20,
  /** Upper bound of the `maxRows` option. */
  maxRowsCeiling: 10_000,
});

/** Defaults of the options. */
export const SQL_QUERY_DEFAULTS = Object.freeze({
  /** Rows returned when the input names no `max_rows`. */
  defaultRows: 200,
  /** The largest `max_rows` a call may ask for. */
  maxRows: 1000,
  /** Serialised size of the returned rows; rows past it are dropped and `truncated` is set. */
  maxResultBytes: 2 * 1024 * 1024,
  /** Tool timeout. */
  timeoutMs: 60_000,
  /** Time one statement may run; kept below the tool timeout so the database stops first. */
  statementTimeoutMs: 30_000,
  /** Time to connect to a PostgreSQL source. */
  connectTimeoutMs: 10_000,
  /** Size of one uploaded file; it is held in memory and copied to a temp file. */
  maxFileBytes: 100 * 1024 * 1024,
  /** DuckDB's memory limit per call. */
  duckdbMemoryLimit: '512MB',
  /** DuckDB's worker threads per call. */
  duckdbThreads: 2,
});

/** A PostgreSQL database the operator lets agents query. */
export interface SqlSource {
  /** Name agents use as `source`: lower case letters, digits and `_`, not `files`. */
  name: string;
  /** `postgres://user:pass@host:5432/db`; use a role that has SELECT grants only. */
  url: string;
  /**
   * Allow a superuser role. Off by default: a superuser can read server files from a SELECT.
   * @defaultValue false
   */
  allowSuperuser?: boolean;
  /** Shown to agents in the tool description, e.g. "sales warehouse, schema analytics". */
  description?: string;
  /** The tenants that may see and query it; absent: every tenant. */
  tenants?: string[];
}

export interface SqlQueryOptions {
  /** PostgreSQL sources (AGENTIC_SQL_SOURCES). The `files` source is always available. @defaultValue [] */
  sources?: SqlSource[];
  /** @defaultValue SQL_QUERY_DEFAULTS.defaultRows */
  defaultRows?: number;
  /** @defaultValue SQL_QUERY_DEFAULTS.maxRows */
  maxRows?: number;
  /** @defaultValue SQL_QUERY_DEFAULTS.maxResultBytes */
  maxResultBytes?: number;
  /** @defaultValue SQL_QUERY_DEFAULTS.timeoutMs */
  timeoutMs?: number;
  /** Clamped to one second below `timeoutMs`. @defaultValue SQL_QUERY_DEFAULTS.statementTimeoutMs */
  statementTimeoutMs?: number;
  /** @defaultValue SQL_QUERY_DEFAULTS.connectTimeoutMs */
  connectTimeoutMs?: number;
  /** @defaultValue SQL_QUERY_DEFAULTS.maxFileBytes */
  maxFileBytes?: number;
  /** DuckDB memory_limit, e.g. '1GB'. @defaultValue SQL_QUERY_DEFAULTS.duckdbMemoryLimit */
  duckdbMemoryLimit?: string;
  /** @defaultValue SQL_QUERY_DEFAULTS.duckdbThreads */
  duckdbThreads?: number;
  /** Parent of the per-call temp folders. @defaultValue os.tmpdir() */
  tempDir?: string;
}

const FILES_SOURCE = 'files';
const SOURCE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

const columnSchema = z.object({ name: z.string(), type: z.string() });
const tableSchema = z.object({
  name: z.string(),
  file_id: z.string(),
  file_name: z.string(),
  format: z.enum(['csv', 'json', 'parquet']),
});

export const sqlQueryOutputSchema = z.object({
  source: z.string(),
  /** Result columns in order; `type` is the engine's type name (DuckDB or PostgreSQL). */
  columns: z.array(columnSchema),
  /** One array per row, values in column order (arrays, not objects: column names may repeat); JSON-safe values. */
  rows: z.array(z.array(z.unknown())),
  row_count: z.number().int(),
  /** True when the result had more rows than returned (row cap or size cap). */
  truncated: z.boolean(),
  duration_ms: z.number(),
  /** Files source: the tables the query could use. */
  tables: z.array(tableSchema).optional(),
});

export type SqlQueryOutput = z.output<typeof sqlQueryOutputSchema>;
export type SqlTable = z.output<typeof tableSchema>;
export type SqlColumn = z.output<typeof columnSchema>;

export interface SqlQueryInput {
  query: string;
  source?: string;
  files?: string[];
  max_rows?: number;
}

/** The input schema; `sourceNames` null: any source name (the checks are run()'s). */
function inputSchema(sourceNames: string[] | null, defaultRows: number, maxRows: number): z.ZodType<SqlQueryInput> {
  return z.object({
    query: z
      .string()
      .min(1)
      .max(SQL_QUERY_LIMITS.maxQueryLength)
      .describe('One read-only SQL statement (SELECT, WITH ... SELECT, VALUES, EXPLAIN, ...).'),
    source: (sourceNames === null ? z.string().min(1).max(64) : z.enum([FILES_SOURCE, ...sourceNames] as [string, ...string[]]))
      .optional()
      .describe(`Where the query runs: "files" (uploaded CSV/JSON/Parquet files, the default) or a database name.`),
    files: z
      .array(z.string().min(1).max(100))
      .max(SQL_QUERY_LIMITS.maxFiles)
      .optional()
      .describe('Source "files": ids of the uploaded files to query. Default: every file attached to the task.'),
    max_rows: z
      .number()
      .int()
      .min(1)
      .max(maxRows)
      .optional()
      .describe(`Rows to return at most (default ${defaultRows}); "truncated" says whether more existed.`),
  });
}

function sqlError(message: string, details: Record<string, unknown> = {}, cause?: unknown): AppError {
  return new AppError('SQL_ERROR', message, { details: { tool: 'sql_query', ...details }, cause });
}

function readOnlyError(message: string, details: Record<string, unknown> = {}, cause?: unknown): AppError {
  return new AppError('SQL_READ_ONLY', message, { details: { tool: 'sql_query', ...details }, cause });
}

/** Words that start a statement in PostgreSQL or DuckDB. A query starting with another word is left to the parser's syntax error. */
const SQL_COMMANDS = new Set(
  (
    'ABORT ALTER ANALYZE ATTACH BEGIN CALL CHECKPOINT CLOSE CLUSTER COMMENT COMMIT COPY CREATE DEALLOCATE DECLARE DELETE ' +
    'DESCRIBE DETACH DISCARD DO DROP END EXECUTE EXPLAIN EXPORT FETCH FORCE FROM GRANT IMPORT INSERT INSTALL LISTEN LOAD ' +
    'LOCK MERGE MOVE NOTIFY PIVOT PRAGMA PREPARE REASSIGN REFRESH REINDEX RELEASE RESET REVOKE ROLLBACK SAVEPOINT SECURITY ' +
    'SELECT SET SHOW START SUMMARIZE TABLE TRUNCATE UNLISTEN UNPIVOT UPDATE USE VACUUM VALUES WITH'
  ).split(' '),
);

function refuseUnlessReadKeyword(keyword: string, allowed: Set<string>): void {
  if (allowed.has(keyword) || !SQL_COMMANDS.has(keyword)) return;
  throw readOnlyError(
    `sql_query is read-only: ${keyword || 'this'} statements are refused; start with ${[...allowed].join(', ')}`,
    { keyword },
  );
}

function configError(message: string): AppError {
  return new AppError('CONFIG_INVALID', message, { details: { tool: 'sql_query' } });
}

// ---------------------------------------------------------------------------------------------
// Sources configuration

/**
 * Parses AGENTIC_SQL_SOURCES: either `name=url;name2=url2` or a JSON array of
 * `{"name", "url", "allow_superuser"?, "description"?}`. Blank means no sources.
 * @example parseSqlSources('warehouse=postgres://reader@db:5432/dw;crm=postgres://reader@crm/crm')
 */
export function parseSqlSources(text: string | undefined): SqlSource[] {
  const trimmed = text?.trim() ?? '';
  if (!trimmed) return [];
  if (trimmed.startsWith('[')) return parseJsonSources(trimmed);
  return trimmed
    .split(';')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw configError(`AGENTIC_SQL_SOURCES: expected name=url, got "${entry.split('://')[0]}..."`);
      return { name: entry.slice(0, eq).trim(), url: entry.slice(eq + 1).trim() };
    });
}

const jsonSourceSchema = z.array(
  z.object({
    name: z.string(),
    url: z.string(),
    allow_superuser: z.boolean().optional(),
    description: z.string().max(500).optional(),
    tenants: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'tenant names are 1-64 letters, digits, ".", "_" or "-"')).min(1).optional(),
  }),
);

function parseJsonSources(text: string): SqlSource[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw configError('AGENTIC_SQL_SOURCES starts with "[" but is not valid JSON');
  }
  const checked = jsonSourceSchema.safeParse(parsed);
  if (!checked.success) throw configError(`AGENTIC_SQL_SOURCES: ${z.prettifyError(checked.error)}`);
  return checked.data.map((s) => ({
    name: s.name,
    url: s.url,
    allowSuperuser: s.allow_superuser,
    description: s.description,
    tenants: s.tenants,
  }));
}

function checkSources(sources: SqlSource[]): Map<string, SqlSource> {
  const byName = new Map<string, SqlSource>();
  for (const source of sources) {
    if (!SOURCE_NAME.test(source.name) || source.name === FILES_SOURCE) {
      throw configError(
        `SQL source name "${source.name}" must be lower case letters, digits and _, start with a letter, and not be "files"`,
      );
    }
    if (byName.has(source.name)) throw configError(`SQL source "${source.name}" is configured twice`);
    let protocol: string;
    try {
      protocol = new URL(source.url).protocol;
    } catch {
      throw configError(`SQL source "${source.name}" has a URL that does not parse`);
    }
    if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
      throw configError(`SQL source "${source.name}" must be a postgres:// URL, not ${protocol}//`);
    }
    byName.set(source.name, source);
  }
  return byName;
}

// ---------------------------------------------------------------------------------------------
// Values

/**
 * A number when the decimal text survives the trip through a double (at most 15 significant
 * digits), otherwise the text itself: JSON has no 64-bit integers or exact decimals.
 */
export function numberFromText(text: string): number | string {
  const value = Number(text);
  if (!Number.isFinite(value) || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return text;
  const digits = text.replace(/^[+-]/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length <= 15 ? value : text;
}

/** Makes any driver value JSON-safe: bigints, dates, bytes and non-finite numbers become numbers or text. */
export function jsonSafe(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return numberFromText(value.toString());
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}

/** Rows until the cap or the size budget; a row past either sets `truncated`. */
function capRows(rows: unknown[][], maxRows: number, maxBytes: number): { rows: unknown[][]; truncated: boolean } {
  const kept: unknown[][] = [];
  let bytes = 2;
  for (const row of rows) {
    if (kept.length === maxRows) return { rows: kept, truncated: true };
    bytes += JSON.stringify(row).length + 1;
    if (bytes > maxBytes) return { rows: kept, truncated: true };
    kept.push(row);
  }
  return { rows: kept, truncated: false };
}

// ---------------------------------------------------------------------------------------------
// Files source (DuckDB)

type FileFormat = SqlTable['format'];

interface LoadedFile {
  file: StoredFile & { data: Buffer };
  format: FileFormat;
}

/** Files that can list what is attached to the task; when `ctx.files` can, `files` may be omitted. */
interface ListingFileAccess extends FileAccess {
  list(): Promise<StoredFile[]>;
}

function canList(files: FileAccess): files is ListingFileAccess {
  return typeof (files as Partial<ListingFileAccess>).list === 'function';
}

const PARQUET_MAGIC = Buffer.from('PAR1');

/** The format of a file by magic bytes, extension or content type; null when it is none of them. */
export function detectFormat(name: string, contentType: string, head: Buffer): FileFormat | null {
  const lower = name.toLowerCase();
  if (head.subarray(0, 4).equals(PARQUET_MAGIC) || lower.endsWith('.parquet')) return 'parquet';
  if (/\.(jsonl|ndjson|json)$/.test(lower) || /json/i.test(contentType)) return 'json';
  if (/\.(csv|tsv|tab|txt)$/.test(lower) || /^text\/(csv|tab-separated-values|plain)/i.test(contentType)) return 'csv';
  return null;
}

/** A table name from a file name: `Sales 2024.csv` → `sales_2024`, `2024.csv` → `t_2024`. */
export function tableNameFor(fileName: string, taken: Set<string>): string {
  const stem = fileName.replace(/\.[A-Za-z0-9]+$/, '');
  let base = stem
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 60);
  if (!base) base = 'file';
  if (/^[0-9]/.test(base)) base = `t_${base}`;
  let name = base;
  for (let n = 2; taken.has(name); n += 1) name = `${base}_${n}`;
  taken.add(name);
  return name;
}

async function loadFiles(input: SqlQueryInput, ctx: ToolContext, maxBytes: number): Promise<LoadedFile[]> {
  const explicit = input.files !== undefined;
  const ids = input.files ?? (canList(ctx.files) ? (await ctx.files.list()).map((f) => f.id) : []);
  const loaded: LoadedFile[] = [];
  for (const id of [...new Set(ids)].slice(0, SQL_QUERY_LIMITS.maxFiles)) {
    ctx.signal.throwIfAborted();
    const meta = await ctx.files.get(id);
    if (meta && meta.size > maxBytes) throw fileTooLarge(meta, maxBytes);
    if (meta && !explicit && !detectFormat(meta.name, meta.content_type, Buffer.alloc(0))) continue;
    const file = await ctx.files.read(id);
    if (file.data.length > maxBytes) throw fileTooLarge(file, maxBytes);
    const format = detectFormat(file.name, file.content_type, file.data);
    if (format) loaded.push({ file, format });
    else if (explicit) {
      throw new AppError('TOOL_ERROR', `File "${file.name}" (${file.content_type}) is not CSV, JSON or Parquet`, {
        details: { tool: 'sql_query', file_id: id },
      });
    }
  }
  return loaded;
}

function fileTooLarge(file: StoredFile, maxBytes: number): AppError {
  const mb = (n: number) => (n / (1024 * 1024)).toFixed(1);
  return new AppError('TOOL_ERROR', `File "${file.name}" is ${mb(file.size)} MB; sql_query reads files up to ${mb(maxBytes)} MB`, {
    details: { tool: 'sql_query', file_id: file.id, size: file.size },
  });
}

const READERS: Record<FileFormat, string> = {
  csv: 'read_csv_auto',
  json: 'read_json_auto',
  parquet: 'read_parquet',
};

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Writes the files into `dir` (read-only, under neutral names), confines DuckDB to that folder,
 * turns external access off, creates one view per file and locks the configuration.
 */
async function prepareDuckDb(conn: DuckDBConnection, dir: string, files: LoadedFile[]): Promise<SqlTable[]> {
  const taken = new Set<string>();
  const views: Array<SqlTable & { path: string }> = [];
  for (const [i, { file, format }] of files.entries()) {
    const path = join(dir, `${i}.${format}`);
    await writeFile(path, file.data, { mode: 0o400 });
    views.push({ name: tableNameFor(file.name, taken), file_id: file.id, file_name: file.name, format, path });
  }
  await conn.run(`SET allowed_directories = [${sqlString(`${dir}/`)}]`);
  await conn.run('SET enable_external_access = false');
  for (const view of views) {
    // Creating the view reads the head of the file (CSV dialect, JSON structure, Parquet footer).
    const sql = `CREATE VIEW ${sqlIdentifier(view.name)} AS SELECT * FROM ${READERS[view.format]}(${sqlString(view.path)})`;
    await conn.run(sql).catch((err: unknown) => {
      const message = (err instanceof Error ? err.message : String(err)).split(view.path).join(view.file_name);
      throw sqlError(`File "${view.file_name}" could not be read as ${view.format}: ${message}`, { file_id: view.file_id }, err);
    });
  }
  await conn.run('SET lock_configuration = true');
  return views.map(({ path: _path, ...table }) => table);
}

/** Statement types that read only; everything else (COPY, ATTACH, LOAD, SET, CREATE ...) is refused. */
const DUCKDB_READ_STATEMENTS = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);

const DUCKDB_EXACT_NUMERICS = new Set<DuckDBTypeId>([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.DECIMAL,
]);

interface QueryLimits {
  maxRows: number;
  maxResultBytes: number;
  statementTimeoutMs: number;
}

interface ResultTable {
  columns: SqlColumn[];
  rows: unknown[][];
  truncated: boolean;
}

/** DuckDB's JSON form (dates as text, exact decimals), with 64-bit integers and decimals as numbers when exact. */
function duckDbRows(reader: DuckDBResultReader): unknown[][] {
  const wide = reader.columnTypes().map((t) => DUCKDB_EXACT_NUMERICS.has(t.typeId));
  return reader
    .getRowsJson()
    .map((row) => row.map((v, c) => (wide[c] && typeof v === 'string' ? numberFromText(v) : v)));
}

/** First keywords of statements that can read only; the statement type after parsing is what counts. */
const DUCKDB_READ_KEYWORDS = new Set(
  ['SELECT', 'WITH', 'VALUES', 'TABLE', 'FROM', 'EXPLAIN', 'DESCRIBE', 'SHOW', 'SUMMARIZE', 'PIVOT', 'UNPIVOT'],
);

async function runDuckDbStatement(conn: DuckDBConnection, query: string, limits: QueryLimits): Promise<ResultTable> {
  // First line: a write is refused before DuckDB binds it (binding an INSERT into a view fails
  // with a binder error, which would hide that the statement was a write).
  refuseUnlessReadKeyword(sqlShape(query).keyword, DUCKDB_READ_KEYWORDS);
  const statements = await conn.extractStatements(query);
  if (statements.count !== 1) {
    throw sqlError(`sql_query runs exactly one statement per call; this query has ${statements.count}`);
  }
  const prepared = await statements.prepare(0);
  try {
    if (!DUCKDB_READ_STATEMENTS.has(prepared.statementType)) {
      throw readOnlyError(
        `sql_query is read-only: ${StatementType[prepared.statementType] ?? 'this'} statements are refused; use SELECT`,
        { statement_type: StatementType[prepared.statementType] },
      );
    }
    if (prepared.parameterCount > 0) throw sqlError('The query has parameter placeholders ($1, ?); write values inline');
    const reader = await prepared.streamAndReadUntil(limits.maxRows + 1);
    const columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() }));
    const capped = capRows(duckDbRows(reader), limits.maxRows, limits.maxResultBytes);
    return { columns, ...capped };
  } finally {
    prepared.destroySync();
  }
}

/** Maps a DuckDB error message ("Binder Error: ...", "Permission Error: ...") to an AppError. */
function duckDbError(err: unknown, tables: SqlTable[], timedOut: boolean, timeoutMs: number): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (timedOut) return sqlError(`Query was stopped after the statement timeout of ${timeoutMs} ms`, { timeout_ms: timeoutMs }, err);
  if (/^Permission Error/.test(message)) {
    return readOnlyError(
      `sql_query reads only the task's files, through their tables (${tables.map((t) => t.name).join(', ') || 'none'}); ` +
        `access to other files, URLs and extensions is disabled. ${message}`,
      {},
      err,
    );
  }
  const known = tables.length ? ` Tables: ${tables.map((t) => t.name).join(', ')}.` : ' No data files were loaded; pass file ids in "files".';
  const hint = /^Catalog Error: Table/.test(message) ? known : '';
  return sqlError(`${message}${hint}`, { engine: 'duckdb' }, err);
}

/** Runs `work`, interrupting DuckDB on cancel and after the statement timeout. */
async function withInterrupts<T>(
  conn: DuckDBConnection,
  signal: AbortSignal,
  timeoutMs: number,
  work: (state: { timedOut: boolean }) => Promise<T>,
): Promise<T> {
  const state = { timedOut: false };
  const timer = setTimeout(() => {
    state.timedOut = true;
    conn.interrupt();
  }, timeoutMs);
  const onAbort = () => conn.interrupt();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await work(state);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

interface FilesSettings {
  memoryLimit: string;
  threads: number;
  maxFileBytes: number;
  tempDir: string;
}

async function queryFiles(
  input: SqlQueryInput,
  ctx: ToolContext,
  limits: QueryLimits,
  settings: FilesSettings,
): Promise<ResultTable & { tables: SqlTable[] }> {
  const files = await loadFiles(input, ctx, settings.maxFileBytes);
  const dir = await mkdtemp(join(settings.tempDir, 'agentic-sql-'));
  let instance: DuckDBInstance | undefined;
  let conn: DuckDBConnection | undefined;
  try {
    instance = await DuckDBInstance.create(':memory:', {
      memory_limit: settings.memoryLimit,
      threads: String(settings.threads),
      // Nothing may be fetched or loaded at query time: extensions DuckDB lacks stay missing.
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      allow_community_extensions: 'false',
    });
    conn = await instance.connect();
    const tables = await prepareDuckDb(conn, dir, files);
    ctx.signal.throwIfAborted();
    const active = conn;
    return await withInterrupts(active, ctx.signal, limits.statementTimeoutMs, async (state) => {
      try {
        return { ...(await runDuckDbStatement(active, input.query, limits)), tables };
      } catch (err) {
        if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
        throw duckDbError(err, tables, state.timedOut, limits.statementTimeoutMs);
      }
    });
  } finally {
    conn?.closeSync();
    instance?.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL sources

/** What the keyword check learns from a query, comments and literals skipped. */
export interface SqlShape {
  /** Upper-cased first keyword, e.g. SELECT, WITH, INSERT; '' when there is none. */
  keyword: string;
  /** The first statement, without its terminating semicolon. */
  statement: string;
  /** True when another statement follows the first. */
  more: boolean;
}

/** Index just past a quoted run starting at `start` (the opening quote), `''`-style doubling honoured. */
function skipQuoted(sql: string, start: number, quote: string, backslashes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashes && ch === '\\') i += 2;
    else if (ch === quote && sql[i + 1] === quote) i += 2;
    else if (ch === quote) return i + 1;
    else i += 1;
  }
  return i;
}

function skipBlockComment(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql.startsWith('/*', i)) {
      depth += 1;
      i += 2;
    } else if (sql.startsWith('*/', i)) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else i += 1;
  }
  return i;
}

/** Index past the construct (comment, literal, quoted identifier) starting at `i`, or `i` if none starts there. */
function skipOpaque(sql: string, i: number): number {
  const ch = sql[i];
  if (ch === '-' && sql[i + 1] === '-') {
    const end = sql.indexOf('\n', i);
    return end < 0 ? sql.length : end + 1;
  }
  if (ch === '/' && sql[i + 1] === '*') return skipBlockComment(sql, i);
  if (ch === '"') return skipQuoted(sql, i, '"', false);
  if (ch === "'") {
    const escaped = /[eE]/.test(sql[i - 1] ?? '') && !/[A-Za-z0-9_$]/.test(sql[i - 2] ?? '');
    return skipQuoted(sql, i, "'", escaped);
  }
  if (ch === '$' && !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? '')) {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
    if (tag) {
      const end = sql.indexOf(tag[0], i + tag[0].length);
      return end < 0 ? sql.length : end + tag[0].length;
    }
  }
  return i;
}

/** Splits off the first statement and finds its first keyword (PostgreSQL lexical rules). */
export function sqlShape(sql: string): SqlShape {
  let keyword = '';
  let i = 0;
  while (i < sql.length) {
    const next = skipOpaque(sql, i);
    if (next !== i) {
      i = next;
      continue;
    }
    const ch = sql[i] as string;
    if (ch === ';') return { keyword, statement: sql.slice(0, i), more: hasStatement(sql, i + 1) };
    if (!keyword && /[A-Za-z]/.test(ch)) keyword = (/^[A-Za-z_]+/.exec(sql.slice(i)) as RegExpExecArray)[0].toUpperCase();
    i += 1;
  }
  return { keyword, statement: sql, more: false };
}

/** True when anything but blanks, semicolons and comments follows `from`. */
function hasStatement(sql: string, from: number): boolean {
  let i = from;
  while (i < sql.length) {
    const ch = sql[i] as string;
    const isComment = (ch === '-' && sql[i + 1] === '-') || (ch === '/' && sql[i + 1] === '*');
    if (isComment) i = skipOpaque(sql, i);
    else if (/[\s;]/.test(ch)) i += 1;
    else return true;
  }
  return false;
}

/** Statements that run through a cursor (row cap in the database); EXPLAIN and SHOW run as they are. */
const CURSOR_KEYWORDS = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE']);
const DIRECT_KEYWORDS = new Set(['EXPLAIN', 'SHOW']);

/** JSON-safe parsers: 64-bit integers and numerics become numbers when exact; dates and times stay PostgreSQL text. */
const TEXT_TYPES = [1082, 1083, 1114, 1184, 1186, 1266, 17]; // date, time, timestamp, timestamptz, interval, timetz, bytea
const PG_TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === 20 || oid === 1700) return numberFromText; // int8, numeric
    if (TEXT_TYPES.includes(oid)) return (text: string) => text;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as CustomTypesConfig['getTypeParser'],
};

interface PgSettings {
  connectTimeoutMs: number;
}

/** Errors that mean the server or the connection failed, not the query: no server reply, or these SQLSTATE classes. */
function isConnectionFailure(err: unknown): boolean {
  return !(err instanceof pg.DatabaseError) || /^(08|28|3D|53|57P|58)/.test(err.code ?? '');
}

/**
 * Whether the server refused the statement for writing: 25006 in the read-only transaction, or
 * what a cursor cannot hold (a data-modifying WITH, SELECT INTO, WITH ... INSERT), as its parser says.
 */
function isWriteRefusal(code: string | undefined, message: string): boolean {
  if (code === '25006') return true;
  if (code === '0A000') return /data-modifying/i.test(message);
  if (code === '42601') return /SELECT \.\.\. INTO|syntax error at or near "(INSERT|UPDATE|DELETE|MERGE)"/i.test(message);
  return false;
}

function pgError(err: unknown, source: SqlSource, statementTimeoutMs: number): AppError {
  if (err instanceof AppError) return err;
  const e = err as Error & { code?: string; position?: string; hint?: string; detail?: string };
  const details: Record<string, unknown> = { source: source.name, sqlstate: e.code };
  if (isWriteRefusal(e.code, e.message)) {
    return readOnlyError(`Source "${source.name}" is read-only for sql_query: ${e.message}`, details, err);
  }
  if (e.code === '57014') {
    return sqlError(`Query was cancelled after the statement timeout of ${statementTimeoutMs} ms`, { ...details, timeout_ms: statementTimeoutMs }, err);
  }
  if (e.code === '42601' && /multiple commands/i.test(e.message)) {
    return sqlError('sql_query runs exactly one statement per call', details, err);
  }
  if (isConnectionFailure(err)) {
    return new AppError('TOOL_FAILED', `Could not query source "${source.name}": ${e.message}`, {
      details,
      cause: err,
      // Bad credentials or a missing database do not fix themselves.
      retryable: !/^(28|3D)/.test(e.code ?? ''),
    });
  }
  if (e.position) details.position = Number(e.position);
  if (e.hint) details.hint = e.hint;
  if (e.detail) details.detail = e.detail;
  return sqlError(e.message, details, err);
}

const PG_READ_KEYWORDS = new Set([...CURSOR_KEYWORDS, ...DIRECT_KEYWORDS]);

function checkReadOnlyShape(query: string): SqlShape {
  const shape = sqlShape(query);
  if (shape.more) throw sqlError('sql_query runs exactly one statement per call; remove everything after the first ";"');
  refuseUnlessReadKeyword(shape.keyword, PG_READ_KEYWORDS);
  return shape;
}

/** Asks the server to cancel whatever the connection runs; a cancelled call must not leave work behind. */
async function cancelBackend(source: SqlSource, pid: number, settings: PgSettings): Promise<void> {
  const client = new pg.Client({ connectionString: source.url, connectionTimeoutMillis: settings.connectTimeoutMs });
  try {
    await client.connect();
    await client.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // Best effort: statement_timeout ends the query anyway.
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function connect(source: SqlSource, settings: PgSettings, signal: AbortSignal): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: source.url,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    application_name: 'agentic sql_query',
    types: PG_TYPES,
  });
  client.on('error', () => undefined);
  const onAbort = () => void client.end().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  signal.throwIfAborted();
  const su = await client.query<{ su: string }>("SELECT current_setting('is_superuser') AS su");
  if (su.rows[0]?.su === 'on' && !source.allowSuperuser) {
    await client.end().catch(() => undefined);
    throw configError(
      `SQL source "${source.name}" connects as a superuser, which can read server files from a SELECT; ` +
        'use a role with SELECT grants only (or set allow_superuser)',
    );
  }
  return client;
}

async function typeNames(client: pg.Client, oids: number[]): Promise<Map<number, string>> {
  if (oids.length === 0) return new Map();
  const result = await client.query<{ oid: number; name: string }>(
    'SELECT oid::int AS oid, format_type(oid, NULL) AS name FROM pg_type WHERE oid = ANY($1::oid[])',
    [oids],
  );
  return new Map(result.rows.map((r) => [r.oid, r.name]));
}

type ExtendedQuery = QueryArrayConfig & { queryMode: 'extended' };

const CURSOR_PREFIX = 'DECLARE agentic_sql_query NO SCROLL CURSOR FOR ';

/** Error positions count from the start of the text sent; make them count from the start of the query. */
function relativeToQuery(err: unknown, offset: number): unknown {
  const e = err as { position?: string };
  if (e && typeof e.position === 'string') e.position = String(Math.max(1, Number(e.position) - offset));
  return err;
}

/** Runs the statement in the open read-only transaction: through a cursor when it can, directly otherwise. */
async function runPgStatement(client: pg.Client, shape: SqlShape, limits: QueryLimits): Promise<ResultTable> {
  let result: pg.QueryArrayResult;
  if (CURSOR_KEYWORDS.has(shape.keyword)) {
    // The extended protocol parses the text as one statement: a second one is a server error.
    const declare: ExtendedQuery = {
      text: `${CURSOR_PREFIX}${shape.statement}\n`,
      rowMode: 'array',
      queryMode: 'extended',
    };
    await client.query(declare).catch((err: unknown) => {
      throw relativeToQuery(err, CURSOR_PREFIX.length);
    });
    result = await client.query({ text: `FETCH FORWARD ${limits.maxRows + 1} FROM agentic_sql_query`, rowMode: 'array' });
  } else {
    const direct: ExtendedQuery = { text: shape.statement, rowMode: 'array', queryMode: 'extended' };
    result = await client.query(direct);
  }
  const names = await typeNames(client, [...new Set(result.fields.map((f) => f.dataTypeID))]);
  const columns = result.fields.map((f) => ({ name: f.name, type: names.get(f.dataTypeID) ?? String(f.dataTypeID) }));
  const rows = result.rows.map((row) => row.map(jsonSafe));
  return { columns, ...capRows(rows, limits.maxRows, limits.maxResultBytes) };
}

async function queryPostgres(
  source: SqlSource,
  query: string,
  ctx: ToolContext,
  limits: QueryLimits,
  settings: PgSettings,
): Promise<ResultTable> {
  const shape = checkReadOnlyShape(query);
  const client = await connect(source, settings, ctx.signal).catch((err: unknown) => {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
    throw pgError(err, source, limits.statementTimeoutMs);
  });
  const pid = (client as pg.Client & { processID?: number }).processID;
  const onAbort = () => void (pid === undefined ? undefined : cancelBackend(source, pid, settings));
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.query('BEGIN TRANSACTION READ ONLY');
    await client.query(`SET LOCAL statement_timeout = ${limits.statementTimeoutMs}`);
    await client.query(`SET LOCAL lock_timeout = ${limits.statementTimeoutMs}`);
    await client.query(`SET LOCAL idle_in_transaction_session_timeout = ${limits.statementTimeoutMs + 5000}`);
    // Timestamps with time zone come back as UTC text, whatever the role's default.
    await client.query("SET LOCAL TimeZone = 'UTC'");
    return await runPgStatement(client, shape, limits);
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
    throw pgError(err, source, limits.statementTimeoutMs);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The tool

function describeTool(sources: SqlSource[], defaultRows: number, maxRows: number): string {
  const dbs = sources.length
    ? ` Databases (PostgreSQL; set source to the name): ${sources
        .map((s) => (s.description ? `${s.name} (${s.description})` : s.name))
        .join(', ')}.`
    : '';
  return (
    'Runs one read-only SQL query and returns the result as columns and rows (each row an array of values in ' +
    'column order). Source "files" (the default) queries the task\'s uploaded CSV, JSON and Parquet files with ' +
    'DuckDB SQL: each file is a table named after the file in lower case, non-alphanumerics replaced by "_" and the ' +
    'extension dropped (sales-2024.csv becomes sales_2024); DESCRIBE <table> shows its columns.' +
    dbs +
    ` Writes (INSERT, UPDATE, CREATE, COPY, ...) and more than one statement are refused. Returns at most ` +
    `${defaultRows} rows unless max_rows says otherwise (up to ${maxRows}); truncated tells whether more existed, ` +
    'so aggregate in SQL (GROUP BY, LIMIT) rather than fetching raw rows.'
  );
}

/**
 * Creates the `sql_query` tool. Throws CONFIG_INVALID for a malformed source.
 * @example createSqlQueryTool({ sources: parseSqlSources(process.env.AGENTIC_SQL_SOURCES) })
 */
export function createSqlQueryTool(options: SqlQueryOptions = {}): ToolDefinition<SqlQueryInput, SqlQueryOutput> {
  const sources = checkSources(options.sources ?? []);
  const maxRows = Math.min(options.maxRows ?? SQL_QUERY_DEFAULTS.maxRows, SQL_QUERY_LIMITS.maxRowsCeiling);
  const defaultRows = Math.min(options.defaultRows ?? SQL_QUERY_DEFAULTS.defaultRows, maxRows);
  const timeoutMs = options.timeoutMs ?? SQL_QUERY_DEFAULTS.timeoutMs;
  const statementTimeoutMs = Math.max(
    100,
    Math.min(options.statementTimeoutMs ?? SQL_QUERY_DEFAULTS.statementTimeoutMs, timeoutMs - 1000),
  );
  const filesSettings: FilesSettings = {
    memoryLimit: options.duckdbMemoryLimit ?? SQL_QUERY_DEFAULTS.duckdbMemoryLimit,
    threads: options.duckdbThreads ?? SQL_QUERY_DEFAULTS.duckdbThreads,
    maxFileBytes: options.maxFileBytes ?? SQL_QUERY_DEFAULTS.maxFileBytes,
    tempDir: options.tempDir ?? tmpdir(),
  };
  const pgSettings: PgSettings = { connectTimeoutMs: options.connectTimeoutMs ?? SQL_QUERY_DEFAULTS.connectTimeoutMs };
  const maxResultBytes = options.maxResultBytes ?? SQL_QUERY_DEFAULTS.maxResultBytes;

  async function run(input: SqlQueryInput, ctx: ToolContext): Promise<SqlQueryOutput> {
    const started = performance.now();
    const sourceName = input.source ?? FILES_SOURCE;
    const limits: QueryLimits = { maxRows: Math.min(input.max_rows ?? defaultRows, maxRows), maxResultBytes, statementTimeoutMs };
    let result: ResultTable & { tables?: SqlTable[] };
    if (sourceName === FILES_SOURCE) {
      result = await queryFiles(input, ctx, limits, filesSettings);
    } else {
      const source = sources.get(sourceName);
      // A source not granted to the tenant does not exist for it.
      if (!source || !grantedTo(source, ctx.tenantId)) {
        throw new AppError('TOOL_INPUT_INVALID', `Unknown source "${sourceName}"; available: ${[FILES_SOURCE, ...granted(ctx.tenantId).map((g) => g.name)].join(', ')}`, {
          details: { tool: 'sql_query', source: sourceName },
        });
      }
      if (input.files !== undefined) {
        throw new AppError('TOOL_INPUT_INVALID', '"files" applies to source "files" only', { details: { tool: 'sql_query' } });
      }
      result = await queryPostgres(source, input.query, ctx, limits, pgSettings);
    }
    return {
      source: sourceName,
      columns: result.columns,
      rows: result.rows,
      row_count: result.rows.length,
      truncated: result.truncated,
      duration_ms: Math.round(performance.now() - started),
      ...(result.tables ? { tables: result.tables } : {}),
    };
  }

  const granted = (tenantId: string) => [...sources.values()].filter((g) => grantedTo(g, tenantId));
  // Tenants granted the same sources see the same description; built once per distinct set.
  const views = new Map<string, { description: string; input: z.ZodType<SqlQueryInput> }>();
  const forTenant = (tenantId: string) => {
    const mine = granted(tenantId);
    const key = mine.map((g) => g.name).join(',');
    let view = views.get(key);
    if (!view) views.set(key, (view = { description: describeTool(mine, defaultRows, maxRows), input: inputSchema(mine.map((g) => g.name), defaultRows, maxRows) }));
    return view;
  };

  return {
    name: 'sql_query',
    description: describeTool([...sources.values()], defaultRows, maxRows),
    // Any source name passes the schema, so that an invalid one is never answered with every tenant's sources;
    // run() refuses a source the tenant has not been granted, naming only those it has.
    input: inputSchema(null, defaultRows, maxRows),
    output: sqlQueryOutputSchema,
    timeoutMs,
    effect: 'read_only',
    run,
    forTenant,
  };
}

function grantedTo(source: SqlSource, tenantId: string): boolean {
  return source.tenants === undefined || source.tenants.includes(tenantId);
}
