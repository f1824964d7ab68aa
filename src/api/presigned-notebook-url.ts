// CreatePresignedNotebookUrl: a link that opens a session's notebook in Owlet's console, and the token in it.
// Athena answers `NotebookUrl`, `AuthToken` and `AuthTokenExpirationTime` (a long, "UTC epoch time"; the model
// says to call again every 10 minutes to refresh the token: spec/notebook-console.md §1.4). The link's token
// is short-lived; the console swaps it for a cookie on first visit (docs/jupyter.md).
import { InvalidRequestError } from '../protocol/errors.js';
import type { OperationHandlers } from '../protocol/json-service.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { ACTIVE_SESSION_STATES } from '../sessions/states.js';
import type { StateStore } from '../store/state-store.js';
import type { NotebookRecord } from './notebooks.js';
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
  /** Where the notebook's name is read, for the link's contents path. */
  store: StateStore;
  links: ConsoleLinks;
}

export function presignedNotebookUrlHandlers({ sessions, store, links }: PresignedNotebookUrlDeps): OperationHandlers {
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
      // The notebook's path in the Jupyter contents API (<workgroup>/<name>.ipynb), which a visitor who holds
      // only the link's cookie cannot look up from the notebook id: the console opens it with the kernel.
      const notebook = session.NotebookId === undefined ? undefined : await store.get<NotebookRecord>('notebook', session.NotebookId);
      if (notebook) query.set('path', `${notebook.body.WorkGroup}/${notebook.body.Name}.ipynb`);
      return {
        NotebookUrl: `${links.origin()}${where}?${query.toString()}`,
        AuthToken: token,
        // Epoch seconds, as the model's other token expiries are (GetSessionEndpoint's timestamp).
        AuthTokenExpirationTime: Math.floor(expiresAt / 1000),
      };
    },
  };
}
