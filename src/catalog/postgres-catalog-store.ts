// The catalog for several server nodes: tables in the same PostgreSQL database as the state store, migrated
// under their own record (`catalog_schema_migrations`) so the two schemas move independently. Each call is one
// transaction on one pooled connection; row locks (`FOR UPDATE`, `FOR SHARE`) and primary keys settle two
// nodes changing one table at once: the second waits, then sees the first's commit.
import { Pool, type PoolClient } from 'pg';
import { migratePostgres } from '../store/postgres-migrations.js';
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
      await migratePostgres(pool, { table: 'catalog_schema_migrations', lock: MIGRATION_LOCK, migrations: MIGRATIONS, what: 'the catalog' });
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
