/**
 * A thin SQL connection contract with two implementations: PostgreSQL over a `pg` pool, and PGlite
 * (PostgreSQL compiled to WebAssembly) persisted in a folder. The store runs the same SQL on both.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { AppError } from '../errors.js';
import { MIGRATIONS } from './migrations.js';
import { PgliteThread } from './pglite-thread.js';

export type Row = Record<string, unknown>;

export interface Queryable {
  query<R extends Row = Row>(sql: string, params?: unknown[]): Promise<R[]>;
}

export interface Database extends Queryable {
  readonly engine: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Runs several statements without parameters. */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** Transient PostgreSQL failures worth running the transaction again for. */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

export class PostgresDatabase implements Database {
  readonly engine = 'postgres' as const;
  readonly #pool: pg.Pool;

  constructor(connectionString: string, schema: string, poolSize: number) {
    this.#pool = new pg.Pool({
      connectionString,
      max: poolSize,
      options: `-c search_path=${schema}`,
      connectionTimeoutMillis: 10_000,
    });
    // An idle client losing its connection (server restart) must not crash the process.
    this.#pool.on('error', () => undefined);
  }

  async query<R extends Row = Row>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      const result = await this.#pool.query(sql, params);
      return result.rows as R[];
    } catch (err) {
      throw wrapDriverError(err);
    }
  }

  async transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (err) {
        throw wrapDriverError(err);
      }
      try {
        await client.query('BEGIN');
        const q: Queryable = {
          query: async <R extends Row>(sql: string, params: unknown[] = []) =>
            (await client.query(sql, params)).rows as R[],
        };
        const value = await fn(q);
        await client.query('COMMIT');
        client.release();
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
        const state = (err as { code?: string }).code;
        if (state && RETRYABLE_SQLSTATES.has(state) && attempt < 5) continue;
        throw wrapDriverError(err);
      }
    }
  }

  async exec(sql: string): Promise<void> {
    await this.query(sql);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

export class PgliteDatabase implements Database {
  readonly engine = 'pglite' as const;
  readonly #db: PgliteThread;

  readonly #lock: string | undefined;

  /** `dataDir` undefined keeps the database in memory (tests); `template` starts it from a dumped data directory. */
  constructor(dataDir: string | undefined, template?: Uint8Array) {
    if (dataDir) {
      mkdirSync(dataDir, { recursive: true });
      this.#lock = lockDataDir(dataDir);
    }
    // On its own thread, so that statements do not stall the event loop (see pglite-thread.ts).
    this.#db = new PgliteThread(dataDir, template);
  }

  /** The data directory as a tar (see PgliteThread.dump). */
  dump(): Promise<Uint8Array> {
    return this.#db.dump();
  }

  async query<R extends Row = Row>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return await this.#db.query<R>(sql, params);
    } catch (err) {
      throw wrapDriverError(err);
    }
  }

  async transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.#db.transaction(fn);
    } catch (err) {
      throw wrapDriverError(err);
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.#db.exec(sql);
    } catch (err) {
      throw wrapDriverError(err);
    }
  }

  async close(): Promise<void> {
    await this.#db.close();
    if (this.#lock) rmSync(this.#lock, { force: true });
  }
}

/**
 * PGlite is one process's database: two processes on one folder would corrupt it. A lock file with
 * the owner's pid refuses a second process while the first is alive (a stale lock is taken over).
 */
function lockDataDir(dataDir: string): string {
  const path = join(dataDir, 'agentic.lock');
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
    return path;
  } catch {
    const owner = Number(readFileSync(path, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new AppError('CONFIG_INVALID', `The data directory ${dataDir} is in use by process ${owner}. Stop it, or talk to it with --url.`, {
        details: { data_dir: dataDir, pid: owner },
      });
    }
    writeFileSync(path, String(process.pid));
    return path;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** AppErrors pass through; driver errors become STORE_ERROR with the SQLSTATE kept. */
function wrapDriverError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const e = err as { code?: string; message?: string };
  // 23505 unique violation and friends are handled by callers that look at the SQLSTATE.
  if (typeof e.code === 'string' && /^(23|22)/.test(e.code)) return err;
  return new AppError('STORE_ERROR', `Database error: ${e.message ?? String(err)}`, {
    cause: err,
    details: e.code ? { sqlstate: e.code } : {},
  });
}

export interface OpenDatabaseOptions {
  databaseUrl?: string;
  dataDir?: string;
  schema: string;
  poolSize: number;
  /** Apply pending migrations on open. @defaultValue true */
  migrate?: boolean;
}

/** Opens PostgreSQL when a URL is given, else PGlite in `dataDir` (or in memory), and migrates it. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    await ensureSchema(options.databaseUrl, options.schema);
    const db = new PostgresDatabase(options.databaseUrl, options.schema, options.poolSize);
    if (options.migrate !== false) await migrate(db);
    return db;
  }
  const template = options.dataDir ? undefined : await memoryTemplate?.catch(() => undefined);
  const db = new PgliteDatabase(options.dataDir, template);
  try {
    if (options.schema !== 'public') await db.exec(`CREATE SCHEMA IF NOT EXISTS ${options.schema}; SET search_path TO ${options.schema}`);
    if (options.migrate !== false) await migrate(db);
    if (!options.dataDir && !template && options.schema === 'public' && options.migrate !== false) {
      memoryTemplate ??= db.dump();
      await memoryTemplate.catch(() => (memoryTemplate = undefined));
    }
  } catch (err) {
    // Its thread would otherwise keep the process alive, and its lock the folder.
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

/**
 * An empty, migrated in-memory database, dumped once per process from the first one opened: every later
 * in-memory database (the test suites open hundreds) starts from it instead of running initdb again,
 * in about half the time.
 */
let memoryTemplate: Promise<Uint8Array> | undefined;

async function ensureSchema(connectionString: string, schema: string): Promise<void> {
  if (schema === 'public') return;
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } catch (err) {
    throw wrapDriverError(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Applies pending migrations in order, in one transaction, under an advisory lock so that
 * processes starting together do not race. Returns the versions applied. */
export async function migrate(db: Database): Promise<number[]> {
  return db.transaction(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock(7349001)');
    await q.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await q.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const statement of splitStatements(m.sql)) await q.query(statement);
      await q.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}

/** Splits a migration into statements (migrations hold no semicolons inside literals or bodies). */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
