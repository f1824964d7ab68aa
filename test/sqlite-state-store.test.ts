import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStateStore } from '../src/store/sqlite-state-store.js';
import type { CorruptRecordError } from '../src/store/state-store.js';
import { runStateStoreConformance } from './store-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'owlet-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
let reports: CorruptRecordError[] = [];
const paths = new WeakMap<SqliteStateStore, string>();

function openAt(path: string): SqliteStateStore {
  reports = [];
  const store = new SqliteStateStore({ path, onCorrupt: (e) => reports.push(e) });
  paths.set(store, path);
  return store;
}

runStateStoreConformance('SQLite', {
  async open() {
    return openAt(join(dir, `store-${++count}.sqlite`));
  },
  async reopen(store) {
    const path = paths.get(store as SqliteStateStore)!;
    await store.close();
    return openAt(path);
  },
  async corrupt(store, kind, id) {
    // Between two runs of the server, the file gets what a torn or hand-edited file could hold.
    const path = paths.get(store as SqliteStateStore)!;
    await store.close();
    const db = new Database(path);
    db.prepare('UPDATE records SET body = ? WHERE kind = ? AND id = ?').run('{"n": 2,', kind, id);
    db.close();
    return openAt(path);
  },
  corruptReports: () => reports,
});

describe('SqliteStateStore', () => {
  it('migrates a new file to the current schema, and refuses a file from a newer Owlet', async () => {
    const path = join(dir, 'schema.sqlite');
    const store = new SqliteStateStore({ path });
    assert.equal(store.schemaVersion, 2);
    await store.close();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(() => new SqliteStateStore({ path }), /schema version 99, newer than this Owlet knows/);
  });

  it('runs in WAL mode, and one server owns the file', async () => {
    const path = join(dir, 'wal.sqlite');
    const store = new SqliteStateStore({ path });
    assert.throws(() => new SqliteStateStore({ path }), /is in use by another Owlet server/);
    await store.close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });
});
