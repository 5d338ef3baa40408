/**
 * Access to the real PostgreSQL for tests. Each caller gets its own schema, dropped at the end.
 * Without a reachable server the suites that need it are skipped locally, and fail when `CI` is set.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<boolean> | undefined;

export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** True when the suite should run; throws in CI when PostgreSQL is missing. */
export async function requirePostgres(): Promise<boolean> {
  const ok = await postgresReachable();
  if (!ok && process.env.CI) throw new Error(`PostgreSQL is required in CI but ${POSTGRES_URL} is not reachable`);
  return ok;
}

export function uniqueSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
