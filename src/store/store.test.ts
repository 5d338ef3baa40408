import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dropSchema, POSTGRES_URL, requirePostgres, uniqueSchema } from '../../test/support/postgres.js';
import { MIGRATIONS } from './migrations.js';
import { createStore } from './index.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('PGlite, exclusive (embedded)', async () => {
  const store = await createStore({ schema: 'public', poolSize: 1, exclusive: true });
  return { store, cleanup: () => store.close() };
});

runStoreContract('PGlite, shared', async () => {
  const store = await createStore({ schema: 'public', poolSize: 1 });
  return { store, cleanup: () => store.close() };
});

if (await requirePostgres()) {
  runStoreContract('PostgreSQL', async () => {
    const schema = uniqueSchema('store');
    const store = await createStore({ databaseUrl: POSTGRES_URL, schema, poolSize: 5 });
    const peer = await createStore({ databaseUrl: POSTGRES_URL, schema, poolSize: 5 });
    return {
      store,
      peer,
      cleanup: async () => {
        await store.close();
        await peer.close();
        await dropSchema(schema);
      },
    };
  });
}

describe('in-memory databases', () => {
  it('start from the first one\'s empty, migrated state, and share nothing afterwards', async () => {
    const first = await createStore({ schema: 'public', poolSize: 1 });
    const created = await first.createTask({ id: randomUUID(), tenantId: 'acme', input: 'x', files: [], options: {}, start: false });
    const second = await createStore({ schema: 'public', poolSize: 1 });
    try {
      expect(await second.getTask(created.value.task.id)).toBeNull();
      expect(await second.countTasks({})).toBe(0);
      // Migrated: every table is there, and the schema is at its latest version.
      const db = (second as unknown as { db: { query<R>(sql: string): Promise<R[]> } }).db;
      expect((await db.query<{ v: number }>('SELECT max(version) AS v FROM schema_migrations'))[0]!.v).toBe(MIGRATIONS.at(-1)!.version);
      const other = await second.createTask({ id: randomUUID(), tenantId: 'acme', input: 'y', files: [], options: {}, start: false });
      expect(await first.getTask(other.value.task.id)).toBeNull();
      expect(await first.countTasks({})).toBe(1);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
