// The catalog for several server nodes: tables in the same PostgreSQL database as the state store, migrated
// under their own record (`catalog_schema_migrations`) so the two schemas move independently. Each call is one
// transaction on one pooled connection; row locks (`FOR UPDATE`, `FOR SHARE`) and primary keys settle two
// nodes changing one table at once: the second waits, then sees the first's commit.
import { Pool, type PoolClient } from 'pg';
import { CATALOG_SCHEMA, SqlCatalogStore, type SqlStatements, type SqlTransactions } from './sql-catalog-store.js';

/**
 * Applied in order, each recorded in `catalog_schema_migrations`; never edit one that has shipped. Names sort
 * with the "C" collation (UTF-8 byte order, as SQLite sorts), whatever the database's own collation, so that
 * list order and page tokens do not depend on how the database was created.
 */
const MIGRATIONS: readonly string[] = [CATALOG_SCHEMA.replaceAll('TEXT', 'text COLLATE "C"')];

/** Held while migrating so that nodes starting together migrate one after the other: "owcat" in ASCII. */
const MIGRATION_LOCK = 0x6f77636174;

/** `?` placeholders become PostgreSQL's numbered ones (no statement of the catalog has a `?` in a literal). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

class PostgresTransactions implements SqlTransactions {
  private readonly heard = new WeakSet<PoolClient>();
  constructor(private readonly pool: Pool) {}

  async transaction<T>(work: (sql: SqlStatements) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A client taken from the pool has no listener for its `error` event; the query under way rejects anyway.
    if (!this.heard.has(client)) {
      client.on('error', () => {});
      this.heard.add(client);
    }
    const sql: SqlStatements = {
      rows: async <R>(text: string, params: readonly unknown[] = []) => (await client.query(numbered(text), [...params])).rows as R[],
      run: async (text: string, params: readonly unknown[] = []) => (await client.query(numbered(text), [...params])).rowCount ?? 0,
    };
    try {
      await client.query('BEGIN');
      const value = await work(sql);
      await client.query('COMMIT');
      client.release();
      return value;
    } catch (error) {
      // Closing the connection rolls back whatever the error left open.
      client.release(true);
      throw error;
    }
  }
}

export interface PostgresCatalogStoreOptions {
  /** `postgres://user[:password]@host[:port]/database`, with the query parameters the pg package accepts. */
  url: string;
}

export class PostgresCatalogStore extends SqlCatalogStore {
  private closed = false;

  private constructor(private readonly pool: Pool) {
    super(new PostgresTransactions(pool));
  }

  static async open(options: PostgresCatalogStoreOptions): Promise<PostgresCatalogStore> {
    const pool = new Pool({ connectionString: options.url, application_name: 'owlet-catalog' });
    pool.on('error', () => {});
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresCatalogStore(pool);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

async function appliedMigrations(db: PoolClient): Promise<number> {
  const { rows } = await db.query<{ applied: number }>('SELECT COALESCE(max(version), 0) AS applied FROM catalog_schema_migrations');
  return rows[0]!.applied;
}

async function migrate(pool: Pool): Promise<void> {
  const client = await pool.connect();
  client.on('error', () => {});
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS catalog_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied = await appliedMigrations(client);
    if (applied > MIGRATIONS.length) {
      throw new Error(`the catalog has schema version ${applied}, newer than this Owlet knows (${MIGRATIONS.length})`);
    }
    for (let v = applied; v < MIGRATIONS.length; v++) {
      await client.query(MIGRATIONS[v]!);
      await client.query('INSERT INTO catalog_schema_migrations (version) VALUES ($1)', [v + 1]);
    }
    await client.query('COMMIT');
    client.release();
  } catch (error) {
    client.release(true);
    throw error;
  }
}
