// The AWS Glue Data Catalog API over the account's catalog: databases, tables with their versions, partitions
// and user-defined functions. The catalog is the account's: every caller sees it whole, as on Athena where every
// workgroup shares the account's Glue Data Catalog (docs/glue.md). Operations of Glue outside the Data Catalog
// (crawlers, jobs, ...) answer OperationNotSupportedException.
import {
  CatalogDatabaseNotEmptyError,
  CatalogEntityExistsError,
  CatalogEntityNotFoundError,
  type CatalogStore,
  CatalogVersionConflictError,
  type CatalogPartition,
  type CatalogTable,
  type Page,
  type PageQuery,
} from '../catalog/catalog-store.js';
import { collectPage, decodeCatalogToken, encodeCatalogToken, tableNameFilter } from '../catalog/catalog-paging.js';
import type { OperationTypes, PartitionError, PartitionValueList } from '../generated/glue-model.js';
import type { ServiceHandlers } from '../protocol/json-service.js';
import {
  AlreadyExistsError,
  ConcurrentModificationError,
  EntityNotFoundError,
  InvalidInputError,
  OperationNotSupportedError,
} from './glue-errors.js';
import {
  databaseFromGlue,
  databaseToGlue,
  functionToGlue,
  partitionFromGlue,
  partitionToGlue,
  tableFromGlue,
  tableToGlue,
} from './glue-records.js';
import { compilePartitionExpression, PartitionExpressionError } from './partition-expression.js';

export type GlueHandlers = ServiceHandlers<OperationTypes>;

/** The Glue operations Owlet serves: the Data Catalog's. */
export const SERVED_GLUE_OPERATIONS = [
  'GetDatabase', 'GetDatabases', 'CreateDatabase', 'UpdateDatabase', 'DeleteDatabase',
  'GetTable', 'GetTables', 'CreateTable', 'UpdateTable', 'DeleteTable', 'BatchDeleteTable',
  'GetTableVersion', 'GetTableVersions',
  'GetPartition', 'GetPartitions', 'BatchGetPartition', 'CreatePartition', 'BatchCreatePartition',
  'UpdatePartition', 'DeletePartition', 'BatchDeletePartition',
  'SearchTables', 'GetUserDefinedFunction', 'GetUserDefinedFunctions',
] as const;

export function unservedGlueOperation(operation: string): OperationNotSupportedError {
  return new OperationNotSupportedError(
    `Owlet does not serve the Glue operation ${operation}. It serves the Data Catalog's databases, tables, table versions, partitions and user-defined functions: ${SERVED_GLUE_OPERATIONS.join(', ')}.`,
  );
}

/** Glue's page sizes when MaxResults is not given (the largest each operation accepts). */
const DEFAULT_PAGE = 100;
const DEFAULT_PARTITION_PAGE = 1000;

export interface GlueApiOptions {
  catalog: CatalogStore;
  /** The account id, which is the catalog's id (CatalogId). */
  accountId: string;
  now: () => number;
}

const databaseNotFound = (name: string): EntityNotFoundError => new EntityNotFoundError(`Database ${name.toLowerCase()} not found.`);
const tableNotFound = (name: string): EntityNotFoundError => new EntityNotFoundError(`Table ${name.toLowerCase()} not found.`);
const partitionNotFound = (): EntityNotFoundError => new EntityNotFoundError('Cannot find partition.');

/** Store failures become Glue's errors here, once. */
function translate(error: unknown): never {
  if (error instanceof CatalogEntityExistsError) {
    const entity = error.entity.charAt(0).toUpperCase() + error.entity.slice(1);
    throw new AlreadyExistsError(`${entity} already exists.`);
  }
  if (error instanceof CatalogEntityNotFoundError) {
    if (error.entity === 'database') throw databaseNotFound(error.entityName);
    if (error.entity === 'table') throw tableNotFound(error.entityName);
    if (error.entity === 'partition') throw partitionNotFound();
    if (error.entity === 'version') throw new EntityNotFoundError('Version not found.');
    throw new EntityNotFoundError(`Function ${error.entityName} not found.`);
  }
  if (error instanceof CatalogVersionConflictError) throw new ConcurrentModificationError();
  if (error instanceof CatalogDatabaseNotEmptyError) throw new InvalidInputError(`Database ${error.databaseName} is not empty.`);
  throw error;
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    translate(error);
  }
}

const invalidToken = (): InvalidInputError => new InvalidInputError('Invalid pagination token.');

const collect = <T>(
  scope: string,
  fetch: (query: PageQuery) => Promise<Page<T>>,
  keep: (item: T) => boolean,
  max: number,
  token: string | undefined,
): Promise<{ items: T[]; nextToken?: string }> => collectPage(scope, fetch, keep, max, token, invalidToken);

function nameFilter(expression: string | undefined): (name: string) => boolean {
  const filter = tableNameFilter(expression);
  if (!filter) throw new InvalidInputError(`Expression ${expression ?? ''} is not a valid regular expression.`);
  return filter;
}

/** A stable spread of partitions over GetPartitions' segments. */
function segmentOf(values: readonly string[], totalSegments: number): number {
  let hash = 0;
  for (const ch of values.join('\u0000')) hash = (Math.imul(hash, 31) + ch.codePointAt(0)!) | 0;
  return Math.abs(hash) % totalSegments;
}

export function glueHandlers(options: GlueApiOptions): GlueHandlers {
  const { catalog, accountId, now } = options;

  const checkCatalog = (catalogId: string | undefined): void => {
    if (catalogId !== undefined && catalogId !== accountId) throw new EntityNotFoundError(`Catalog ${catalogId} not found.`);
  };
  const requireDatabase = async (name: string) => {
    const db = await catalog.getDatabase(name);
    if (!db) throw databaseNotFound(name);
    return db;
  };
  const requireTable = async (databaseName: string, name: string): Promise<CatalogTable> => {
    await requireDatabase(databaseName);
    const table = await catalog.getTable(databaseName, name);
    if (!table) throw tableNotFound(name);
    return table;
  };
  const checkValues = (table: CatalogTable, values: readonly string[]): void => {
    if (values.length !== table.partitionKeys.length) {
      throw new InvalidInputError(
        `The number of partition values (${values.length}) does not match the number of partition keys of table ${table.name} (${table.partitionKeys.length}).`,
      );
    }
  };

  return {
    async GetDatabase(input) {
      checkCatalog(input.CatalogId);
      return { Database: databaseToGlue(await requireDatabase(input.Name), accountId) };
    },
    async GetDatabases(input) {
      checkCatalog(input.CatalogId);
      const page = await collect('GetDatabases', (q) => catalog.listDatabases(q), () => true, input.MaxResults ?? DEFAULT_PAGE, input.NextToken);
      return { DatabaseList: page.items.map((db) => databaseToGlue(db, accountId)), NextToken: page.nextToken };
    },
    async CreateDatabase(input) {
      checkCatalog(input.CatalogId);
      await guarded(() => catalog.createDatabase(databaseFromGlue(input.DatabaseInput, now())));
      return {};
    },
    async UpdateDatabase(input) {
      checkCatalog(input.CatalogId);
      const current = await requireDatabase(input.Name);
      await guarded(() => catalog.updateDatabase(input.Name, databaseFromGlue(input.DatabaseInput, current.createTime)));
      return {};
    },
    async DeleteDatabase(input) {
      checkCatalog(input.CatalogId);
      await requireDatabase(input.Name);
      // Glue drops a database with its tables (DeleteDatabase, AWS Glue API reference).
      await guarded(() => catalog.deleteDatabase(input.Name, { cascade: true }));
      return {};
    },

    async GetTable(input) {
      checkCatalog(input.CatalogId);
      return { Table: tableToGlue(await requireTable(input.DatabaseName, input.Name), accountId) };
    },
    async GetTables(input) {
      checkCatalog(input.CatalogId);
      await requireDatabase(input.DatabaseName);
      const matches = nameFilter(input.Expression);
      const page = await collect(
        `GetTables/${input.DatabaseName.toLowerCase()}/${input.Expression ?? ''}`,
        (q) => catalog.listTables(input.DatabaseName, q),
        (t) => matches(t.name),
        input.MaxResults ?? DEFAULT_PAGE,
        input.NextToken,
      );
      return { TableList: page.items.map((t) => tableToGlue(t, accountId)), NextToken: page.nextToken };
    },
    async CreateTable(input) {
      checkCatalog(input.CatalogId);
      await requireDatabase(input.DatabaseName);
      if (input.TableInput === undefined) throw new InvalidInputError('TableInput is required.');
      const at = now();
      const table = tableFromGlue(input.DatabaseName, input.TableInput, { createTime: at, updateTime: at });
      await guarded(() => catalog.createTable(table));
      return {};
    },
    async UpdateTable(input) {
      checkCatalog(input.CatalogId);
      // Iceberg's GlueCatalog sends TableInput; the open-table-format variant (without it) is not served.
      if (input.TableInput === undefined) throw new InvalidInputError('TableInput is required.');
      const tableInput = input.TableInput;
      const name = input.Name ?? tableInput.Name;
      const current = await requireTable(input.DatabaseName, name);
      const next = tableFromGlue(input.DatabaseName, tableInput, { createTime: current.createTime, updateTime: now() });
      await guarded(() =>
        catalog.updateTable(input.DatabaseName, name, next, input.VersionId !== undefined ? { expectedVersionId: input.VersionId } : {}),
      );
      return {};
    },
    async DeleteTable(input) {
      checkCatalog(input.CatalogId);
      await requireTable(input.DatabaseName, input.Name);
      await guarded(() => catalog.deleteTable(input.DatabaseName, input.Name));
      return {};
    },
    async BatchDeleteTable(input) {
      checkCatalog(input.CatalogId);
      await requireDatabase(input.DatabaseName);
      const errors = [];
      for (const name of input.TablesToDelete) {
        try {
          await requireTable(input.DatabaseName, name);
          await guarded(() => catalog.deleteTable(input.DatabaseName, name));
        } catch (error) {
          if (!(error instanceof EntityNotFoundError)) throw error;
          errors.push({ TableName: name, ErrorDetail: { ErrorCode: error.type, ErrorMessage: error.message } });
        }
      }
      return { Errors: errors };
    },
    async GetTableVersion(input) {
      checkCatalog(input.CatalogId);
      const current = await requireTable(input.DatabaseName, input.TableName);
      if (input.VersionId === undefined || input.VersionId === current.versionId) {
        return { TableVersion: { Table: tableToGlue(current, accountId), VersionId: current.versionId } };
      }
      const version = await catalog.getTableVersion(input.DatabaseName, input.TableName, input.VersionId);
      if (!version) throw new EntityNotFoundError('Version not found.');
      return { TableVersion: { Table: tableToGlue(version, accountId), VersionId: version.versionId } };
    },
    async GetTableVersions(input) {
      checkCatalog(input.CatalogId);
      await requireTable(input.DatabaseName, input.TableName);
      const page = await collect(
        `GetTableVersions/${input.DatabaseName.toLowerCase()}/${input.TableName.toLowerCase()}`,
        (q) => catalog.listTableVersions(input.DatabaseName, input.TableName, q),
        () => true,
        input.MaxResults ?? DEFAULT_PAGE,
        input.NextToken,
      );
      return { TableVersions: page.items.map((t) => ({ Table: tableToGlue(t, accountId), VersionId: t.versionId })), NextToken: page.nextToken };
    },

    async GetPartition(input) {
      checkCatalog(input.CatalogId);
      await requireTable(input.DatabaseName, input.TableName);
      const partition = await catalog.getPartition(input.DatabaseName, input.TableName, input.PartitionValues);
      if (!partition) throw partitionNotFound();
      return { Partition: partitionToGlue(partition, accountId) };
    },
    async GetPartitions(input) {
      checkCatalog(input.CatalogId);
      const table = await requireTable(input.DatabaseName, input.TableName);
      let predicate: (values: readonly string[]) => boolean;
      try {
        predicate = compilePartitionExpression(input.Expression ?? '', table.partitionKeys);
      } catch (error) {
        if (error instanceof PartitionExpressionError) throw new InvalidInputError(error.message);
        throw error;
      }
      const segment = input.Segment;
      if (segment && segment.SegmentNumber >= segment.TotalSegments) {
        throw new InvalidInputError(`SegmentNumber ${segment.SegmentNumber} must be less than TotalSegments ${segment.TotalSegments}.`);
      }
      const inSegment = segment ? (values: readonly string[]) => segmentOf(values, segment.TotalSegments) === segment.SegmentNumber : () => true;
      const page = await collect(
        `GetPartitions/${table.databaseName}/${table.name}/${input.Expression ?? ''}/${segment ? `${segment.SegmentNumber}:${segment.TotalSegments}` : ''}`,
        (q) => catalog.listPartitions(input.DatabaseName, input.TableName, q),
        (p) => inSegment(p.values) && predicate(p.values),
        input.MaxResults ?? DEFAULT_PARTITION_PAGE,
        input.NextToken,
      );
      const excludeColumns = input.ExcludeColumnSchema === true;
      return { Partitions: page.items.map((p) => partitionToGlue(p, accountId, { excludeColumns })), NextToken: page.nextToken };
    },
    async BatchGetPartition(input) {
      checkCatalog(input.CatalogId);
      await requireTable(input.DatabaseName, input.TableName);
      const partitions = [];
      // Partitions that are not there are left out of the answer, as Glue does; none stay unprocessed.
      for (const wanted of input.PartitionsToGet) {
        const partition = await catalog.getPartition(input.DatabaseName, input.TableName, wanted.Values);
        if (partition) partitions.push(partitionToGlue(partition, accountId));
      }
      return { Partitions: partitions, UnprocessedKeys: [] };
    },
    async CreatePartition(input) {
      checkCatalog(input.CatalogId);
      const table = await requireTable(input.DatabaseName, input.TableName);
      const partition = partitionFromGlue(input.DatabaseName, input.TableName, input.PartitionInput, now());
      checkValues(table, partition.values);
      await guarded(() => catalog.createPartitions([partition], { ifNotExists: false }));
      return {};
    },
    async BatchCreatePartition(input) {
      checkCatalog(input.CatalogId);
      const table = await requireTable(input.DatabaseName, input.TableName);
      const at = now();
      const errors: PartitionError[] = [];
      const fresh: CatalogPartition[] = [];
      const seen = new Set<string>();
      for (const partitionInput of input.PartitionInputList) {
        const partition = partitionFromGlue(input.DatabaseName, input.TableName, partitionInput, at);
        const key = JSON.stringify(partition.values);
        if (partition.values.length !== table.partitionKeys.length) {
          errors.push({ PartitionValues: partition.values, ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: 'The number of partition values does not match the number of partition keys.' } });
        } else if (seen.has(key) || (await catalog.getPartition(input.DatabaseName, input.TableName, partition.values))) {
          errors.push({ PartitionValues: partition.values, ErrorDetail: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'Partition already exists.' } });
        } else {
          fresh.push(partition);
        }
        seen.add(key);
      }
      if (fresh.length > 0) await guarded(() => catalog.createPartitions(fresh, { ifNotExists: true }));
      return { Errors: errors };
    },
    async UpdatePartition(input) {
      checkCatalog(input.CatalogId);
      const table = await requireTable(input.DatabaseName, input.TableName);
      const current = await catalog.getPartition(input.DatabaseName, input.TableName, input.PartitionValueList);
      if (!current) throw partitionNotFound();
      const next = partitionFromGlue(input.DatabaseName, input.TableName, input.PartitionInput, current.createTime);
      if (input.PartitionInput.Values === undefined) next.values = current.values;
      checkValues(table, next.values);
      await guarded(() => catalog.updatePartition(input.DatabaseName, input.TableName, input.PartitionValueList, next));
      return {};
    },
    async DeletePartition(input) {
      checkCatalog(input.CatalogId);
      await requireTable(input.DatabaseName, input.TableName);
      if (!(await catalog.getPartition(input.DatabaseName, input.TableName, input.PartitionValues))) throw partitionNotFound();
      await guarded(() => catalog.deletePartitions(input.DatabaseName, input.TableName, [input.PartitionValues]));
      return {};
    },
    async BatchDeletePartition(input) {
      checkCatalog(input.CatalogId);
      await requireTable(input.DatabaseName, input.TableName);
      const errors = [];
      const present: PartitionValueList[] = [];
      for (const wanted of input.PartitionsToDelete) {
        if (await catalog.getPartition(input.DatabaseName, input.TableName, wanted.Values)) present.push(wanted);
        else errors.push({ PartitionValues: wanted.Values, ErrorDetail: { ErrorCode: 'EntityNotFoundException', ErrorMessage: 'Cannot find partition.' } });
      }
      if (present.length > 0) await guarded(() => catalog.deletePartitions(input.DatabaseName, input.TableName, present.map((p) => p.Values)));
      return { Errors: errors };
    },

    async SearchTables(input) {
      checkCatalog(input.CatalogId);
      const text = input.SearchText?.toLowerCase();
      const filters = input.Filters ?? [];
      const matches = (t: CatalogTable): boolean => {
        if (text !== undefined && text !== '') {
          const haystack = [t.name, t.databaseName, t.description ?? '', ...Object.values(t.parameters), ...t.storageDescriptor.columns.map((c) => c.name)];
          if (!haystack.some((s) => s.toLowerCase().includes(text))) return false;
        }
        return filters.every((f) => {
          const value = fieldOf(t, f.Key ?? '');
          if (value === undefined || f.Value === undefined) return false;
          switch (f.Comparator ?? 'EQUALS') {
            case 'EQUALS':
              return value === f.Value.toLowerCase();
            case 'GREATER_THAN':
              return value > f.Value.toLowerCase();
            case 'LESS_THAN':
              return value < f.Value.toLowerCase();
            case 'GREATER_THAN_EQUALS':
              return value >= f.Value.toLowerCase();
            case 'LESS_THAN_EQUALS':
              return value <= f.Value.toLowerCase();
          }
        });
      };
      // Every table of every database, in (database, table) order; the token names the database it stopped in.
      const max = input.MaxResults ?? DEFAULT_PAGE;
      const start = decodeCatalogToken('SearchTables', input.NextToken, invalidToken);
      const [startDb, startAfter] = start?.after !== undefined ? (JSON.parse(start.after) as [string, string | undefined]) : [undefined, undefined];
      const tables: CatalogTable[] = [];
      // Databases before the one the token names are skipped by name (the store pages them from the start).
      let dbToken: string | undefined;
      for (;;) {
        const dbs = await catalog.listDatabases({ maxResults: 100, ...(dbToken !== undefined ? { after: dbToken } : {}) });
        for (const db of dbs.items) {
          if (startDb !== undefined && db.name < startDb) continue;
          const resumeInside = db.name === startDb;
          const page = await collect(
            `SearchTables/${db.name}`,
            (q) => catalog.listTables(db.name, q),
            matches,
            max - tables.length,
            resumeInside && startAfter !== undefined ? startAfter : undefined,
          );
          tables.push(...page.items);
          if (tables.length === max) {
            const next: [string, string | undefined] | undefined =
              page.nextToken !== undefined ? [db.name, page.nextToken] : nextDatabase(dbs.items, db.name, dbs.nextToken);
            return { TableList: tables.map((t) => tableToGlue(t, accountId)), NextToken: next ? encodeCatalogToken('SearchTables', { after: JSON.stringify(next), skip: 0 }) : undefined };
          }
        }
        if (dbs.nextToken === undefined) break;
        dbToken = dbs.nextToken;
      }
      return { TableList: tables.map((t) => tableToGlue(t, accountId)) };
    },

    async GetUserDefinedFunction(input) {
      checkCatalog(input.CatalogId);
      await requireDatabase(input.DatabaseName);
      const fn = await catalog.getFunction(input.DatabaseName, input.FunctionName);
      if (!fn) throw new EntityNotFoundError(`Function ${input.FunctionName.toLowerCase()} not found.`);
      return { UserDefinedFunction: functionToGlue(fn, accountId) };
    },
    async GetUserDefinedFunctions(input) {
      checkCatalog(input.CatalogId);
      if (input.DatabaseName !== undefined) await requireDatabase(input.DatabaseName);
      const matches = nameFilter(input.Pattern);
      const page = await collect(
        `GetUserDefinedFunctions/${input.DatabaseName?.toLowerCase() ?? ''}/${input.Pattern}`,
        (q) => catalog.listFunctions(input.DatabaseName, q),
        (fn) => matches(fn.name),
        input.MaxResults ?? DEFAULT_PAGE,
        input.NextToken,
      );
      return { UserDefinedFunctions: page.items.map((fn) => functionToGlue(fn, accountId)), NextToken: page.nextToken };
    },
  };
}

/** Where SearchTables goes on after the last table of `name`: the next database, if any. */
function nextDatabase(page: readonly { name: string }[], name: string, pageToken: string | undefined): [string, string | undefined] | undefined {
  const index = page.findIndex((db) => db.name === name);
  const following = page[index + 1];
  if (following) return [following.name, undefined];
  // The next database is on the store's next page: resume by name past this one.
  return pageToken === undefined ? undefined : [`${name}\u0000`, undefined];
}

/** The table fields SearchTables' filters can name (Glue's PropertyPredicate keys). */
function fieldOf(t: CatalogTable, key: string): string | undefined {
  switch (key) {
    case 'DatabaseName':
      return t.databaseName;
    case 'Name':
    case 'TableName':
      return t.name;
    case 'Description':
      return t.description?.toLowerCase();
    case 'TableType':
      return t.tableType?.toLowerCase();
    case 'Location':
      return t.storageDescriptor.location?.toLowerCase();
    default:
      return t.parameters[key]?.toLowerCase();
  }
}
