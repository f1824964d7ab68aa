// The stored forms of sessions and calculations. Times are milliseconds since the epoch; the API layer turns
// them into the model's timestamps.
import type {
  CalculationExecutionState,
  EngineConfiguration,
  MonitoringConfiguration,
  SessionState,
  Tag,
} from '../generated/athena-model.js';

export interface SessionRecord {
  SessionId: string;
  WorkGroup: string;
  Description?: string;
  /** The workgroup's engine version when the session started (`PySpark engine version 3`). */
  EngineVersion: string;
  EngineConfiguration: EngineConfiguration;
  NotebookVersion?: string;
  NotebookId?: string;
  MonitoringConfiguration?: MonitoringConfiguration;
  Tags?: Tag[];
  ExecutionRole?: string;
  /** Where the session's calculations write their results (`s3://.../<session id>/`). */
  WorkingDirectory: string;
  IdleTimeoutMinutes: number;
  /** DPUs the session holds: its coordinator, plus executors on a cluster. */
  Dpus: number;
  Status: {
    State: SessionState;
    StateChangeReason?: string;
    StartDateTime: number;
    LastModifiedDateTime: number;
    EndDateTime?: number;
    IdleSinceDateTime?: number;
  };
  DpuExecutionInMillis: number;
  /** The calculation running now, if any. */
  CurrentCalculation?: string;
  Runner?: { pid: number; dir: string };
  /** The server node that runs the session's runner (several nodes can share one store). */
  Node?: string;
  /** The live Spark UI of the session's driver (`http://127.0.0.1:41025`); it stops with the session. */
  SparkUi?: string;
  /**
   * The session's coordinator, its Spark driver: kept so that ListExecutors can still list it once the
   * session has ended. `StartDateTime` is when it joined the session (a pooled runner's driver started
   * earlier, without a session).
   */
  Coordinator?: { ExecutorId: string; StartDateTime: number };
}

export interface CalculationRecord {
  CalculationExecutionId: string;
  SessionId: string;
  Description?: string;
  CodeBlock: string;
  /** `s3://.../<session id>/<calculation id>/` */
  WorkingDirectory: string;
  Status: {
    State: CalculationExecutionState;
    StateChangeReason?: string;
    SubmissionDateTime: number;
    CompletionDateTime?: number;
  };
  DpuExecutionInMillis?: number;
  /**
   * While CANCELING: when the runner is killed if the calculation has not stopped. Kept in the record so that
   * a server started meanwhile holds the same deadline.
   */
  CancelDeadline?: number;
  Progress?: string;
  Result?: {
    StdOutS3Uri: string;
    StdErrorS3Uri: string;
    ResultS3Uri: string;
    ResultType: string;
  };
}

/** The MIME type of Owlet's result document, the value seen from Athena (spec/athena-behaviour.md §3.2). */
export const RESULT_TYPE = 'application/vnd.aws.athena.v1+json';
export const STDOUT_FILE = 'stdout.txt';
export const STDERR_FILE = 'stderr.txt';
export const RESULT_FILE = 'result.json';
