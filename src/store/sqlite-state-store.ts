// The embedded StateStore: one SQLite file in the data directory, in WAL mode, every change one
// transaction. better-sqlite3 is synchronous; its calls are short (indexed single-row reads and writes), so
// they run on the event loop rather than paying a thread hop per request.
import type Database from 'better-sqlite3';
import { migrateSqlite, openOwnedSqlite, StatementCache } from './sqlite-file.js';
import { newestCursorPosition, pageFromRows, type RecordRow, recordFromRow } from './sql-records.js';
import {
  type CorruptRecordListener,
  type IdempotencyEntry,
  type ListPage,
  type ListQuery,
  type NewRecord,
  RecordExistsError,
  type RecordKind,
  type StateStore,
  type StoredRecord,
  VersionConflictError,
} from './state-store.js';

/**
 * Schema migrations, applied in order; `PRAGMA user_version` holds how many have run. Add a new entry for
 * every change and never edit one that has shipped.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE records (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     parent TEXT,
     state TEXT,
     created_at INTEGER NOT NULL,
     version INTEGER NOT NULL,
     body TEXT NOT NULL,
     UNIQUE (kind, id)
   );
   CREATE INDEX records_by_parent ON records (kind, parent, created_at, seq);
   CREATE INDEX records_by_time ON records (kind, created_at, seq);
   CREATE TABLE idempotency_tokens (
     operation TEXT NOT NULL,
     token TEXT NOT NULL,
     request_digest TEXT NOT NULL,
     response TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (operation, token)
   );`,
  // The server's start and the admission check list live sessions by state; retention forgets tokens by age.
  `CREATE INDEX records_by_state ON records (kind, state, created_at, seq);
   CREATE INDEX idempotency_tokens_by_time ON idempotency_tokens (created_at);`,
];

export interface SqliteStateStoreOptions {
  /** A file path, or `:memory:` for tests. */
  path: string;
  onCorrupt?: CorruptRecordListener;
  now?: () => number;
}

export class SqliteStateStore implements StateStore {
  private readonly db: Database.Database;
  private readonly onCorrupt: CorruptRecordListener;
  private readonly now: () => number;
  private readonly statements: StatementCache;
  private closed = false;

  constructor(options: SqliteStateStoreOptions) {
    // NORMAL keeps every committed transaction across a process crash (the WAL is in the OS's cache); only a
    // power loss can roll back the last commits, never corrupt the file.
    this.db = openOwnedSqlite(options.path, 'NORMAL');
    this.statements = new StatementCache(this.db);
    this.onCorrupt = options.onCorrupt ?? (() => {});
    this.now = options.now ?? Date.now;
    migrateSqlite(this.db, MIGRATIONS, 'the state file');
  }

  /** How many migrations the file has had. */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private stmt(sql: string): Database.Statement {
    return this.statements.get(sql);
  }

  async create<T>(record: NewRecord<T>): Promise<StoredRecord<T>> {
    const result = this.stmt(
        `INSERT INTO records (kind, id, parent, state, created_at, version, body) VALUES (?, ?, ?, ?, ?, 1, ?)
         ON CONFLICT (kind, id) DO NOTHING`,
      )
      .run(record.kind, record.id, record.parent ?? null, record.state ?? null, record.createdAt, JSON.stringify(record.body));
    if (result.changes === 0) throw new RecordExistsError(record.kind, record.id);
    return { ...record, version: 1 };
  }

  async get<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined> {
    const row = this.stmt('SELECT * FROM records WHERE kind = ? AND id = ?').get(kind, id) as RecordRow | undefined;
    return row ? recordFromRow<T>(row) : undefined;
  }

  async update<T>(
    kind: RecordKind,
    id: string,
    expectedVersion: number,
    change: { body: T; state?: string },
  ): Promise<StoredRecord<T>> {
    const row = this.stmt(
        `UPDATE records SET body = ?, state = COALESCE(?, state), version = version + 1
         WHERE kind = ? AND id = ? AND version = ? RETURNING *`,
      )
      .get(JSON.stringify(change.body), change.state ?? null, kind, id, expectedVersion) as RecordRow | undefined;
    if (!row) throw new VersionConflictError(kind, id, expectedVersion);
    return recordFromRow<T>(row);
  }

  async delete(kind: RecordKind, id: string, expectedVersion?: number): Promise<boolean> {
    if (expectedVersion === undefined) {
      return this.stmt('DELETE FROM records WHERE kind = ? AND id = ?').run(kind, id).changes > 0;
    }
    const changes = this.stmt('DELETE FROM records WHERE kind = ? AND id = ? AND version = ?')
      .run(kind, id, expectedVersion).changes;
    if (changes === 0) throw new VersionConflictError(kind, id, expectedVersion);
    return true;
  }

  async list<T>(query: ListQuery): Promise<ListPage<T>> {
    const where: string[] = ['kind = ?'];
    const params: unknown[] = [query.kind];
    if (query.parent !== undefined) {
      where.push('parent = ?');
      params.push(query.parent);
    }
    if (query.states !== undefined) {
      where.push(`state IN (${query.states.map(() => '?').join(', ') || 'NULL'})`);
      params.push(...query.states);
    }
    let order: string;
    if (query.order === 'id') {
      if (query.after !== undefined) {
        where.push('id > ?');
        params.push(query.after);
      }
      order = 'id ASC';
    } else {
      if (query.after !== undefined) {
        const { createdAt, seq } = newestCursorPosition(query.after);
        where.push('(created_at < ? OR (created_at = ? AND seq < ?))');
        params.push(createdAt, createdAt, seq);
      }
      order = 'created_at DESC, seq DESC';
    }
    const rows = this.stmt(`SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ?`)
      .all(...params, query.limit + 1) as RecordRow[];
    return pageFromRows<T>(rows, query, this.onCorrupt);
  }

  async deleteChildren(kind: RecordKind, parent: string): Promise<number> {
    return this.stmt('DELETE FROM records WHERE kind = ? AND parent = ?').run(kind, parent).changes;
  }

  async rememberIdempotent(operation: string, token: string, entry: IdempotencyEntry): Promise<IdempotencyEntry | undefined> {
    return this.db.transaction(() => {
      const prior = this.recallSync(operation, token);
      if (prior) return prior;
      this.stmt('INSERT INTO idempotency_tokens (operation, token, request_digest, response, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(operation, token, entry.requestDigest, entry.response, this.now());
      return undefined;
    })();
  }

  async recallIdempotent(operation: string, token: string): Promise<IdempotencyEntry | undefined> {
    return this.recallSync(operation, token);
  }

  async forgetIdempotentBefore(time: number): Promise<number> {
    return this.stmt('DELETE FROM idempotency_tokens WHERE created_at < ?').run(time).changes;
  }

  private recallSync(operation: string, token: string): IdempotencyEntry | undefined {
    const row = this.stmt('SELECT request_digest, response FROM idempotency_tokens WHERE operation = ? AND token = ?')
      .get(operation, token) as { request_digest: string; response: string } | undefined;
    return row ? { requestDigest: row.request_digest, response: row.response } : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
