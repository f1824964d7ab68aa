// The StateStore for several server nodes: one PostgreSQL database that every node opens. Each method is one
// statement in its own transaction (or two, for idempotency tokens), so the guarantees the SQLite store gets
// from owning its file come here from the statements themselves: inserts that do nothing on a taken key, and
// updates and deletes that name the version they replace.
import { Pool } from 'pg';
import { appliedPostgresMigrations, migratePostgres } from './postgres-migrations.js';
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
 * Schema migrations, applied in order, each recorded in `schema_migrations`. Add a new entry for every change
 * and never edit one that has shipped.
 *
 * The layout is the SQLite store's, with two choices made for parity with it. Bodies are `text` holding JSON,
 * not `jsonb`: jsonb would refuse a string holding U+0000 (which JSON text escapes) and reorder keys, and a
 * record that cannot be parsed stays possible, so it is skipped and reported the same way. Ids sort with the
 * "C" collation, byte order of UTF-8 like SQLite's, whatever the database's own collation: lists by id and their
 * cursors must not depend on how the database was created.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE records (
     seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     kind text NOT NULL,
     id text COLLATE "C" NOT NULL,
     parent text,
     state text,
     created_at bigint NOT NULL,
     version integer NOT NULL,
     body text NOT NULL,
     UNIQUE (kind, id)
   );
   CREATE INDEX records_by_parent ON records (kind, parent, created_at, seq);
   CREATE INDEX records_by_time ON records (kind, created_at, seq);
   CREATE TABLE idempotency_tokens (
     operation text NOT NULL,
     token text NOT NULL,
     request_digest text NOT NULL,
     response text NOT NULL,
     created_at bigint NOT NULL,
     PRIMARY KEY (operation, token)
   );`,
  // The server's start and the admission check list live sessions by state; retention forgets tokens by age.
  `CREATE INDEX records_by_state ON records (kind, state, created_at, seq);
   CREATE INDEX idempotency_tokens_by_time ON idempotency_tokens (created_at);`,
];

/**
 * The advisory lock held while migrating, so that nodes starting together migrate one after the other and the
 * later ones find the work done. Any number no other user of the database locks will do: "owlet" in ASCII.
 */
const MIGRATION_LOCK = 0x6f776c6574;

export interface PostgresStateStoreOptions {
  /** `postgres://user[:password]@host[:port]/database`, with the query parameters the pg package accepts. */
  url: string;
  onCorrupt?: CorruptRecordListener;
  now?: () => number;
}

export class PostgresStateStore implements StateStore {
  private closed = false;

  private constructor(
    private readonly pool: Pool,
    private readonly onCorrupt: CorruptRecordListener,
    private readonly now: () => number,
  ) {}

  /** Connects, and migrates the database to the current schema when it is behind. */
  static async open(options: PostgresStateStoreOptions): Promise<PostgresStateStore> {
    const pool = new Pool({ connectionString: options.url, application_name: 'owlet' });
    // A connection that breaks while idle in the pool (a database restart, a network cut) is dropped by the
    // pool, and the next query opens a new one; without a listener the pool's `error` event would end the
    // process. Queries that fail still reject.
    pool.on('error', () => {});
    try {
      await migratePostgres(pool, { table: 'schema_migrations', lock: MIGRATION_LOCK, migrations: MIGRATIONS, what: 'the database' });
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresStateStore(pool, options.onCorrupt ?? (() => {}), options.now ?? Date.now);
  }

  /** How many migrations the database has had. */
  async schemaVersion(): Promise<number> {
    return appliedPostgresMigrations(this.pool, 'schema_migrations');
  }

  async create<T>(record: NewRecord<T>): Promise<StoredRecord<T>> {
    const result = await this.pool.query(
      `INSERT INTO records (kind, id, parent, state, created_at, version, body) VALUES ($1, $2, $3, $4, $5, 1, $6)
       ON CONFLICT (kind, id) DO NOTHING`,
      [record.kind, record.id, record.parent ?? null, record.state ?? null, record.createdAt, JSON.stringify(record.body)],
    );
    if (result.rowCount === 0) throw new RecordExistsError(record.kind, record.id);
    return { ...record, version: 1 };
  }

  async get<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined> {
    const { rows } = await this.pool.query<RecordRow>('SELECT * FROM records WHERE kind = $1 AND id = $2', [kind, id]);
    return rows[0] ? recordFromRow<T>(rows[0]) : undefined;
  }

  async update<T>(
    kind: RecordKind,
    id: string,
    expectedVersion: number,
    change: { body: T; state?: string },
  ): Promise<StoredRecord<T>> {
    // Two nodes updating one record at once: the second waits for the first to commit, then re-checks the
    // version against the row the first left, finds it changed, and updates nothing.
    const { rows } = await this.pool.query<RecordRow>(
      `UPDATE records SET body = $1, state = COALESCE($2, state), version = version + 1
       WHERE kind = $3 AND id = $4 AND version = $5 RETURNING *`,
      [JSON.stringify(change.body), change.state ?? null, kind, id, expectedVersion],
    );
    if (!rows[0]) throw new VersionConflictError(kind, id, expectedVersion);
    return recordFromRow<T>(rows[0]);
  }

  async delete(kind: RecordKind, id: string, expectedVersion?: number): Promise<boolean> {
    if (expectedVersion === undefined) {
      const result = await this.pool.query('DELETE FROM records WHERE kind = $1 AND id = $2', [kind, id]);
      return (result.rowCount ?? 0) > 0;
    }
    const result = await this.pool.query('DELETE FROM records WHERE kind = $1 AND id = $2 AND version = $3', [
      kind,
      id,
      expectedVersion,
    ]);
    if (result.rowCount === 0) throw new VersionConflictError(kind, id, expectedVersion);
    return true;
  }

  async list<T>(query: ListQuery): Promise<ListPage<T>> {
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    const where: string[] = [`kind = ${param(query.kind)}`];
    if (query.parent !== undefined) where.push(`parent = ${param(query.parent)}`);
    if (query.states !== undefined) where.push(`state = ANY(${param([...query.states])}::text[])`);
    let order: string;
    if (query.order === 'id') {
      if (query.after !== undefined) where.push(`id > ${param(query.after)}`);
      order = 'id ASC';
    } else {
      if (query.after !== undefined) {
        const { createdAt, seq } = newestCursorPosition(query.after);
        where.push(`(created_at, seq) < (${param(createdAt)}, ${param(seq)})`);
      }
      order = 'created_at DESC, seq DESC';
    }
    const { rows } = await this.pool.query<RecordRow>(
      `SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${param(query.limit + 1)}`,
      params,
    );
    return pageFromRows<T>(rows, query, this.onCorrupt);
  }

  async deleteChildren(kind: RecordKind, parent: string): Promise<number> {
    const result = await this.pool.query('DELETE FROM records WHERE kind = $1 AND parent = $2', [kind, parent]);
    return result.rowCount ?? 0;
  }

  async rememberIdempotent(operation: string, token: string, entry: IdempotencyEntry): Promise<IdempotencyEntry | undefined> {
    // Two statements, not one: when another node's insert of the same token wins, ON CONFLICT waits for it to
    // commit, but a read in the same statement would use a snapshot taken before that commit and miss its row.
    // The read that follows takes a new snapshot and finds it. Retention may forget the token between the two
    // statements; the loop then stores this one.
    for (;;) {
      const inserted = await this.pool.query(
        `INSERT INTO idempotency_tokens (operation, token, request_digest, response, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (operation, token) DO NOTHING`,
        [operation, token, entry.requestDigest, entry.response, this.now()],
      );
      if (inserted.rowCount === 1) return undefined;
      const prior = await this.recallIdempotent(operation, token);
      if (prior) return prior;
    }
  }

  async recallIdempotent(operation: string, token: string): Promise<IdempotencyEntry | undefined> {
    const { rows } = await this.pool.query<{ request_digest: string; response: string }>(
      'SELECT request_digest, response FROM idempotency_tokens WHERE operation = $1 AND token = $2',
      [operation, token],
    );
    return rows[0] ? { requestDigest: rows[0].request_digest, response: rows[0].response } : undefined;
  }

  async forgetIdempotentBefore(time: number): Promise<number> {
    const result = await this.pool.query('DELETE FROM idempotency_tokens WHERE created_at < $1', [time]);
    return result.rowCount ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
