// Notebooks: CreateNotebook, ImportNotebook, ExportNotebook, GetNotebookMetadata, ListNotebookMetadata,
// UpdateNotebook, UpdateNotebookMetadata, DeleteNotebook, ListNotebookSessions; and the rule StartSession
// applies to a session bound to a notebook: one active session per notebook ("Only one active session per
// notebook is allowed.", UG notebooks-spark; spec/athena-behaviour.md §2.5). Messages quoted from the real
// service carry their source; the others are Owlet's, listed in docs/compatibility.md.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NotebookMetadata, NotebookType } from '../generated/athena-model.js';
import { InvalidRequestError, ResourceNotFoundError, ServiceError } from '../protocol/errors.js';
import type { OperationHandlers } from '../protocol/json-service.js';
import { parseS3Uri, type ResultStore, s3Uri } from '../results/result-store.js';
import type { SessionRecord } from '../sessions/records.js';
import { ACTIVE_SESSION_STATES } from '../sessions/states.js';
import { StoreLocks } from '../store/store-locks.js';
import type { StateStore, StoredRecord } from '../store/state-store.js';
import { IdempotentRequests } from './idempotency.js';
import { emptyNotebook, nbformatProblem } from './nbformat.js';
import { decodeNextToken, encodeNextToken, pageOf } from './pagination.js';
import { isSparkWorkGroup, loadWorkGroup, type WorkGroupRecord } from './workgroups.js';

/** The stored form of a notebook: a record of kind 'notebook' whose parent is its workgroup. */
export interface NotebookRecord {
  NotebookId: string;
  Name: string;
  WorkGroup: string;
  Type: NotebookType;
  /** Milliseconds since the epoch. */
  CreationTime: number;
  LastModifiedTime: number;
  /** The ipynb text exactly as it was given, so that ExportNotebook answers it byte for byte. */
  Payload: string;
}

/** The largest notebook ImportNotebook takes (the model's Payload maximum, and its documented 10 MB). */
export const MAX_NOTEBOOK_BYTES = 10_485_760;
/** ListNotebookMetadata's default page: the model's maximum. */
const LIST_NOTEBOOKS_PAGE = 50;
/** ListNotebookSessions answers at most 10 sessions a page: the model's NotebookSessionsList holds no more. */
const NOTEBOOK_SESSIONS_PAGE = 10;

/** `SessionAlreadyExistsException`: a modelled error of StartSession, for a notebook that has its session. */
export class SessionAlreadyExistsError extends ServiceError {
  constructor(message: string) {
    super('SessionAlreadyExistsException', message, 400);
  }
}

// The notebook rules are checks followed by a write (a name is free, a notebook has no active session), and
// StartSession (sessions.ts) checks the second one too. Every such check and its write run under one lock per
// notebook (`notebook/<id>`) or per workgroup's names (`names/<workgroup>`), taken in that order when both are
// needed. The locks hang off the store they guard, so every handler on one store shares them without wiring;
// they are held in the store, so that they hold across server nodes sharing it.
const locksByStore = new WeakMap<StateStore, StoreLocks>();

function locksOf(store: StateStore): StoreLocks {
  let locks = locksByStore.get(store);
  if (!locks) {
    locks = new StoreLocks(store);
    locksByStore.set(store, locks);
  }
  return locks;
}

const notebookNotFound = (id: string): string => `Notebook ${id} is not found.`;

async function loadNotebook(store: StateStore, id: string): Promise<StoredRecord<NotebookRecord>> {
  const record = await store.get<NotebookRecord>('notebook', id);
  // The wording of StartSession's check for an unknown NotebookId (sessions.ts), so both read alike.
  if (!record) throw new InvalidRequestError(notebookNotFound(id));
  return record;
}

/** Notebooks live only in Spark workgroups; the errors are StartSession's. */
async function loadSparkWorkGroup(store: StateStore, name: string): Promise<WorkGroupRecord> {
  const wg = (await loadWorkGroup(store, name)).body;
  // ministryofjustice/analytical-platform#7001 records this message (for StartSession on a SQL workgroup).
  if (!isSparkWorkGroup(wg)) throw new InvalidRequestError('Workgroup EngineVersion is not Spark.');
  return wg;
}

/** The sessions of a notebook in an active state (CREATING, CREATED, IDLE, BUSY), newest first. */
export async function activeNotebookSessions(store: StateStore, workGroup: string, notebookId: string): Promise<SessionRecord[]> {
  const found: SessionRecord[] = [];
  let after: string | undefined;
  do {
    const page = await store.list<SessionRecord>({
      kind: 'session',
      parent: workGroup,
      states: ACTIVE_SESSION_STATES,
      order: 'newest',
      limit: 100,
      ...(after ? { after } : {}),
    });
    for (const { body } of page.records) if (body.NotebookId === notebookId) found.push(body);
    after = page.cursor;
  } while (after);
  return found;
}

/**
 * Runs `start` (which creates the session record) for a session bound to `notebookId`, once the notebook is
 * known to be in `workGroup` and to have no active session. StartSession calls it.
 */
export function startNotebookSession<T>(store: StateStore, workGroup: string, notebookId: string, start: () => Promise<T>): Promise<T> {
  return locksOf(store).run(`notebook/${notebookId}`, async () => {
    const notebook = (await loadNotebook(store, notebookId)).body;
    // A session elsewhere would escape the checks below, which look in the notebook's own workgroup.
    if (notebook.WorkGroup !== workGroup) {
      throw new InvalidRequestError(`Notebook ${notebookId} is in workgroup ${notebook.WorkGroup}, not ${workGroup}; start its session there.`);
    }
    const [active] = await activeNotebookSessions(store, workGroup, notebookId);
    if (active) {
      throw new SessionAlreadyExistsError(`An active session already exists for notebook ${notebookId} (session ${active.SessionId}).`);
    }
    return start();
  });
}

async function notebooksOf(store: StateStore, workGroup: string): Promise<NotebookRecord[]> {
  const found: NotebookRecord[] = [];
  let after: string | undefined;
  do {
    const page = await store.list<NotebookRecord>({ kind: 'notebook', parent: workGroup, order: 'id', limit: 100, ...(after ? { after } : {}) });
    for (const { body } of page.records) found.push(body);
    after = page.cursor;
  } while (after);
  return found;
}

/** Refuses `name` when another notebook of the workgroup has it. Names compare exactly, as file names do. */
async function checkNameFree(store: StateStore, workGroup: string, name: string, self?: string): Promise<void> {
  const taken = (await notebooksOf(store, workGroup)).some((nb) => nb.Name === name && nb.NotebookId !== self);
  if (taken) throw new InvalidRequestError(`Notebook ${name} already exists in workgroup ${workGroup}.`);
}

function checkPayload(payload: string): void {
  const problem = nbformatProblem(payload);
  if (problem) throw new InvalidRequestError(problem);
}

function metadataOf(nb: NotebookRecord): NotebookMetadata {
  return {
    NotebookId: nb.NotebookId,
    Name: nb.Name,
    WorkGroup: nb.WorkGroup,
    CreationTime: new Date(nb.CreationTime),
    Type: nb.Type,
    LastModifiedTime: new Date(nb.LastModifiedTime),
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface NotebookHandlerDeps {
  store: StateStore;
  /** Where ImportNotebook reads a NotebookS3LocationUri from. */
  results: ResultStore;
  now: () => number;
  log: Logger;
}

export function notebookHandlers({ store, results, now, log }: NotebookHandlerDeps): OperationHandlers {
  const idempotent = new IdempotentRequests(store);
  const locks = locksOf(store);

  /** Stores a new notebook once its name is known to be free in the workgroup. */
  function addNotebook(workGroup: string, name: string, payload: string): Promise<string> {
    return locks.run(`names/${workGroup}`, async () => {
      await checkNameFree(store, workGroup, name);
      const id = randomUUID();
      const at = now();
      const body: NotebookRecord = { NotebookId: id, Name: name, WorkGroup: workGroup, Type: 'IPYNB', CreationTime: at, LastModifiedTime: at, Payload: payload };
      await store.create<NotebookRecord>({ kind: 'notebook', id, parent: workGroup, createdAt: at, body });
      return id;
    });
  }

  /** The text of the notebook file at `uri`, read through the result store (the server's S3). */
  async function readNotebookFile(uri: string): Promise<string> {
    if (!/^s3:\/\//i.test(uri)) {
      throw new InvalidRequestError(`Owlet reads notebooks from s3:// locations; ${uri} is not one.`);
    }
    const location = parseS3Uri(uri);
    if (location.key === '' || location.key.endsWith('/')) {
      throw new InvalidRequestError(`${uri} names a folder, not a notebook file.`);
    }
    let bytes: Uint8Array | undefined;
    try {
      bytes = await results.read(location);
    } catch (error) {
      // A store that refuses (no such bucket, no access) is the caller's to fix, as on S3 itself.
      log.warn({ err: error, uri }, 'could not read a notebook to import');
      throw new InvalidRequestError(`The notebook file ${s3Uri(location)} could not be read: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (bytes === undefined) throw new InvalidRequestError(`The notebook file ${s3Uri(location)} does not exist.`);
    if (bytes.byteLength > MAX_NOTEBOOK_BYTES) {
      throw new InvalidRequestError(
        `The notebook file ${s3Uri(location)} is ${bytes.byteLength} bytes; ImportNotebook takes notebooks of up to 10 MB (${MAX_NOTEBOOK_BYTES} bytes).`,
      );
    }
    try {
      return utf8.decode(bytes);
    } catch {
      throw new InvalidRequestError(`The notebook file ${s3Uri(location)} is not UTF-8 text.`);
    }
  }

  /** Refuses a change to a notebook whose session is active (UG notebooks-spark-managing: terminate it first). */
  async function checkNoActiveSession(nb: NotebookRecord, doing: string): Promise<void> {
    const [active] = await activeNotebookSessions(store, nb.WorkGroup, nb.NotebookId);
    if (active) {
      throw new InvalidRequestError(
        `Notebook ${nb.NotebookId} has an active session (${active.SessionId}); terminate it before ${doing} the notebook.`,
      );
    }
  }

  /** Replaces the stored notebook; the caller holds the notebook's lock, so the version read is current. */
  async function saveNotebook(record: StoredRecord<NotebookRecord>, body: NotebookRecord): Promise<void> {
    await store.update<NotebookRecord>('notebook', record.id, record.version, { body });
  }

  return {
    async CreateNotebook(input) {
      return idempotent.run('CreateNotebook', input, async () => {
        await loadSparkWorkGroup(store, input.WorkGroup);
        return { NotebookId: await addNotebook(input.WorkGroup, input.Name, emptyNotebook()) };
      });
    },

    async ImportNotebook(input) {
      const { Payload: payload, NotebookS3LocationUri: uri } = input;
      // The model's documentation: neither or both is an InvalidRequestException.
      if (payload !== undefined && uri !== undefined) {
        throw new InvalidRequestError('Specify either Payload or NotebookS3LocationUri, not both.');
      }
      if (payload === undefined && uri === undefined) {
        throw new InvalidRequestError('Specify either Payload or NotebookS3LocationUri.');
      }
      return idempotent.run('ImportNotebook', input, async () => {
        await loadSparkWorkGroup(store, input.WorkGroup);
        const text = payload ?? (await readNotebookFile(uri!));
        checkPayload(text);
        return { NotebookId: await addNotebook(input.WorkGroup, input.Name, text) };
      });
    },

    async ExportNotebook(input) {
      const nb = (await loadNotebook(store, input.NotebookId)).body;
      return { NotebookMetadata: metadataOf(nb), Payload: nb.Payload };
    },

    async GetNotebookMetadata(input) {
      return { NotebookMetadata: metadataOf((await loadNotebook(store, input.NotebookId)).body) };
    },

    async ListNotebookMetadata(input) {
      await loadSparkWorkGroup(store, input.WorkGroup);
      const filter = input.Filters?.Name;
      const scope = `ListNotebookMetadata/${input.WorkGroup}/${filter ?? ''}`;
      // Listed by name, which is unique in a workgroup: the token holds the last name a page showed, so a
      // notebook added or deleted between pages neither repeats nor hides another.
      const after = decodeNextToken(scope, input.NextToken);
      const needle = filter?.toLowerCase();
      const matching = (await notebooksOf(store, input.WorkGroup))
        .filter((nb) => needle === undefined || nb.Name.toLowerCase().includes(needle))
        .filter((nb) => after === undefined || nb.Name > after)
        .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
      const limit = input.MaxResults ?? LIST_NOTEBOOKS_PAGE;
      const page = matching.slice(0, limit);
      const last = page.at(-1);
      return {
        NotebookMetadataList: page.map(metadataOf),
        NextToken: matching.length > limit && last ? encodeNextToken(scope, last.Name) : undefined,
      };
    },

    async UpdateNotebook(input) {
      return idempotent.run('UpdateNotebook', input, () =>
        locks.run(`notebook/${input.NotebookId}`, async () => {
          const record = await loadNotebook(store, input.NotebookId);
          const nb = record.body;
          const active = await activeNotebookSessions(store, nb.WorkGroup, nb.NotebookId);
          const [current] = active;
          // The model: the SessionId is required when the notebook has an active session.
          if (current && input.SessionId === undefined) {
            throw new InvalidRequestError(
              `Notebook ${nb.NotebookId} has an active session (${current.SessionId}); give its SessionId to update the notebook.`,
            );
          }
          if (input.SessionId !== undefined && !active.some((s) => s.SessionId === input.SessionId)) {
            throw new InvalidRequestError(`Session ${input.SessionId} is not an active session of notebook ${nb.NotebookId}.`);
          }
          checkPayload(input.Payload);
          await saveNotebook(record, { ...nb, Type: input.Type, Payload: input.Payload, LastModifiedTime: now() });
          return {};
        }),
      );
    },

    async UpdateNotebookMetadata(input) {
      return idempotent.run('UpdateNotebookMetadata', input, () =>
        locks.run(`notebook/${input.NotebookId}`, async () => {
          const record = await loadNotebook(store, input.NotebookId);
          const nb = record.body;
          await checkNoActiveSession(nb, 'renaming');
          if (input.Name === nb.Name) return {};
          await locks.run(`names/${nb.WorkGroup}`, async () => {
            await checkNameFree(store, nb.WorkGroup, input.Name, nb.NotebookId);
            await saveNotebook(record, { ...nb, Name: input.Name, LastModifiedTime: now() });
          });
          return {};
        }),
      );
    },

    async DeleteNotebook(input) {
      return locks.run(`notebook/${input.NotebookId}`, async () => {
        const record = await loadNotebook(store, input.NotebookId);
        await checkNoActiveSession(record.body, 'deleting');
        await store.delete('notebook', record.id, record.version);
        return {};
      });
    },

    async ListNotebookSessions(input) {
      const record = await store.get<NotebookRecord>('notebook', input.NotebookId);
      // This is the one notebook operation whose modelled errors include ResourceNotFoundException.
      if (!record) throw new ResourceNotFoundError(notebookNotFound(input.NotebookId), input.NotebookId);
      const sessions = await activeNotebookSessions(store, record.body.WorkGroup, record.id);
      const page = pageOf(
        `ListNotebookSessions/${record.id}`,
        sessions.map((s) => ({ SessionId: s.SessionId, CreationTime: new Date(s.Status.StartDateTime) })),
        Math.min(input.MaxResults ?? NOTEBOOK_SESSIONS_PAGE, NOTEBOOK_SESSIONS_PAGE),
        input.NextToken,
      );
      return { NotebookSessionsList: page.items, NextToken: page.nextToken };
    },
  };
}
