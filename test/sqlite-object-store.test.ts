// The embedded object store over its SQLite index: the shared conformance suite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { EmbeddedObjectStore } from '../src/objects/embedded-object-store.js';
import { SqliteObjectIndex } from '../src/objects/sqlite-object-index.js';
import { runObjectStoreConformance } from './object-store-conformance.js';

const root = mkdtempSync(join(tmpdir(), 'owlet-objects-'));
after(() => rmSync(root, { recursive: true, force: true }));

let cases = 0;
const rootOf = new WeakMap<EmbeddedObjectStore, string>();

async function openAt(dir: string): Promise<EmbeddedObjectStore> {
  const store = await EmbeddedObjectStore.open({ root: dir, index: new SqliteObjectIndex(join(dir, 'index.sqlite')), sweepGraceMs: 0 });
  rootOf.set(store, dir);
  return store;
}

runObjectStoreConformance('SQLite', {
  open: () => openAt(join(root, `case-${++cases}`)),
  async reopen(store) {
    await store.close();
    return openAt(rootOf.get(store)!);
  },
});
