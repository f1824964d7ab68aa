// Schema migrations of a PostgreSQL database that several server nodes open: every pending one in a single
// transaction, under an advisory lock so that nodes starting together migrate one after the other and the
// later ones find the work done. A node that fails halfway leaves the schema as it found it.
import type { Pool, PoolClient } from 'pg';

export interface PostgresMigrations {
  /** The table recording which migrations have run (`schema_migrations`, `catalog_schema_migrations`). */
  table: string;
  /** The advisory lock's key: any number no other user of the database locks. */
  lock: number;
  migrations: readonly string[];
  /** What the schema is, for the error of a database newer than this Owlet. */
  what: string;
}

export async function appliedPostgresMigrations(db: Pool | PoolClient, table: string): Promise<number> {
  const { rows } = await db.query<{ applied: number }>(`SELECT COALESCE(max(version), 0) AS applied FROM ${table}`);
  return rows[0]!.applied;
}

export async function migratePostgres(pool: Pool, schema: PostgresMigrations): Promise<void> {
  const client = await pool.connect();
  // A client taken from the pool has no listener for its `error` event (the pool's own is for idle clients),
  // and an unheard one ends the process. The query under way rejects with the same error.
  client.on('error', () => {});
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [schema.lock]);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema.table} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const applied = await appliedPostgresMigrations(client, schema.table);
    if (applied > schema.migrations.length) {
      throw new Error(`${schema.what} has schema version ${applied}, newer than this Owlet knows (${schema.migrations.length})`);
    }
    for (let v = applied; v < schema.migrations.length; v++) {
      await client.query(schema.migrations[v]!);
      await client.query(`INSERT INTO ${schema.table} (version) VALUES ($1)`, [v + 1]);
    }
    await client.query('COMMIT');
    client.release();
  } catch (error) {
    // Closing the connection rolls the transaction back and frees the lock, whatever state the error left the
    // connection in.
    client.release(true);
    throw error;
  }
}
