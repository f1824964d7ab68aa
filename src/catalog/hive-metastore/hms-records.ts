// The Hive Metastore's structs and the catalog's records, both ways. The two models are close (Glue's follows
// Hive's); what differs is spelling, and time: the Hive Metastore counts seconds in an i32, the catalog
// milliseconds.
import type {
  CatalogColumn,
  CatalogDatabase,
  CatalogFunction,
  CatalogPartition,
  CatalogTable,
  StorageDescriptor,
} from '../catalog-store.js';
import type { ThriftStruct } from './thrift-codec.js';

const seconds = (ms: number | undefined): number => Math.floor((ms ?? 0) / 1000);
const millis = (s: unknown): number => (typeof s === 'number' ? s * 1000 : 0);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const map = (v: unknown): Record<string, string> => ({ ...((v as Record<string, string> | undefined) ?? {}) });

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function columnFromHms(field: ThriftStruct): CatalogColumn {
  return definedOnly({ name: String(field.name ?? '').toLowerCase(), type: String(field.type ?? ''), comment: text(field.comment) });
}

export function columnToHms(column: CatalogColumn): ThriftStruct {
  return { name: column.name, type: column.type, comment: column.comment };
}

export function storageFromHms(sd: ThriftStruct | undefined): StorageDescriptor {
  const s = sd ?? {};
  const serde = (s.serdeInfo as ThriftStruct | undefined) ?? {};
  return definedOnly({
    columns: ((s.cols as ThriftStruct[] | undefined) ?? []).map(columnFromHms),
    location: text(s.location) || undefined,
    inputFormat: text(s.inputFormat),
    outputFormat: text(s.outputFormat),
    compressed: Boolean(s.compressed),
    numberOfBuckets: typeof s.numBuckets === 'number' ? s.numBuckets : -1,
    serdeInfo: definedOnly({ name: text(serde.name), serializationLibrary: text(serde.serializationLib), parameters: map(serde.parameters) }),
    bucketColumns: [...((s.bucketCols as string[] | undefined) ?? [])],
    sortColumns: ((s.sortCols as ThriftStruct[] | undefined) ?? []).map((o) => ({ column: String(o.col), sortOrder: Number(o.order) })),
    parameters: map(s.parameters),
    storedAsSubDirectories: Boolean(s.storedAsSubDirectories),
  });
}

export function storageToHms(sd: StorageDescriptor): ThriftStruct {
  return {
    cols: sd.columns.map(columnToHms),
    location: sd.location,
    inputFormat: sd.inputFormat,
    outputFormat: sd.outputFormat,
    compressed: sd.compressed,
    numBuckets: sd.numberOfBuckets,
    serdeInfo: { name: sd.serdeInfo.name, serializationLib: sd.serdeInfo.serializationLibrary, parameters: sd.serdeInfo.parameters },
    bucketCols: sd.bucketColumns,
    sortCols: sd.sortColumns.map((o) => ({ col: o.column, order: o.sortOrder })),
    parameters: sd.parameters,
    skewedInfo: { skewedColNames: [], skewedColValues: [] },
    storedAsSubDirectories: sd.storedAsSubDirectories,
  };
}

export function databaseFromHms(db: ThriftStruct, now: number): CatalogDatabase {
  const parameters = map(db.parameters);
  return definedOnly({
    name: String(db.name ?? '').toLowerCase(),
    description: text(db.description),
    locationUri: text(db.locationUri) || undefined,
    parameters,
    createTime: now,
  });
}

export function databaseToHms(db: CatalogDatabase): ThriftStruct {
  return {
    name: db.name,
    description: db.description ?? '',
    locationUri: db.locationUri ?? '',
    parameters: db.parameters,
    ownerName: db.parameters.owner ?? 'owlet',
    ownerType: 1,
  };
}

export function tableFromHms(t: ThriftStruct, now: number): Omit<CatalogTable, 'versionId'> {
  const parameters = map(t.parameters);
  return definedOnly({
    databaseName: String(t.dbName ?? '').toLowerCase(),
    name: String(t.tableName ?? '').toLowerCase(),
    description: parameters.comment,
    owner: text(t.owner),
    createTime: t.createTime ? millis(t.createTime) : now,
    updateTime: now,
    lastAccessTime: t.lastAccessTime ? millis(t.lastAccessTime) : undefined,
    retention: typeof t.retention === 'number' ? t.retention : 0,
    storageDescriptor: storageFromHms(t.sd as ThriftStruct | undefined),
    partitionKeys: ((t.partitionKeys as ThriftStruct[] | undefined) ?? []).map(columnFromHms),
    viewOriginalText: text(t.viewOriginalText),
    viewExpandedText: text(t.viewExpandedText),
    tableType: text(t.tableType),
    parameters,
  });
}

export function tableToHms(t: CatalogTable): ThriftStruct {
  return {
    tableName: t.name,
    dbName: t.databaseName,
    owner: t.owner ?? '',
    createTime: seconds(t.createTime),
    lastAccessTime: seconds(t.lastAccessTime),
    retention: t.retention,
    sd: storageToHms(t.storageDescriptor),
    partitionKeys: t.partitionKeys.map(columnToHms),
    // Hive's DDL_TIME: when the definition last changed, in seconds.
    parameters: { ...t.parameters, transient_lastDdlTime: String(seconds(t.updateTime)) },
    viewOriginalText: t.viewOriginalText,
    viewExpandedText: t.viewExpandedText,
    tableType: t.tableType ?? 'MANAGED_TABLE',
    temporary: false,
  };
}

export function partitionFromHms(p: ThriftStruct, now: number): CatalogPartition {
  return definedOnly({
    databaseName: String(p.dbName ?? '').toLowerCase(),
    tableName: String(p.tableName ?? '').toLowerCase(),
    values: [...((p.values as string[] | undefined) ?? [])],
    createTime: p.createTime ? millis(p.createTime) : now,
    lastAccessTime: p.lastAccessTime ? millis(p.lastAccessTime) : undefined,
    storageDescriptor: storageFromHms(p.sd as ThriftStruct | undefined),
    parameters: map(p.parameters),
  });
}

export function partitionToHms(p: CatalogPartition): ThriftStruct {
  return {
    values: p.values,
    dbName: p.databaseName,
    tableName: p.tableName,
    createTime: seconds(p.createTime),
    lastAccessTime: seconds(p.lastAccessTime),
    sd: storageToHms(p.storageDescriptor),
    parameters: p.parameters,
  };
}

/** Hive's ResourceType enum: JAR 1, FILE 2, ARCHIVE 3; Glue spells them in capitals. */
const RESOURCE_TYPES = ['JAR', 'FILE', 'ARCHIVE'];

export function functionFromHms(f: ThriftStruct, now: number): CatalogFunction {
  return definedOnly({
    databaseName: String(f.dbName ?? '').toLowerCase(),
    name: String(f.functionName ?? '').toLowerCase(),
    className: String(f.className ?? ''),
    owner: text(f.ownerName),
    ownerType: f.ownerType === 2 ? 'ROLE' : f.ownerType === 3 ? 'GROUP' : 'USER',
    createTime: f.createTime ? millis(f.createTime) : now,
    resourceUris: ((f.resourceUris as ThriftStruct[] | undefined) ?? []).map((r) => ({
      resourceType: RESOURCE_TYPES[Number(r.resourceType) - 1] ?? 'JAR',
      uri: String(r.uri ?? ''),
    })),
  });
}

export function functionToHms(f: CatalogFunction): ThriftStruct {
  return {
    functionName: f.name,
    dbName: f.databaseName,
    className: f.className,
    ownerName: f.owner ?? '',
    ownerType: f.ownerType === 'ROLE' ? 2 : f.ownerType === 'GROUP' ? 3 : 1,
    createTime: seconds(f.createTime),
    functionType: 1,
    resourceUris: f.resourceUris.map((r) => ({ resourceType: RESOURCE_TYPES.indexOf(r.resourceType) + 1 || 1, uri: r.uri })),
  };
}

// Partition names, `key=value/key=value`, with the characters Hive's FileUtils.escapePathName escapes written
// as %XX (Hive's charToEscape: control characters, and " # % ' * / : = ? \ { [ ] ^ and DEL).
const ESCAPED = /[\u0001-\u001f"#%'*/:=?\\\u007f{[\]^]/g;

export function escapePartitionPart(value: string): string {
  return value.replace(ESCAPED, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function unescapePartitionPart(value: string): string {
  return value.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function partitionName(keys: readonly CatalogColumn[], values: readonly string[]): string {
  return keys.map((k, i) => `${escapePartitionPart(k.name)}=${escapePartitionPart(values[i] ?? '')}`).join('/');
}

/** `a=1/b=x%2Fy` as [key, value] pairs, unescaped. */
export function parsePartitionName(name: string): [string, string][] {
  return name
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq < 0) throw new Error(`bad partition name ${name}`);
      return [unescapePartitionPart(part.slice(0, eq)), unescapePartitionPart(part.slice(eq + 1))];
    });
}
