import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PgliteThread } from './pglite-thread.js';

describe('PGlite on its own thread', () => {
  const open: PgliteThread[] = [];
  const dirs: string[] = [];
  const thread = (dataDir?: string) => {
    const t = new PgliteThread(dataDir);
    open.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('returns rows with their types as PGlite parses them', async () => {
    const db = thread();
    const [row] = await db.query<{ n: number; t: Date; j: unknown; b: Uint8Array; s: string }>(
      "SELECT 42 AS n, '2026-01-02T03:04:05Z'::timestamptz AS t, $1::jsonb AS j, '\\x0102'::bytea AS b, $2::text AS s",
      [JSON.stringify({ a: [1, 'x'] }), 'é'],
    );
    expect(row).toEqual({ n: 42, t: new Date('2026-01-02T03:04:05Z'), j: { a: [1, 'x'] }, b: new Uint8Array([1, 2]), s: 'é' });
  });

  it('passes database errors through with their SQLSTATE', async () => {
    const db = thread();
    await db.exec('CREATE TABLE t (id int PRIMARY KEY)');
    await db.query('INSERT INTO t VALUES (1)');
    await expect(db.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: '23505', message: expect.stringContaining('duplicate key') });
    await expect(db.query('SELEC nonsense')).rejects.toMatchObject({ code: '42601' });
    // The thread goes on after errors.
    expect(await db.query('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 1 }]);
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    const db = thread();
    await db.exec('CREATE TABLE t (id int PRIMARY KEY)');
    const value = await db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (1)');
      return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM t'))[0]!.n;
    });
    expect(value).toBe(1);
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (2)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    // A failed statement rolls its transaction back too.
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (3)');
        await tx.query('INSERT INTO t VALUES (1)');
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await db.query('SELECT id FROM t ORDER BY id')).toEqual([{ id: 1 }]);
  });

  it('keeps other statements out until a transaction ends', async () => {
    const db = thread();
    await db.exec('CREATE TABLE t (id int PRIMARY KEY)');
    let outside: Promise<unknown> | undefined;
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (1)');
      outside = db.query('SELECT count(*)::int AS n FROM t');
      // The outside statement waits; it would otherwise run inside this transaction.
      await new Promise((r) => setTimeout(r, 50));
      await tx.query('INSERT INTO t VALUES (2)');
    });
    expect(await outside).toEqual([{ n: 2 }]);
  });

  it('keeps what was committed in its data directory across a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pglite-thread-'));
    dirs.push(dir);
    const first = new PgliteThread(dir);
    await first.exec('CREATE TABLE t (v text)');
    await first.query('INSERT INTO t VALUES ($1)', ['kept']);
    await first.close();
    expect(await thread(dir).query('SELECT v FROM t')).toEqual([{ v: 'kept' }]);
  });

  it('refuses statements once closed', async () => {
    const db = new PgliteThread(undefined);
    await db.query('SELECT 1');
    // Closes made at once share one shutdown.
    await Promise.all([db.close(), db.close()]);
    await expect(db.query('SELECT 1')).rejects.toThrow('The database is closed');
    await db.close();
  });

  it('refuses a parameter that cannot be sent to its thread, and goes on', async () => {
    const db = thread();
    await expect(db.query('SELECT $1::text AS v', [() => 1])).rejects.toThrow();
    expect(await db.query('SELECT 1 AS n')).toEqual([{ n: 1 }]);
  });
});
