// The catalog over SQL, shared by the SQLite and PostgreSQL backends: both keep the same tables (one row per
// database, table, table version, partition and function, its record as JSON text) and run every call as one
// transaction through the small `SqlTransactions` seam, so the rules (name folding, versions, cascades, paging)
// are written once. Statements use `?` placeholders; the PostgreSQL backend numbers them.
import {
  CatalogDatabaseNotEmptyError,
  type CatalogDatabase,
  CatalogEntityExistsError,
  CatalogEntityNotFoundError,
  type CatalogFunction,
  type CatalogPartition,
  type CatalogStore,
  type CatalogTable,
  CatalogVersionConflictError,
  type Page,
  type PageQuery,
} from './catalog-store.js';

/** The catalog's tables; each backend's migration list starts with this text. */
export const CATALOG_SCHEMA = `
  CREATE TABLE catalog_databases (name TEXT PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE catalog_tables (
    database_name TEXT NOT NULL, name TEXT NOT NULL, version_id INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (database_name, name));
  CREATE TABLE catalog_table_versions (
    database_name TEXT NOT NULL, name TEXT NOT NULL, version_id INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (database_name, name, version_id));
  CREATE TABLE catalog_partitions (
    database_name TEXT NOT NULL, table_name TEXT NOT NULL, partition_key TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (database_name, table_name, partition_key));
  CREATE TABLE catalog_functions (
    database_name TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (database_name, name));`;

/** One transaction's statements. `FOR UPDATE` suffixes lock rows where the backend has row locks. */
export interface SqlStatements {
  rows<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a statement that changes rows; returns how many it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

export interface SqlTransactions {
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (sql: SqlStatements) => Promise<T>): Promise<T>;
}

interface BodyRow {
  body: string;
}

const fold = (name: string): string => name.toLowerCase();

/** Partitions are keyed by their values as JSON text, which sorts them by their first value, then the next. */
const partitionKey = (values: readonly string[]): string => JSON.stringify(values);

/**
 * A name filter as the Hive Metastore and Glue take it: `*` is any run of characters, `|` separates
 * alternatives, and the rest is a regular expression; matching ignores case. (Hive's `HiveMetaStore` turns its
 * patterns into Java regular expressions the same way; Glue documents its Expression as a regular expression.)
 */
export function catalogNamePattern(pattern: string): RegExp {
  const alternatives = pattern.split('|').map((p) => p.trim().replace(/(?<!\.)\*/g, '.*'));
  return new RegExp(`^(?:${alternatives.join('|')})$`, 'i');
}

function pageOf<T>(items: T[], query: PageQuery, keyOf: (item: T) => string): Page<T> {
  const more = items.length > query.maxResults;
  const page = more ? items.slice(0, query.maxResults) : items;
  const last = page.at(-1);
  return more && last ? { items: page, nextToken: keyOf(last) } : { items: page };
}

function checkPageSize(query: PageQuery): void {
  if (!Number.isInteger(query.maxResults) || query.maxResults < 1) throw new RangeError(`maxResults must be a positive integer (got ${query.maxResults})`);
}

export class SqlCatalogStore implements CatalogStore {
  constructor(private readonly db: SqlTransactions) {}

  // ---- databases

  async createDatabase(db: CatalogDatabase): Promise<void> {
    const name = fold(db.name);
    await this.db.transaction(async (sql) => {
      const changed = await sql.run('INSERT INTO catalog_databases (name, body) VALUES (?, ?) ON CONFLICT DO NOTHING', [
        name,
        JSON.stringify({ ...db, name }),
      ]);
      if (changed === 0) throw new CatalogEntityExistsError('database', name);
    });
  }

  async getDatabase(name: string): Promise<CatalogDatabase | undefined> {
    return this.db.transaction((sql) => readDatabase(sql, fold(name), false));
  }

  async listDatabases(query: PageQuery & { pattern?: string }): Promise<Page<CatalogDatabase>> {
    checkPageSize(query);
    return this.db.transaction(async (sql) => {
      const rows = await sql.rows<BodyRow>(
        `SELECT body FROM catalog_databases WHERE name > ? ORDER BY name ${query.pattern === undefined ? 'LIMIT ?' : ''}`,
        query.pattern === undefined ? [query.after ?? '', query.maxResults + 1] : [query.after ?? ''],
      );
      let items = rows.map((r) => JSON.parse(r.body) as CatalogDatabase);
      if (query.pattern !== undefined) {
        const matcher = catalogNamePattern(query.pattern);
        items = items.filter((d) => matcher.test(d.name));
      }
      return pageOf(items, query, (d) => d.name);
    });
  }

  async updateDatabase(name: string, db: CatalogDatabase): Promise<void> {
    const current = fold(name);
    const next = fold(db.name);
    if (next !== current) throw new RangeError(`a database cannot be renamed (${current} to ${next})`);
    await this.db.transaction(async (sql) => {
      const changed = await sql.run('UPDATE catalog_databases SET body = ? WHERE name = ?', [JSON.stringify({ ...db, name: current }), current]);
      if (changed === 0) throw new CatalogEntityNotFoundError('database', current);
    });
  }

  async deleteDatabase(name: string, options: { cascade: boolean }): Promise<void> {
    const db = fold(name);
    await this.db.transaction(async (sql) => {
      if (!(await readDatabase(sql, db, true))) throw new CatalogEntityNotFoundError('database', db);
      if (!options.cascade) {
        const tables = await sql.rows('SELECT name FROM catalog_tables WHERE database_name = ? LIMIT 1', [db]);
        if (tables.length > 0) throw new CatalogDatabaseNotEmptyError(db);
      }
      for (const table of ['catalog_partitions', 'catalog_table_versions', 'catalog_tables', 'catalog_functions']) {
        await sql.run(`DELETE FROM ${table} WHERE database_name = ?`, [db]);
      }
      await sql.run('DELETE FROM catalog_databases WHERE name = ?', [db]);
    });
  }

  // ---- tables

  async createTable(input: Omit<CatalogTable, 'versionId'>): Promise<CatalogTable> {
    const table: CatalogTable = { ...input, databaseName: fold(input.databaseName), name: fold(input.name), versionId: '1' };
    return this.db.transaction(async (sql) => {
      await requireDatabase(sql, table.databaseName);
      const body = JSON.stringify(table);
      const changed = await sql.run(
        'INSERT INTO catalog_tables (database_name, name, version_id, body) VALUES (?, ?, 1, ?) ON CONFLICT DO NOTHING',
        [table.databaseName, table.name, body],
      );
      if (changed === 0) throw new CatalogEntityExistsError('table', `${table.databaseName}.${table.name}`);
      // Versions of an earlier table of the same name went with it (deleteTable), so this one starts afresh.
      await sql.run('INSERT INTO catalog_table_versions (database_name, name, version_id, body) VALUES (?, ?, 1, ?)', [
        table.databaseName,
        table.name,
        body,
      ]);
      return table;
    });
  }

  async getTable(databaseName: string, name: string): Promise<CatalogTable | undefined> {
    return this.db.transaction((sql) => readTable(sql, fold(databaseName), fold(name), false));
  }

  async listTables(databaseName: string, query: PageQuery & { pattern?: string }): Promise<Page<CatalogTable>> {
    checkPageSize(query);
    const db = fold(databaseName);
    return this.db.transaction(async (sql) => {
      await requireDatabase(sql, db);
      const rows = await sql.rows<BodyRow>(
        `SELECT body FROM catalog_tables WHERE database_name = ? AND name > ? ORDER BY name ${query.pattern === undefined ? 'LIMIT ?' : ''}`,
        query.pattern === undefined ? [db, query.after ?? '', query.maxResults + 1] : [db, query.after ?? ''],
      );
      let items = rows.map((r) => JSON.parse(r.body) as CatalogTable);
      if (query.pattern !== undefined) {
        const matcher = catalogNamePattern(query.pattern);
        items = items.filter((t) => matcher.test(t.name));
      }
      return pageOf(items, query, (t) => t.name);
    });
  }

  async updateTable(
    databaseName: string,
    name: string,
    input: Omit<CatalogTable, 'versionId'>,
    options: { expectedVersionId?: string },
  ): Promise<CatalogTable> {
    const db = fold(databaseName);
    const current = fold(name);
    const targetDb = fold(input.databaseName);
    const target = fold(input.name);
    return this.db.transaction(async (sql) => {
      const row = await readTable(sql, db, current, true);
      if (!row) throw new CatalogEntityNotFoundError('table', `${db}.${current}`);
      if (options.expectedVersionId !== undefined && options.expectedVersionId !== row.versionId) {
        throw new CatalogVersionConflictError(`${db}.${current}`, options.expectedVersionId);
      }
      const version = Number(row.versionId) + 1;
      const table: CatalogTable = { ...input, databaseName: targetDb, name: target, versionId: String(version) };
      const body = JSON.stringify(table);
      if (targetDb === db && target === current) {
        await sql.run('UPDATE catalog_tables SET version_id = ?, body = ? WHERE database_name = ? AND name = ?', [version, body, db, current]);
      } else {
        await requireDatabase(sql, targetDb);
        const changed = await sql.run(
          'INSERT INTO catalog_tables (database_name, name, version_id, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
          [targetDb, target, version, body],
        );
        if (changed === 0) throw new CatalogEntityExistsError('table', `${targetDb}.${target}`);
        await sql.run('DELETE FROM catalog_tables WHERE database_name = ? AND name = ?', [db, current]);
        // A stale history under the new name (there can be none: deleteTable removes it) would clash on keys.
        await sql.run('DELETE FROM catalog_table_versions WHERE database_name = ? AND name = ?', [targetDb, target]);
        await sql.run('UPDATE catalog_table_versions SET database_name = ?, name = ? WHERE database_name = ? AND name = ?', [
          targetDb,
          target,
          db,
          current,
        ]);
        await this.movePartitions(sql, db, current, targetDb, target);
      }
      await sql.run('INSERT INTO catalog_table_versions (database_name, name, version_id, body) VALUES (?, ?, ?, ?)', [
        targetDb,
        target,
        version,
        body,
      ]);
      return table;
    });
  }

  private async movePartitions(sql: SqlStatements, db: string, table: string, targetDb: string, target: string): Promise<void> {
    const rows = await sql.rows<{ partition_key: string; body: string }>(
      'SELECT partition_key, body FROM catalog_partitions WHERE database_name = ? AND table_name = ?',
      [db, table],
    );
    await sql.run('DELETE FROM catalog_partitions WHERE database_name = ? AND table_name = ?', [db, table]);
    for (const row of rows) {
      const partition = { ...(JSON.parse(row.body) as CatalogPartition), databaseName: targetDb, tableName: target };
      await sql.run('INSERT INTO catalog_partitions (database_name, table_name, partition_key, body) VALUES (?, ?, ?, ?)', [
        targetDb,
        target,
        row.partition_key,
        JSON.stringify(partition),
      ]);
    }
  }

  async deleteTable(databaseName: string, name: string): Promise<void> {
    const db = fold(databaseName);
    const table = fold(name);
    await this.db.transaction(async (sql) => {
      const changed = await sql.run('DELETE FROM catalog_tables WHERE database_name = ? AND name = ?', [db, table]);
      if (changed === 0) throw new CatalogEntityNotFoundError('table', `${db}.${table}`);
      await sql.run('DELETE FROM catalog_table_versions WHERE database_name = ? AND name = ?', [db, table]);
      await sql.run('DELETE FROM catalog_partitions WHERE database_name = ? AND table_name = ?', [db, table]);
    });
  }

  async getTableVersion(databaseName: string, name: string, versionId: string): Promise<CatalogTable | undefined> {
    if (!/^[1-9][0-9]{0,9}$/.test(versionId)) return undefined;
    return this.db.transaction(async (sql) => {
      const rows = await sql.rows<BodyRow>(
        'SELECT body FROM catalog_table_versions WHERE database_name = ? AND name = ? AND version_id = ?',
        [fold(databaseName), fold(name), Number(versionId)],
      );
      return rows[0] ? (JSON.parse(rows[0].body) as CatalogTable) : undefined;
    });
  }

  /** Newest version first, as Glue's GetTableVersions lists them; the token is the last version listed. */
  async listTableVersions(databaseName: string, name: string, query: PageQuery): Promise<Page<CatalogTable>> {
    checkPageSize(query);
    const db = fold(databaseName);
    const table = fold(name);
    return this.db.transaction(async (sql) => {
      if (!(await readTable(sql, db, table, false))) throw new CatalogEntityNotFoundError('table', `${db}.${table}`);
      // The largest INTEGER PostgreSQL's column holds; versions never get near it.
      const before = query.after === undefined ? 2_147_483_647 : Number(query.after);
      if (!Number.isInteger(before)) throw new RangeError(`bad version token ${query.after}`);
      const rows = await sql.rows<BodyRow>(
        'SELECT body FROM catalog_table_versions WHERE database_name = ? AND name = ? AND version_id < ? ORDER BY version_id DESC LIMIT ?',
        [db, table, before, query.maxResults + 1],
      );
      return pageOf(
        rows.map((r) => JSON.parse(r.body) as CatalogTable),
        query,
        (t) => t.versionId,
      );
    });
  }

  // ---- partitions

  async createPartitions(partitions: CatalogPartition[], options: { ifNotExists: boolean }): Promise<void> {
    if (partitions.length === 0) return;
    await this.db.transaction(async (sql) => {
      const checked = new Set<string>();
      for (const input of partitions) {
        const partition = { ...input, databaseName: fold(input.databaseName), tableName: fold(input.tableName) };
        const tableKey = `${partition.databaseName}.${partition.tableName}`;
        if (!checked.has(tableKey)) {
          const table = await readTable(sql, partition.databaseName, partition.tableName, false);
          if (!table) throw new CatalogEntityNotFoundError('table', tableKey);
          checked.add(tableKey);
        }
        const changed = await sql.run(
          'INSERT INTO catalog_partitions (database_name, table_name, partition_key, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
          [partition.databaseName, partition.tableName, partitionKey(partition.values), JSON.stringify(partition)],
        );
        if (changed === 0 && !options.ifNotExists) {
          throw new CatalogEntityExistsError('partition', `${tableKey} (${partition.values.join(', ')})`);
        }
      }
    });
  }

  async getPartition(databaseName: string, tableName: string, values: string[]): Promise<CatalogPartition | undefined> {
    return this.db.transaction(async (sql) => {
      const rows = await sql.rows<BodyRow>(
        'SELECT body FROM catalog_partitions WHERE database_name = ? AND table_name = ? AND partition_key = ?',
        [fold(databaseName), fold(tableName), partitionKey(values)],
      );
      return rows[0] ? (JSON.parse(rows[0].body) as CatalogPartition) : undefined;
    });
  }

  /** The token is the last partition's key (its values as JSON text). */
  async listPartitions(databaseName: string, tableName: string, query: PageQuery): Promise<Page<CatalogPartition>> {
    checkPageSize(query);
    const db = fold(databaseName);
    const table = fold(tableName);
    return this.db.transaction(async (sql) => {
      if (!(await readTable(sql, db, table, false))) throw new CatalogEntityNotFoundError('table', `${db}.${table}`);
      const rows = await sql.rows<BodyRow>(
        'SELECT body FROM catalog_partitions WHERE database_name = ? AND table_name = ? AND partition_key > ? ORDER BY partition_key LIMIT ?',
        [db, table, query.after ?? '', query.maxResults + 1],
      );
      return pageOf(
        rows.map((r) => JSON.parse(r.body) as CatalogPartition),
        query,
        (p) => partitionKey(p.values),
      );
    });
  }

  async updatePartition(databaseName: string, tableName: string, values: string[], input: CatalogPartition): Promise<void> {
    const db = fold(databaseName);
    const table = fold(tableName);
    const partition: CatalogPartition = { ...input, databaseName: db, tableName: table };
    const oldKey = partitionKey(values);
    const newKey = partitionKey(partition.values);
    await this.db.transaction(async (sql) => {
      const name = `${db}.${table} (${values.join(', ')})`;
      if (oldKey === newKey) {
        const changed = await sql.run(
          'UPDATE catalog_partitions SET body = ? WHERE database_name = ? AND table_name = ? AND partition_key = ?',
          [JSON.stringify(partition), db, table, oldKey],
        );
        if (changed === 0) throw new CatalogEntityNotFoundError('partition', name);
        return;
      }
      const removed = await sql.run('DELETE FROM catalog_partitions WHERE database_name = ? AND table_name = ? AND partition_key = ?', [
        db,
        table,
        oldKey,
      ]);
      if (removed === 0) throw new CatalogEntityNotFoundError('partition', name);
      const added = await sql.run(
        'INSERT INTO catalog_partitions (database_name, table_name, partition_key, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [db, table, newKey, JSON.stringify(partition)],
      );
      if (added === 0) throw new CatalogEntityExistsError('partition', `${db}.${table} (${partition.values.join(', ')})`);
    });
  }

  /** All or nothing: a partition that is not there refuses the whole call. */
  async deletePartitions(databaseName: string, tableName: string, valueLists: string[][]): Promise<void> {
    const db = fold(databaseName);
    const table = fold(tableName);
    await this.db.transaction(async (sql) => {
      for (const values of valueLists) {
        const changed = await sql.run('DELETE FROM catalog_partitions WHERE database_name = ? AND table_name = ? AND partition_key = ?', [
          db,
          table,
          partitionKey(values),
        ]);
        if (changed === 0) throw new CatalogEntityNotFoundError('partition', `${db}.${table} (${values.join(', ')})`);
      }
    });
  }

  // ---- functions

  async createFunction(input: CatalogFunction): Promise<void> {
    const fn = { ...input, databaseName: fold(input.databaseName), name: fold(input.name) };
    await this.db.transaction(async (sql) => {
      await requireDatabase(sql, fn.databaseName);
      const changed = await sql.run('INSERT INTO catalog_functions (database_name, name, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [
        fn.databaseName,
        fn.name,
        JSON.stringify(fn),
      ]);
      if (changed === 0) throw new CatalogEntityExistsError('function', `${fn.databaseName}.${fn.name}`);
    });
  }

  async getFunction(databaseName: string, name: string): Promise<CatalogFunction | undefined> {
    return this.db.transaction(async (sql) => {
      const rows = await sql.rows<BodyRow>('SELECT body FROM catalog_functions WHERE database_name = ? AND name = ?', [
        fold(databaseName),
        fold(name),
      ]);
      return rows[0] ? (JSON.parse(rows[0].body) as CatalogFunction) : undefined;
    });
  }

  /** Without a database, every database's functions; the token is `database.name` of the last one. */
  async listFunctions(databaseName: string | undefined, query: PageQuery & { pattern?: string }): Promise<Page<CatalogFunction>> {
    checkPageSize(query);
    return this.db.transaction(async (sql) => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (databaseName !== undefined) {
        where.push('database_name = ?');
        params.push(fold(databaseName));
      }
      if (query.after !== undefined) {
        const dot = query.after.indexOf('.');
        where.push('(database_name > ? OR (database_name = ? AND name > ?))');
        params.push(query.after.slice(0, dot), query.after.slice(0, dot), query.after.slice(dot + 1));
      }
      const rows = await sql.rows<BodyRow>(
        `SELECT body FROM catalog_functions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY database_name, name`,
        params,
      );
      let items = rows.map((r) => JSON.parse(r.body) as CatalogFunction);
      if (query.pattern !== undefined) {
        const matcher = catalogNamePattern(query.pattern);
        items = items.filter((f) => matcher.test(f.name));
      }
      return pageOf(items, query, (f) => `${f.databaseName}.${f.name}`);
    });
  }

  async updateFunction(databaseName: string, name: string, input: CatalogFunction): Promise<void> {
    const db = fold(databaseName);
    const current = fold(name);
    const fn = { ...input, databaseName: db, name: fold(input.name) };
    await this.db.transaction(async (sql) => {
      if (fn.name !== current) {
        const removed = await sql.run('DELETE FROM catalog_functions WHERE database_name = ? AND name = ?', [db, current]);
        if (removed === 0) throw new CatalogEntityNotFoundError('function', `${db}.${current}`);
        const added = await sql.run('INSERT INTO catalog_functions (database_name, name, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [
          db,
          fn.name,
          JSON.stringify(fn),
        ]);
        if (added === 0) throw new CatalogEntityExistsError('function', `${db}.${fn.name}`);
        return;
      }
      const changed = await sql.run('UPDATE catalog_functions SET body = ? WHERE database_name = ? AND name = ?', [JSON.stringify(fn), db, current]);
      if (changed === 0) throw new CatalogEntityNotFoundError('function', `${db}.${current}`);
    });
  }

  async deleteFunction(databaseName: string, name: string): Promise<void> {
    const db = fold(databaseName);
    const fn = fold(name);
    await this.db.transaction(async (sql) => {
      const changed = await sql.run('DELETE FROM catalog_functions WHERE database_name = ? AND name = ?', [db, fn]);
      if (changed === 0) throw new CatalogEntityNotFoundError('function', `${db}.${fn}`);
    });
  }
}

async function readDatabase(sql: SqlStatements, name: string, lock: boolean): Promise<CatalogDatabase | undefined> {
  const rows = await sql.rows<BodyRow>(`SELECT body FROM catalog_databases WHERE name = ?${lock ? ' FOR UPDATE' : ''}`, [name]);
  return rows[0] ? (JSON.parse(rows[0].body) as CatalogDatabase) : undefined;
}

/**
 * Checks the database is there and keeps it there until the transaction ends (a share lock on PostgreSQL, so
 * that a concurrent drop of the database waits rather than leaving an orphan table).
 */
async function requireDatabase(sql: SqlStatements, name: string): Promise<void> {
  const rows = await sql.rows('SELECT name FROM catalog_databases WHERE name = ? FOR SHARE', [name]);
  if (rows.length === 0) throw new CatalogEntityNotFoundError('database', name);
}

async function readTable(sql: SqlStatements, db: string, name: string, lock: boolean): Promise<CatalogTable | undefined> {
  const rows = await sql.rows<BodyRow>(
    `SELECT body FROM catalog_tables WHERE database_name = ? AND name = ?${lock ? ' FOR UPDATE' : ''}`,
    [db, name],
  );
  return rows[0] ? (JSON.parse(rows[0].body) as CatalogTable) : undefined;
}
