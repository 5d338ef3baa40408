import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_URL, requirePostgres, uniqueSchema } from '../../test/support/postgres.js';
import { createToolRegistry } from './index.js';
import {
  createSqlQueryTool,
  detectFormat,
  jsonSafe,
  numberFromText,
  parseSqlSources,
  sqlShape,
  tableNameFor,
} from './sql-query.js';
import type { SqlQueryOptions, SqlQueryOutput } from './sql-query.js';
import type { FileAccess, ToolContext } from './types.js';
import { appErrorOf, memoryFiles, toolContext, type MemoryFile } from '../../test/support/tool-context.js';

function context(files?: FileAccess, signal?: AbortSignal): ToolContext {
  return toolContext({ files, signal });
}

const SALES = [
  'region,product,units,price,day',
  'North,A,10,2.5,2024-01-15',
  'South,B,5,4,2024-01-16',
  'North,B,7,4,2024-02-01',
  'East,A,3,2.5,2024-02-03',
  'South,A,1,2.5,2024-03-09',
].join('\n');

const REGIONS = 'region;manager\nNorth;Ana\nSouth;Ben\nEast;Cleo\n';

const FILES: Record<string, MemoryFile> = {
  f_sales: { name: 'sales.csv', data: SALES },
  f_regions: { name: 'Regions (2024).CSV', data: REGIONS },
  f_events: {
    name: 'events.jsonl',
    content_type: 'application/x-ndjson',
    data: '{"id": 1, "kind": "click", "at": "2024-05-01T10:00:00Z"}\n{"id": 2, "kind": "view", "at": "2024-05-01T11:00:00Z"}\n',
  },
  f_report: { name: 'report.pdf', content_type: 'application/pdf', data: '%PDF-1.7 not a table' },
};

function filesTool(options: SqlQueryOptions = {}) {
  return createToolRegistry([createSqlQueryTool(options)]);
}

async function query(args: Record<string, unknown>, ctx = context(memoryFiles(FILES)), options: SqlQueryOptions = {}) {
  return (await filesTool(options).invoke('sql_query', args, ctx)) as SqlQueryOutput;
}

describe('sql_query over uploaded files', () => {
  it('queries a CSV through a view named after the file, with typed columns and JSON-safe rows', async () => {
    const out = await query({
      query: 'SELECT region, sum(units) AS units, sum(units * price) AS revenue, min(day) AS first_day FROM sales GROUP BY region ORDER BY region',
      files: ['f_sales'],
    });
    expect(out.source).toBe('files');
    expect(out.tables).toEqual([{ name: 'sales', file_id: 'f_sales', file_name: 'sales.csv', format: 'csv' }]);
    expect(out.columns).toEqual([
      { name: 'region', type: 'VARCHAR' },
      { name: 'units', type: 'HUGEINT' },
      { name: 'revenue', type: 'DOUBLE' },
      { name: 'first_day', type: 'DATE' },
    ]);
    expect(out.rows).toEqual([
      ['East', 3, 7.5, '2024-02-03'],
      ['North', 17, 53, '2024-01-15'],
      ['South', 6, 22.5, '2024-01-16'],
    ]);
    expect(out.row_count).toBe(3);
    expect(out.truncated).toBe(false);
    expect(out.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('joins several files; names are sanitised and the delimiter is detected', async () => {
    const out = await query({
      query:
        'SELECT r.manager, count(*) AS orders FROM sales s JOIN regions_2024 r USING (region) GROUP BY 1 ORDER BY 2 DESC, 1',
      files: ['f_sales', 'f_regions'],
    });
    expect(out.tables?.map((t) => t.name)).toEqual(['sales', 'regions_2024']);
    expect(out.rows).toEqual([
      ['Ana', 2],
      ['Ben', 2],
      ['Cleo', 1],
    ]);
  });

  it('reads JSON lines and Parquet files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sql-query-test-'));
    try {
      const instance = await DuckDBInstance.create(':memory:');
      const conn = await instance.connect();
      const path = join(dir, 'metrics.parquet');
      await conn.run(`COPY (SELECT range AS id, range * 1.5 AS value, 9007199254740993::BIGINT AS big FROM range(1000)) TO '${path}' (FORMAT parquet)`);
      conn.closeSync();
      instance.closeSync();
      const files = memoryFiles({
        ...FILES,
        f_metrics: { name: 'metrics.parquet', content_type: 'application/octet-stream', data: await readFile(path) },
      });
      const out = await query(
        { query: 'SELECT count(*) AS n, sum(value) AS total, max(big) AS big FROM metrics', files: ['f_metrics'] },
        context(files),
      );
      expect(out.tables?.[0]).toMatchObject({ name: 'metrics', format: 'parquet' });
      // A 64-bit integer that a double cannot hold comes back as text.
      expect(out.rows).toEqual([[1000, 749250, '9007199254740993']]);
      const events = await query({ query: 'SELECT kind FROM events ORDER BY id', files: ['f_events'] });
      expect(events.rows).toEqual([['click'], ['view']]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('queries every attached data file when files is omitted and the file access can list them', async () => {
    const out = await query({ query: 'SHOW TABLES' }, context(memoryFiles(FILES, { listing: true })));
    expect(out.tables?.map((t) => t.name)).toEqual(['sales', 'regions_2024', 'events']);
    expect(out.rows.flat().sort()).toEqual(['events', 'regions_2024', 'sales']);
  });

  it('points at "files" when a table is missing and nothing was loaded', async () => {
    const err = await appErrorOf(query({ query: 'SELECT * FROM sales' }));
    expect(err.code).toBe('SQL_ERROR');
    expect(err.message).toMatch(/Catalog Error: Table with name sales does not exist.*pass file ids in "files"/s);
  });

  it('caps rows, says so, and never returns more than max_rows', async () => {
    const out = await query({ query: 'SELECT range AS n FROM range(100000)', max_rows: 50, files: [] });
    expect(out.row_count).toBe(50);
    expect(out.rows[49]).toEqual([49]);
    expect(out.truncated).toBe(true);
    const exact = await query({ query: 'SELECT range AS n FROM range(50)', max_rows: 50, files: [] });
    expect(exact.truncated).toBe(false);
    expect(exact.row_count).toBe(50);
    const byDefault = await query({ query: 'SELECT range FROM range(1000)', files: [] }, undefined, { defaultRows: 20 });
    expect(byDefault.row_count).toBe(20);
  });

  it('caps the result size too', async () => {
    const out = await query(
      { query: "SELECT repeat('x', 1000) AS wide FROM range(100)", files: [] },
      undefined,
      { maxResultBytes: 10_000 },
    );
    expect(out.row_count).toBeGreaterThan(0);
    expect(out.row_count).toBeLessThan(10);
    expect(out.truncated).toBe(true);
  });

  it('converts dates, decimals, big integers, intervals and blobs to JSON-safe values', async () => {
    const out = await query({
      query:
        "SELECT 42::BIGINT AS a, 12345678901234567.89::DECIMAL(38,2) AS b, 1.50::DECIMAL(10,2) AS c, TIMESTAMP '2024-01-01 10:00:00' AS d, " +
        "INTERVAL 1 DAY AS e, 'x'::BLOB AS f, [1, 2] AS g, 'NaN'::DOUBLE AS h, NULL AS i",
      files: [],
    });
    expect(out.rows).toEqual([[42, '12345678901234567.89', 1.5, '2024-01-01 10:00:00', { months: 0, days: 1, micros: '0' }, 'x', [1, 2], 'NaN', null]]);
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });

  it('reports bad SQL with the engine message', async () => {
    const err = await appErrorOf(query({ query: 'SELEC 1', files: [] }));
    expect(err.code).toBe('SQL_ERROR');
    expect(err.message).toMatch(/Parser Error: syntax error at or near "SELEC"/);
    const binder = await appErrorOf(query({ query: 'SELECT nope FROM sales', files: ['f_sales'] }));
    expect(binder.code).toBe('SQL_ERROR');
    expect(binder.message).toMatch(/Binder Error/);
  });

  it('refuses more than one statement', async () => {
    const err = await appErrorOf(query({ query: 'SELECT 1; SELECT 2', files: [] }));
    expect(err.code).toBe('SQL_ERROR');
    expect(err.message).toMatch(/exactly one statement.*has 2/);
    const trailing = await query({ query: 'SELECT 1 AS one; -- done\n', files: [] });
    expect(trailing.rows).toEqual([[1]]);
  });

  it('fails for unknown and unsupported files', async () => {
    const missing = await appErrorOf(query({ query: 'SELECT 1', files: ['nope'] }));
    expect(missing.code).toBe('FILE_NOT_FOUND');
    const pdf = await appErrorOf(query({ query: 'SELECT 1', files: ['f_report'] }));
    expect(pdf.code).toBe('TOOL_ERROR');
    expect(pdf.message).toMatch(/report\.pdf.*not CSV, JSON or Parquet/);
    const big = await appErrorOf(query({ query: 'SELECT 1', files: ['f_sales'] }, undefined, { maxFileBytes: 10 }));
    expect(big.code).toBe('TOOL_ERROR');
    const broken = memoryFiles({ bad: { name: 'broken.json', content_type: 'application/json', data: '{not json' } });
    const unreadable = await appErrorOf(query({ query: 'SELECT 1', files: ['bad'] }, context(broken)));
    expect(unreadable.code).toBe('SQL_ERROR');
    expect(unreadable.message).toMatch(/^File "broken.json" could not be read as json: .*Malformed JSON in file "broken.json"/);
    expect(unreadable.message).not.toContain('agentic-sql-');
  });

  it('stops a long query at the statement timeout', async () => {
    const started = Date.now();
    const err = await appErrorOf(
      query(
        { query: 'SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b', files: [] },
        undefined,
        { statementTimeoutMs: 300 },
      ),
    );
    expect(err.code).toBe('SQL_ERROR');
    expect(err.message).toMatch(/statement timeout of 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops when the call is cancelled', async () => {
    const controller = new AbortController();
    const tool = createSqlQueryTool();
    setTimeout(() => controller.abort(new Error('cancelled by test')), 200);
    const started = Date.now();
    const err = await tool
      .run({ query: 'SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b', files: [] }, context(memoryFiles({}), controller.signal))
      .then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toBe('cancelled by test');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('removes its temp folder after each call, on success and on failure', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'sql-query-parent-'));
    try {
      await query({ query: 'SELECT count(*) FROM sales', files: ['f_sales'] }, undefined, { tempDir: parent });
      await appErrorOf(query({ query: 'SELECT broken FROM sales', files: ['f_sales'] }, undefined, { tempDir: parent }));
      expect(await readdir(parent)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});

describe('sql_query keeps DuckDB away from the host', () => {
  const refused = [
    ['reading a host file', "SELECT * FROM read_csv('/etc/passwd')"],
    ['reading a host file as text', "SELECT * FROM read_text('/etc/hostname')"],
    ['listing host files', "SELECT * FROM glob('/etc/*')"],
    ['COPY to a file', "COPY sales TO '/tmp/agentic-sql-copy-test.csv'"],
    ['COPY from a query to a file', "COPY (SELECT * FROM sales) TO '/tmp/agentic-sql-copy-test.csv' (FORMAT csv)"],
    ['EXPORT DATABASE', "EXPORT DATABASE '/tmp/agentic-sql-export-test'"],
    ['ATTACH a database file', "ATTACH '/tmp/agentic-sql-attach-test.db' AS other"],
    ['ATTACH in memory', "ATTACH ':memory:' AS other"],
    ['INSTALL an extension', 'INSTALL httpfs'],
    ['LOAD an extension', 'LOAD httpfs'],
    ['re-enabling external access', 'SET enable_external_access = true'],
    ['widening the allowed directories', "SET allowed_directories = ['/']"],
    ['unlocking the configuration', 'SET lock_configuration = false'],
    ['CREATE TABLE', 'CREATE TABLE t AS SELECT * FROM sales'],
    ['DROP VIEW', 'DROP VIEW sales'],
    ['INSERT', "INSERT INTO sales VALUES ('West', 'Z', 1, 1, DATE '2024-01-01')"],
    ['a PRAGMA', "PRAGMA memory_limit = '100GB'"],
  ] as const;

  it.each(refused)('refuses %s with SQL_READ_ONLY', async (_label, sql) => {
    const err = await appErrorOf(query({ query: sql, files: ['f_sales'] }));
    expect(err.code).toBe('SQL_READ_ONLY');
    expect(existsSync('/tmp/agentic-sql-copy-test.csv')).toBe(false);
    expect(existsSync('/tmp/agentic-sql-export-test')).toBe(false);
    expect(existsSync('/tmp/agentic-sql-attach-test.db')).toBe(false);
  });

  it('cannot fetch URLs: nothing reaches a local HTTP server', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests += 1;
      res.end('a,b\n1,2\n');
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const sql of [
        `SELECT * FROM read_csv('http://127.0.0.1:${port}/data.csv')`,
        `SELECT * FROM read_parquet('http://127.0.0.1:${port}/data.parquet')`,
      ]) {
        const err = await appErrorOf(query({ query: sql, files: [] }));
        expect(err.code).toBe('SQL_READ_ONLY');
      }
      expect(requests).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('still reads its own tables after refusing', async () => {
    const out = await query({ query: 'SELECT count(*) FROM sales', files: ['f_sales'] });
    expect(out.rows).toEqual([[5]]);
  });
});

describe('sql_query helpers', () => {
  it('splits off the first statement, skipping literals and comments', () => {
    expect(sqlShape('select 1')).toEqual({ keyword: 'SELECT', statement: 'select 1', more: false });
    expect(sqlShape("SELECT ';' AS x;")).toMatchObject({ keyword: 'SELECT', statement: "SELECT ';' AS x", more: false });
    expect(sqlShape('SELECT $$a;b$$, $tag$;$tag$; -- end')).toMatchObject({ more: false });
    expect(sqlShape("SELECT E'it\\'s;'; ;")).toMatchObject({ more: false });
    expect(sqlShape('/* lead; */ -- x;\n  WITH a AS (SELECT 1) SELECT * FROM a')).toMatchObject({ keyword: 'WITH', more: false });
    expect(sqlShape('SELECT "a;b" FROM t; DROP TABLE t')).toMatchObject({ statement: 'SELECT "a;b" FROM t', more: true });
    expect(sqlShape('(SELECT 1) UNION (SELECT 2)').keyword).toBe('SELECT');
    expect(sqlShape('  insert into t values (1)').keyword).toBe('INSERT');
  });

  it('converts numbers only when exact', () => {
    expect(numberFromText('42')).toBe(42);
    expect(numberFromText('-0.50')).toBe(-0.5);
    expect(numberFromText('123456789012345')).toBe(123456789012345);
    expect(numberFromText('9007199254740993')).toBe('9007199254740993');
    expect(numberFromText('NaN')).toBe('NaN');
    expect(jsonSafe({ a: 10n, b: new Date('2024-01-01T00:00:00Z'), c: Buffer.from('hi'), d: [Infinity] })).toEqual({
      a: 10,
      b: '2024-01-01T00:00:00.000Z',
      c: '\\x6869',
      d: ['Infinity'],
    });
  });

  it('names tables after files and detects formats', () => {
    const taken = new Set<string>();
    expect(tableNameFor('Sales 2024.csv', taken)).toBe('sales_2024');
    expect(tableNameFor('sales-2024.CSV', taken)).toBe('sales_2024_2');
    expect(tableNameFor('2024.csv', taken)).toBe('t_2024');
    expect(tableNameFor('données.csv', taken)).toBe('donn_es');
    expect(tableNameFor('.csv', taken)).toBe('file');
    expect(detectFormat('x.bin', 'application/octet-stream', Buffer.from('PAR1....'))).toBe('parquet');
    expect(detectFormat('x.tsv', '', Buffer.alloc(0))).toBe('csv');
    expect(detectFormat('upload', 'application/json', Buffer.alloc(0))).toBe('json');
    expect(detectFormat('x.xlsx', 'application/vnd.ms-excel', Buffer.alloc(0))).toBeNull();
  });

  it('parses AGENTIC_SQL_SOURCES in both forms and checks them', () => {
    expect(parseSqlSources(undefined)).toEqual([]);
    expect(parseSqlSources(' warehouse=postgres://r@db:5432/dw ; crm=postgresql://r:p%3Bw@crm/crm ')).toEqual([
      { name: 'warehouse', url: 'postgres://r@db:5432/dw' },
      { name: 'crm', url: 'postgresql://r:p%3Bw@crm/crm' },
    ]);
    expect(parseSqlSources('[{"name":"dw","url":"postgres://r@db/dw","allow_superuser":true,"description":"sales"}]')).toEqual([
      { name: 'dw', url: 'postgres://r@db/dw', allowSuperuser: true, description: 'sales' },
    ]);
    for (const bad of ['no-equals-sign', '[{"name": 1}]', '[not json']) {
      expect(() => parseSqlSources(bad)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
    for (const sources of [
      [{ name: 'files', url: 'postgres://x/y' }],
      [{ name: 'Bad Name', url: 'postgres://x/y' }],
      [{ name: 'dw', url: 'mysql://x/y' }],
      [{ name: 'dw', url: 'postgres://x/y' }, { name: 'dw', url: 'postgres://x/z' }],
    ]) {
      expect(() => createSqlQueryTool({ sources })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });

  it('is described as read-only and lists, to each tenant, only the sources granted to it', () => {
    const registry = filesTool({
      sources: [
        { name: 'warehouse', url: 'postgres://r@db/dw', description: 'sales warehouse' },
        { name: 'payroll', url: 'postgres://r@db/hr', tenants: ['hr'] },
      ],
    });
    const descriptor = registry.describe('sql_query', 'sales');
    expect(descriptor).toMatchObject({ effect: 'read_only', read_only: true });
    expect(descriptor.description).toContain('warehouse (sales warehouse)');
    expect(descriptor.description).not.toContain('payroll');
    expect(JSON.stringify(descriptor.input_schema)).toContain('"enum":["files","warehouse"]');
    expect(JSON.stringify(registry.describe('sql_query', 'hr').input_schema)).toContain('"enum":["files","warehouse","payroll"]');
    // Without a tenant (what the registry checks arguments against) any name passes; run() refuses the others.
    expect(JSON.stringify(registry.describe('sql_query').input_schema)).not.toContain('payroll');
  });
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL: skipped without a server locally, a failure in CI.

const postgresAvailable = await requirePostgres();

describe.runIf(postgresAvailable)('sql_query over PostgreSQL', () => {
  const schema = uniqueSchema('sqlq');
  const role = `${schema}_agent`;
  /** A role that may write, so that refusals below come from the read-only transaction, not from grants. */
  const agentUrl = (() => {
    const url = new URL(POSTGRES_URL);
    url.username = role;
    url.password = '';
    return url.toString();
  })();
  const admin = new pg.Client({ connectionString: POSTGRES_URL });

  const snapshot = async () =>
    (
      await admin.query(
        `SELECT count(*)::int AS n, sum(price)::text AS total, (SELECT last_value FROM ${schema}.ids)::int AS seq FROM ${schema}.items`,
      )
    ).rows[0];

  function pgTool(options: SqlQueryOptions = {}) {
    return createToolRegistry([
      createSqlQueryTool({ sources: [{ name: 'shop', url: agentUrl }, { name: 'root', url: POSTGRES_URL }], ...options }),
    ]);
  }

  async function pgQuery(sql: string, extra: Record<string, unknown> = {}, options: SqlQueryOptions = {}, ctx = context()) {
    return (await pgTool(options).invoke('sql_query', { query: sql, source: 'shop', ...extra }, ctx)) as SqlQueryOutput;
  }

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE SEQUENCE ${schema}.ids`);
    await admin.query(
      `CREATE TABLE ${schema}.items (id int PRIMARY KEY DEFAULT nextval('${schema}.ids'), name text, price numeric(10,2), ` +
        `added date, seen timestamptz, big bigint, tags text[], meta jsonb)`,
    );
    await admin.query(
      `INSERT INTO ${schema}.items (name, price, added, seen, big, tags, meta) VALUES ` +
        `('apple', 1.25, '2024-01-15', '2024-01-15 10:00:00+02', 9007199254740993, '{red,fruit}', '{"organic": true}'), ` +
        `('bread', 3.10, '2024-02-01', '2024-02-01 08:30:00+00', 42, '{}', null), ` +
        `('cheese', 7.99, '2024-03-09', null, null, null, '[1, 2]')`,
    );
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role}`);
    await admin.query(`GRANT ALL ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
    await admin.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`);
  });

  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  it('runs a SELECT with PostgreSQL type names and JSON-safe values', async () => {
    const out = await pgQuery(`SELECT id, name, price, added, seen, big, tags, meta FROM ${schema}.items ORDER BY id`);
    expect(out.source).toBe('shop');
    expect(out.columns).toEqual([
      { name: 'id', type: 'integer' },
      { name: 'name', type: 'text' },
      { name: 'price', type: 'numeric' },
      { name: 'added', type: 'date' },
      { name: 'seen', type: 'timestamp with time zone' },
      { name: 'big', type: 'bigint' },
      { name: 'tags', type: 'text[]' },
      { name: 'meta', type: 'jsonb' },
    ]);
    expect(out.rows).toEqual([
      [1, 'apple', 1.25, '2024-01-15', '2024-01-15 08:00:00+00', '9007199254740993', ['red', 'fruit'], { organic: true }],
      [2, 'bread', 3.1, '2024-02-01', '2024-02-01 08:30:00+00', 42, [], null],
      [3, 'cheese', 7.99, '2024-03-09', null, null, null, [1, 2]],
    ]);
    expect(out.row_count).toBe(3);
    expect(out.truncated).toBe(false);
    expect(out.tables).toBeUndefined();
  });

  it('runs WITH, VALUES, TABLE, EXPLAIN and SHOW, with semicolons inside literals', async () => {
    const withQuery = await pgQuery(`WITH c AS (SELECT count(*) AS n FROM ${schema}.items) SELECT n, ';' AS s FROM c;`);
    expect(withQuery.rows).toEqual([[3, ';']]);
    expect((await pgQuery('VALUES (1, 2), (3, 4)')).rows).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect((await pgQuery(`TABLE ${schema}.items`)).row_count).toBe(3);
    const explain = await pgQuery(`EXPLAIN SELECT * FROM ${schema}.items`);
    expect(explain.columns).toEqual([{ name: 'QUERY PLAN', type: 'text' }]);
    expect((await pgQuery('SHOW transaction_read_only')).rows).toEqual([['on']]);
  });

  it('caps rows through the cursor and says the result was truncated', async () => {
    const out = await pgQuery('SELECT g FROM generate_series(1, 100000) g', { max_rows: 100 });
    expect(out.row_count).toBe(100);
    expect(out.rows.at(-1)).toEqual([100]);
    expect(out.truncated).toBe(true);
    const exact = await pgQuery('SELECT g FROM generate_series(1, 100) g', { max_rows: 100 });
    expect(exact.truncated).toBe(false);
    const direct = await pgQuery(`EXPLAIN (FORMAT TEXT, VERBOSE) SELECT * FROM ${schema}.items a, ${schema}.items b`, { max_rows: 2 });
    expect(direct.row_count).toBe(2);
    expect(direct.truncated).toBe(true);
  });

  it.each([
    ['INSERT', `INSERT INTO %s.items (name) VALUES ('x')`],
    ['UPDATE', `UPDATE %s.items SET price = 0`],
    ['DELETE', `DELETE FROM %s.items`],
    ['DROP', `DROP TABLE %s.items`],
    ['CREATE', `CREATE TABLE %s.other (id int)`],
    ['TRUNCATE', `TRUNCATE %s.items`],
    ['COPY', `COPY %s.items TO STDOUT`],
    ['ALTER', `ALTER TABLE %s.items ADD COLUMN x int`],
    ['GRANT', `GRANT ALL ON %s.items TO PUBLIC`],
    ['SET', `SET default_transaction_read_only = off`],
    ['COMMIT', `COMMIT`],
  ])('refuses %s with SQL_READ_ONLY', async (_label, template) => {
    const before = await snapshot();
    const err = await appErrorOf(pgQuery(template.replace('%s', schema)));
    expect(err.code).toBe('SQL_READ_ONLY');
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['EXPLAIN ANALYZE of an INSERT', `EXPLAIN ANALYZE INSERT INTO %s.items (name) VALUES ('x')`, '25006'],
    ['EXPLAIN ANALYZE of a DELETE', `EXPLAIN (ANALYZE, COSTS OFF) DELETE FROM %s.items`, '25006'],
    ['a data-modifying WITH', `WITH d AS (DELETE FROM %s.items RETURNING *) SELECT * FROM d`, '0A000'],
    ['WITH ... INSERT', `WITH v AS (SELECT 'x' AS name) INSERT INTO %s.items (name) SELECT name FROM v`, '42601'],
    ['SELECT INTO', `SELECT * INTO %s.copy FROM %s.items`, '42601'],
    ['SELECT FOR UPDATE', `SELECT * FROM %s.items FOR UPDATE`, '25006'],
    ['nextval()', `SELECT nextval('%s.ids')`, '25006'],
  ])('relies on the database to refuse %s (SQL_READ_ONLY)', async (_label, template, sqlstate) => {
    const before = await snapshot();
    const err = await appErrorOf(pgQuery(template.replaceAll('%s', schema)));
    expect(err.code).toBe('SQL_READ_ONLY');
    expect(err.details).toMatchObject({ source: 'shop', sqlstate });
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a second statement, even one the database would refuse anyway', async () => {
    const before = await snapshot();
    const err = await appErrorOf(pgQuery(`SELECT 1; DROP TABLE ${schema}.items`));
    expect(err.code).toBe('SQL_ERROR');
    expect(err.message).toMatch(/exactly one statement/);
    expect(await snapshot()).toEqual(before);
  });

  it('stops a slow query at the statement timeout with a clear error', async () => {
    const started = Date.now();
    const err = await appErrorOf(pgQuery('SELECT pg_sleep(10)', {}, { statementTimeoutMs: 300 }));
    expect(err.code).toBe('SQL_ERROR');
    expect(err.message).toBe('Query was cancelled after the statement timeout of 300 ms');
    expect(err.details).toMatchObject({ sqlstate: '57014', timeout_ms: 300 });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('cancels the server-side query when the call is cancelled', async () => {
    const controller = new AbortController();
    const tool = createSqlQueryTool({ sources: [{ name: 'shop', url: agentUrl }] });
    const running = tool.run({ query: 'SELECT pg_sleep(20)', source: 'shop' }, context(memoryFiles({}), controller.signal));
    // The cursor was declared by then; what runs is its FETCH.
    const active = async () =>
      (
        await admin.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND state = 'active' AND query LIKE 'FETCH%'`,
          [role],
        )
      ).rows[0].n as number;
    const deadline = Date.now() + 5000;
    while ((await active()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await active()).toBe(1);
    controller.abort(new Error('cancelled by test'));
    await expect(running).rejects.toThrow('cancelled by test');
    const gone = Date.now() + 5000;
    while ((await active()) > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(await active()).toBe(0);
  });

  it('reports bad SQL with the database message, position and SQLSTATE', async () => {
    const missing = await appErrorOf(pgQuery(`SELECT * FROM ${schema}.nope`));
    expect(missing.code).toBe('SQL_ERROR');
    expect(missing.message).toBe(`relation "${schema}.nope" does not exist`);
    expect(missing.details).toMatchObject({ sqlstate: '42P01', position: 15 });
    const syntax = await appErrorOf(pgQuery('SELECT FROM WHERE'));
    expect(syntax.code).toBe('SQL_ERROR');
    expect(syntax.details).toMatchObject({ sqlstate: '42601', position: 13 });
    const typo = await appErrorOf(pgQuery('SELEC 1'));
    expect(typo.code).toBe('SQL_ERROR');
    expect(typo.message).toBe('syntax error at or near "SELEC"');
  });

  it('rejects an unknown source, and files with a database source', async () => {
    const registry = pgTool();
    const unknown = await appErrorOf(registry.invoke('sql_query', { query: 'SELECT 1', source: 'nope' }, context()));
    expect(unknown.code).toBe('TOOL_INPUT_INVALID');
    const direct = await appErrorOf(createSqlQueryTool().run({ query: 'SELECT 1', source: 'nope' }, context()));
    expect(direct.code).toBe('TOOL_INPUT_INVALID');
    expect(direct.message).toBe('Unknown source "nope"; available: files');
    const files = await appErrorOf(pgQuery('SELECT 1', { files: ['f_sales'] }));
    expect(files.code).toBe('TOOL_INPUT_INVALID');
  });

  it('refuses a superuser connection unless the source allows it', async () => {
    const err = await appErrorOf(pgTool().invoke('sql_query', { query: 'SELECT 1', source: 'root' }, context()));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/superuser/);
    const allowed = createSqlQueryTool({ sources: [{ name: 'root', url: POSTGRES_URL, allowSuperuser: true }] });
    const out = await allowed.run({ query: 'SELECT 1 AS one', source: 'root' }, context());
    expect(out.rows).toEqual([[1]]);
  });

  it('fails as retryable when the database cannot be reached, without showing the password', async () => {
    const tool = createSqlQueryTool({ sources: [{ name: 'down', url: 'postgres://u:s3cret@127.0.0.1:1/db' }], connectTimeoutMs: 2000 });
    const err = await appErrorOf(tool.run({ query: 'SELECT 1', source: 'down' }, context()));
    expect(err.code).toBe('TOOL_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/Could not query source "down"/);
    expect(JSON.stringify(err.toInfo())).not.toContain('s3cret');
  });

  it('leaves no transaction or session behind', async () => {
    await pgQuery('SELECT 1');
    await appErrorOf(pgQuery('SELECT nope'));
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1`, [role]);
    // Sessions close when the call ends; give the server a moment to reap them.
    let n = rows[0].n as number;
    for (let i = 0; n > 0 && i < 40; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      n = (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1`, [role])).rows[0].n as number;
    }
    expect(n).toBe(0);
  });
});
