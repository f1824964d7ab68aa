/**
 * One promise chain per key: work queued for a key starts when the work queued before it has ended, so that a
 * read-check-write on one record (or one name) cannot interleave with another. In-process: enough while one
 * server owns its state (the SQLite store makes sure of that); StoreLocks (store-locks.ts) hold across nodes.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const prior = this.tails.get(key) ?? Promise.resolve();
    const next = prior.then(work, work);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
