// A small in-memory CatalogStore for the Glue API's tests, kept to the interface's contract (names folded to
// lower case, name order, opaque page tokens, versions on update). The real stores (SQLite, PostgreSQL) and their
// conformance suite belong to src/catalog/.
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
} from '../src/catalog/catalog-store.js';

const clone = <T>(value: T): T => structuredClone(value);
const lower = (s: string): string => s.toLowerCase();

function page<T>(items: T[], keyOf: (item: T) => string, query: PageQuery): Page<T> {
  const start = query.after === undefined ? 0 : items.findIndex((i) => keyOf(i) > query.after!);
  const from = start < 0 ? items.length : start;
  const slice = items.slice(from, from + query.maxResults);
  const more = from + query.maxResults < items.length;
  return more ? { items: slice.map(clone), nextToken: keyOf(slice[slice.length - 1]!) } : { items: slice.map(clone) };
}

/** Hive's listing pattern: `*` any run, `|` alternatives. */
const matchesPattern = (name: string, pattern: string | undefined): boolean =>
  pattern === undefined || new RegExp(`^(?:${pattern.replace(/\*/g, '.*')})$`, 'i').test(name);

const partitionKey = (values: readonly string[]): string => JSON.stringify(values);

export class MemoryCatalogStore implements CatalogStore {
  private readonly databases = new Map<string, CatalogDatabase>();
  private readonly tables = new Map<string, CatalogTable>();
  private readonly versions = new Map<string, CatalogTable[]>();
  private readonly partitions = new Map<string, Map<string, CatalogPartition>>();
  private readonly functions = new Map<string, CatalogFunction>();

  private tableKey(db: string, name: string): string {
    return `${lower(db)}.${lower(name)}`;
  }

  async createDatabase(db: CatalogDatabase): Promise<void> {
    if (this.databases.has(lower(db.name))) throw new CatalogEntityExistsError('database', db.name);
    this.databases.set(lower(db.name), clone({ ...db, name: lower(db.name) }));
  }

  async getDatabase(name: string): Promise<CatalogDatabase | undefined> {
    const db = this.databases.get(lower(name));
    return db && clone(db);
  }

  async listDatabases(query: PageQuery & { pattern?: string }): Promise<Page<CatalogDatabase>> {
    const all = [...this.databases.values()].filter((d) => matchesPattern(d.name, query.pattern)).sort((a, b) => (a.name < b.name ? -1 : 1));
    return page(all, (d) => d.name, query);
  }

  async updateDatabase(name: string, db: CatalogDatabase): Promise<void> {
    if (!this.databases.has(lower(name))) throw new CatalogEntityNotFoundError('database', name);
    this.databases.set(lower(name), clone({ ...db, name: lower(name) }));
  }

  async deleteDatabase(name: string, options: { cascade: boolean }): Promise<void> {
    if (!this.databases.has(lower(name))) throw new CatalogEntityNotFoundError('database', name);
    const tables = [...this.tables.values()].filter((t) => t.databaseName === lower(name));
    if (tables.length > 0 && !options.cascade) throw new CatalogDatabaseNotEmptyError(name);
    for (const t of tables) await this.deleteTable(t.databaseName, t.name);
    for (const [key, fn] of this.functions) if (fn.databaseName === lower(name)) this.functions.delete(key);
    this.databases.delete(lower(name));
  }

  async createTable(table: Omit<CatalogTable, 'versionId'>): Promise<CatalogTable> {
    if (!this.databases.has(lower(table.databaseName))) throw new CatalogEntityNotFoundError('database', table.databaseName);
    const key = this.tableKey(table.databaseName, table.name);
    if (this.tables.has(key)) throw new CatalogEntityExistsError('table', table.name);
    const stored: CatalogTable = clone({ ...table, databaseName: lower(table.databaseName), name: lower(table.name), versionId: '1' });
    this.tables.set(key, stored);
    this.versions.set(key, [clone(stored)]);
    return clone(stored);
  }

  async getTable(databaseName: string, name: string): Promise<CatalogTable | undefined> {
    const t = this.tables.get(this.tableKey(databaseName, name));
    return t && clone(t);
  }

  async listTables(databaseName: string, query: PageQuery & { pattern?: string }): Promise<Page<CatalogTable>> {
    const all = [...this.tables.values()]
      .filter((t) => t.databaseName === lower(databaseName) && matchesPattern(t.name, query.pattern))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    return page(all, (t) => t.name, query);
  }

  async updateTable(
    databaseName: string,
    name: string,
    table: Omit<CatalogTable, 'versionId'>,
    options: { expectedVersionId?: string },
  ): Promise<CatalogTable> {
    const key = this.tableKey(databaseName, name);
    const current = this.tables.get(key);
    if (!current) throw new CatalogEntityNotFoundError('table', name);
    if (options.expectedVersionId !== undefined && options.expectedVersionId !== current.versionId) {
      throw new CatalogVersionConflictError(name, options.expectedVersionId);
    }
    const newKey = this.tableKey(databaseName, table.name);
    if (newKey !== key && this.tables.has(newKey)) throw new CatalogEntityExistsError('table', table.name);
    const stored: CatalogTable = clone({ ...table, databaseName: lower(databaseName), name: lower(table.name), versionId: String(Number(current.versionId) + 1) });
    const versions = this.versions.get(key) ?? [];
    this.tables.delete(key);
    this.versions.delete(key);
    this.tables.set(newKey, stored);
    this.versions.set(newKey, [...versions, clone(stored)]);
    const parts = this.partitions.get(key);
    if (parts) {
      this.partitions.delete(key);
      for (const p of parts.values()) p.tableName = stored.name;
      this.partitions.set(newKey, parts);
    }
    return clone(stored);
  }

  async deleteTable(databaseName: string, name: string): Promise<void> {
    const key = this.tableKey(databaseName, name);
    if (!this.tables.delete(key)) throw new CatalogEntityNotFoundError('table', name);
    this.versions.delete(key);
    this.partitions.delete(key);
  }

  async getTableVersion(databaseName: string, name: string, versionId: string): Promise<CatalogTable | undefined> {
    const v = this.versions.get(this.tableKey(databaseName, name))?.find((t) => t.versionId === versionId);
    return v && clone(v);
  }

  async listTableVersions(databaseName: string, name: string, query: PageQuery): Promise<Page<CatalogTable>> {
    const all = [...(this.versions.get(this.tableKey(databaseName, name)) ?? [])].reverse();
    const pad = (t: CatalogTable): string => String(1e12 - Number(t.versionId)).padStart(13, '0');
    return page(all, pad, query);
  }

  async createPartitions(partitions: CatalogPartition[], options: { ifNotExists: boolean }): Promise<void> {
    for (const p of partitions) {
      if (!this.tables.has(this.tableKey(p.databaseName, p.tableName))) throw new CatalogEntityNotFoundError('table', p.tableName);
      const existing = this.partitions.get(this.tableKey(p.databaseName, p.tableName));
      if (existing?.has(partitionKey(p.values)) && !options.ifNotExists) throw new CatalogEntityExistsError('partition', p.values.join('/'));
    }
    for (const p of partitions) {
      const key = this.tableKey(p.databaseName, p.tableName);
      const map = this.partitions.get(key) ?? new Map<string, CatalogPartition>();
      this.partitions.set(key, map);
      if (!map.has(partitionKey(p.values))) map.set(partitionKey(p.values), clone({ ...p, databaseName: lower(p.databaseName), tableName: lower(p.tableName) }));
    }
  }

  async getPartition(databaseName: string, tableName: string, values: string[]): Promise<CatalogPartition | undefined> {
    const p = this.partitions.get(this.tableKey(databaseName, tableName))?.get(partitionKey(values));
    return p && clone(p);
  }

  async listPartitions(databaseName: string, tableName: string, query: PageQuery): Promise<Page<CatalogPartition>> {
    const all = [...(this.partitions.get(this.tableKey(databaseName, tableName))?.values() ?? [])].sort((a, b) =>
      partitionKey(a.values) < partitionKey(b.values) ? -1 : 1,
    );
    return page(all, (p) => partitionKey(p.values), query);
  }

  async updatePartition(databaseName: string, tableName: string, values: string[], partition: CatalogPartition): Promise<void> {
    const map = this.partitions.get(this.tableKey(databaseName, tableName));
    if (!map?.has(partitionKey(values))) throw new CatalogEntityNotFoundError('partition', values.join('/'));
    map.delete(partitionKey(values));
    map.set(partitionKey(partition.values), clone(partition));
  }

  async deletePartitions(databaseName: string, tableName: string, valueLists: string[][]): Promise<void> {
    const map = this.partitions.get(this.tableKey(databaseName, tableName));
    for (const values of valueLists) map?.delete(partitionKey(values));
  }

  async createFunction(fn: CatalogFunction): Promise<void> {
    const key = this.tableKey(fn.databaseName, fn.name);
    if (this.functions.has(key)) throw new CatalogEntityExistsError('function', fn.name);
    this.functions.set(key, clone({ ...fn, databaseName: lower(fn.databaseName), name: lower(fn.name) }));
  }

  async getFunction(databaseName: string, name: string): Promise<CatalogFunction | undefined> {
    const fn = this.functions.get(this.tableKey(databaseName, name));
    return fn && clone(fn);
  }

  async listFunctions(databaseName: string | undefined, query: PageQuery & { pattern?: string }): Promise<Page<CatalogFunction>> {
    const all = [...this.functions.values()]
      .filter((f) => (databaseName === undefined || f.databaseName === lower(databaseName)) && matchesPattern(f.name, query.pattern))
      .sort((a, b) => (`${a.databaseName}.${a.name}` < `${b.databaseName}.${b.name}` ? -1 : 1));
    return page(all, (f) => `${f.databaseName}.${f.name}`, query);
  }

  async updateFunction(databaseName: string, name: string, fn: CatalogFunction): Promise<void> {
    const key = this.tableKey(databaseName, name);
    if (!this.functions.has(key)) throw new CatalogEntityNotFoundError('function', name);
    this.functions.set(key, clone(fn));
  }

  async deleteFunction(databaseName: string, name: string): Promise<void> {
    if (!this.functions.delete(this.tableKey(databaseName, name))) throw new CatalogEntityNotFoundError('function', name);
  }
}
