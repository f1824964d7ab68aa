// Runners as processes on this machine: `python -m owlet_runner` from their Spark runtime's virtualenv, one per
// session, in a process group of its own (so that its Spark JVM can be killed with it), speaking the
// protocol of docs/runner-protocol.md over a Unix socket in the session's directory.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type {
  CalculationOutcome,
  ConfigureResult,
  DriverInfo,
  EndedIdle,
  EngineAdapter,
  Runner,
  RunnerEvent,
  RunnerEventListener,
  RunnerLaunch,
  RunningCalculation,
  SparkExecutor,
} from './engine.js';
import { glueCatalogClientProperties, type OwletApiAccess, sessionAwsEnvironment } from '../catalog/session-catalog-clients.js';
import { runtimeById, runtimeInstallation } from './runtimes.js';
import { prefixedForSpark } from './s3a.js';

export interface LocalRunnerEngineOptions {
  /** The checkout, whose .runtimes/ holds each Spark runtime's Python and jars (scripts/install-runtimes.sh). */
  root: string;
  /** The folder holding the `owlet_runner` package. */
  runnerPath: string;
  log: Logger;
  /** How long a runner may take to exit after `shutdown` before it is killed. */
  shutdownGraceMs?: number;
  /** How long to wait for the runner's socket to appear. */
  connectTimeoutMs?: number;
  /** Spark's log level inside sessions. */
  sparkLogLevel?: string;
  /** How sessions' own AWS clients (Iceberg's GlueCatalog, S3FileIO) reach Owlet's Glue and S3 APIs. */
  owletApi?: OwletApiAccess;
}

type RunnerMessage = Record<string, unknown> & { event?: string };

/** sun_path holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

/** Kills a runner's process group (its Spark JVM is in it) and the runner itself. */
function killRunner(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Whether `pid` is still the runner of `sessionDir`: the pid may have been reused by another program since. */
function isRunnerOf(pid: number, sessionDir: string): boolean {
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return commandLine.includes('owlet_runner') && commandLine.includes(sessionDir);
  } catch {
    return false; // Gone, or not a process this machine can see.
  }
}

/**
 * The server's environment less the key pairs in it: session code can read its environment, and must find
 * neither the API's key pair (OWLET_ACCESS_KEY_ID, OWLET_SECRET_ACCESS_KEY) nor the data plane's store
 * settings' secrets (the OWLET_*S3_* names); a session gets its store and key pair through its Spark settings.
 */
function runnerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !/^OWLET_.*(SECRET|ACCESS_KEY)/.test(name)));
}

/** A runner left running answers at once if it answers at all. */
const REATTACH_TIMEOUT_MS = 5_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The runner's scratch directory in its session directory (runner/owlet_runner/spark_session.py). */
const SCRATCH_DIRECTORY = 'tmp';
/** How long a killed runner is given to be gone before its scratch directory is removed anyway. */
const SCRATCH_REMOVAL_WAIT_MS = 60_000;

/**
 * Removes a runner's scratch directory (Spark's local directories, the JVM's and the session code's temporary
 * files) once the runner is gone. A runner that ends normally removes it itself; one that is killed cannot.
 */
function removeScratchOnceGone(pid: number, sessionDir: string, log: Logger): void {
  void (async () => {
    const deadline = Date.now() + SCRATCH_REMOVAL_WAIT_MS;
    // Unreferenced: a server on its way out does not wait for this.
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100).unref());
    await rm(join(sessionDir, SCRATCH_DIRECTORY), { recursive: true, force: true, maxRetries: 3 });
  })().catch((error: unknown) => log.warn({ err: error, sessionDir }, 'could not remove a runner\'s scratch directory'));
}

/** How long the runner may take to answer `executors` (a few py4j calls, normally milliseconds). */
const EXECUTORS_TIMEOUT_MS = 10_000;

/** The driver facts of a `ready` or `status` message (docs/runner-protocol.md). */
function driverInfo(m: RunnerMessage): DriverInfo {
  const info: DriverInfo = { sparkVersion: String(m.sparkVersion ?? '') };
  if (typeof m.sparkUi === 'string' && m.sparkUi !== '') info.sparkUi = m.sparkUi;
  if (typeof m.startedAt === 'number') info.startedAt = m.startedAt;
  const connect = m.connect as { port?: unknown; token?: unknown } | undefined;
  if (connect && typeof connect.port === 'number' && typeof connect.token === 'string') {
    info.connect = { port: connect.port, token: connect.token };
  }
  if (typeof m.connectError === 'string') info.connectError = m.connectError;
  return info;
}

function sparkExecutors(value: unknown): SparkExecutor[] {
  if (!Array.isArray(value)) return [];
  return value.map((raw: Record<string, unknown>) => ({
    id: String(raw.id),
    isDriver: raw.isDriver === true,
    hostPort: String(raw.hostPort ?? ''),
    active: raw.active === true,
    addTime: Number(raw.addTime ?? 0),
    ...(typeof raw.removeTime === 'number' ? { removeTime: raw.removeTime } : {}),
    ...(typeof raw.removeReason === 'string' ? { removeReason: raw.removeReason } : {}),
    totalCores: Number(raw.totalCores ?? 0),
    maxMemory: Number(raw.maxMemory ?? 0),
  }));
}

/** A calculation's outcome from the runner's `finished` event, or from the status.json it leaves. */
function calculationOutcome(m: RunnerMessage): CalculationOutcome {
  const progress = (m.progress ?? {}) as { done?: number; total?: number };
  return {
    id: String(m.id),
    state: m.state as CalculationOutcome['state'],
    durationMs: Number(m.durationMs ?? 0),
    progress: { done: Number(progress.done ?? 0), total: Number(progress.total ?? 0) },
    ...(typeof m.reason === 'string' ? { reason: m.reason } : {}),
  };
}

/** The file a runner that ended itself for its session's idle timeout leaves in its directory (runner.py). */
const ENDED_IDLE_FILE = 'ended.json';

/** The outcome a runner recorded in `running`'s status.json, if that calculation has ended. */
function recordedOutcome(running: RunningCalculation): CalculationOutcome | undefined {
  try {
    const status = JSON.parse(readFileSync(join(running.dir, 'status.json'), 'utf8')) as RunnerMessage;
    return status.id === running.id ? calculationOutcome(status) : undefined;
  } catch {
    return undefined;
  }
}

class LocalRunner implements Runner {
  private socket: Socket | undefined;
  private buffered = '';
  private exited = false;
  private shuttingDown = false;
  /** Let go of by a stopping server, and left running. */
  detached = false;
  private exitWaiters: (() => void)[] = [];
  private configuring: { sessionId: string; resolve: (r: ConfigureResult) => void; reject: (e: Error) => void } | undefined;
  /** Whether Spark is up: before that the runner holds no user state, and cannot act on messages yet. */
  private ready = false;
  driver: DriverInfo | undefined;
  /** `executors` requests waiting for their answer, by requestId. */
  private readonly executorRequests = new Map<string, { resolve: (e: SparkExecutor[]) => void; reject: (e: Error) => void }>();
  private nextRequest = 1;

  constructor(
    readonly pid: number,
    readonly dir: string,
    private readonly secret: string,
    private emit: RunnerEventListener,
    private readonly o: LocalRunnerEngineOptions,
  ) {}

  setListener(listener: RunnerEventListener): void {
    this.emit = listener;
  }

  configure(sessionId: string, sparkProperties: Record<string, string>, session: Pick<RunnerLaunch, 'workGroup' | 'idleTimeoutMs' | 'hadoopSettings'> = {}): Promise<ConfigureResult> {
    if (this.configuring) return Promise.reject(new Error('a configure is already under way'));
    return new Promise<ConfigureResult>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error('the runner did not answer configure in time')), 30_000);
      const done = (outcome: ConfigureResult | Error): void => {
        clearTimeout(timer);
        this.configuring = undefined;
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      this.configuring = { sessionId, resolve: done, reject: done };
      try {
        this.send({
          op: 'configure',
          sessionId,
          sparkProperties,
          ...(session.workGroup ? { workGroup: session.workGroup } : {}),
          ...(session.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: session.idleTimeoutMs }),
          ...(session.hadoopSettings && Object.keys(session.hadoopSettings).length > 0 ? { hadoopSettings: session.hadoopSettings } : {}),
        });
      } catch (error) {
        done(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Called when the process exits (we are its parent) or cannot be found any more. */
  markExited(reason: string): void {
    if (this.exited) return;
    this.exited = true;
    this.configuring?.reject(new Error(reason));
    for (const request of [...this.executorRequests.values()]) request.reject(new Error(reason));
    this.socket?.destroy();
    for (const w of this.exitWaiters.splice(0)) w();
    if (!this.shuttingDown) this.emit({ type: 'lost', reason });
  }

  async connect(timeoutMs = this.o.connectTimeoutMs ?? 60_000): Promise<void> {
    const path = join(this.dir, 'runner.sock');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw new Error('the runner exited before it could be reached');
      if (existsSync(path)) {
        // A Unix socket's path may be at most 107 bytes; a longer one is reached through the /proc alias of
        // an open descriptor of its directory (the runner binds it the same way).
        const dirFd = Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES ? openSync(this.dir, 'r') : undefined;
        const target = dirFd === undefined ? path : `/proc/self/fd/${dirFd}/runner.sock`;
        try {
          this.socket = await new Promise<Socket>((resolve, reject) => {
            const socket = connect(target, () => resolve(socket));
            socket.once('error', reject);
          });
          break;
        } catch {
          // The socket file can exist a moment before the runner listens on it.
        } finally {
          if (dirFd !== undefined) closeSync(dirFd);
        }
      }
      if (Date.now() > deadline) throw new Error('the runner did not open its socket in time');
      await sleep(20);
    }
    const socket = this.socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (error) => this.o.log.warn({ err: error, pid: this.pid }, 'runner socket error'));
    socket.on('close', () => {
      // The connection drops a moment before the process is reaped: give the exit (and its signal or code,
      // which say more) time to arrive before deciding what happened.
      setTimeout(() => {
        if (this.exited || this.shuttingDown) return;
        if (isAlive(this.pid)) {
          this.markExited('The session runner closed its connection.');
        } else {
          removeScratchOnceGone(this.pid, this.dir, this.o.log);
          this.markExited('The session runner exited unexpectedly.');
        }
      }, 500).unref();
    });
    this.send({ op: 'hello', secret: this.secret });
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let newline: number;
    while ((newline = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      if (line.trim() === '') continue;
      let message: RunnerMessage;
      try {
        message = JSON.parse(line) as RunnerMessage;
      } catch {
        this.o.log.warn({ pid: this.pid, line: line.slice(0, 200) }, 'unreadable message from runner');
        continue;
      }
      this.onMessage(message);
    }
  }

  /** Reports an event the runner left in a file while no server was listening (status.json). */
  replay(event: RunnerEvent): void {
    this.emit(event);
  }

  private onMessage(m: RunnerMessage): void {
    switch (m.event) {
      case 'status':
        if (m.state === 'idle' || m.state === 'busy') {
          this.ready = true;
          this.driver = driverInfo(m);
        }
        if (m.state === 'idle') this.emit({ type: 'ready', driver: this.driver! });
        // A runner whose Spark was up reports its version even once its driver has died.
        else if (m.state === 'failed') this.emitFailed(String(m.reason ?? 'unknown'), m.sparkVersion !== undefined);
        return;
      case 'ready':
        this.ready = true;
        this.driver = driverInfo(m);
        this.emit({ type: 'ready', driver: this.driver });
        return;
      case 'executors': {
        const request = typeof m.requestId === 'string' ? this.executorRequests.get(m.requestId) : undefined;
        request?.resolve(sparkExecutors(m.executors));
        return;
      }
      case 'failed':
        this.emitFailed(String(m.reason ?? 'unknown'), this.ready);
        return;
      case 'started':
        this.emit({ type: 'started', id: String(m.id) });
        return;
      case 'progress':
        this.emit({ type: 'progress', id: String(m.id), progress: { done: Number(m.done ?? 0), total: Number(m.total ?? 0) } });
        return;
      case 'finished':
        this.emit({ type: 'finished', outcome: calculationOutcome(m) });
        return;
      case 'configured':
        this.configuring?.resolve({
          applied: Array.isArray(m.applied) ? m.applied.map(String) : [],
          refused: Array.isArray(m.refused) ? (m.refused as { key: string; reason: string }[]) : [],
        });
        return;
      case 'error':
        // The runner names the session in its answer to a configure it cannot take.
        if (this.configuring && m.sessionId === this.configuring.sessionId) {
          this.configuring.reject(new Error(`the runner refused configure: ${String(m.message)}`));
        } else if (typeof m.requestId === 'string' && this.executorRequests.has(m.requestId)) {
          this.executorRequests.get(m.requestId)!.reject(new Error(String(m.message)));
        } else {
          this.o.log.warn({ pid: this.pid, message: m.message }, 'runner refused a message');
        }
        return;
      default:
        this.o.log.debug({ pid: this.pid, message: m }, 'runner message');
    }
  }

  /**
   * The runner's `failed` covers two things: Spark could not start, or the driver that did start has died
   * (docs/runner-protocol.md). For the session the second is the loss of its runner, with the runner's reason
   * as it is (`Spark's driver JVM ran out of memory ...`), not a start that failed.
   */
  private emitFailed(reason: string, sparkWasUp: boolean): void {
    this.emit(sparkWasUp ? { type: 'lost', reason } : { type: 'failed', reason });
  }

  private send(message: Record<string, unknown>): void {
    if (!this.socket || this.socket.destroyed) throw new Error('the runner is not connected');
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  executors(): Promise<SparkExecutor[]> {
    const requestId = String(this.nextRequest++);
    return new Promise<SparkExecutor[]>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error('the runner did not answer executors in time')), EXECUTORS_TIMEOUT_MS);
      const done = (outcome: SparkExecutor[] | Error): void => {
        clearTimeout(timer);
        this.executorRequests.delete(requestId);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      this.executorRequests.set(requestId, { resolve: done, reject: done });
      try {
        this.send({ op: 'executors', requestId });
      } catch (error) {
        done(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  async execute(id: string, code: string, dir: string): Promise<void> {
    this.send({ op: 'execute', id, code, dir });
  }

  async cancel(id: string): Promise<void> {
    this.send({ op: 'cancel', id });
  }

  private waitForExit(ms: number): Promise<boolean> {
    if (this.exited || !isAlive(this.pid)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const poll = setInterval(() => {
        if (!isAlive(this.pid)) done(true);
      }, 50);
      const timer = setTimeout(() => done(false), ms);
      const done = (exited: boolean) => {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(exited);
      };
      this.exitWaiters.push(() => done(true));
    });
  }

  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    // A runner still starting Spark has nothing to lose and would only act on `shutdown` once Spark is up.
    if (!this.ready) {
      this.kill();
      return;
    }
    try {
      this.send({ op: 'shutdown' });
    } catch {
      // Not connected yet: nothing can ask it to stop, so it is stopped now.
      this.kill();
      return;
    }
    if (!(await this.waitForExit(this.o.shutdownGraceMs ?? 10_000))) this.kill();
    this.markExited('shut down');
  }

  kill(): void {
    this.shuttingDown = true;
    killRunner(this.pid);
    removeScratchOnceGone(this.pid, this.dir, this.o.log);
    this.markExited('killed');
  }

  detach(): void {
    this.shuttingDown = true;
    this.detached = true;
    this.markExited('detached');
  }
}

export class LocalRunnerEngine implements EngineAdapter {
  private readonly runners = new Set<LocalRunner>();

  constructor(private readonly o: LocalRunnerEngineOptions) {}

  async launch(launch: RunnerLaunch, onEvent: RunnerEventListener): Promise<Runner> {
    mkdirSync(launch.sessionDir, { recursive: true, mode: 0o700 });
    const runtime = runtimeById(launch.runtime);
    const installed = runtimeInstallation(this.o.root, runtime, launch.sparkProperties);
    const secret = randomBytes(32).toString('hex');
    writeFileSync(join(launch.sessionDir, 'secret'), secret, { mode: 0o600 });
    writeFileSync(
      join(launch.sessionDir, 'config.json'),
      JSON.stringify({
        ...(launch.sessionId ? { sessionId: launch.sessionId } : {}),
        ...(launch.workGroup ? { workGroup: launch.workGroup } : {}),
        master: launch.master,
        driverMemory: launch.driverMemory,
        sparkProperties: {
          ...runtime.sparkDefaults,
          ...prefixedForSpark(launch.hadoopSettings ?? {}),
          ...(this.o.owletApi ? glueCatalogClientProperties(launch.sparkProperties, this.o.owletApi) : {}),
          ...launch.sparkProperties,
        },
        ...(launch.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: launch.idleTimeoutMs }),
        runtime: {
          id: runtime.id,
          driverClassPath: installed.driverClassPath,
          jars: installed.jars,
          ...(runtime.connectInterceptor ? { connectInterceptor: runtime.connectInterceptor } : {}),
        },
        appName: launch.sessionId ? `owlet-${launch.sessionId}` : 'owlet-session',
        logLevel: this.o.sparkLogLevel ?? 'WARN',
      }),
    );
    const log = openSync(join(launch.sessionDir, 'session.log'), 'a');
    const child = spawn(installed.python, ['-m', 'owlet_runner', '--session-dir', launch.sessionDir], {
      cwd: launch.sessionDir,
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        ...runnerEnvironment(process.env),
        // The session's own key pair (never the API's) for the AWS clients session code starts itself, such as
        // Iceberg's GlueCatalog and S3FileIO: Owlet's Glue and S3 APIs take it while the session lives.
        ...sessionAwsEnvironment(launch.hadoopSettings ?? {}, this.o.owletApi?.region),
        PYTHONPATH: this.o.runnerPath,
        PYTHONUNBUFFERED: '1',
      },
    });
    closeSync(log);
    if (child.pid === undefined) {
      throw await new Promise<Error>((resolve) => child.once('error', resolve));
    }
    child.unref();
    const runner = new LocalRunner(child.pid, launch.sessionDir, secret, onEvent, this.o);
    this.runners.add(runner);
    child.once('exit', (code, signal) => {
      this.runners.delete(runner);
      removeScratchOnceGone(child.pid as number, launch.sessionDir, this.o.log);
      runner.markExited(`The session runner exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}); see its log in ${launch.sessionDir}.`);
    });
    try {
      await runner.connect();
    } catch (error) {
      runner.kill();
      throw error;
    }
    return runner;
  }

  async reattach(pid: number, sessionDir: string, onEvent: RunnerEventListener, running?: RunningCalculation): Promise<Runner | undefined> {
    if (!isRunnerOf(pid, sessionDir)) return undefined;
    let secret: string;
    try {
      secret = readFileSync(join(sessionDir, 'secret'), 'utf8').trim();
    } catch {
      return undefined;
    }
    const runner = new LocalRunner(pid, sessionDir, secret, onEvent, this.o);
    try {
      await runner.connect(REATTACH_TIMEOUT_MS);
    } catch (error) {
      this.o.log.warn({ err: error, pid }, 'could not reach a runner left running');
      return undefined;
    }
    this.runners.add(runner);
    // A calculation that ended while no server listened left its outcome in status.json. Read after
    // connecting: one that ends from now on is announced over the new connection.
    // Still running otherwise: its `finished` event will come.
    const outcome = running && recordedOutcome(running);
    if (outcome) runner.replay({ type: 'finished', outcome });
    return runner;
  }

  async endedIdle(sessionDir: string, running?: RunningCalculation): Promise<EndedIdle | undefined> {
    let ended: { reason?: unknown; endedAt?: unknown };
    try {
      ended = JSON.parse(readFileSync(join(sessionDir, ENDED_IDLE_FILE), 'utf8')) as typeof ended;
    } catch {
      return undefined;
    }
    if (ended.reason !== 'idle-timeout' || typeof ended.endedAt !== 'number') return undefined;
    const outcome = running && recordedOutcome(running);
    return { endedAt: ended.endedAt, ...(outcome ? { outcome } : {}) };
  }

  async reclaim(pid: number, sessionDir: string): Promise<void> {
    if (isRunnerOf(pid, sessionDir)) killRunner(pid);
    removeScratchOnceGone(pid, sessionDir, this.o.log);
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.runners].filter((r) => !r.detached).map((r) => r.shutdown()));
  }
}
