// The warm pool: runners started ahead of time, Spark already up in them, handed to StartSession so that a
// session is IDLE at once instead of after a JVM start. Pooled runners hold DPUs like sessions do, so the pool
// never takes capacity a session needs: it grows only into free capacity, and StartSession evicts a pooled
// runner that is still starting rather than refuse a session. After a long time without demand the pool
// empties itself; the next StartSession (cold then) fills it again.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { EngineAdapter, Runner, RunnerEvent } from '../engine/engine.js';
import type { SparkLaunch } from '../engine/spark-profile.js';

export interface WarmPoolOptions {
  engine: EngineAdapter;
  log: Logger;
  now: () => number;
  /** Where pooled runners get their directories (`pool-<id>`). */
  sessionsDir: string;
  /** The master, driver heap and Spark properties every pooled runner starts with. */
  launch: SparkLaunch;
  /** How many ready runners to keep. 0 turns the pool off. */
  size: number;
  /** Empty the pool after this long without a StartSession. */
  shrinkAfterMs: number;
  /** Whether one more runner fits in the server's DPU capacity, counting the pool's own runners. */
  hasRoom: () => Promise<boolean>;
}

interface Entry {
  runner?: Runner;
  ready: boolean;
  /** Set when the entry was evicted or lost while its runner was still starting. */
  dropped: boolean;
}

/** After a pooled runner fails to start, wait this long before trying again, rather than loop on a broken setup. */
const RETRY_AFTER_FAILURE_MS = 30_000;

export class WarmPool {
  private readonly entries = new Set<Entry>();
  private lastDemand: number;
  private filling: Promise<void> | undefined;
  private refillRequested = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly shrinkTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly o: WarmPoolOptions) {
    this.lastDemand = o.now();
    if (o.size > 0) {
      this.shrinkTimer = setInterval(() => this.shrinkIfUnused(), Math.min(60_000, Math.max(100, o.shrinkAfterMs / 10)));
      this.shrinkTimer.unref();
    }
  }

  /** Runners in the pool, ready or starting: the DPUs the pool holds. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * A ready runner for a new session, or undefined when none is ready. Its events go nowhere until the
   * caller gives it a listener. The caller refills the pool once the session holds its DPU, so that the pool
   * does not count the session's DPU as free.
   */
  take(): Runner | undefined {
    this.lastDemand = this.o.now();
    let taken: Runner | undefined;
    for (const entry of this.entries) {
      if (entry.ready && entry.runner) {
        this.entries.delete(entry);
        taken = entry.runner;
        taken.setListener(() => {});
        break;
      }
    }
    return taken;
  }

  /** Gives back one DPU held by a runner still starting, for a session that needs it now. Returns whether it did. */
  evictStarting(): boolean {
    for (const entry of this.entries) {
      if (!entry.ready) {
        this.drop(entry, 'evicted for a session');
        return true;
      }
    }
    return false;
  }

  /** Starts runners until the pool is full or the server's capacity is. */
  refill(): void {
    if (this.disposed || this.o.size === 0 || this.retryTimer) return;
    if (this.filling) {
      // The fill under way may already have decided it was done; look again when it ends.
      this.refillRequested = true;
      return;
    }
    // Cleared when the promise settles, not inside the fill: a fill with nothing to do ends synchronously,
    // and would clear the field before it was set.
    this.filling = this.fill()
      .catch((error: unknown) => this.o.log.error({ err: error }, 'could not fill the warm pool'))
      .finally(() => {
        this.filling = undefined;
        if (this.refillRequested) {
          this.refillRequested = false;
          this.refill();
        }
      });
  }

  private async fill(): Promise<void> {
    while (!this.disposed && this.entries.size < this.o.size && (await this.o.hasRoom())) {
      await this.startOne();
    }
  }

  private async startOne(): Promise<void> {
    const entry: Entry = { ready: false, dropped: false };
    this.entries.add(entry);
    try {
      entry.runner = await this.o.engine.launch(
        { sessionDir: join(this.o.sessionsDir, `pool-${randomUUID()}`), ...this.o.launch },
        (event) => this.onEvent(entry, event),
      );
      if (entry.dropped) entry.runner.kill();
    } catch (error) {
      this.entries.delete(entry);
      this.o.log.warn({ err: error }, 'a pooled runner could not start');
      this.backOff();
    }
  }

  private onEvent(entry: Entry, event: RunnerEvent): void {
    switch (event.type) {
      case 'ready':
        entry.ready = true;
        this.o.log.info({ pid: entry.runner?.pid }, 'pooled runner ready');
        return;
      case 'failed':
      case 'lost':
        this.o.log.warn({ pid: entry.runner?.pid, reason: event.reason }, 'a pooled runner failed');
        this.drop(entry, event.reason);
        this.backOff();
        return;
      default:
        return;
    }
  }

  private drop(entry: Entry, why: string): void {
    if (!this.entries.delete(entry)) return;
    entry.dropped = true;
    this.o.log.info({ pid: entry.runner?.pid, why }, 'pooled runner stopped');
    entry.runner?.kill();
  }

  private backOff(): void {
    if (this.disposed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.refill();
    }, RETRY_AFTER_FAILURE_MS);
    this.retryTimer.unref();
  }

  private shrinkIfUnused(): void {
    if (this.entries.size === 0 || this.o.now() - this.lastDemand < this.o.shrinkAfterMs) return;
    this.o.log.info({ runners: this.entries.size }, 'emptying the warm pool after a long time without sessions');
    for (const entry of [...this.entries]) {
      this.entries.delete(entry);
      entry.dropped = true;
      void entry.runner?.shutdown();
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.shrinkTimer) clearInterval(this.shrinkTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const entries = [...this.entries];
    this.entries.clear();
    await Promise.all(
      entries.map(async (entry) => {
        entry.dropped = true;
        await entry.runner?.shutdown();
      }),
    );
  }
}

/**
 * One warm pool per Spark runtime (src/engine/runtimes.ts): a pooled runner runs one Spark, so a session takes
 * only from the pool of its engine version's runtime. Their runners share the server's DPU capacity.
 */
export class WarmPools {
  private readonly pools = new Map<string, WarmPool>();

  /** `sizes`: the runners to keep ready for each runtime; runtimes not named get no pool. */
  constructor(o: Omit<WarmPoolOptions, 'size' | 'hasRoom'> & { sizes: Record<string, number>; hasRoom: (pools: WarmPools) => Promise<boolean> }) {
    for (const [runtime, size] of Object.entries(o.sizes)) {
      if (size <= 0) continue;
      this.pools.set(runtime, new WarmPool({ ...o, launch: { ...o.launch, runtime }, size, hasRoom: () => o.hasRoom(this) }));
    }
  }

  /** Runners in every pool, ready or starting. */
  get size(): number {
    return [...this.pools.values()].reduce((sum, pool) => sum + pool.size, 0);
  }

  take(runtime: string): Runner | undefined {
    return this.pools.get(runtime)?.take();
  }

  evictStarting(): boolean {
    return [...this.pools.values()].some((pool) => pool.evictStarting());
  }

  refill(): void {
    for (const pool of this.pools.values()) pool.refill();
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.dispose()));
  }
}
