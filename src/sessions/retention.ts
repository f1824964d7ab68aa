// Retention: ended sessions, their calculations and their runners' directories are kept for a configurable
// time after they end, then deleted, so that the store, and with it the server's start and its lists, do not
// grow with history. Idempotency tokens older than the same time are forgotten with them. Calculation result
// files are the user's data in their output location and are left alone, as Athena leaves S3 alone.
import { readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { StateStore } from '../store/state-store.js';
import type { SessionRecord } from './records.js';
import { FINAL_SESSION_STATES } from './states.js';

export interface RetentionOptions {
  store: StateStore;
  log: Logger;
  now: () => number;
  /** How long an ended session is kept after it ended; 0 keeps everything. */
  retentionMs: number;
  /** Where runners keep their directories (`<sessions>/<session id>`, or a pooled runner's, linked from there). */
  sessionsDir: string;
}

export interface Compaction {
  sessions: number;
  calculations: number;
  tokens: number;
}

export class HistoryRetention {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<Compaction> | undefined;

  constructor(private readonly o: RetentionOptions) {}

  /** Sweeps now and then every tenth of the retention time (at most hourly). */
  start(): void {
    if (this.o.retentionMs <= 0) return;
    const every = Math.max(1_000, Math.min(3_600_000, this.o.retentionMs / 10));
    const sweep = (): void => {
      this.sweep().catch((error: unknown) => this.o.log.error({ err: error }, 'could not delete expired history'));
    };
    sweep();
    this.timer = setInterval(sweep, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sweeping?.catch(() => undefined);
  }

  /** Deletes what has been kept longer than the retention time at `now`; one sweep at a time. */
  sweep(now = this.o.now()): Promise<Compaction> {
    this.sweeping ??= this.deleteExpired(now - this.o.retentionMs).finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async deleteExpired(cutoff: number): Promise<Compaction> {
    const done: Compaction = { sessions: 0, calculations: 0, tokens: 0 };
    const expired: { id: string; version: number; runnerDir?: string }[] = [];
    let after: string | undefined;
    do {
      const page = await this.o.store.list<SessionRecord>({ kind: 'session', states: FINAL_SESSION_STATES, order: 'newest', limit: 500, ...(after ? { after } : {}) });
      for (const { id, version, body, createdAt } of page.records) {
        // A session ends after it starts: one created since the cutoff cannot have ended before it.
        if (createdAt >= cutoff) continue;
        const ended = body.Status.EndDateTime ?? body.Status.LastModifiedDateTime;
        if (ended < cutoff) expired.push({ id, version, ...(body.Runner ? { runnerDir: body.Runner.dir } : {}) });
      }
      after = page.cursor;
    } while (after);
    for (const session of expired) {
      // Calculations first: a sweep cut short leaves the session to be found again by the next one.
      done.calculations += await this.o.store.deleteChildren('calculation', session.id);
      await this.removeRunnerDirectory(session.id, session.runnerDir);
      try {
        if (await this.o.store.delete('session', session.id, session.version)) done.sessions++;
      } catch (error) {
        this.o.log.warn({ err: error, sessionId: session.id }, 'an expired session changed while it was being deleted');
      }
    }
    done.tokens = await this.o.store.forgetIdempotentBefore(cutoff);
    if (done.sessions + done.calculations + done.tokens > 0) this.o.log.info({ ...done }, 'deleted expired history');
    return done;
  }

  private async removeRunnerDirectory(sessionId: string, runnerDir: string | undefined): Promise<void> {
    const link = join(this.o.sessionsDir, sessionId);
    // A session that took a pooled runner has a link by its own id to the runner's directory.
    const target = await readlink(link).catch(() => undefined);
    for (const path of new Set([link, target, runnerDir])) {
      if (path && (path === link || path.startsWith(`${this.o.sessionsDir}/`))) await rm(path, { recursive: true, force: true });
    }
  }
}
