// What a session's driver offers besides calculations: ListExecutors (its executors, from Spark itself),
// GetSessionEndpoint (its Spark Connect server, through the token-checking proxy), GetResourceDashboard
// (its live Spark UI). CreatePresignedNotebookUrl is in presigned-notebook-url.ts.
import type { ExecutorsSummary } from '../generated/athena-model.js';
import type { SparkConnectProxy } from '../connect/spark-connect-proxy.js';
import { InvalidRequestError, ResourceNotFoundError } from '../protocol/errors.js';
import type { OperationHandlers } from '../protocol/json-service.js';
import { type SessionManager, SessionNotFoundError } from '../sessions/session-manager.js';
import { LIVE_SESSION_STATES } from '../sessions/states.js';
import { pageOf } from './pagination.js';
import { translated } from './sessions.js';

/** Every executor Owlet reports is the size Athena has for coordinators and executors: 1 DPU. */
const EXECUTOR_DPUS = 1;
const DEFAULT_PAGE = 100;

/** `arn:aws:athena:<region>:<account>:workgroup/<workgroup>/session/<session id>`: Owlet's session ARN. */
const SESSION_ARN = /^arn:aws:athena:[a-z0-9-]+:(\d{12}):workgroup\/([a-zA-Z0-9._-]{1,128})\/session\/([^/]{1,256})$/;

export function sessionArn(region: string, accountId: string, workGroup: string, sessionId: string): string {
  return `arn:aws:athena:${region}:${accountId}:workgroup/${workGroup}/session/${sessionId}`;
}

export interface SessionEndpointDeps {
  sessions: SessionManager;
  connect: SparkConnectProxy;
  accountId: string;
}

export function sessionEndpointHandlers({ sessions, connect, accountId }: SessionEndpointDeps): OperationHandlers {
  /** The session a ResourceARN names: a session ARN of this account, or (as the User Guide's CLI example passes) a bare session id. */
  async function sessionOfResource(resource: string) {
    let sessionId = resource;
    let workGroup: string | undefined;
    if (resource.startsWith('arn:')) {
      const match = SESSION_ARN.exec(resource);
      if (!match) {
        throw new InvalidRequestError(
          `${resource} is not a session ARN. Give arn:aws:athena:<region>:<account>:workgroup/<workgroup>/session/<session id>, or the session id.`,
        );
      }
      if (match[1] !== accountId) throw new ResourceNotFoundError(`Resource ${resource} is not found.`, resource);
      workGroup = match[2]!;
      sessionId = match[3]!;
    }
    try {
      const session = (await sessions.getSession(sessionId)).body;
      if (workGroup !== undefined && session.WorkGroup !== workGroup) throw new SessionNotFoundError(sessionId);
      return session;
    } catch (error) {
      if (error instanceof SessionNotFoundError) throw new ResourceNotFoundError(`Resource ${resource} is not found.`, resource);
      throw error;
    }
  }

  return {
    async ListExecutors(input) {
      const executors = await translated(() => sessions.executors(input.SessionId));
      const wanted = input.ExecutorStateFilter;
      const summaries: ExecutorsSummary[] = executors
        .filter((e) => wanted === undefined || e.state === wanted)
        .map((e) => ({
          ExecutorId: e.id,
          ExecutorType: e.type,
          StartDateTime: e.startedAt,
          TerminationDateTime: e.endedAt,
          ExecutorState: e.state,
          ExecutorSize: EXECUTOR_DPUS,
        }));
      const page = pageOf(`ListExecutors/${input.SessionId}/${wanted ?? ''}`, summaries, input.MaxResults ?? DEFAULT_PAGE, input.NextToken);
      return { SessionId: input.SessionId, ExecutorsSummary: page.items, NextToken: page.nextToken };
    },

    async GetSessionEndpoint(input) {
      // Only a session whose driver runs a Spark Connect server now gets a token.
      await translated(() => sessions.sparkConnect(input.SessionId));
      const { token, expiresAt } = connect.issueToken(input.SessionId);
      return { EndpointUrl: connect.endpointUrl, AuthToken: token, AuthTokenExpirationTime: new Date(expiresAt) };
    },

    async GetResourceDashboard(input) {
      const session = await sessionOfResource(input.ResourceARN);
      const state = session.Status.State;
      const id = session.SessionId;
      if (state === 'CREATING' || state === 'CREATED') {
        throw new InvalidRequestError(`Session ${id} is in the ${state} state; its Spark UI is up once it is IDLE.`);
      }
      if (!LIVE_SESSION_STATES.includes(state) || state === 'TERMINATING') {
        throw new InvalidRequestError(
          `Session ${id} is in the ${state} state: its live Spark UI stopped with it, and Owlet keeps no Spark history server, so an ended session has no dashboard.`,
        );
      }
      if (!session.SparkUi) throw new InvalidRequestError(`Session ${id} runs without a Spark UI (spark.ui.enabled is false).`);
      return { Url: session.SparkUi };
    },
  };
}
