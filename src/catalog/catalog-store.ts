// The account's table catalog: the role the AWS Glue Data Catalog plays for Athena. Every Spark session reaches it
// through Owlet's Hive Metastore service, and API clients through Owlet's Glue API; both read and write this one
// store, kept beside the server's state (SQLite embedded, PostgreSQL for several server nodes).
//
// The records follow Glue's data model (Database, Table with its StorageDescriptor, Partition, UserDefinedFunction),
// which is also, field for field, close to the Hive Metastore's, so both front ends translate without loss.
// Names are stored lower-cased, as Glue and the Hive Metastore both fold them.

export interface CatalogColumn {
  name: string;
  type: string;
  comment?: string;
  parameters?: Record<string, string>;
}

export interface SerDeInfo {
  name?: string;
  serializationLibrary?: string;
  parameters: Record<string, string>;
}

export interface SortColumn {
  column: string;
  /** 1 ascending, 0 descending (Hive's and Glue's convention). */
  sortOrder: number;
}

export interface StorageDescriptor {
  columns: CatalogColumn[];
  location?: string;
  inputFormat?: string;
  outputFormat?: string;
  compressed: boolean;
  numberOfBuckets: number;
  serdeInfo: SerDeInfo;
  bucketColumns: string[];
  sortColumns: SortColumn[];
  parameters: Record<string, string>;
  storedAsSubDirectories: boolean;
}

export interface CatalogDatabase {
  name: string;
  description?: string;
  locationUri?: string;
  parameters: Record<string, string>;
  /** Milliseconds since the epoch. */
  createTime: number;
}

export interface CatalogTable {
  databaseName: string;
  name: string;
  description?: string;
  owner?: string;
  createTime: number;
  updateTime: number;
  lastAccessTime?: number;
  retention: number;
  storageDescriptor: StorageDescriptor;
  partitionKeys: CatalogColumn[];
  viewOriginalText?: string;
  viewExpandedText?: string;
  /** EXTERNAL_TABLE, MANAGED_TABLE, VIRTUAL_VIEW, ... as Hive and Glue name them. */
  tableType?: string;
  parameters: Record<string, string>;
  /** Glue's VersionId: "1" at creation, one more with every update. */
  versionId: string;
}

export interface CatalogPartition {
  databaseName: string;
  tableName: string;
  /** The partition keys' values, in the table's partition key order. */
  values: string[];
  createTime: number;
  lastAccessTime?: number;
  storageDescriptor: StorageDescriptor;
  parameters: Record<string, string>;
}

export interface CatalogFunction {
  databaseName: string;
  name: string;
  className: string;
  owner?: string;
  ownerType?: string;
  createTime: number;
  resourceUris: { resourceType: string; uri: string }[];
}

export interface Page<T> {
  items: T[];
  /** Present when more items follow; passed back as `after`. */
  nextToken?: string;
}

export interface PageQuery {
  maxResults: number;
  after?: string;
}

/** A name is taken (a database, a table, a partition's values, a function). */
export class CatalogEntityExistsError extends Error {
  constructor(
    readonly entity: 'database' | 'table' | 'partition' | 'function',
    readonly entityName: string,
  ) {
    super(`${entity} ${entityName} already exists`);
  }
}

/** A database, table, partition or function is not there. */
export class CatalogEntityNotFoundError extends Error {
  constructor(
    readonly entity: 'database' | 'table' | 'partition' | 'function' | 'version',
    readonly entityName: string,
  ) {
    super(`${entity} ${entityName} not found`);
  }
}

/** An update named a table version that is no longer the current one (Glue's ConcurrentModificationException). */
export class CatalogVersionConflictError extends Error {
  constructor(
    readonly table: string,
    readonly expectedVersionId: string,
  ) {
    super(`table ${table} is no longer at version ${expectedVersionId}`);
  }
}

/** A database that still holds tables cannot be dropped without `cascade`. */
export class CatalogDatabaseNotEmptyError extends Error {
  constructor(readonly databaseName: string) {
    super(`database ${databaseName} is not empty`);
  }
}

/**
 * Every call is atomic: a crash leaves the old or the new definition, never part of one. Names are matched
 * case-insensitively (the store lower-cases them). Listing is in name order (partitions: by their values).
 */
export interface CatalogStore {
  createDatabase(db: CatalogDatabase): Promise<void>;
  getDatabase(name: string): Promise<CatalogDatabase | undefined>;
  listDatabases(query: PageQuery & { pattern?: string }): Promise<Page<CatalogDatabase>>;
  updateDatabase(name: string, db: CatalogDatabase): Promise<void>;
  /** Drops the database; with `cascade`, its tables, partitions and functions too. */
  deleteDatabase(name: string, options: { cascade: boolean }): Promise<void>;

  /** Stores the table at version "1". */
  createTable(table: Omit<CatalogTable, 'versionId'>): Promise<CatalogTable>;
  getTable(databaseName: string, name: string): Promise<CatalogTable | undefined>;
  listTables(databaseName: string, query: PageQuery & { pattern?: string }): Promise<Page<CatalogTable>>;
  /**
   * Replaces the table's definition and keeps the old one as a version. With `expectedVersionId`, refuses with
   * CatalogVersionConflictError when the current version differs. A new name renames the table (and moves its
   * partitions).
   */
  updateTable(
    databaseName: string,
    name: string,
    table: Omit<CatalogTable, 'versionId'>,
    options: { expectedVersionId?: string },
  ): Promise<CatalogTable>;
  /** Drops the table with its partitions and versions. */
  deleteTable(databaseName: string, name: string): Promise<void>;
  getTableVersion(databaseName: string, name: string, versionId: string): Promise<CatalogTable | undefined>;
  listTableVersions(databaseName: string, name: string, query: PageQuery): Promise<Page<CatalogTable>>;

  /** Adds partitions all or nothing; an existing one refuses the whole call unless `ifNotExists`. */
  createPartitions(partitions: CatalogPartition[], options: { ifNotExists: boolean }): Promise<void>;
  getPartition(databaseName: string, tableName: string, values: string[]): Promise<CatalogPartition | undefined>;
  /** Partitions of a table in value order; `filter` is applied by the caller's own predicate. */
  listPartitions(databaseName: string, tableName: string, query: PageQuery): Promise<Page<CatalogPartition>>;
  /** Replaces a partition's definition; `values` may change it (Glue's PartitionValueList). */
  updatePartition(databaseName: string, tableName: string, values: string[], partition: CatalogPartition): Promise<void>;
  deletePartitions(databaseName: string, tableName: string, valueLists: string[][]): Promise<void>;

  createFunction(fn: CatalogFunction): Promise<void>;
  getFunction(databaseName: string, name: string): Promise<CatalogFunction | undefined>;
  listFunctions(databaseName: string | undefined, query: PageQuery & { pattern?: string }): Promise<Page<CatalogFunction>>;
  updateFunction(databaseName: string, name: string, fn: CatalogFunction): Promise<void>;
  deleteFunction(databaseName: string, name: string): Promise<void>;
}
