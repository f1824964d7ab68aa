// The engine behind sessions. A session's runner is a process with a Spark driver in it; an EngineAdapter
// starts runners and talks to them. The local adapter runs them on this machine (Spark local mode or a
// cluster master); the fake adapter stands in for them in fast state-machine tests.
import type { CalculationExecutionState } from '../generated/athena-model.js';

export interface RunnerLaunch {
  /** The session the runner serves; absent for a runner started ahead of time for the warm pool. */
  sessionId?: string;
  /** A directory of the session's own, for the runner's socket, secret, pid and log. */
  sessionDir: string;
  /** Spark's master URL: `local[N]`, `spark://...`, `k8s://...`. */
  master: string;
  /** The driver's heap, as Spark writes it (`1g`). */
  driverMemory: string;
  sparkProperties: Record<string, string>;
  /** The Spark runtime the runner runs (src/engine/runtimes.ts); the default runtime when absent. */
  runtime?: string;
  /** The session's workgroup, for what the session shows of itself (`%status`). */
  workGroup?: string;
  /**
   * The session's idle timeout. A session's runner with no server attached and no calculation running ends
   * itself once this much time has passed since its last calculation ended or the server went, whichever is
   * later (docs/clients.md).
   */
  idleTimeoutMs?: number;
  /**
   * The session's S3 store and key pair as Hadoop settings (src/engine/s3a.ts): a runner started for the
   * session starts Spark with them as `spark.hadoop.*` properties, under the session's own SparkProperties; a
   * pooled runner, which started before it had a session, sets them in its driver's Hadoop configuration at
   * `configure`.
   */
  hadoopSettings?: Record<string, string>;
}

/** A calculation and the directory its files go to. */
export interface RunningCalculation {
  id: string;
  dir: string;
}

export interface CalculationProgress {
  done: number;
  total: number;
}

export interface CalculationOutcome {
  id: string;
  state: Extract<CalculationExecutionState, 'COMPLETED' | 'FAILED' | 'CANCELED'>;
  /** For FAILED: the exception line (`NameError: name 'foobar' is not defined`). */
  reason?: string;
  durationMs: number;
  progress: CalculationProgress;
}

/** The Spark Connect server a driver runs: on 127.0.0.1, requiring `token` (a bearer token) from clients. */
export interface SparkConnectServer {
  port: number;
  token: string;
}

/** What a runner tells of its driver once Spark is up. */
export interface DriverInfo {
  sparkVersion: string;
  /** The live Spark UI (`http://127.0.0.1:41025`), unless the session turned the UI off. */
  sparkUi?: string;
  /** When Spark's driver started, in milliseconds since the epoch. */
  startedAt?: number;
  connect?: SparkConnectServer;
  /** Why the driver has no Spark Connect server, when it has none. */
  connectError?: string;
}

/** An executor as Spark's status store knows it (the driver is one, with the id `driver`). */
export interface SparkExecutor {
  id: string;
  isDriver: boolean;
  hostPort: string;
  active: boolean;
  /** Milliseconds since the epoch. */
  addTime: number;
  removeTime?: number;
  removeReason?: string;
  totalCores: number;
  maxMemory: number;
}

export type RunnerEvent =
  | { type: 'ready'; driver: DriverInfo }
  /** Spark could not start in the runner. */
  | { type: 'failed'; reason: string }
  | { type: 'started'; id: string }
  | { type: 'progress'; id: string; progress: CalculationProgress }
  | { type: 'finished'; outcome: CalculationOutcome }
  /**
   * The runner can run nothing more: its process is gone (it exited, was killed, or cannot be reached), or
   * the Spark driver it started has died since (its JVM ran out of memory, say).
   */
  | { type: 'lost'; reason: string };

export type RunnerEventListener = (event: RunnerEvent) => void;

/** What a pooled runner did with a session's Spark properties. */
export interface ConfigureResult {
  applied: string[];
  /** Properties Spark cannot change in a running driver (they need a fresh JVM). */
  refused: { key: string; reason: string }[];
}

export interface Runner {
  readonly pid: number;
  /** The runner's own directory (socket, secret, pid, log). */
  readonly dir: string;
  /** What the runner told of its driver, once Spark is up (a pooled runner's, before any session). */
  readonly driver: DriverInfo | undefined;
  /** The executors of the runner's driver, as Spark reports them now; fails when Spark is not running. */
  executors(): Promise<SparkExecutor[]>;
  /**
   * Makes a pooled runner the runner of `sessionId`, applying the session's Spark properties where Spark
   * allows it at runtime. Only before its first calculation.
   */
  configure(sessionId: string, sparkProperties: Record<string, string>, session?: Pick<RunnerLaunch, 'workGroup' | 'idleTimeoutMs' | 'hadoopSettings'>): Promise<ConfigureResult>;
  /** Sends this runner's events to `listener` from now on (a pooled runner changes hands). */
  setListener(listener: RunnerEventListener): void;
  /** Runs `code`; the runner writes stdout.txt, stderr.txt, result.json and status.json into `dir`. */
  execute(id: string, code: string, dir: string): Promise<void>;
  cancel(id: string): Promise<void>;
  /** Asks the runner to stop Spark and exit; kills it if it has not exited within the grace period. */
  shutdown(): Promise<void>;
  /** Kills the runner and everything it started, at once. */
  kill(): void;
  /**
   * Lets go of the runner and leaves it running, with whatever calculation it runs: the server is stopping,
   * and the next one re-attaches it.
   */
  detach(): void;
}

/** What a runner that ended itself for its session's idle timeout left behind (EngineAdapter.endedIdle). */
export interface EndedIdle {
  /** When it ended, in milliseconds since the epoch. */
  endedAt: number;
  outcome?: CalculationOutcome;
}

export interface EngineAdapter {
  /** Starts a runner. Events (first `ready` or `failed`) arrive through `onEvent`. */
  launch(launch: RunnerLaunch, onEvent: RunnerEventListener): Promise<Runner>;
  /**
   * Connects to a runner a previous server process started, found by the pid and directory it recorded, if
   * it is still running and answers; undefined otherwise. `running` names the calculation the session was
   * running: an outcome the runner recorded while no server listened is reported through `onEvent`.
   */
  reattach(pid: number, sessionDir: string, onEvent: RunnerEventListener, running?: RunningCalculation): Promise<Runner | undefined>;
  /**
   * Stops a runner a previous server process started, found by the pid and session directory it recorded,
   * if it is still running and is that runner.
   */
  reclaim(pid: number, sessionDir: string): Promise<void>;
  /**
   * How a runner a previous server process left, and that is gone now, ended itself: the session's idle
   * timeout passed with no server attached. Undefined when it did not end so. `running` names the calculation
   * the session record still calls current: the runner ends only once no calculation runs, so that one had
   * ended, and its outcome comes with the answer.
   */
  endedIdle(sessionDir: string, running?: RunningCalculation): Promise<EndedIdle | undefined>;
  /** Stops every runner this adapter started and has not detached (the server is shutting down). */
  dispose(): Promise<void>;
}
