// The embedded catalog: a SQLite file of its own beside the state file in the data directory (the state
// store's connection holds its file's lock exclusively, so the catalog cannot share that file). better-sqlite3
// is synchronous, so a transaction is a run of statements on the event loop; the queue keeps one transaction
// whole while another caller's statements wait.
import type Database from 'better-sqlite3';
import { migrateSqlite, openOwnedSqlite, StatementCache } from '../store/sqlite-file.js';
import { CATALOG_SCHEMA, SqlCatalogStore, type SqlStatements, type SqlTransactions } from './sql-catalog-store.js';

/** Applied in order; `PRAGMA user_version` holds how many have run. Never edit one that has shipped. */
const MIGRATIONS: readonly string[] = [CATALOG_SCHEMA];

class SqliteTransactions implements SqlTransactions {
  private readonly statements: StatementCache;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly sql: SqlStatements;

  constructor(readonly db: Database.Database) {
    this.statements = new StatementCache(db);
    // SQLite has no row locks: the whole transaction holds the file, so the lock suffixes go.
    const prepare = (text: string): Database.Statement => this.statements.get(text.replace(/ FOR (UPDATE|SHARE)$/, ''));
    this.sql = {
      rows: async <R>(text: string, params: readonly unknown[] = []) => prepare(text).all(...params) as R[],
      run: async (text: string, params: readonly unknown[] = []) => prepare(text).run(...params).changes,
    };
  }

  transaction<T>(work: (sql: SqlStatements) => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const value = await work(this.sql);
        this.db.exec('COMMIT');
        return value;
      } catch (error) {
        this.db.exec('ROLLBACK');
        throw error;
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }
}

export interface SqliteCatalogStoreOptions {
  /** A file path, or `:memory:` for tests. */
  path: string;
}

export class SqliteCatalogStore extends SqlCatalogStore {
  private readonly file: Database.Database;
  private closed = false;

  constructor(options: SqliteCatalogStoreOptions) {
    // FULL: a committed table definition survives a power loss too; catalog writes are few.
    const db = openOwnedSqlite(options.path, 'FULL');
    try {
      migrateSqlite(db, MIGRATIONS, 'the catalog file');
    } catch (error) {
      db.close();
      throw error;
    }
    super(new SqliteTransactions(db));
    this.file = db;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }
}
