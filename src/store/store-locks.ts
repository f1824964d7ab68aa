// Locks that hold across server nodes sharing a store: a lock is a record (kind `lock`, id the lock's key)
// that one holder creates and deletes; the store's create-if-absent makes exactly one holder win. A holder
// that dies leaves its record behind, so a lock expires after a lease far longer than any work done under it,
// and may then be taken over. Within one node the waiters queue in process first, so that only one of them
// polls the store.
import { randomUUID } from 'node:crypto';
import { KeyedQueue } from './keyed-queue.js';
import { RecordExistsError, type StateStore, VersionConflictError } from './state-store.js';

interface LockRecord {
  Holder: string;
  ExpiresAt: number;
}

export interface StoreLocksOptions {
  now?: () => number;
  /** How long a lock holds without being released. */
  leaseMs?: number;
  /** How long a request waits for a lock before it fails. */
  waitMs?: number;
}

const POLL_MS = 10;

export class StoreLocks {
  private readonly local = new KeyedQueue();
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly waitMs: number;

  constructor(
    private readonly store: StateStore,
    options: StoreLocksOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.waitMs = options.waitMs ?? 10_000;
  }

  /** Runs `work` holding the lock `key`, on this node and on every node sharing the store. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.local.run(key, async () => {
      const holder = await this.acquire(key);
      try {
        return await work();
      } finally {
        await this.release(key, holder);
      }
    });
  }

  private async acquire(key: string): Promise<string> {
    const holder = randomUUID();
    const giveUpAt = this.now() + this.waitMs;
    for (;;) {
      const now = this.now();
      try {
        await this.store.create<LockRecord>({ kind: 'lock', id: key, createdAt: now, body: { Holder: holder, ExpiresAt: now + this.leaseMs } });
        return holder;
      } catch (error) {
        if (!(error instanceof RecordExistsError)) throw error;
      }
      const held = await this.store.get<LockRecord>('lock', key);
      if (held && held.body.ExpiresAt < now) {
        // Its holder died holding it; whoever deletes this version first takes it over.
        await this.store.delete('lock', key, held.version).catch((error: unknown) => {
          if (!(error instanceof VersionConflictError)) throw error;
        });
        continue;
      }
      if (now > giveUpAt) throw new Error(`the lock ${key} stayed taken for ${this.waitMs / 1000} seconds`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS + Math.random() * POLL_MS));
    }
  }

  private async release(key: string, holder: string): Promise<void> {
    const held = await this.store.get<LockRecord>('lock', key);
    if (held?.body.Holder !== holder) return; // Expired and taken over: not this holder's to delete.
    await this.store.delete('lock', key, held.version).catch((error: unknown) => {
      if (!(error instanceof VersionConflictError)) throw error;
    });
  }
}
