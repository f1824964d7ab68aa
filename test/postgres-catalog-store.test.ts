// The PostgreSQL catalog on a throwaway server: the shared conformance suite, two nodes on one database
// included. Without PostgreSQL installed this fails (with how to install it) rather than skip.
import { after, before } from 'node:test';
import { PostgresCatalogStore } from '../src/catalog/postgres-catalog-store.js';
import { runCatalogStoreConformance } from './catalog-store-conformance.js';
import { ThrowawayPostgres } from './support/postgres.js';

const DATABASE = 'owlet';

let server: ThrowawayPostgres;
before(async () => {
  server = await ThrowawayPostgres.start();
  await server.createDatabase(DATABASE);
});
after(async () => {
  await server?.stop();
});

let cases = 0;
const urlOf = new WeakMap<object, string>();

async function openAt(url: string): Promise<PostgresCatalogStore> {
  const store = await PostgresCatalogStore.open({ url });
  urlOf.set(store, url);
  return store;
}

runCatalogStoreConformance('PostgreSQL', {
  async open() {
    return openAt(await server.createSchema(DATABASE, `case_${++cases}`));
  },
  async reopen(store) {
    await store.close();
    return openAt(urlOf.get(store)!);
  },
  async another(store) {
    return openAt(urlOf.get(store)!);
  },
});
