// StoreLocks: locks held in the store, so that server nodes sharing it take turns. Two StoreLocks on one store
// stand for two nodes.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SqliteStateStore } from '../src/store/sqlite-state-store.js';
import { StoreLocks } from '../src/store/store-locks.js';

describe('StoreLocks', () => {
  const store = new SqliteStateStore({ path: ':memory:' });
  after(() => store.close());

  it('lets one holder at a time run, across instances on one store', async () => {
    const nodes = [new StoreLocks(store), new StoreLocks(store)];
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        nodes[i % 2]!.run('names/wg', async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 3));
          order.push(i);
          inside--;
        }),
      ),
    );
    assert.equal(most, 1);
    assert.equal(order.length, 12);
    assert.equal(await store.get('lock', 'names/wg'), undefined, 'released');
  });

  it('releases the lock when the work fails', async () => {
    const locks = new StoreLocks(store);
    await assert.rejects(locks.run('k', async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await locks.run('k', async () => 'again'), 'again');
  });

  it('takes over a lock whose holder died, once its lease is over', async () => {
    let clock = 1_000_000;
    await store.create({ kind: 'lock', id: 'left', createdAt: clock, body: { Holder: 'a dead node', ExpiresAt: clock + 30_000 } });
    const locks = new StoreLocks(store, { now: () => clock, waitMs: 60_000 });
    let ran = false;
    const waiting = locks.run('left', async () => {
      ran = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(ran, false, 'the lease still holds');
    clock += 31_000;
    await waiting;
    assert.equal(ran, true);
  });

  it('gives up after waiting too long', async () => {
    const now = Date.now();
    await store.create({ kind: 'lock', id: 'busy', createdAt: now, body: { Holder: 'another node', ExpiresAt: now + 60_000 } });
    const locks = new StoreLocks(store, { waitMs: 100 });
    await assert.rejects(locks.run('busy', async () => undefined), /the lock busy stayed taken for 0.1 seconds/);
  });
});
