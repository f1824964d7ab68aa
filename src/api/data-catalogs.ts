// Athena's own catalog calls over the account's catalog, which is `AwsDataCatalog` (Athena's name for the
// account's Glue Data Catalog): GetDataCatalog, ListDataCatalogs, ListDatabases, GetDatabase, ListTableMetadata,
// GetTableMetadata. Owlet has no other data catalog: CreateDataCatalog and its kin stay Athena SQL operations.
import { collectPage, tableNameFilter } from '../catalog/catalog-paging.js';
import type { CatalogStore, CatalogTable } from '../catalog/catalog-store.js';
import type { TableMetadata } from '../generated/athena-model.js';
import { InvalidRequestError, ServiceError } from '../protocol/errors.js';
import type { OperationHandlers } from '../protocol/json-service.js';
import { pageOf } from './pagination.js';

export const AWS_DATA_CATALOG = 'AwsDataCatalog';

/** Athena's MetadataException: the catalog behind Athena failed or did not have the entity. */
export class MetadataError extends ServiceError {
  constructor(message: string) {
    super('MetadataException', message, 400);
  }
}

/**
 * What Athena answers when the Glue Data Catalog has no such database or table: the catalog's own error passed on
 * (noctua issue 205, 2023: "Entity Not Found (Service: AmazonDataCatalog; Status Code: 400; Error Code:
 * EntityNotFoundException; Request ID: ...; Proxy: null)").
 */
const entityNotFound = (requestId: string): MetadataError =>
  new MetadataError(`Entity Not Found (Service: AmazonDataCatalog; Status Code: 400; Error Code: EntityNotFoundException; Request ID: ${requestId}; Proxy: null)`);

const invalidToken = (): InvalidRequestError => new InvalidRequestError('The NextToken provided is not valid for this request.');

/**
 * A table as Athena's TableMetadata shows it: besides the table's own parameters, Athena lists where and how the
 * data is stored under lower-case keys (`location`, `inputformat`, `outputformat`, `serde.serialization.lib`,
 * `serde.param.<name>`), as its ListTableMetadata answers show for Glue tables.
 */
export function tableMetadataOf(t: CatalogTable): TableMetadata {
  const sd = t.storageDescriptor;
  const parameters: Record<string, string> = { ...t.parameters };
  if (sd.location !== undefined) parameters.location = sd.location;
  if (sd.inputFormat !== undefined) parameters.inputformat = sd.inputFormat;
  if (sd.outputFormat !== undefined) parameters.outputformat = sd.outputFormat;
  if (sd.serdeInfo.serializationLibrary !== undefined) parameters['serde.serialization.lib'] = sd.serdeInfo.serializationLibrary;
  for (const [key, value] of Object.entries(sd.serdeInfo.parameters)) parameters[`serde.param.${key}`] = value;
  return {
    Name: t.name,
    CreateTime: new Date(t.createTime),
    ...(t.lastAccessTime !== undefined ? { LastAccessTime: new Date(t.lastAccessTime) } : {}),
    ...(t.tableType !== undefined ? { TableType: t.tableType } : {}),
    Columns: sd.columns.map((c) => ({ Name: c.name, Type: c.type, ...(c.comment !== undefined ? { Comment: c.comment } : {}) })),
    PartitionKeys: t.partitionKeys.map((c) => ({ Name: c.name, Type: c.type, ...(c.comment !== undefined ? { Comment: c.comment } : {}) })),
    Parameters: parameters,
  };
}

export function dataCatalogHandlers(options: { catalog: CatalogStore; accountId: string }): OperationHandlers {
  const { catalog, accountId } = options;
  const requireCatalog = (name: string): void => {
    // Athena matches catalog names without regard to case (`awsdatacatalog` in SQL is the same catalog).
    if (name.toLowerCase() !== AWS_DATA_CATALOG.toLowerCase()) {
      throw new InvalidRequestError(`Catalog ${name} does not exist. Owlet serves one data catalog, ${AWS_DATA_CATALOG}.`);
    }
  };
  const requireDatabase = async (name: string, requestId: string) => {
    const db = await catalog.getDatabase(name);
    if (!db) throw entityNotFound(requestId);
    return db;
  };
  return {
    async GetDataCatalog(input) {
      requireCatalog(input.Name);
      return { DataCatalog: { Name: AWS_DATA_CATALOG, Type: 'GLUE', Parameters: { 'catalog-id': accountId } } };
    },
    async ListDataCatalogs(input) {
      const page = pageOf('ListDataCatalogs', [{ CatalogName: AWS_DATA_CATALOG, Type: 'GLUE' as const }], input.MaxResults ?? 50, input.NextToken);
      return { DataCatalogsSummary: page.items, NextToken: page.nextToken };
    },
    async ListDatabases(input) {
      requireCatalog(input.CatalogName);
      const page = await collectPage('ListDatabases', (q) => catalog.listDatabases(q), () => true, input.MaxResults ?? 50, input.NextToken, invalidToken);
      const namesOnly = input.AttributesToGet?.length === 1 && input.AttributesToGet[0] === 'NAME';
      return {
        DatabaseList: page.items.map((db) =>
          namesOnly ? { Name: db.name } : { Name: db.name, ...(db.description !== undefined ? { Description: db.description } : {}), Parameters: db.parameters },
        ),
        NextToken: page.nextToken,
      };
    },
    async GetDatabase(input, context) {
      requireCatalog(input.CatalogName);
      const db = await requireDatabase(input.DatabaseName, context.requestId);
      return { Database: { Name: db.name, ...(db.description !== undefined ? { Description: db.description } : {}), Parameters: db.parameters } };
    },
    async ListTableMetadata(input, context) {
      requireCatalog(input.CatalogName);
      await requireDatabase(input.DatabaseName, context.requestId);
      const matches = tableNameFilter(input.Expression);
      if (!matches) throw new InvalidRequestError(`Expression ${input.Expression ?? ''} is not a valid regular expression.`);
      const page = await collectPage(
        `ListTableMetadata/${input.DatabaseName.toLowerCase()}/${input.Expression ?? ''}`,
        (q) => catalog.listTables(input.DatabaseName, q),
        (t) => matches(t.name),
        input.MaxResults ?? 50,
        input.NextToken,
        invalidToken,
      );
      const namesOnly = input.AttributesToGet?.length === 1 && input.AttributesToGet[0] === 'NAME';
      return { TableMetadataList: page.items.map((t) => (namesOnly ? { Name: t.name } : tableMetadataOf(t))), NextToken: page.nextToken };
    },
    async GetTableMetadata(input, context) {
      requireCatalog(input.CatalogName);
      await requireDatabase(input.DatabaseName, context.requestId);
      const table = await catalog.getTable(input.DatabaseName, input.TableName);
      if (!table) throw entityNotFound(context.requestId);
      return { TableMetadata: tableMetadataOf(table) };
    },
  };
}
