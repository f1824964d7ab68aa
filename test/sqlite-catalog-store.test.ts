import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SqliteCatalogStore } from '../src/catalog/sqlite-catalog-store.js';
import { runCatalogStoreConformance } from './catalog-store-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'owlet-catalog-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
const paths = new WeakMap<object, string>();

function openAt(path: string): SqliteCatalogStore {
  const store = new SqliteCatalogStore({ path });
  paths.set(store, path);
  return store;
}

runCatalogStoreConformance('SQLite', {
  async open() {
    return openAt(join(dir, `catalog-${++count}.sqlite`));
  },
  async reopen(store) {
    await store.close();
    return openAt(paths.get(store)!);
  },
});
