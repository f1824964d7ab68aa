// The StateStore conformance suite: every backend runs these same cases (SQLite, PostgreSQL). A backend that
// cannot pass a case must skip it with its reason, not leave it out.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  CorruptRecordError,
  RecordExistsError,
  type RecordKind,
  type StateStore,
  type StoredRecord,
  VersionConflictError,
} from '../src/store/state-store.js';

export interface ConformanceBackend {
  /** A store with no records. Called before every case. */
  open(): Promise<StateStore>;
  /**
   * Writes a record body the store cannot parse, bypassing the interface (for the corrupt-row cases), and
   * returns the store to go on with (a backend may have to reopen its storage to do it).
   */
  corrupt?(store: StateStore, kind: string, id: string): Promise<StateStore>;
  /** Closes `store` and opens the same storage again, as a restarted server would. */
  reopen?(store: StateStore): Promise<StateStore>;
  /** Records reported as corrupt by the store opened last. */
  corruptReports?(): CorruptRecordError[];
}

interface Body {
  n: number;
  text?: string;
}

/** Every id of `kind` in id order, read `limit` at a time by following the cursors. */
export async function idsByPages(store: StateStore, kind: RecordKind, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await store.list({ kind, order: 'id', limit, ...(after ? { after } : {}) });
    ids.push(...page.records.map((r) => r.id));
    after = page.cursor;
    pages++;
  } while (after !== undefined);
  return { ids, pages };
}

export function runStateStoreConformance(name: string, backend: ConformanceBackend): void {
  describe(`StateStore conformance: ${name}`, () => {
    let store: StateStore;
    beforeEach(async () => {
      store = await backend.open();
    });

    it('creates a record at version 1 and reads it back, any text in its body', async () => {
      const created = await store.create<Body>({ kind: 'workgroup', id: 'a', createdAt: 1000, body: { n: 1, text: 'é 😀 \u0000' } });
      assert.equal(created.version, 1);
      const read = await store.get<Body>('workgroup', 'a');
      assert.deepEqual(read, { kind: 'workgroup', id: 'a', createdAt: 1000, version: 1, body: { n: 1, text: 'é 😀 \u0000' } });
      assert.equal(await store.get('workgroup', 'missing'), undefined);
      assert.equal(await store.get('session', 'a'), undefined, 'ids are per kind');
    });

    it('refuses a second record with the same kind and id', async () => {
      await store.create({ kind: 'session', id: 's', parent: 'wg', state: 'IDLE', createdAt: 1, body: { n: 1 } });
      await assert.rejects(store.create({ kind: 'session', id: 's', createdAt: 2, body: { n: 2 } }), RecordExistsError);
      assert.deepEqual((await store.get<Body>('session', 's'))?.body, { n: 1 });
    });

    it('updates only at the expected version, and bumps it', async () => {
      await store.create<Body>({ kind: 'session', id: 's', state: 'CREATING', createdAt: 1, body: { n: 1 } });
      const v2 = await store.update<Body>('session', 's', 1, { body: { n: 2 }, state: 'IDLE' });
      assert.equal(v2.version, 2);
      assert.equal(v2.state, 'IDLE');
      await assert.rejects(store.update('session', 's', 1, { body: { n: 3 } }), VersionConflictError);
      const v3 = await store.update<Body>('session', 's', 2, { body: { n: 3 } });
      assert.equal(v3.state, 'IDLE', 'an update without a state keeps the state');
      assert.deepEqual((await store.get<Body>('session', 's'))?.body, { n: 3 });
      await assert.rejects(store.update('session', 'gone', 1, { body: { n: 0 } }), VersionConflictError);
    });

    it('deletes, optionally only at the expected version', async () => {
      await store.create({ kind: 'notebook', id: 'n', createdAt: 1, body: { n: 1 } });
      await assert.rejects(store.delete('notebook', 'n', 7), VersionConflictError);
      assert.equal(await store.delete('notebook', 'n', 1), true);
      assert.equal(await store.delete('notebook', 'n'), false);
      assert.equal(await store.get('notebook', 'n'), undefined);
    });

    it('lists by id in pages', async () => {
      for (const id of ['c', 'a', 'e', 'b', 'd']) await store.create({ kind: 'workgroup', id, createdAt: 1, body: { n: 0 } });
      const { ids, pages } = await idsByPages(store, 'workgroup', 2);
      assert.deepEqual(ids, ['a', 'b', 'c', 'd', 'e']);
      assert.equal(pages, 3);
    });

    it('lists newest first within a parent, filtered by state, with ties in insertion order', async () => {
      const add = (id: string, parent: string, state: string, createdAt: number) =>
        store.create({ kind: 'calculation', id, parent, state, createdAt, body: { n: createdAt } });
      await add('c1', 's1', 'COMPLETED', 10);
      await add('c2', 's1', 'FAILED', 20);
      await add('c3', 's1', 'COMPLETED', 20);
      await add('c4', 's2', 'COMPLETED', 30);
      await add('c5', 's1', 'RUNNING', 40);
      const all = await store.list({ kind: 'calculation', parent: 's1', order: 'newest', limit: 10 });
      assert.deepEqual(all.records.map((r) => r.id), ['c5', 'c3', 'c2', 'c1']);
      assert.equal(all.cursor, undefined);
      const done = await store.list({ kind: 'calculation', parent: 's1', states: ['COMPLETED', 'FAILED'], order: 'newest', limit: 2 });
      assert.deepEqual(done.records.map((r) => r.id), ['c3', 'c2']);
      assert.ok(done.cursor);
      const rest = await store.list({
        kind: 'calculation',
        parent: 's1',
        states: ['COMPLETED', 'FAILED'],
        order: 'newest',
        limit: 2,
        after: done.cursor,
      });
      assert.deepEqual(rest.records.map((r) => r.id), ['c1']);
      assert.equal(rest.cursor, undefined);
      const none = await store.list({ kind: 'calculation', states: [], order: 'newest', limit: 5 });
      assert.deepEqual(none.records, []);
    });

    it('deletes the children of a parent', async () => {
      await store.create({ kind: 'notebook', id: 'n1', parent: 'wg', createdAt: 1, body: { n: 1 } });
      await store.create({ kind: 'notebook', id: 'n2', parent: 'wg', createdAt: 1, body: { n: 1 } });
      await store.create({ kind: 'notebook', id: 'n3', parent: 'other', createdAt: 1, body: { n: 1 } });
      assert.equal(await store.deleteChildren('notebook', 'wg'), 2);
      const left = await store.list({ kind: 'notebook', order: 'id', limit: 10 });
      assert.deepEqual(left.records.map((r) => r.id), ['n3']);
    });

    it('remembers the first response for an idempotency token', async () => {
      const first = { requestDigest: 'd1', response: '{"SessionId":"x"}' };
      assert.equal(await store.rememberIdempotent('StartSession', 'tok', first), undefined);
      assert.deepEqual(await store.rememberIdempotent('StartSession', 'tok', { requestDigest: 'd2', response: '{}' }), first);
      assert.deepEqual(await store.recallIdempotent('StartSession', 'tok'), first);
      assert.equal(await store.recallIdempotent('StartCalculationExecution', 'tok'), undefined, 'tokens are per operation');
    });

    it('forgets the idempotency tokens remembered before a time', async () => {
      await store.rememberIdempotent('StartSession', 'kept', { requestDigest: 'd', response: '{}' });
      assert.equal(await store.forgetIdempotentBefore(0), 0);
      assert.ok(await store.recallIdempotent('StartSession', 'kept'));
      assert.equal(await store.forgetIdempotentBefore(Date.now() + 60_000), 1);
      assert.equal(await store.recallIdempotent('StartSession', 'kept'), undefined);
    });

    it('keeps concurrent creates of one id to exactly one winner', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.create({ kind: 'session', id: 'race', createdAt: i, body: { n: i } })),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof RecordExistsError));
    });

    const { corrupt, corruptReports, reopen } = backend;
    it('skips a corrupt record in lists and reports it; get says which record', { skip: corrupt ? false : 'the backend cannot write a corrupt row' }, async () => {
      await store.create({ kind: 'workgroup', id: 'good1', createdAt: 1, body: { n: 1 } });
      await store.create({ kind: 'workgroup', id: 'bad', createdAt: 1, body: { n: 2 } });
      await store.create({ kind: 'workgroup', id: 'good2', createdAt: 1, body: { n: 3 } });
      store = await corrupt!(store, 'workgroup', 'bad');
      const page = await store.list({ kind: 'workgroup', order: 'id', limit: 10 });
      assert.deepEqual(page.records.map((r: StoredRecord) => r.id), ['good1', 'good2']);
      assert.deepEqual(corruptReports?.().map((e) => e.id), ['bad']);
      await assert.rejects(store.get('workgroup', 'bad'), (error: unknown) => error instanceof CorruptRecordError && error.id === 'bad');
    });

    it('keeps every record across a reopen', { skip: reopen ? false : 'the backend has no storage to reopen' }, async () => {
      await store.create({ kind: 'session', id: 's', parent: 'wg', state: 'IDLE', createdAt: 5, body: { n: 1 } });
      await store.update('session', 's', 1, { body: { n: 2 } });
      await store.rememberIdempotent('StartSession', 't', { requestDigest: 'd', response: 'r' });
      store = await reopen!(store);
      assert.deepEqual(await store.get('session', 's'), {
        kind: 'session',
        id: 's',
        parent: 'wg',
        state: 'IDLE',
        createdAt: 5,
        version: 2,
        body: { n: 2 },
      });
      assert.deepEqual(await store.recallIdempotent('StartSession', 't'), { requestDigest: 'd', response: 'r' });
    });

    afterEach(async () => {
      await store.close();
    });
  });
}
