import { dropSchema, POSTGRES_URL, requirePostgres, uniqueSchema } from '../../test/support/postgres.js';
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
