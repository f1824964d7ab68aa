// Sessions and their calculations: starting runners, running one calculation at a time, cancelling,
// the idle reaper, and every state change, persisted before it is reported. Changes to one session are
// serialized; the API handlers and the runners' events both come through here.
import { randomUUID } from 'node:crypto';
import { open, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CalculationExecutionState, ExecutorState, ExecutorType, SessionState } from '../generated/athena-model.js';
import type { CalculationOutcome, DriverInfo, EndedIdle, EngineAdapter, Runner, RunnerEvent, SparkConnectServer } from '../engine/engine.js';
import { type SparkLaunch, settingsToHold } from '../engine/spark-profile.js';
import { WarmPools } from './warm-pool.js';
import { DEFAULT_SPARK_RUNTIME } from '../engine/runtimes.js';
import { joinKey, parseS3Uri, type ResultStore, s3Uri } from '../results/result-store.js';
import { KeyedQueue } from '../store/keyed-queue.js';
import type { StateStore, StoredRecord } from '../store/state-store.js';
import {
  CALCULATION_TRANSITIONS,
  checkMove,
  FINAL_CALCULATION_STATES,
  FINAL_SESSION_STATES,
  LIVE_SESSION_STATES,
  SESSION_TRANSITIONS,
} from './states.js';
import {
  type CalculationRecord,
  RESULT_FILE,
  RESULT_TYPE,
  type SessionRecord,
  STDERR_FILE,
  STDOUT_FILE,
} from './records.js';

/** Raised for requests the session's state does not allow; the API layer words it for Athena. */
export class SessionStateError extends Error {}
export class SessionNotFoundError extends Error {
  constructor(readonly sessionId: string) {
    super(`Session ${sessionId} is not found.`);
  }
}
export class CalculationNotFoundError extends Error {
  constructor(readonly calculationId: string) {
    super(`Calculation ${calculationId} is not found.`);
  }
}
export class CapacityError extends Error {}
/** The session's runner is on another server node: the request belongs there. */
export class SessionOnAnotherNodeError extends Error {
  constructor(
    readonly sessionId: string,
    readonly node: string,
    /** Where that node serves the API; undefined when it is unknown or found dead. */
    readonly endpoint: string | undefined,
  ) {
    super(`Session ${sessionId} runs on the Owlet server node ${node}, which cannot be reached now.`);
  }
}

/** Athena's StateChangeReason after TerminateSession or an idle timeout (UG troubleshooting-sessions). */
export const TERMINATED_PER_REQUEST = 'Session was terminated per request.';
/** The model's example reason for a calculation stopped by its session's end. */
export const CANCELED_BY_TERMINATION = 'canceled because the session was terminated';

export interface SessionManagerOptions {
  store: StateStore;
  engine: EngineAdapter;
  results: ResultStore;
  log: Logger;
  now: () => number;
  /** Where each session's runner keeps its socket, secret, pid and log. */
  sessionsDir: string;
  /** What runners started for the warm pool run with: the server's master, Athena's default sizes. */
  pooledLaunch: SparkLaunch;
  /** DPUs this server can hand out; a StartSession beyond it gets TooManyRequestsException. */
  dpuCapacity: number;
  /** How long a cancelled calculation may take to stop before its runner is killed. */
  cancelDeadlineMs: number;
  /** How often the idle reaper looks. */
  reaperIntervalMs: number;
  /** How long a minute of a session's idle timeout lasts (60,000 but in tests). */
  idleMinuteMs: number;
  /** Ready runners kept for new sessions of the default engine (0: every session starts its own). */
  warmPoolSize: number;
  /** Ready runners kept for other Spark runtimes, by runtime id (src/engine/runtimes.ts); none by default. */
  warmPoolSizes?: Record<string, number>;
  /** The pool empties itself after this long without a StartSession. */
  warmPoolShrinkAfterMs: number;
  /** This server node's id; sessions it starts are its own, and it runs only those. */
  nodeId: string;
  /** Where another node serves the API, for requests about that node's sessions. */
  nodeEndpoint?: (nodeId: string) => Promise<string | undefined>;
  /**
   * The Hadoop settings by which a session's S3A reaches the data plane's store, with a key pair of the
   * session's own where the store is Owlet's (src/engine/s3a.ts); called as the session gets its runner.
   */
  s3Settings?: (sessionId: string) => Promise<Record<string, string>>;
}

export interface StartSessionRequest {
  workGroup: string;
  engineVersion: string;
  outputLocation: string;
  description?: string;
  engineConfiguration: SessionRecord['EngineConfiguration'];
  notebookVersion?: string;
  notebookId?: string;
  idleTimeoutMinutes: number;
  executionRole?: string;
  monitoringConfiguration?: SessionRecord['MonitoringConfiguration'];
  tags?: SessionRecord['Tags'];
  /** The session's master and its sizes as Spark settings (src/engine/spark-profile.ts). */
  spark: SparkLaunch;
}

/** An executor of a session, in Athena's terms (ListExecutors). Times are milliseconds since the epoch. */
export interface SessionExecutor {
  id: string;
  type: Extract<ExecutorType, 'COORDINATOR' | 'WORKER'>;
  state: ExecutorState;
  startedAt?: number;
  endedAt?: number;
}

/** A session's Spark Connect calls: how many are under way, and when the last one started or ended. */
export interface ConnectActivity {
  calls: number;
  lastAt: number;
}

/** Spark's id for its driver, the session's coordinator. */
const DRIVER_ID = 'driver';

/** Keeps what the session record needs of its driver: the live UI's address and the coordinator. */
function recordDriver(session: SessionRecord, driver: DriverInfo | undefined): void {
  if (!driver) return;
  if (driver.sparkUi) session.SparkUi = driver.sparkUi;
  // The coordinator joined the session when its driver started, or, for a pooled runner's driver that
  // started before the session existed, when the session did.
  session.Coordinator ??= { ExecutorId: DRIVER_ID, StartDateTime: Math.max(driver.startedAt ?? 0, session.Status.StartDateTime) };
}

function progressText(done: number, total: number): string {
  if (total === 0) return '100%';
  return `${Math.floor((done * 100) / total)}% (${done}/${total} tasks)`;
}

export class SessionManager {
  private readonly runners = new Map<string, Runner>();
  private readonly queue = new KeyedQueue();
  private readonly cancelTimers = new Map<string, NodeJS.Timeout>();
  /** Terminations under way: their runners stopping, then the session recorded TERMINATED. */
  private readonly ending = new Set<Promise<void>>();
  private reaper: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly pool: WarmPools;
  /** The Spark Connect calls of a session (under way, and when the last one ran), for the idle reaper. */
  private connectActivity: ((sessionId: string) => ConnectActivity | undefined) | undefined;

  constructor(private readonly o: SessionManagerOptions) {
    const defaultRuntime = o.pooledLaunch.runtime ?? DEFAULT_SPARK_RUNTIME.id;
    this.pool = new WarmPools({
      engine: o.engine,
      log: o.log,
      now: o.now,
      sessionsDir: o.sessionsDir,
      launch: o.pooledLaunch,
      sizes: { ...o.warmPoolSizes, [defaultRuntime]: o.warmPoolSize },
      shrinkAfterMs: o.warmPoolShrinkAfterMs,
      hasRoom: async (pools) => (await this.usedDpus()) + pools.size + 1 <= o.dpuCapacity,
    });
  }

  // --- lifecycle of the manager ------------------------------------------------------------------------

  /** Tells the idle reaper where to learn of sessions used through Spark Connect rather than calculations. */
  useConnectActivity(source: (sessionId: string) => ConnectActivity | undefined): void {
    this.connectActivity = source;
  }

  /** Takes back the sessions a previous server process left, and starts the idle reaper and the pool. */
  async start(): Promise<void> {
    for (const state of LIVE_SESSION_STATES) {
      let after: string | undefined;
      do {
        const page = await this.o.store.list<SessionRecord>({ kind: 'session', states: [state], order: 'newest', limit: 100, ...(after ? { after } : {}) });
        for (const record of page.records) if (this.isOwn(record.body)) await this.recover(record.body);
        after = page.cursor;
      } while (after);
    }
    await this.reclaimOrphanedRunners();
    this.pool.refill();
    this.reaper = setInterval(() => {
      this.reapIdleSessions().catch((error: unknown) => this.o.log.error({ err: error }, 'idle reaper failed'));
    }, this.o.reaperIntervalMs);
    this.reaper.unref();
  }

  /**
   * A session the store calls live, found at start: its runner outlives a server that was killed, so it is
   * re-attached, and a calculation it finished meanwhile lands as if nothing happened. What cannot be
   * reached fails with the reason; a session that was being terminated ends terminated.
   */
  private async recover(session: SessionRecord): Promise<void> {
    const id = session.SessionId;
    const recorded = session.Runner ?? (await this.runnerFromItsDirectory(id));
    if (session.Status.State === 'TERMINATING') {
      if (recorded) await this.o.engine.reclaim(recorded.pid, recorded.dir);
      await this.changeSession(id, () => 'TERMINATED');
      return;
    }
    if (recorded) {
      let running: { id: string; dir: string } | undefined;
      const current = session.CurrentCalculation ? await this.o.store.get<CalculationRecord>('calculation', session.CurrentCalculation) : undefined;
      if (current) {
        try {
          running = { id: current.id, dir: await this.o.results.stagingDirectory(parseS3Uri(current.body.WorkingDirectory), current.id) };
        } catch (error) {
          // Without its folder, an outcome the runner recorded meanwhile cannot be read back: rather than a
          // calculation left RUNNING for good, the session ends with the reason.
          await this.o.engine.reclaim(recorded.pid, recorded.dir);
          const why = error instanceof Error ? error.message : String(error);
          await this.failSession(id, `The Owlet server restarted and could not read the running calculation's results folder: ${why}`);
          return;
        }
      }
      const runner = await this.o.engine.reattach(recorded.pid, recorded.dir, (event) => this.onRunnerEvent(id, event), running);
      if (runner) {
        this.runners.set(id, runner);
        this.o.log.info({ sessionId: id, pid: runner.pid }, 're-attached the runner of a session');
        // A cancel asked of the previous server still holds, with its deadline.
        if (current?.body.Status.State === 'CANCELING') {
          await runner.cancel(current.id).catch((error: unknown) => this.o.log.warn({ err: error, sessionId: id }, 'could not repeat a cancel'));
          this.armCancelDeadline(id, current.id, current.body.CancelDeadline ?? this.o.now());
        }
        return;
      }
      await this.o.engine.reclaim(recorded.pid, recorded.dir);
      const ended = await this.o.engine.endedIdle(recorded.dir, running);
      if (ended) {
        await this.recordEndedIdle(session, ended);
        return;
      }
    }
    await this.failSession(id, 'The Owlet server restarted and could not reach the session.');
  }

  /**
   * A session whose runner ended itself while no server was attached, its idle timeout passed: what the idle
   * reaper would have done. The calculation it last ran lands, and the session is TERMINATED, with the
   * reaper's reason, at the time the runner ended.
   */
  private async recordEndedIdle(session: SessionRecord, ended: EndedIdle): Promise<void> {
    const id = session.SessionId;
    this.o.log.info({ sessionId: id, endedAt: ended.endedAt }, 'the runner ended itself for the idle timeout while no server was attached');
    await this.queue.run(id, async () => {
      if (ended.outcome && session.CurrentCalculation === ended.outcome.id) {
        const done = await this.endCalculation(ended.outcome.id, ended.outcome);
        await this.changeSessionNow(id, (s) => {
          delete s.CurrentCalculation;
          s.DpuExecutionInMillis += done?.DpuExecutionInMillis ?? 0;
        });
      }
      const current = (await this.getSession(id)).body;
      await this.endSessionNow(current, 'TERMINATING', TERMINATED_PER_REQUEST, () => ({ state: 'CANCELED', reason: CANCELED_BY_TERMINATION }));
      await this.changeSessionNow(id, () => 'TERMINATED');
      await this.changeSessionNow(id, (s) => {
        s.Status.EndDateTime = ended.endedAt;
      });
    });
  }

  /**
   * The runner whose pid file is in `<sessions>/<id>` (a session's, or a pooled runner's): for a session that
   * was starting when the server stopped, before the store recorded its runner, and for runners to reclaim.
   */
  private async runnerFromItsDirectory(id: string): Promise<{ pid: number; dir: string } | undefined> {
    const dir = join(this.o.sessionsDir, id);
    try {
      const pid = Number((await readFile(join(dir, 'runner.pid'), 'utf8')).trim());
      return Number.isInteger(pid) && pid > 0 ? { pid, dir } : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Stops runners a previous server process left behind that no live session of this node owns: pooled
   * runners, and those of sessions another node ended while this one was away.
   */
  private async reclaimOrphanedRunners(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.o.sessionsDir);
    } catch {
      return;
    }
    for (const name of names) {
      if (this.runners.has(name)) continue;
      if (!name.startsWith('pool-')) {
        const session = await this.o.store.get<SessionRecord>('session', name).catch(() => undefined);
        if (session && LIVE_SESSION_STATES.includes(session.body.Status.State) && this.isOwn(session.body)) continue;
      }
      // No pid file: the runner never started, or its directory is gone.
      const left = await this.runnerFromItsDirectory(name);
      if (left) await this.o.engine.reclaim(left.pid, left.dir);
    }
  }

  /** Whether this node runs the session (sessions recorded before nodes existed are the only node's). */
  private isOwn(session: SessionRecord): boolean {
    return (session.Node ?? this.o.nodeId) === this.o.nodeId;
  }

  /** Throws SessionOnAnotherNodeError for a live session another node runs: its runner is there. */
  private async requireHere(session: SessionRecord): Promise<void> {
    if (this.isOwn(session) || !LIVE_SESSION_STATES.includes(session.Status.State)) return;
    const node = session.Node!;
    throw new SessionOnAnotherNodeError(session.SessionId, node, await this.o.nodeEndpoint?.(node));
  }

  /** Kills the runners this node holds for sessions that have ended (another node ended them). */
  async stopRunnersOfEndedSessions(): Promise<void> {
    for (const [id, runner] of [...this.runners]) {
      const session = await this.o.store.get<SessionRecord>('session', id).catch(() => undefined);
      if (session && LIVE_SESSION_STATES.includes(session.body.Status.State)) continue;
      this.o.log.warn({ sessionId: id, pid: runner.pid }, 'stopping the runner of a session another node ended');
      this.runners.delete(id);
      runner.kill();
    }
  }

  /** Ends the live sessions of a node found dead: their runners cannot be reached through it any more. */
  async failSessionsOfNode(nodeId: string, reason: string): Promise<void> {
    const ids: string[] = [];
    let after: string | undefined;
    do {
      const page = await this.o.store.list<SessionRecord>({ kind: 'session', states: LIVE_SESSION_STATES, order: 'newest', limit: 100, ...(after ? { after } : {}) });
      for (const { body } of page.records) if (body.Node === nodeId) ids.push(body.SessionId);
      after = page.cursor;
    } while (after);
    for (const id of ids) {
      await this.failSession(id, reason).catch((error: unknown) => this.o.log.error({ err: error, sessionId: id }, 'could not fail a session of a dead node'));
    }
  }

  /**
   * The server is stopping. By default its sessions' runners are left running, with whatever calculation
   * they run, for the next server on this data directory to re-attach; `terminateSessions` ends them instead.
   * Pooled runners belong to no session and are stopped either way.
   */
  async dispose(options: { terminateSessions?: boolean } = {}): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.reaper) clearInterval(this.reaper);
    // A cancel's deadline is kept in the calculation's record; the next server arms it again.
    for (const timer of this.cancelTimers.values()) clearTimeout(timer);
    await this.pool.dispose();
    if (options.terminateSessions) {
      await Promise.all(
        [...this.runners.keys()].map((id) =>
          this.terminate(id, 'Session was terminated because the Owlet server stopped.').catch((error: unknown) =>
            this.o.log.error({ err: error, sessionId: id }, 'could not terminate session at shutdown'),
          ),
        ),
      );
      await Promise.all([...this.ending]);
    } else {
      // Changes under way (a calculation being recorded) finish before the runners are let go.
      await Promise.all([...this.runners.keys()].map((id) => this.queue.run(id, async () => undefined)));
      for (const [id, runner] of this.runners) {
        runner.detach();
        this.o.log.info({ sessionId: id, pid: runner.pid }, 'left the session runner running');
      }
      this.runners.clear();
    }
    await this.o.engine.dispose();
  }

  // --- reads -------------------------------------------------------------------------------------------

  async getSession(id: string): Promise<StoredRecord<SessionRecord>> {
    const record = await this.o.store.get<SessionRecord>('session', id);
    if (!record) throw new SessionNotFoundError(id);
    return record;
  }

  async getCalculation(id: string): Promise<StoredRecord<CalculationRecord>> {
    const record = await this.o.store.get<CalculationRecord>('calculation', id);
    if (!record) throw new CalculationNotFoundError(id);
    return record;
  }

  // --- sessions ------------------------------------------------------------------------------------------

  private async usedDpus(): Promise<number> {
    let used = 0;
    let after: string | undefined;
    do {
      const page = await this.o.store.list<SessionRecord>({ kind: 'session', states: LIVE_SESSION_STATES, order: 'newest', limit: 100, ...(after ? { after } : {}) });
      for (const r of page.records) if (this.isOwn(r.body)) used += r.body.Dpus;
      after = page.cursor;
    } while (after);
    return used;
  }

  async startSession(request: StartSessionRequest): Promise<StoredRecord<SessionRecord>> {
    const id = randomUUID();
    const now = this.o.now();
    // In local mode the coordinator runs the executors' work too: a session holds one DPU.
    const dpus = request.engineConfiguration.CoordinatorDpuSize ?? 1;
    return this.queue.run('admission', async () => {
      // A pooled runner runs one Spark: the session takes from its own engine version's pool.
      const pooled = this.pool.take(request.spark.runtime ?? DEFAULT_SPARK_RUNTIME.id);
      // A pooled runner's DPU becomes the session's; otherwise the session needs room of its own, and a
      // pooled runner still starting gives its room up rather than have the session refused.
      if (!pooled) {
        const used = await this.usedDpus();
        while (used + this.pool.size + dpus > this.o.dpuCapacity && this.pool.evictStarting());
        if (used + this.pool.size + dpus > this.o.dpuCapacity) {
          throw new CapacityError(
            `This Owlet server has no capacity for another session: ${used} of its ${this.o.dpuCapacity} DPUs are in use. Terminate a session, or raise the capacity.`,
          );
        }
      }
      const body: SessionRecord = {
        SessionId: id,
        WorkGroup: request.workGroup,
        Description: request.description,
        EngineVersion: request.engineVersion,
        EngineConfiguration: request.engineConfiguration,
        NotebookVersion: request.notebookVersion,
        NotebookId: request.notebookId,
        MonitoringConfiguration: request.monitoringConfiguration,
        Tags: request.tags,
        ExecutionRole: request.executionRole,
        WorkingDirectory: `${request.outputLocation.replace(/\/?$/, '/')}${id}/`,
        IdleTimeoutMinutes: request.idleTimeoutMinutes,
        Dpus: dpus,
        Node: this.o.nodeId,
        Status: { State: 'CREATING', StartDateTime: now, LastModifiedDateTime: now },
        DpuExecutionInMillis: 0,
      };
      let record = await this.o.store.create<SessionRecord>({
        kind: 'session',
        id,
        parent: request.workGroup,
        state: 'CREATING',
        createdAt: now,
        body,
      });
      if (pooled && (await this.adopt(record.body, pooled, request.spark))) {
        record = await this.getSession(id);
        this.pool.refill();
      } else {
        void this.launch(record.body, request.spark).catch((error: unknown) => {
          this.o.log.error({ err: error, sessionId: id }, 'could not start the session runner');
          return this.failSession(id, `The session could not start: ${error instanceof Error ? error.message : String(error)}`);
        });
        this.pool.refill();
      }
      return record;
    });
  }

  /**
   * Makes a pooled runner the session's: its Spark properties applied, IDLE at once. Returns false (and stops
   * the runner) when a property, the master or the driver heap needs a fresh JVM, so that the session starts cold.
   */
  private async adopt(session: SessionRecord, runner: Runner, spark: SparkLaunch): Promise<boolean> {
    const id = session.SessionId;
    try {
      // A pooled runner started before it had a session, so it has no S3 key pair yet: it gets the session's in
      // its driver's Hadoop configuration, which its S3A file systems read when they start.
      const hadoopSettings = (await this.o.s3Settings?.(id)) ?? {};
      const result = await runner.configure(id, settingsToHold(spark), { workGroup: session.WorkGroup, idleTimeoutMs: this.idleTimeoutMs(session), hadoopSettings });
      if (result.refused.length > 0) {
        this.o.log.info({ sessionId: id, refused: result.refused.map((r) => r.key) }, 'settings need a fresh JVM: starting cold');
        void runner.shutdown();
        return false;
      }
    } catch (error) {
      this.o.log.warn({ err: error, sessionId: id }, 'a pooled runner could not be configured: starting cold');
      runner.kill();
      return false;
    }
    this.runners.set(id, runner);
    runner.setListener((event) => this.onRunnerEvent(id, event));
    // The session's own directory name leads to the runner's, for whoever looks for its log.
    await symlink(runner.dir, join(this.o.sessionsDir, id)).catch(() => undefined);
    await this.changeSession(id, (s) => {
      s.Runner = { pid: runner.pid, dir: runner.dir };
      recordDriver(s, runner.driver);
      return 'IDLE';
    });
    return true;
  }

  /** How long the session may stay idle, as the reaper counts it and as its runner counts it alone. */
  private idleTimeoutMs(session: SessionRecord): number {
    return session.IdleTimeoutMinutes * this.o.idleMinuteMs;
  }

  private async launch(session: SessionRecord, spark: SparkLaunch): Promise<void> {
    const dir = join(this.o.sessionsDir, session.SessionId);
    const hadoopSettings = (await this.o.s3Settings?.(session.SessionId)) ?? {};
    const runner = await this.o.engine.launch(
      {
        sessionId: session.SessionId,
        sessionDir: dir,
        ...spark,
        hadoopSettings,
        workGroup: session.WorkGroup,
        idleTimeoutMs: this.idleTimeoutMs(session),
      },
      (event) => this.onRunnerEvent(session.SessionId, event),
    );
    this.runners.set(session.SessionId, runner);
    await this.changeSession(session.SessionId, (s) => {
      s.Runner = { pid: runner.pid, dir };
    });
  }

  /** Applies `change` to the stored session under the session's lock; returns the new record. */
  private changeSession(
    id: string,
    change: (session: SessionRecord) => SessionState | void,
  ): Promise<StoredRecord<SessionRecord>> {
    return this.queue.run(id, () => this.changeSessionNow(id, change));
  }

  /** Like changeSession, for callers already holding the session's lock. */
  private async changeSessionNow(id: string, change: (session: SessionRecord) => SessionState | void): Promise<StoredRecord<SessionRecord>> {
    const record = await this.getSession(id);
    const body = structuredClone(record.body);
    const from = body.Status.State;
    const to = change(body) ?? from;
    const now = this.o.now();
    if (to !== from) {
      checkMove('session', id, SESSION_TRANSITIONS, from, to);
      body.Status.State = to;
      if (to === 'IDLE') body.Status.IdleSinceDateTime = now;
      else delete body.Status.IdleSinceDateTime;
      if (to === 'TERMINATED' || to === 'FAILED') body.Status.EndDateTime = now;
      this.o.log.info({ sessionId: id, from, to, reason: body.Status.StateChangeReason }, 'session state');
    }
    body.Status.LastModifiedDateTime = now;
    return this.o.store.update('session', id, record.version, { body, state: to });
  }

  private async changeCalculation(
    id: string,
    change: (calculation: CalculationRecord) => CalculationExecutionState | void,
  ): Promise<StoredRecord<CalculationRecord>> {
    const record = await this.getCalculation(id);
    const body = structuredClone(record.body);
    const from = body.Status.State;
    const to = change(body) ?? from;
    if (to !== from) {
      checkMove('calculation', id, CALCULATION_TRANSITIONS, from, to);
      body.Status.State = to;
      this.o.log.info({ calculationId: id, from, to }, 'calculation state');
    }
    return this.o.store.update('calculation', id, record.version, { body, state: to });
  }

  async terminate(id: string, reason = TERMINATED_PER_REQUEST): Promise<SessionState> {
    const runner = await this.queue.run(id, async () => {
      const session = (await this.getSession(id)).body;
      // The model: TerminateSession on an inactive session succeeds and has no effect.
      if (!LIVE_SESSION_STATES.includes(session.Status.State) || session.Status.State === 'TERMINATING') return undefined;
      await this.requireHere(session);
      await this.endSessionNow(session, 'TERMINATING', reason, () => ({ state: 'CANCELED', reason: CANCELED_BY_TERMINATION }));
      return this.runners.get(id) ?? null;
    });
    if (runner === undefined) return (await this.getSession(id)).body.Status.State;
    this.runners.delete(id);
    const ending = (async () => {
      try {
        await runner?.shutdown();
      } catch (error) {
        this.o.log.warn({ err: error, sessionId: id }, 'runner did not shut down cleanly');
      }
      await this.changeSession(id, (s) => (s.Status.State === 'TERMINATING' ? 'TERMINATED' : undefined));
      this.pool.refill();
    })().catch((error: unknown) => this.o.log.error({ err: error, sessionId: id }, 'could not finish terminating'));
    this.ending.add(ending);
    void ending.finally(() => this.ending.delete(ending));
    return 'TERMINATING';
  }

  private async failSession(id: string, reason: string): Promise<void> {
    const runner = this.runners.get(id);
    this.runners.delete(id);
    runner?.kill();
    await this.queue.run(id, async () => {
      const session = (await this.getSession(id)).body;
      if (session.Status.State === 'FAILED' || session.Status.State === 'TERMINATED') return;
      // A calculation being cancelled ends as the cancel asked; any other stops with the session.
      await this.endSessionNow(session, 'FAILED', reason, (calculation) =>
        calculation.Status.State === 'CANCELING'
          ? { state: 'CANCELED', reason }
          : { state: 'FAILED', reason: `The calculation stopped because its session failed: ${reason}` },
      );
    });
    this.pool.refill();
  }

  /**
   * Ends the session's running calculation (in the state `calculationEnd` picks) and moves the session to
   * `to` with `reason`. Callers hold the session's lock.
   */
  private async endSessionNow(
    session: SessionRecord,
    to: 'TERMINATING' | 'FAILED',
    reason: string,
    calculationEnd: (calculation: CalculationRecord) => { state: 'CANCELED' | 'FAILED'; reason: string },
  ): Promise<void> {
    const current = session.CurrentCalculation;
    if (current) {
      const end = calculationEnd((await this.getCalculation(current)).body);
      await this.endCalculation(current, { id: current, ...end, durationMs: 0, progress: { done: 0, total: 0 } });
    }
    await this.changeSessionNow(session.SessionId, (s) => {
      s.Status.StateChangeReason = reason;
      delete s.CurrentCalculation;
      return to;
    });
  }

  /** Terminates IDLE sessions whose idle timeout, counted from the end of their last calculation, has passed. */
  async reapIdleSessions(now = this.o.now()): Promise<string[]> {
    const reaped: string[] = [];
    let after: string | undefined;
    do {
      const page = await this.o.store.list<SessionRecord>({ kind: 'session', states: ['IDLE'], order: 'newest', limit: 100, ...(after ? { after } : {}) });
      for (const { body } of page.records) {
        if (!this.isOwn(body)) continue;
        // A session used through Spark Connect is not idle: not while a call runs, nor until its timeout has
        // passed since the last one ended.
        const connect = this.connectActivity?.(body.SessionId);
        if (connect && connect.calls > 0) continue;
        const since = body.Status.IdleSinceDateTime === undefined ? undefined : Math.max(body.Status.IdleSinceDateTime, connect?.lastAt ?? 0);
        if (since !== undefined && now - since >= this.idleTimeoutMs(body)) {
          await this.terminate(body.SessionId);
          reaped.push(body.SessionId);
        }
      }
      after = page.cursor;
    } while (after);
    return reaped;
  }

  private onRunnerEvent(sessionId: string, event: RunnerEvent): void {
    this.handleRunnerEvent(sessionId, event).catch((error: unknown) =>
      this.o.log.error({ err: error, sessionId, event: event.type }, 'could not apply a runner event'),
    );
  }

  private async handleRunnerEvent(sessionId: string, event: RunnerEvent): Promise<void> {
    switch (event.type) {
      case 'ready':
        await this.changeSession(sessionId, (s) => {
          if (FINAL_SESSION_STATES.includes(s.Status.State)) return undefined;
          recordDriver(s, event.driver);
          return s.Status.State === 'CREATING' || s.Status.State === 'CREATED' ? 'IDLE' : undefined;
        });
        return;
      case 'failed': {
        // Before `ready`, Spark did not come up; after it, the driver ended under a running session.
        const state = (await this.getSession(sessionId)).body.Status.State;
        const starting = state === 'CREATING' || state === 'CREATED';
        await this.failSession(sessionId, starting ? `Spark could not start in the session: ${event.reason}` : event.reason);
        return;
      }
      case 'lost': {
        if (!this.runners.has(sessionId)) return;
        await this.failSession(sessionId, event.reason);
        return;
      }
      case 'started':
        await this.queue.run(sessionId, () => this.changeCalculation(event.id, (c) => (c.Status.State === 'QUEUED' ? 'RUNNING' : undefined)));
        return;
      case 'progress':
        await this.queue.run(sessionId, () =>
          this.changeCalculation(event.id, (c) => {
            if (!FINAL_CALCULATION_STATES.includes(c.Status.State)) c.Progress = progressText(event.progress.done, event.progress.total);
          }),
        );
        return;
      case 'finished':
        await this.queue.run(sessionId, async () => {
          const session = (await this.getSession(sessionId)).body;
          const done = await this.endCalculation(event.outcome.id, event.outcome);
          if (!done || session.CurrentCalculation !== event.outcome.id) return;
          await this.changeSessionNow(sessionId, (s) => {
            delete s.CurrentCalculation;
            s.DpuExecutionInMillis += done.DpuExecutionInMillis ?? 0;
            return s.Status.State === 'BUSY' ? 'IDLE' : undefined;
          });
        });
        return;
    }
  }

  // --- what a session's driver offers besides calculations ---------------------------------------------------

  /**
   * The session's executors, newest first: what its driver's Spark reports while the session runs (in local
   * mode the driver alone, the coordinator, which runs the tasks too), and the coordinator as the record keeps
   * it otherwise.
   */
  async executors(sessionId: string): Promise<SessionExecutor[]> {
    const session = (await this.getSession(sessionId)).body;
    await this.requireHere(session);
    const coordinator = (state: ExecutorState): SessionExecutor => ({
      id: session.Coordinator?.ExecutorId ?? DRIVER_ID,
      type: 'COORDINATOR',
      state,
      startedAt: session.Coordinator?.StartDateTime ?? session.Status.StartDateTime,
      ...(FINAL_SESSION_STATES.includes(session.Status.State) ? { endedAt: session.Status.EndDateTime } : {}),
    });
    let executors: SessionExecutor[];
    switch (session.Status.State) {
      case 'CREATING':
      case 'CREATED':
        executors = [coordinator('CREATING')];
        break;
      case 'TERMINATING':
        executors = [coordinator('TERMINATING')];
        break;
      case 'TERMINATED':
        executors = [coordinator('TERMINATED')];
        break;
      case 'FAILED':
        // A driver that never came up never joined the session: it failed rather than ended.
        executors = [coordinator(session.Coordinator ? 'TERMINATED' : 'FAILED')];
        break;
      default: {
        const runner = this.runners.get(sessionId);
        try {
          if (!runner) throw new Error('the session has no runner');
          executors = (await runner.executors()).map((e) => ({
            id: e.id,
            type: e.isDriver ? 'COORDINATOR' : 'WORKER',
            state: e.active ? 'REGISTERED' : 'TERMINATED',
            // The driver's start as the record keeps it, so that it does not change when the session ends.
            startedAt: e.isDriver ? (session.Coordinator?.StartDateTime ?? Math.max(e.addTime, session.Status.StartDateTime)) : e.addTime,
            ...(e.removeTime === undefined ? {} : { endedAt: e.removeTime }),
          }));
        } catch (error) {
          // The session is live, so its coordinator is there even when Spark cannot be asked about the rest.
          this.o.log.warn({ err: error, sessionId }, 'could not ask the runner for its executors');
          executors = [coordinator('REGISTERED')];
        }
      }
    }
    return executors.sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  /**
   * Where the session's Spark Connect server listens and the token it requires. Throws SessionStateError,
   * with a reason to show, when the session has none to offer now.
   */
  async sparkConnect(sessionId: string): Promise<SparkConnectServer> {
    const session = (await this.getSession(sessionId)).body;
    await this.requireHere(session);
    const state = session.Status.State;
    if (state === 'CREATING' || state === 'CREATED') {
      throw new SessionStateError(`Session ${sessionId} is in the ${state} state; its Spark Connect endpoint is available once it is IDLE.`);
    }
    const runner = this.runners.get(sessionId);
    if (!LIVE_SESSION_STATES.includes(state) || state === 'TERMINATING' || !runner) {
      throw new SessionStateError(`Session ${sessionId} is in the ${state} state; its Spark Connect endpoint ended with it.`);
    }
    const driver = runner.driver;
    if (!driver?.connect) {
      throw new SessionStateError(
        `Session ${sessionId} has no Spark Connect endpoint: ${driver?.connectError ?? 'its driver did not report one'}.`,
      );
    }
    return driver.connect;
  }

  /**
   * The Spark Connect server of a session that has a running driver, without a store read: the proxy asks
   * this for every call a client makes. Undefined once the session is ending or has ended.
   */
  liveSparkConnect(sessionId: string): SparkConnectServer | undefined {
    return this.runners.get(sessionId)?.driver?.connect;
  }

  // --- calculations --------------------------------------------------------------------------------------

  async startCalculation(sessionId: string, code: string, description?: string): Promise<StoredRecord<CalculationRecord>> {
    const id = randomUUID();
    const { record, runner, dir } = await this.queue.run(sessionId, async () => {
      const session = (await this.getSession(sessionId)).body;
      await this.requireHere(session);
      const runner = this.runners.get(sessionId);
      if (session.Status.State !== 'IDLE' || !runner) {
        // dbt-athena matches this exact text (spec/athena-behaviour.md §3.1).
        throw new SessionStateError(`Session is in the ${session.Status.State} state; needs to be IDLE to accept Calculations.`);
      }
      const now = this.o.now();
      const folder = `${session.WorkingDirectory}${id}/`;
      const body: CalculationRecord = {
        CalculationExecutionId: id,
        SessionId: sessionId,
        Description: description,
        CodeBlock: code,
        WorkingDirectory: folder,
        Status: { State: 'QUEUED', SubmissionDateTime: now },
      };
      const dir = await this.o.results.stagingDirectory(parseS3Uri(folder), id);
      const record = await this.o.store.create<CalculationRecord>({
        kind: 'calculation',
        id,
        parent: sessionId,
        state: 'QUEUED',
        createdAt: now,
        body,
      });
      await this.changeSessionNow(sessionId, (s) => {
        s.CurrentCalculation = id;
        return 'BUSY';
      });
      return { record, runner, dir };
    });
    try {
      await runner.execute(id, code, dir);
    } catch (error) {
      await this.failSession(sessionId, `The session's runner could not take the calculation: ${error instanceof Error ? error.message : String(error)}`);
    }
    return record;
  }

  /**
   * Moves a calculation to its final state and publishes its files; returns the final record, or undefined
   * when it had already ended. Callers hold the session's lock.
   */
  private async endCalculation(id: string, outcome: CalculationOutcome): Promise<CalculationRecord | undefined> {
    const current = (await this.getCalculation(id)).body;
    if (FINAL_CALCULATION_STATES.includes(current.Status.State)) return undefined;
    const timer = this.cancelTimers.get(id);
    if (timer) clearTimeout(timer);
    this.cancelTimers.delete(id);
    const folder = parseS3Uri(current.WorkingDirectory);
    const names = [STDOUT_FILE, STDERR_FILE, RESULT_FILE];
    let publishError: string | undefined;
    try {
      const dir = await this.o.results.stagingDirectory(folder, id);
      await ensureFiles(dir, names);
      await this.o.results.publish(dir, folder, names);
    } catch (error) {
      publishError = `The calculation's results could not be written: ${error instanceof Error ? error.message : String(error)}`;
      this.o.log.error({ err: error, calculationId: id }, 'could not publish calculation results');
    }
    const now = this.o.now();
    const record = await this.changeCalculation(id, (c) => {
      c.Status.CompletionDateTime = now;
      const elapsed = Math.max(1, outcome.durationMs || now - c.Status.SubmissionDateTime);
      c.DpuExecutionInMillis = elapsed;
      c.Progress = outcome.state === 'COMPLETED' ? progressText(outcome.progress.total, outcome.progress.total) : progressText(outcome.progress.done, outcome.progress.total);
      c.Result = {
        StdOutS3Uri: s3Uri({ bucket: folder.bucket, key: joinKey(folder.key, STDOUT_FILE) }),
        StdErrorS3Uri: s3Uri({ bucket: folder.bucket, key: joinKey(folder.key, STDERR_FILE) }),
        ResultS3Uri: s3Uri({ bucket: folder.bucket, key: joinKey(folder.key, RESULT_FILE) }),
        ResultType: RESULT_TYPE,
      };
      if (publishError) {
        c.Status.StateChangeReason = publishError;
        return 'FAILED';
      }
      if (outcome.reason) c.Status.StateChangeReason = outcome.reason;
      return outcome.state;
    });
    return record.body;
  }

  /** Kills the session's runner, failing the session, if the calculation is still not stopped at `deadline`. */
  private armCancelDeadline(sessionId: string, calculationId: string, deadline: number): void {
    const timer = setTimeout(() => {
      this.cancelTimers.delete(calculationId);
      void (async () => {
        // The outcome may have landed just before (one a re-attached runner recorded while no server listened).
        if ((await this.getCalculation(calculationId)).body.Status.State !== 'CANCELING') return;
        await this.failSession(
          sessionId,
          `A calculation could not be canceled within ${this.o.cancelDeadlineMs / 1000} seconds, so the session was stopped.`,
        );
      })().catch((error: unknown) => this.o.log.error({ err: error, sessionId }, 'could not fail the session'));
    }, Math.max(0, deadline - this.o.now()));
    timer.unref();
    this.cancelTimers.set(calculationId, timer);
  }

  async stopCalculation(id: string): Promise<CalculationExecutionState> {
    const calculation = (await this.getCalculation(id)).body;
    const sessionId = calculation.SessionId;
    return this.queue.run(sessionId, async () => {
      const current = (await this.getCalculation(id)).body;
      // The model: stopping a calculation that has ended succeeds and has no effect.
      if (FINAL_CALCULATION_STATES.includes(current.Status.State) || current.Status.State === 'CANCELING') return current.Status.State;
      await this.requireHere((await this.getSession(sessionId)).body);
      const deadline = this.o.now() + this.o.cancelDeadlineMs;
      await this.changeCalculation(id, (c) => {
        c.CancelDeadline = deadline;
        return 'CANCELING';
      });
      const runner = this.runners.get(sessionId);
      if (!runner) return 'CANCELING';
      await runner.cancel(id);
      this.armCancelDeadline(sessionId, id, deadline);
      return 'CANCELING';
    });
  }
}

/** Makes sure the three result files exist, so that every Result URI of a finished calculation can be read. */
async function ensureFiles(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const handle = await open(join(dir, name), 'a');
    await handle.close();
  }
  const resultPath = join(dir, RESULT_FILE);
  if ((await readFile(resultPath)).length === 0) await writeFile(resultPath, '{"version":1,"outputs":[]}\n');
}
