// A stand-in engine for fast tests of the session state machines: no Python, no Spark. Its runners answer
// at once and act on a few code words:
//   `wait`       runs until cancelled          `stubborn`  runs and ignores cancels
//   `raise ...`  fails with `RuntimeError: ...`  anything else completes, printing `ran: <code>`
// Configured with Spark properties, it takes `spark.sql.*` ones and refuses any other that holds another value
// than the runner was started with, as the runner refuses settings Spark reads only at start.
// Its drivers have a made-up Spark UI address, a Spark Connect server only when the engine is given one (a
// test's stand-in), and one executor, the driver, to which a test may add more.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  SparkConnectServer,
  SparkExecutor,
} from './engine.js';
import { settingsToHold } from './spark-profile.js';

export class FakeRunner implements Runner {
  static nextPid = 100_000;
  readonly pid = FakeRunner.nextPid++;
  running: string | undefined;
  stopped = false;
  readonly executed: string[] = [];
  /** The session a pooled runner was given by `configure`, and the Spark properties it was given with it. */
  configuredFor: string | undefined;
  configuredWith: Record<string, string> | undefined;
  /** The Hadoop settings `configure` gave it (the session's S3 store and key pair). */
  configuredHadoop: Record<string, string> | undefined;
  /** The session's idle timeout, from the launch or from `configure`. */
  idleTimeoutMs: number | undefined;
  /** When the runner ended itself for that timeout, while detached (`endIdle`). */
  endedIdleAt: number | undefined;
  driver: DriverInfo | undefined;
  /** What `executors` answers besides the driver; a test adds workers here. */
  readonly workers: SparkExecutor[] = [];
  /** When set, `executors` fails with this message. */
  executorsFailure: string | undefined;

  constructor(
    readonly launch: RunnerLaunch,
    private emit: RunnerEventListener,
    private readonly connect?: SparkConnectServer,
  ) {
    this.idleTimeoutMs = launch.idleTimeoutMs;
  }

  get dir(): string {
    return this.launch.sessionDir;
  }

  get sessionId(): string | undefined {
    return this.configuredFor ?? this.launch.sessionId;
  }

  setListener(listener: RunnerEventListener): void {
    this.emit = listener;
  }

  async configure(sessionId: string, sparkProperties: Record<string, string>, session: Pick<RunnerLaunch, 'idleTimeoutMs' | 'hadoopSettings'> = {}): Promise<ConfigureResult> {
    const held = settingsToHold(this.launch);
    // As the runner does, a setting Spark reads only at start is accepted when the runner already holds that value.
    const isStatic = (key: string) => !key.startsWith('spark.sql.');
    const keys = Object.keys(sparkProperties);
    const refused = keys.filter((k) => isStatic(k) && held[k] !== sparkProperties[k]).map((key) => ({ key, reason: 'static' }));
    if (refused.length === 0) {
      this.configuredFor = sessionId;
      this.configuredWith = sparkProperties;
      this.configuredHadoop = session.hadoopSettings;
      this.idleTimeoutMs = session.idleTimeoutMs;
    }
    return refused.length === 0 ? { applied: keys, refused } : { applied: [], refused };
  }

  async execute(id: string, code: string, dir: string): Promise<void> {
    if (this.stopped) throw new Error('the runner is gone');
    this.running = id;
    this.executed.push(code);
    setImmediate(() => void this.run(id, code, dir));
  }

  private async run(id: string, code: string, dir: string): Promise<void> {
    this.emit({ type: 'started', id });
    if (code === 'wait' || code === 'stubborn') return;
    const failed = code.startsWith('raise');
    const reason = `RuntimeError: ${code.slice('raise'.length).trim()}`;
    await writeFile(join(dir, 'stdout.txt'), failed ? '' : `ran: ${code}\n`);
    await writeFile(join(dir, 'stderr.txt'), failed ? `  File "<stdin>", line 1, in <module>\n${reason}\n` : '');
    await writeFile(join(dir, 'result.json'), '{"version":1,"outputs":[]}\n');
    this.finish(id, failed ? 'FAILED' : 'COMPLETED', failed ? reason : undefined);
  }

  private finish(id: string, state: 'COMPLETED' | 'FAILED' | 'CANCELED', reason?: string): void {
    if (this.running !== id) return;
    this.running = undefined;
    this.emit({ type: 'finished', outcome: { id, state, ...(reason ? { reason } : {}), durationMs: 5, progress: { done: 1, total: 1 } } });
  }

  async cancel(id: string): Promise<void> {
    const code = this.executed.at(-1);
    if (this.running === id && code !== 'stubborn') setImmediate(() => this.finish(id, 'CANCELED'));
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
  }

  kill(): void {
    this.stopped = true;
  }

  /** Left running by a stopping server: what it does meanwhile is kept for the server that re-attaches it. */
  detached = false;
  private missed: RunnerEvent[] = [];

  detach(): void {
    this.detached = true;
    this.emit = (event) => {
      // A real runner keeps its last calculation's outcome in status.json; a restart finds it there.
      if (event.type === 'finished') this.missed = [event];
    };
  }

  /** A detached runner ends itself, as a real one does once its session's idle timeout has passed with no server. */
  endIdle(at: number): void {
    if (!this.detached || this.running !== undefined) throw new Error('only a detached runner with no calculation running ends itself');
    this.stopped = true;
    this.endedIdleAt = at;
  }

  /** The outcome of the last calculation, kept while no server listened. */
  get missedOutcome(): CalculationOutcome | undefined {
    const event = this.missed[0];
    return event?.type === 'finished' ? event.outcome : undefined;
  }

  /** A new server's connection: the outcome of a calculation that ended while none listened comes first. */
  reattach(listener: RunnerEventListener): void {
    this.detached = false;
    this.emit = listener;
    for (const event of this.missed.splice(0)) setImmediate(() => listener(event));
  }

  /** Ends the running calculation as a real one would (a test's way of finishing `wait`). */
  complete(id: string): void {
    this.finish(id, 'COMPLETED');
  }

  async executors(): Promise<SparkExecutor[]> {
    if (this.stopped) throw new Error('the runner is gone');
    if (this.executorsFailure !== undefined) throw new Error(this.executorsFailure);
    if (!this.driver) throw new Error('Spark is not running');
    const driver: SparkExecutor = {
      id: 'driver',
      isDriver: true,
      hostPort: '127.0.0.1:40000',
      active: true,
      addTime: this.driver.startedAt ?? 0,
      totalCores: 2,
      maxMemory: 455_501_414,
    };
    return [driver, ...this.workers];
  }

  emitReady(): void {
    this.driver = {
      sparkVersion: 'fake',
      sparkUi: `http://127.0.0.1:${4040 + (this.pid % 1000)}`,
      startedAt: Date.now(),
      ...(this.connect ? { connect: this.connect } : { connectError: 'the fake engine runs no Spark Connect server' }),
    };
    this.emit({ type: 'ready', driver: this.driver });
  }

  /** The runner dies on its own. */
  crash(reason = 'the runner exited with signal SIGKILL'): void {
    this.stopped = true;
    this.emit({ type: 'lost', reason });
  }
}

export class FakeEngine implements EngineAdapter {
  readonly runners: FakeRunner[] = [];
  /** When set, runners report that Spark could not start. */
  failStart: string | undefined;
  /** When false, runners stay starting until `ready()` is called. */
  autoReady = true;
  /** The Spark Connect server runners report (a test's stand-in for the driver's); none when unset. */
  connect: SparkConnectServer | undefined;

  async launch(launch: RunnerLaunch, onEvent: RunnerEventListener): Promise<Runner> {
    const runner = new FakeRunner(launch, onEvent, this.connect);
    this.runners.push(runner);
    if (this.failStart !== undefined) {
      const reason = this.failStart;
      setImmediate(() => onEvent({ type: 'failed', reason }));
    } else if (this.autoReady) {
      setImmediate(() => runner.emitReady());
    }
    return runner;
  }

  ready(runner: FakeRunner): void {
    runner.emitReady();
  }

  readonly reclaimed: number[] = [];

  /** A runner a stopped server detached from, when the next server is given the same engine. */
  async reattach(pid: number, _sessionDir: string, onEvent: RunnerEventListener): Promise<Runner | undefined> {
    const runner = this.runners.find((r) => r.pid === pid && r.detached && !r.stopped);
    runner?.reattach(onEvent);
    return runner;
  }

  async reclaim(pid: number): Promise<void> {
    this.reclaimed.push(pid);
  }

  async endedIdle(sessionDir: string, running?: RunningCalculation): Promise<EndedIdle | undefined> {
    const runner = this.runners.find((r) => r.dir === sessionDir && r.endedIdleAt !== undefined);
    if (!runner) return undefined;
    const outcome = runner.missedOutcome;
    return { endedAt: runner.endedIdleAt!, ...(outcome && outcome.id === running?.id ? { outcome } : {}) };
  }

  /**
   * Drops the runners that have stopped from `runners`, which otherwise keeps every runner for the tests that
   * inspect them: a load test starting thousands of sessions measures the server's memory, not this list's.
   */
  forgetStopped(): number {
    const before = this.runners.length;
    const kept = this.runners.filter((r) => !r.stopped || r.detached);
    this.runners.splice(0, this.runners.length, ...kept);
    return before - kept.length;
  }

  runnerOf(sessionId: string): FakeRunner {
    const runner = this.runners.find((r) => r.sessionId === sessionId);
    if (!runner) throw new Error(`no runner for ${sessionId}`);
    return runner;
  }

  async dispose(): Promise<void> {
    for (const r of this.runners) if (!r.detached) r.kill();
  }
}
