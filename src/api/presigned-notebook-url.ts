// CreatePresignedNotebookUrl: a link that opens a session's notebook in Owlet's console, and the token in it.
// Athena answers `NotebookUrl`, `AuthToken` and `AuthTokenExpirationTime` (a long, "UTC epoch time"; the model
// says to call again every 10 minutes to refresh the token: spec/notebook-console.md §1.4). The link's token
// is short-lived; the console swaps it for a cookie on first visit (docs/jupyter.md).
import { InvalidRequestError } from '../protocol/errors.js';
import type { OperationHandlers } from '../protocol/json-service.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { ACTIVE_SESSION_STATES } from '../sessions/states.js';
import { translated } from './sessions.js';

/** What the handler needs of the Jupyter server: a token, and where the console is served. */
export interface ConsoleLinks {
  /** A token of the key pair `accessKeyId` valid for the presigned lifetime, and its expiry (epoch ms). */
  issue(accessKeyId: string): { token: string; expiresAt: number };
  /** The server's address as browsers reach it (`http://127.0.0.1:8686`). */
  origin(): string;
}

export interface PresignedNotebookUrlDeps {
  sessions: SessionManager;
  links: ConsoleLinks;
}

export function presignedNotebookUrlHandlers({ sessions, links }: PresignedNotebookUrlDeps): OperationHandlers {
  return {
    async CreatePresignedNotebookUrl(input, context) {
      const session = (await translated(() => sessions.getSession(input.SessionId))).body;
      const state = session.Status.State;
      if (!ACTIVE_SESSION_STATES.includes(state)) {
        throw new InvalidRequestError(`Session ${session.SessionId} is in the ${state} state; a notebook can be opened only in an active session.`);
      }
      const { token, expiresAt } = links.issue(context.caller.accessKeyId);
      const where = session.NotebookId === undefined ? '/console/' : `/console/notebooks/${encodeURIComponent(session.NotebookId)}`;
      const query = new URLSearchParams({ session: session.SessionId, token });
      return {
        NotebookUrl: `${links.origin()}${where}?${query.toString()}`,
        AuthToken: token,
        // Epoch seconds, as the model's other token expiries are (GetSessionEndpoint's timestamp).
        AuthTokenExpirationTime: Math.floor(expiresAt / 1000),
      };
    },
  };
}
