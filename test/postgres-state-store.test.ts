// The PostgreSQL StateStore: the shared conformance suite on a throwaway server, then what only a store that
// several server nodes open at once has to get right. Without PostgreSQL installed these tests fail (with how
// to install it) rather than skip: CI installs it, and a skip would hide a broken store.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { openStateStore } from '../src/store/open-state-store.js';
import { PostgresStateStore } from '../src/store/postgres-state-store.js';
import { SqliteStateStore } from '../src/store/sqlite-state-store.js';
import { type CorruptRecordError, RecordExistsError, type StateStore, VersionConflictError } from '../src/store/state-store.js';
import { idsByPages, runStateStoreConformance } from './store-conformance.js';
import { ThrowawayPostgres } from './support/postgres.js';

/** The database the cases share, each in a schema of its own. */
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
/** The URL of a new empty schema, for one case. */
function freshSchema(): Promise<string> {
  return server.createSchema(DATABASE, `case_${++cases}`);
}

let reports: CorruptRecordError[] = [];
const urlOf = new WeakMap<StateStore, string>();

async function openAt(url: string): Promise<PostgresStateStore> {
  reports = [];
  const store = await PostgresStateStore.open({ url, onCorrupt: (e) => reports.push(e) });
  urlOf.set(store, url);
  return store;
}

runStateStoreConformance('PostgreSQL', {
  async open() {
    return openAt(await freshSchema());
  },
  async reopen(store) {
    await store.close();
    return openAt(urlOf.get(store)!);
  },
  async corrupt(store, kind, id) {
    // Another client of the database writes what no reader can parse (a hand edit, another program's bug);
    // the store stays open, as the other nodes' stores would.
    await server.query(urlOf.get(store)!, 'UPDATE records SET body = $1 WHERE kind = $2 AND id = $3', ['{"n": 2,', kind, id]);
    return store;
  },
  corruptReports: () => reports,
});

/** Opens `count` stores at `url` at the same time, as nodes starting together would. */
async function nodesAt(url: string, count: number): Promise<PostgresStateStore[]> {
  const opened = await Promise.allSettled(Array.from({ length: count }, () => PostgresStateStore.open({ url })));
  const stores = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = opened.find((r) => r.status === 'rejected');
  if (failed) {
    await closeAll(stores);
    throw failed.reason;
  }
  return stores;
}

async function closeAll(stores: readonly StateStore[]): Promise<void> {
  await Promise.all(stores.map((store) => store.close()));
}

describe('PostgresStateStore shared by several nodes', () => {
  it('shows each node the others\' writes, and lets one of two updates of a version win', async () => {
    const [a, b] = await nodesAt(await freshSchema(), 2);
    try {
      await a!.create({ kind: 'session', id: 's', parent: 'wg', state: 'IDLE', createdAt: 1, body: { n: 1 } });
      assert.deepEqual((await b!.get('session', 's'))?.body, { n: 1 });
      await assert.rejects(b!.create({ kind: 'session', id: 's', createdAt: 2, body: { n: 2 } }), RecordExistsError);

      const results = await Promise.allSettled([
        a!.update('session', 's', 1, { body: { n: 10 }, state: 'BUSY' }),
        b!.update('session', 's', 1, { body: { n: 20 }, state: 'BUSY' }),
      ]);
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      assert.equal(won.length, 1);
      assert.ok(lost[0] instanceof VersionConflictError);
      assert.deepEqual(await a!.get('session', 's'), won[0]);
      assert.deepEqual(await b!.get('session', 's'), won[0]);

      await assert.rejects(b!.delete('session', 's', 1), VersionConflictError);
      assert.equal(await b!.delete('session', 's', 2), true);
      assert.equal(await a!.get('session', 's'), undefined);
    } finally {
      await closeAll([a!, b!]);
    }
  });

  it('stores one response for a token that two nodes remember at once', async () => {
    const url = await freshSchema();
    const [a, b] = await nodesAt(url, 2);
    try {
      const tokens = Array.from({ length: 50 }, (_, i) => `token-${i}`);
      await Promise.all(
        tokens.map(async (token) => {
          const fromA = { requestDigest: 'a', response: `{"by":"a"}` };
          const fromB = { requestDigest: 'b', response: `{"by":"b"}` };
          const priors = await Promise.all([
            a!.rememberIdempotent('StartSession', token, fromA),
            b!.rememberIdempotent('StartSession', token, fromB),
          ]);
          // One node stored its entry and was told so (undefined); the other was handed that entry.
          const stored = priors[0] === undefined ? fromA : fromB;
          assert.deepEqual(priors, priors[0] === undefined ? [undefined, fromA] : [fromB, undefined], token);
          assert.deepEqual(await a!.recallIdempotent('StartSession', token), stored, token);
          assert.deepEqual(await b!.recallIdempotent('StartSession', token), stored, token);
        }),
      );
      const [row] = await server.query<{ count: number }>(url, 'SELECT count(*)::integer AS count FROM idempotency_tokens');
      assert.equal(row?.count, tokens.length);
    } finally {
      await closeAll([a!, b!]);
    }
  });

  it('hands back the entry of a node whose insert of the token was still uncommitted', async () => {
    // The case a single INSERT … ON CONFLICT … plus read in one statement gets wrong: the insert waits for the
    // other transaction and then does nothing, and a read under the statement's snapshot would not see the row.
    const url = await freshSchema();
    const store = await openAt(url);
    const other = new Client({ connectionString: url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO idempotency_tokens (operation, token, request_digest, response, created_at) VALUES ('StartSession', 't', 'first', '{}', 0)`,
      );
      const remembering = store.rememberIdempotent('StartSession', 't', { requestDigest: 'second', response: '{"x":1}' });
      await waitForLockWaits(1);
      await other.query('COMMIT');
      assert.deepEqual(await remembering, { requestDigest: 'first', response: '{}' });
    } finally {
      await other.end();
      await store.close();
    }
  });

  it('migrates once when several nodes open a new store at the same time', async () => {
    const url = await freshSchema();
    const nodes = await nodesAt(url, 4);
    try {
      const applied = await server.query<{ version: number }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(applied.map((row) => row.version), [1, 2]);
      for (const node of nodes) assert.equal(await node.schemaVersion(), 2);
    } finally {
      await closeAll(nodes);
    }
  });

  it('refuses a store migrated by a newer Owlet', async () => {
    const url = await freshSchema();
    await (await openAt(url)).close();
    await server.query(url, 'INSERT INTO schema_migrations (version) VALUES (99)');
    await assert.rejects(openAt(url), /schema version 99, newer than this Owlet knows \(2\)/);
  });

  it('lists ids in byte order, as SQLite does, in a database whose collation sorts otherwise', async () => {
    const url = await server.createDatabase('store_icu', `TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`);
    const store = await openAt(url);
    try {
      for (const id of ['b', 'B', 'a', 'A', '_']) await store.create({ kind: 'workgroup', id, createdAt: 1, body: {} });
      assert.deepEqual((await idsByPages(store, 'workgroup', 2)).ids, ['A', 'B', '_', 'a', 'b']);
      const [linguistic] = await server.query<{ first: string }>(url, `SELECT min(x) AS first FROM unnest(ARRAY['A', '_']) AS x`);
      assert.equal(linguistic?.first, '_', 'the database itself sorts _ before A, so the column\'s collation made the difference');
    } finally {
      await store.close();
    }
  });
});

/** Waits until `count` connections wait for a lock, that is, until the statement under test blocks. */
async function waitForLockWaits(count: number): Promise<void> {
  for (let i = 0; ; i++) {
    const [row] = await server.query<{ waiting: number }>(
      server.url('postgres'),
      `SELECT count(*)::integer AS waiting FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
      [DATABASE],
    );
    if (row?.waiting === count) return;
    assert.ok(i < 500, 'no statement came to wait for a lock');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('openStateStore', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'owlet-open-store-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('opens the SQLite file in the data directory when no URL is given', async () => {
    const store = await openStateStore({ dataDir });
    try {
      assert.ok(store instanceof SqliteStateStore);
      assert.ok(existsSync(join(dataDir, 'state.sqlite')));
    } finally {
      await store.close();
    }
  });

  it('opens PostgreSQL for postgres:// and postgresql:// URLs', async () => {
    const url = await freshSchema();
    for (const each of [url, url.replace(/^postgres:/, 'postgresql:')]) {
      const store = await openStateStore({ url: each, dataDir });
      try {
        assert.ok(store instanceof PostgresStateStore, each);
      } finally {
        await store.close();
      }
    }
  });

  it('refuses any other URL without repeating it', async () => {
    await assert.rejects(openStateStore({ url: 'mysql://owlet:s3cret@db.example/owlet', dataDir }), (error: Error) => {
      assert.match(error.message, /must start with postgres:\/\/ or postgresql:\/\/ \(got mysql:\)/);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
  });
});
