// The embedded object store over its PostgreSQL index, on a throwaway server: the shared conformance suite.
// Without PostgreSQL installed these tests fail (with how to install it) rather than skip.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { EmbeddedObjectStore } from '../src/objects/embedded-object-store.js';
import { PostgresObjectIndex } from '../src/objects/postgres-object-index.js';
import { runObjectStoreConformance } from './object-store-conformance.js';
import { ThrowawayPostgres } from './support/postgres.js';

const DATABASE = 'owlet_objects';
const root = mkdtempSync(join(tmpdir(), 'owlet-objects-pg-'));
let server: ThrowawayPostgres;
before(async () => {
  server = await ThrowawayPostgres.start();
  await server.createDatabase(DATABASE);
});
after(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

let cases = 0;
const placeOf = new WeakMap<EmbeddedObjectStore, { dir: string; url: string }>();

async function openAt(dir: string, url: string): Promise<EmbeddedObjectStore> {
  // Blob files of this test's own writes are never younger than the case; no grace is needed.
  const store = await EmbeddedObjectStore.open({ root: dir, index: await PostgresObjectIndex.open(url), sweepGraceMs: 0 });
  placeOf.set(store, { dir, url });
  return store;
}

runObjectStoreConformance('PostgreSQL', {
  async open() {
    cases++;
    return openAt(join(root, `case-${cases}`), await server.createSchema(DATABASE, `objects_${cases}`));
  },
  async reopen(store) {
    await store.close();
    const { dir, url } = placeOf.get(store)!;
    return openAt(dir, url);
  },
});
