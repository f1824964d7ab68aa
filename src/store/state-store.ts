// The durable state of an Owlet server: workgroups, sessions, calculations, notebooks, server nodes and idempotency
// tokens, as versioned records. The interface is small on purpose so that every backend (SQLite embedded,
// PostgreSQL for several server nodes) passes one conformance suite (test/store-conformance.ts).

/** Every kind of record the server keeps. */
export type RecordKind = 'workgroup' | 'session' | 'calculation' | 'notebook' | 'node' | 'lock' | 'session-key';

export interface StoredRecord<T = unknown> {
  kind: RecordKind;
  id: string;
  /** The record this one belongs to (a session's workgroup, a calculation's session), if any. */
  parent?: string;
  /** A state the record can be filtered on (a session's or calculation's state), if any. */
  state?: string;
  /** Milliseconds since the epoch; lists ordered newest first use it. */
  createdAt: number;
  /** Starts at 1 and grows by one with every update; updates name the version they replace. */
  version: number;
  body: T;
}

export type NewRecord<T> = Omit<StoredRecord<T>, 'version'>;

export interface ListQuery {
  kind: RecordKind;
  parent?: string;
  states?: readonly string[];
  /** `id`: ascending by id. `newest`: newest first (creation order, ties by insertion order). */
  order: 'id' | 'newest';
  limit: number;
  /** The cursor a previous page returned. */
  after?: string;
}

export interface ListPage<T> {
  records: StoredRecord<T>[];
  /** Present when more records follow. */
  cursor?: string;
}

export interface IdempotencyEntry {
  /** A digest of the request's parameters, to tell a retry from a conflicting reuse of the token. */
  requestDigest: string;
  /** The response the first request got, as JSON text. */
  response: string;
}

/** Raised by `create` when the id is taken. */
export class RecordExistsError extends Error {
  constructor(
    readonly kind: RecordKind,
    readonly id: string,
  ) {
    super(`${kind} ${id} already exists`);
  }
}

/** Raised by `update` and `delete` when the record changed since it was read (or is gone). */
export class VersionConflictError extends Error {
  constructor(
    readonly kind: RecordKind,
    readonly id: string,
    readonly expected: number,
  ) {
    super(`${kind} ${id} is no longer at version ${expected}`);
  }
}

/** Raised when a stored record cannot be read back; the rest of the store stays usable. */
export class CorruptRecordError extends Error {
  constructor(
    readonly kind: RecordKind,
    readonly id: string,
    cause: unknown,
  ) {
    super(`${kind} ${id} is stored but cannot be read: ${String(cause)}`, { cause });
  }
}

export interface StateStore {
  /** Creates a record at version 1. Throws RecordExistsError when the id is taken. */
  create<T>(record: NewRecord<T>): Promise<StoredRecord<T>>;
  get<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined>;
  /**
   * Replaces body and state of the record at `expectedVersion` and returns the new version. Throws
   * VersionConflictError when the stored version differs or the record is gone.
   */
  update<T>(kind: RecordKind, id: string, expectedVersion: number, change: { body: T; state?: string }): Promise<StoredRecord<T>>;
  /** Deletes the record; with `expectedVersion`, only if it is still at that version. Returns whether it existed. */
  delete(kind: RecordKind, id: string, expectedVersion?: number): Promise<boolean>;
  /** Records in order; records that cannot be read are skipped (and reported through `onCorrupt`). */
  list<T>(query: ListQuery): Promise<ListPage<T>>;
  /** Deletes every record of `kind` whose parent is `parent`; returns how many. */
  deleteChildren(kind: RecordKind, parent: string): Promise<number>;

  /**
   * Remembers the first response for an idempotency token. Returns the entry already stored for
   * (operation, token) if there is one (and stores nothing), otherwise stores `entry` and returns undefined.
   */
  rememberIdempotent(operation: string, token: string, entry: IdempotencyEntry): Promise<IdempotencyEntry | undefined>;
  recallIdempotent(operation: string, token: string): Promise<IdempotencyEntry | undefined>;
  /** Forgets the tokens remembered before `time` (milliseconds since the epoch); returns how many. */
  forgetIdempotentBefore(time: number): Promise<number>;

  close(): Promise<void>;
}

export type CorruptRecordListener = (error: CorruptRecordError) => void;
