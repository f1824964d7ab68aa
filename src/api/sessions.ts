// Sessions and calculations: StartSession, GetSession, GetSessionStatus, ListSessions, TerminateSession,
// StartCalculationExecution, GetCalculationExecution(Status|Code), ListCalculationExecutions,
// StopCalculationExecution. Domain errors of the session manager are turned into Athena's errors here.
import type {
  CalculationExecutionState,
  CalculationStatus,
  SessionState,
  SessionStatus,
} from '../generated/athena-model.js';
import { WAREHOUSE_PROPERTY, workGroupWarehouse } from '../catalog/session-catalog.js';
import { ForwardToNode, InternalServerError, InvalidRequestError, ServiceError } from '../protocol/errors.js';
import type { OperationHandlers } from '../protocol/json-service.js';
import {
  type SparkSettings,
  SparkMasterNotAllowedError,
  sparkLaunch,
  UnsupportedClassificationError,
  workGroupMaster,
} from '../engine/spark-profile.js';
import { ResultStoreError } from '../results/result-store.js';
import type { CalculationRecord, SessionRecord } from '../sessions/records.js';
import {
  CalculationNotFoundError,
  CapacityError,
  SessionManager,
  SessionNotFoundError,
  SessionOnAnotherNodeError,
  SessionStateError,
} from '../sessions/session-manager.js';
import { ACTIVE_SESSION_STATES } from '../sessions/states.js';
import { CorruptRecordError, type StateStore } from '../store/state-store.js';
import { engineVersionInfo, toEngineVersion } from './catalog.js';
import { FORMAT_NAMES, runtimeOfEngineVersion, unsupportedFormat } from '../engine/runtimes.js';
import { IdempotentRequests } from './idempotency.js';
import { startNotebookSession } from './notebooks.js';
import { decodeNextToken, encodeNextToken } from './pagination.js';
import { isSparkWorkGroup, loadWorkGroup } from './workgroups.js';

/** The one notebook runtime Athena has (the model's NotebookVersion). */
export const NOTEBOOK_VERSION = 'Athena notebook version 1';
/** The console's default idle timeout (UG notebooks-spark-getting-started); the API's is not documented. */
export const DEFAULT_IDLE_TIMEOUT_MINUTES = 20;
const DEFAULT_PAGE = 100;

class TooManyRequestsError extends ServiceError {
  constructor(message: string) {
    super('TooManyRequestsException', message, 400, { Reason: 'CONCURRENT_QUERY_LIMIT_EXCEEDED' });
  }
}

/** Runs `work`, turning the session manager's errors into Athena's. */
export async function translated<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // An unknown session or calculation is an InvalidRequestException on the real service, not
    // ResourceNotFoundException (PyAthena's SparkCursor relies on it: spec/athena-behaviour.md §9).
    if (error instanceof SessionNotFoundError || error instanceof CalculationNotFoundError || error instanceof SessionStateError) {
      throw new InvalidRequestError(error.message);
    }
    if (error instanceof CapacityError) throw new TooManyRequestsError(error.message);
    if (error instanceof SessionOnAnotherNodeError) throw new ForwardToNode(error.node, error.endpoint, error.message);
    if (error instanceof SparkMasterNotAllowedError || error instanceof UnsupportedClassificationError) throw new InvalidRequestError(error.message);
    // Both are the server's faults, not the request's, and both are among the errors the model gives every
    // session and calculation operation; the message says what is wrong instead of "try again later", which
    // would not help. A record that cannot be read stays unreadable: the other sessions are unaffected.
    if (error instanceof CorruptRecordError) {
      const what = error.kind === 'calculation' ? 'Calculation' : error.kind === 'session' ? 'Session' : `The ${error.kind}`;
      throw new InternalServerError(`${what} ${error.id} cannot be read: its record in the Owlet server's state store is corrupt.`);
    }
    if (error instanceof ResultStoreError) {
      throw new InternalServerError(`The calculation's results cannot be written, so it was not started: ${error.message}`);
    }
    throw error;
  }
}

const date = (ms: number | undefined): Date | undefined => (ms === undefined ? undefined : new Date(ms));

function sessionStatus(s: SessionRecord): SessionStatus {
  return {
    StartDateTime: date(s.Status.StartDateTime),
    LastModifiedDateTime: date(s.Status.LastModifiedDateTime),
    EndDateTime: date(s.Status.EndDateTime),
    IdleSinceDateTime: date(s.Status.IdleSinceDateTime),
    State: s.Status.State,
    StateChangeReason: s.Status.StateChangeReason,
  };
}

function calculationStatus(c: CalculationRecord): CalculationStatus {
  return {
    SubmissionDateTime: date(c.Status.SubmissionDateTime),
    CompletionDateTime: date(c.Status.CompletionDateTime),
    State: c.Status.State,
    StateChangeReason: c.Status.StateChangeReason,
  };
}

/**
 * Statistics carries DpuExecutionInMillis in every state, 0 until the calculation has run: PyAthena's
 * SparkCursor (pyathena/model.py, AthenaCalculationExecutionStatus), whose own tests run against the real
 * service, raises `KeyError Statistics` on an empty Statistics while it polls GetCalculationExecutionStatus.
 */
function calculationStatistics(c: CalculationRecord) {
  return { DpuExecutionInMillis: c.DpuExecutionInMillis ?? 0, Progress: c.Progress };
}

export interface SessionHandlerDeps {
  store: StateStore;
  sessions: SessionManager;
  /** The server's Spark masters and cluster settings, which with a session's sizes make its Spark settings. */
  spark: SparkSettings;
  /**
   * Readies a session's warehouse location before the session starts (Owlet's own store makes the output
   * location's bucket, as it does when it first writes results there).
   */
  prepareWarehouse?: (location: string) => Promise<void>;
}

export function sessionHandlers({ store, sessions, spark, prepareWarehouse }: SessionHandlerDeps): OperationHandlers {
  const idempotent = new IdempotentRequests(store);

  return {
    async StartSession(input) {
      return idempotent.run('StartSession', input, () =>
        translated(async () => {
          const wg = (await loadWorkGroup(store, input.WorkGroup)).body;
          // ministryofjustice/analytical-platform#7001 records this message for a SQL workgroup.
          if (!isSparkWorkGroup(wg)) throw new InvalidRequestError('Workgroup EngineVersion is not Spark.');
          if (wg.State === 'DISABLED') throw new InvalidRequestError(`WorkGroup ${wg.Name} is disabled.`);
          const notebookId = input.EngineConfiguration.AdditionalConfigs?.NotebookId;
          // aws/aws-sdk-pandas#2866 records this message.
          if (notebookId !== undefined && input.NotebookVersion === undefined) {
            throw new InvalidRequestError('NotebookVersion is required when NotebookId is provided.');
          }
          if (input.NotebookVersion !== undefined && input.NotebookVersion !== NOTEBOOK_VERSION) {
            throw new InvalidRequestError(`NotebookVersion ${input.NotebookVersion} is not supported; the one notebook version is ${NOTEBOOK_VERSION}.`);
          }
          if (notebookId !== undefined && !(await store.get('notebook', notebookId))) {
            throw new InvalidRequestError(`Notebook ${notebookId} is not found.`);
          }
          const engineVersion = wg.Configuration.EngineVersion?.EffectiveEngineVersion ?? 'PySpark engine version 3';
          const runtime = runtimeOfEngineVersion(engineVersion);
          const missingFormat = unsupportedFormat(runtime, input.EngineConfiguration.SparkProperties ?? {});
          if (missingFormat !== undefined) {
            throw new InvalidRequestError(
              `The SparkProperties turn on ${FORMAT_NAMES[missingFormat]}, which has no build for ${engineVersion} (Spark ${runtime.sparkVersion}). Choose another engine version for the workgroup, or remove these properties.`,
            );
          }
          // Databases created without LOCATION go under the workgroup's output location, as on Athena; the
          // session's own SparkProperties still win (docs/catalog.md, "Where tables go by default").
          const warehouse = workGroupWarehouse(wg.Configuration.ResultConfiguration?.OutputLocation);
          const catalogProperties = { ...spark.catalogProperties, ...warehouse };
          const launch = { ...sparkLaunch({ ...spark, catalogProperties }, workGroupMaster(spark, wg), input.EngineConfiguration), runtime: runtime.id };
          const sessionWarehouse = launch.sparkProperties[WAREHOUSE_PROPERTY];
          if (sessionWarehouse !== undefined && sessionWarehouse === warehouse[WAREHOUSE_PROPERTY]) await prepareWarehouse?.(sessionWarehouse);
          const start = () => sessions.startSession({
            workGroup: wg.Name,
            engineVersion,
            outputLocation: wg.Configuration.ResultConfiguration?.OutputLocation ?? `s3://owlet-results/${wg.Name}/`,
            description: input.Description,
            engineConfiguration: input.EngineConfiguration,
            notebookVersion: input.NotebookVersion,
            notebookId,
            idleTimeoutMinutes: input.SessionIdleTimeoutInMinutes ?? DEFAULT_IDLE_TIMEOUT_MINUTES,
            executionRole: input.ExecutionRole ?? wg.Configuration.ExecutionRole,
            monitoringConfiguration: input.MonitoringConfiguration,
            tags: input.CopyWorkGroupTags ? [...wg.Tags, ...(input.Tags ?? [])] : input.Tags,
            spark: launch,
          });
          // A second active session of a notebook is a SessionAlreadyExistsException (notebooks.ts).
          const record = notebookId === undefined ? await start() : await startNotebookSession(store, wg.Name, notebookId, start);
          return { SessionId: record.id, State: record.body.Status.State };
        }),
      );
    },

    async GetSession(input) {
      const s = (await translated(() => sessions.getSession(input.SessionId))).body;
      return {
        SessionId: s.SessionId,
        Description: s.Description,
        WorkGroup: s.WorkGroup,
        EngineVersion: s.EngineVersion,
        EngineConfiguration: s.EngineConfiguration,
        NotebookVersion: s.NotebookVersion,
        MonitoringConfiguration: s.MonitoringConfiguration,
        SessionConfiguration: {
          ExecutionRole: s.ExecutionRole,
          WorkingDirectory: s.WorkingDirectory,
          IdleTimeoutSeconds: s.IdleTimeoutMinutes * 60,
          SessionIdleTimeoutInMinutes: s.IdleTimeoutMinutes,
        },
        Status: sessionStatus(s),
        Statistics: { DpuExecutionInMillis: s.DpuExecutionInMillis },
      };
    },

    async GetSessionStatus(input) {
      const s = (await translated(() => sessions.getSession(input.SessionId))).body;
      return { SessionId: s.SessionId, Status: sessionStatus(s) };
    },

    async ListSessions(input) {
      await loadWorkGroup(store, input.WorkGroup);
      const scope = `ListSessions/${input.WorkGroup}/${input.StateFilter ?? ''}`;
      const states: readonly SessionState[] = input.StateFilter ? [input.StateFilter] : ACTIVE_SESSION_STATES;
      const page = await store.list<SessionRecord>({
        kind: 'session',
        parent: input.WorkGroup,
        states,
        order: 'newest',
        limit: input.MaxResults ?? DEFAULT_PAGE,
        after: decodeNextToken(scope, input.NextToken),
      });
      return {
        Sessions: page.records.map(({ body: s }) => {
          const info = engineVersionInfo(s.EngineVersion);
          return {
            SessionId: s.SessionId,
            Description: s.Description,
            EngineVersion: info ? toEngineVersion(info) : { SelectedEngineVersion: s.EngineVersion, EffectiveEngineVersion: s.EngineVersion },
            NotebookVersion: s.NotebookVersion,
            Status: sessionStatus(s),
          };
        }),
        NextToken: page.cursor === undefined ? undefined : encodeNextToken(scope, page.cursor),
      };
    },

    async TerminateSession(input) {
      return { State: await translated(() => sessions.terminate(input.SessionId)) };
    },

    async StartCalculationExecution(input) {
      const inline = input.CodeBlock;
      const wrapped = input.CalculationConfiguration?.CodeBlock;
      // The model: the request needs one of the two code blocks, but not both.
      if (inline !== undefined && wrapped !== undefined) {
        throw new InvalidRequestError('Specify either CodeBlock or CalculationConfiguration.CodeBlock, not both.');
      }
      const code = inline ?? wrapped;
      if (code === undefined) throw new InvalidRequestError('CodeBlock is required.');
      return idempotent.run('StartCalculationExecution', input, () =>
        translated(async () => {
          const record = await sessions.startCalculation(input.SessionId, code, input.Description);
          return { CalculationExecutionId: record.id, State: record.body.Status.State };
        }),
      );
    },

    async GetCalculationExecution(input) {
      const c = (await translated(() => sessions.getCalculation(input.CalculationExecutionId))).body;
      return {
        CalculationExecutionId: c.CalculationExecutionId,
        SessionId: c.SessionId,
        Description: c.Description,
        WorkingDirectory: c.WorkingDirectory,
        Status: calculationStatus(c),
        Statistics: calculationStatistics(c),
        Result: c.Result,
      };
    },

    async GetCalculationExecutionStatus(input) {
      const c = (await translated(() => sessions.getCalculation(input.CalculationExecutionId))).body;
      return { Status: calculationStatus(c), Statistics: calculationStatistics(c) };
    },

    async GetCalculationExecutionCode(input) {
      const c = (await translated(() => sessions.getCalculation(input.CalculationExecutionId))).body;
      return { CodeBlock: c.CodeBlock };
    },

    async ListCalculationExecutions(input) {
      await translated(() => sessions.getSession(input.SessionId));
      const scope = `ListCalculationExecutions/${input.SessionId}/${input.StateFilter ?? ''}`;
      const states: readonly CalculationExecutionState[] | undefined = input.StateFilter ? [input.StateFilter] : undefined;
      const page = await store.list<CalculationRecord>({
        kind: 'calculation',
        parent: input.SessionId,
        ...(states ? { states } : {}),
        order: 'newest',
        limit: input.MaxResults ?? DEFAULT_PAGE,
        after: decodeNextToken(scope, input.NextToken),
      });
      return {
        Calculations: page.records.map(({ body: c }) => ({
          CalculationExecutionId: c.CalculationExecutionId,
          Description: c.Description,
          Status: calculationStatus(c),
        })),
        NextToken: page.cursor === undefined ? undefined : encodeNextToken(scope, page.cursor),
      };
    },

    async StopCalculationExecution(input) {
      return { State: await translated(() => sessions.stopCalculation(input.CalculationExecutionId)) };
    },
  };
}
