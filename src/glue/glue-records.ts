// Glue's wire records (generated from botocore's model) to and from the catalog store's records. The store keeps
// Glue's data model, so the translation is one to one; names are lower-cased, as Glue folds them.
import type { CatalogColumn, CatalogDatabase, CatalogFunction, CatalogPartition, CatalogTable, StorageDescriptor } from '../catalog/catalog-store.js';
import type * as glue from '../generated/glue-model.js';

const date = (ms: number | undefined): Date | undefined => (ms === undefined ? undefined : new Date(ms));
const millis = (d: Date | undefined): number | undefined => (d === undefined ? undefined : d.getTime());

export function columnFromGlue(c: glue.Column): CatalogColumn {
  return {
    name: c.Name.toLowerCase(),
    type: c.Type ?? 'string',
    ...(c.Comment !== undefined ? { comment: c.Comment } : {}),
    ...(c.Parameters !== undefined ? { parameters: c.Parameters } : {}),
  };
}

export function columnToGlue(c: CatalogColumn): glue.Column {
  return { Name: c.name, Type: c.type, Comment: c.comment, Parameters: c.parameters };
}

export function storageFromGlue(sd: glue.StorageDescriptor | undefined): StorageDescriptor {
  return {
    columns: (sd?.Columns ?? []).map(columnFromGlue),
    ...(sd?.Location !== undefined ? { location: sd.Location } : {}),
    ...(sd?.InputFormat !== undefined ? { inputFormat: sd.InputFormat } : {}),
    ...(sd?.OutputFormat !== undefined ? { outputFormat: sd.OutputFormat } : {}),
    compressed: sd?.Compressed ?? false,
    numberOfBuckets: sd?.NumberOfBuckets ?? 0,
    serdeInfo: {
      ...(sd?.SerdeInfo?.Name !== undefined ? { name: sd.SerdeInfo.Name } : {}),
      ...(sd?.SerdeInfo?.SerializationLibrary !== undefined ? { serializationLibrary: sd.SerdeInfo.SerializationLibrary } : {}),
      parameters: sd?.SerdeInfo?.Parameters ?? {},
    },
    bucketColumns: sd?.BucketColumns ?? [],
    sortColumns: (sd?.SortColumns ?? []).map((s) => ({ column: s.Column, sortOrder: s.SortOrder })),
    parameters: sd?.Parameters ?? {},
    storedAsSubDirectories: sd?.StoredAsSubDirectories ?? false,
  };
}

export function storageToGlue(sd: StorageDescriptor, options: { excludeColumns?: boolean } = {}): glue.StorageDescriptor {
  return {
    Columns: options.excludeColumns ? undefined : sd.columns.map(columnToGlue),
    Location: sd.location,
    InputFormat: sd.inputFormat,
    OutputFormat: sd.outputFormat,
    Compressed: sd.compressed,
    NumberOfBuckets: sd.numberOfBuckets,
    SerdeInfo: { Name: sd.serdeInfo.name, SerializationLibrary: sd.serdeInfo.serializationLibrary, Parameters: sd.serdeInfo.parameters },
    BucketColumns: sd.bucketColumns,
    SortColumns: sd.sortColumns.map((s) => ({ Column: s.column, SortOrder: s.sortOrder })),
    Parameters: sd.parameters,
    StoredAsSubDirectories: sd.storedAsSubDirectories,
  };
}

export function databaseFromGlue(input: glue.DatabaseInput, createTime: number): CatalogDatabase {
  return {
    name: input.Name.toLowerCase(),
    ...(input.Description !== undefined ? { description: input.Description } : {}),
    ...(input.LocationUri !== undefined ? { locationUri: input.LocationUri } : {}),
    parameters: input.Parameters ?? {},
    createTime,
  };
}

export function databaseToGlue(db: CatalogDatabase, catalogId: string): glue.Database {
  return {
    Name: db.name,
    Description: db.description,
    LocationUri: db.locationUri,
    Parameters: db.parameters,
    CreateTime: new Date(db.createTime),
    // What a database made without Lake Formation permissions carries on Glue: every IAM principal allowed.
    CreateTableDefaultPermissions: [{ Principal: { DataLakePrincipalIdentifier: 'IAM_ALLOWED_PRINCIPALS' }, Permissions: ['ALL'] }],
    CatalogId: catalogId,
  };
}

export function tableFromGlue(
  databaseName: string,
  input: glue.TableInput,
  times: { createTime: number; updateTime: number },
): Omit<CatalogTable, 'versionId'> {
  return {
    databaseName: databaseName.toLowerCase(),
    name: input.Name.toLowerCase(),
    ...(input.Description !== undefined ? { description: input.Description } : {}),
    ...(input.Owner !== undefined ? { owner: input.Owner } : {}),
    createTime: times.createTime,
    updateTime: times.updateTime,
    ...(input.LastAccessTime !== undefined ? { lastAccessTime: input.LastAccessTime.getTime() } : {}),
    retention: input.Retention ?? 0,
    storageDescriptor: storageFromGlue(input.StorageDescriptor),
    partitionKeys: (input.PartitionKeys ?? []).map(columnFromGlue),
    ...(input.ViewOriginalText !== undefined ? { viewOriginalText: input.ViewOriginalText } : {}),
    ...(input.ViewExpandedText !== undefined ? { viewExpandedText: input.ViewExpandedText } : {}),
    ...(input.TableType !== undefined ? { tableType: input.TableType } : {}),
    parameters: input.Parameters ?? {},
  };
}

export function tableToGlue(t: CatalogTable, catalogId: string): glue.Table {
  return {
    Name: t.name,
    DatabaseName: t.databaseName,
    Description: t.description,
    Owner: t.owner,
    CreateTime: new Date(t.createTime),
    UpdateTime: new Date(t.updateTime),
    LastAccessTime: date(t.lastAccessTime),
    Retention: t.retention,
    StorageDescriptor: storageToGlue(t.storageDescriptor),
    PartitionKeys: t.partitionKeys.map(columnToGlue),
    ViewOriginalText: t.viewOriginalText,
    ViewExpandedText: t.viewExpandedText,
    TableType: t.tableType,
    Parameters: t.parameters,
    IsRegisteredWithLakeFormation: false,
    CatalogId: catalogId,
    VersionId: t.versionId,
  };
}

export function partitionFromGlue(
  databaseName: string,
  tableName: string,
  input: glue.PartitionInput,
  createTime: number,
): CatalogPartition {
  return {
    databaseName: databaseName.toLowerCase(),
    tableName: tableName.toLowerCase(),
    values: input.Values ?? [],
    createTime,
    ...(input.LastAccessTime !== undefined ? { lastAccessTime: millis(input.LastAccessTime)! } : {}),
    storageDescriptor: storageFromGlue(input.StorageDescriptor),
    parameters: input.Parameters ?? {},
  };
}

export function partitionToGlue(p: CatalogPartition, catalogId: string, options: { excludeColumns?: boolean } = {}): glue.Partition {
  return {
    Values: p.values,
    DatabaseName: p.databaseName,
    TableName: p.tableName,
    CreationTime: new Date(p.createTime),
    LastAccessTime: date(p.lastAccessTime),
    StorageDescriptor: storageToGlue(p.storageDescriptor, options),
    Parameters: p.parameters,
    CatalogId: catalogId,
  };
}

export function functionToGlue(fn: CatalogFunction, catalogId: string): glue.UserDefinedFunction {
  return {
    FunctionName: fn.name,
    DatabaseName: fn.databaseName,
    ClassName: fn.className,
    OwnerName: fn.owner,
    OwnerType: fn.ownerType as glue.PrincipalType | undefined,
    CreateTime: new Date(fn.createTime),
    ResourceUris: fn.resourceUris.map((r) => ({ ResourceType: r.resourceType as glue.ResourceType, Uri: r.uri })),
    CatalogId: catalogId,
  };
}
