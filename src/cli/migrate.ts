import type { Config } from '../config/index.js';
import { migrate, openDatabase } from '../store/index.js';

/** Applies pending migrations (opening the database applies them too; this reports what ran). */
export async function commandMigrate(config: Config): Promise<number> {
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : config.dataDir,
    schema: config.databaseSchema,
    poolSize: 1,
    migrate: false,
  });
  try {
    const applied = await migrate(db);
    const target = config.databaseUrl ? 'PostgreSQL' : config.dataDir;
    console.log(applied.length > 0 ? `Applied migrations ${applied.join(', ')} to ${target}` : `Schema of ${target} is up to date`);
    return 0;
  } finally {
    await db.close();
  }
}
