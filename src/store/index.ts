/** The store: the durable model of tasks, plans, steps, the turn journal, events, usage, documents and files. */
import { openDatabase, type OpenDatabaseOptions } from './database.js';
import { SqlStore } from './sql-store.js';
import type { Store } from './types.js';

export * from './types.js';
export { migrate, openDatabase, PgliteDatabase, PostgresDatabase, type Database } from './database.js';
export { SqlStore } from './sql-store.js';

/**
 * Opens the database (PostgreSQL with a URL, else PGlite), applies migrations and returns the store.
 * `exclusive`: this process is the database's only user, so it may keep unfinished tasks in memory.
 */
export async function createStore(options: OpenDatabaseOptions & { exclusive?: boolean }): Promise<Store> {
  return new SqlStore(await openDatabase(options), { exclusive: options.exclusive });
}
