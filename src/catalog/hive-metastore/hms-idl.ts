// The part of the Hive Metastore's Thrift interface that Owlet serves: the structs and calls Spark's Hive 2.3
// client uses, with their field ids. The ids are the wire format, so they come from Hive's own interface
// definition, metastore/if/hive_metastore.thrift of Hive 2.3 (Apache Hive, branch-2.3); names here are the
// ones the service code uses, which are the IDL's.
import type { StructTable, ThriftField, ThriftType } from './thrift-codec.js';

const str: ThriftType = 'string';
const strings: ThriftType = { list: 'string' };
const params: ThriftType = { map: ['string', 'string'] };
const s = (name: string): ThriftType => ({ struct: name });
const list = (name: string): ThriftType => ({ list: { struct: name } });

const message: ThriftField[] = [[1, 'message', str]];

export const HMS_STRUCTS: StructTable = {
  FieldSchema: [[1, 'name', str], [2, 'type', str], [3, 'comment', str]],
  PrivilegeGrantInfo: [[1, 'privilege', str], [2, 'createTime', 'i32'], [3, 'grantor', str], [4, 'grantorType', 'i32'], [5, 'grantOption', 'bool']],
  PrincipalPrivilegeSet: [
    [1, 'userPrivileges', { map: ['string', list('PrivilegeGrantInfo')] }],
    [2, 'groupPrivileges', { map: ['string', list('PrivilegeGrantInfo')] }],
    [3, 'rolePrivileges', { map: ['string', list('PrivilegeGrantInfo')] }],
  ],
  Database: [
    [1, 'name', str],
    [2, 'description', str],
    [3, 'locationUri', str],
    [4, 'parameters', params],
    [5, 'privileges', s('PrincipalPrivilegeSet')],
    [6, 'ownerName', str],
    [7, 'ownerType', 'i32'],
  ],
  SerDeInfo: [[1, 'name', str], [2, 'serializationLib', str], [3, 'parameters', params]],
  Order: [[1, 'col', str], [2, 'order', 'i32']],
  SkewedInfo: [
    [1, 'skewedColNames', strings],
    [2, 'skewedColValues', { list: strings }],
  ],
  StorageDescriptor: [
    [1, 'cols', list('FieldSchema')],
    [2, 'location', str],
    [3, 'inputFormat', str],
    [4, 'outputFormat', str],
    [5, 'compressed', 'bool'],
    [6, 'numBuckets', 'i32'],
    [7, 'serdeInfo', s('SerDeInfo')],
    [8, 'bucketCols', strings],
    [9, 'sortCols', list('Order')],
    [10, 'parameters', params],
    [11, 'skewedInfo', s('SkewedInfo')],
    [12, 'storedAsSubDirectories', 'bool'],
  ],
  Table: [
    [1, 'tableName', str],
    [2, 'dbName', str],
    [3, 'owner', str],
    [4, 'createTime', 'i32'],
    [5, 'lastAccessTime', 'i32'],
    [6, 'retention', 'i32'],
    [7, 'sd', s('StorageDescriptor')],
    [8, 'partitionKeys', list('FieldSchema')],
    [9, 'parameters', params],
    [10, 'viewOriginalText', str],
    [11, 'viewExpandedText', str],
    [12, 'tableType', str],
    [13, 'privileges', s('PrincipalPrivilegeSet')],
    [14, 'temporary', 'bool'],
  ],
  Partition: [
    [1, 'values', strings],
    [2, 'dbName', str],
    [3, 'tableName', str],
    [4, 'createTime', 'i32'],
    [5, 'lastAccessTime', 'i32'],
    [6, 'sd', s('StorageDescriptor')],
    [7, 'parameters', params],
    [8, 'privileges', s('PrincipalPrivilegeSet')],
  ],
  EnvironmentContext: [[1, 'properties', params]],
  ResourceUri: [[1, 'resourceType', 'i32'], [2, 'uri', str]],
  Function: [
    [1, 'functionName', str],
    [2, 'dbName', str],
    [3, 'className', str],
    [4, 'ownerName', str],
    [5, 'ownerType', 'i32'],
    [6, 'createTime', 'i32'],
    [7, 'functionType', 'i32'],
    [8, 'resourceUris', list('ResourceUri')],
  ],
  GetAllFunctionsResponse: [[1, 'functions', list('Function')]],
  AddPartitionsRequest: [[1, 'dbName', str], [2, 'tblName', str], [3, 'parts', list('Partition')], [4, 'ifNotExists', 'bool'], [5, 'needResult', 'bool']],
  AddPartitionsResult: [[1, 'partitions', list('Partition')]],
  DropPartitionsExpr: [[1, 'expr', 'binary'], [2, 'partArchiveLevel', 'i32']],
  RequestPartsSpec: [[1, 'names', strings], [2, 'exprs', list('DropPartitionsExpr')]],
  DropPartitionsRequest: [
    [1, 'dbName', str],
    [2, 'tblName', str],
    [3, 'parts', s('RequestPartsSpec')],
    [4, 'deleteData', 'bool'],
    [5, 'ifExists', 'bool'],
    [6, 'ignoreProtection', 'bool'],
    [7, 'environmentContext', s('EnvironmentContext')],
    [8, 'needResult', 'bool'],
  ],
  DropPartitionsResult: [[1, 'partitions', list('Partition')]],
  TableStatsRequest: [[1, 'dbName', str], [2, 'tblName', str], [3, 'colNames', strings]],
  TableStatsResult: [[1, 'tableStats', { list: { struct: 'ColumnStatisticsObj' } }]],
  ColumnStatisticsObj: [[1, 'colName', str], [2, 'colType', str]],
  PartitionsStatsRequest: [[1, 'dbName', str], [2, 'tblName', str], [3, 'colNames', strings], [4, 'partNames', strings]],
  PartitionsStatsResult: [[1, 'partStats', { map: ['string', { list: { struct: 'ColumnStatisticsObj' } }] }]],
  TableMeta: [[1, 'dbName', str], [2, 'tableName', str], [3, 'tableType', str], [4, 'comments', str]],
  CurrentNotificationEventId: [[1, 'eventId', 'i64']],
  MetaException: message,
  UnknownTableException: message,
  UnknownDBException: message,
  AlreadyExistsException: message,
  InvalidObjectException: message,
  NoSuchObjectException: message,
  InvalidOperationException: message,
  InvalidInputException: message,
  ConfigValSecurityException: message,
};

export type HmsExceptionName =
  | 'MetaException'
  | 'UnknownTableException'
  | 'UnknownDBException'
  | 'AlreadyExistsException'
  | 'InvalidObjectException'
  | 'NoSuchObjectException'
  | 'InvalidOperationException'
  | 'InvalidInputException'
  | 'ConfigValSecurityException';

export interface HmsMethod {
  args: readonly ThriftField[];
  /** The result's field 0; absent for `void` calls. */
  returns?: ThriftType;
  /** The exceptions the call declares, by the result field id each travels in. */
  throws: Readonly<Partial<Record<HmsExceptionName, number>>>;
}

const ctx: ThriftField = [4, 'environmentContext', s('EnvironmentContext')];
const dbTable: ThriftField[] = [[1, 'dbName', str], [2, 'tableName', str]];

/** The calls served, as ThriftHiveMetastore declares them. */
export const HMS_METHODS: Readonly<Record<string, HmsMethod>> = {
  getMetaConf: { args: [[1, 'key', str]], returns: str, throws: { MetaException: 1 } },
  set_ugi: { args: [[1, 'userName', str], [2, 'groupNames', strings]], returns: strings, throws: { MetaException: 1 } },
  get_config_value: { args: [[1, 'name', str], [2, 'defaultValue', str]], returns: str, throws: { ConfigValSecurityException: 1 } },

  create_database: { args: [[1, 'database', s('Database')]], throws: { AlreadyExistsException: 1, InvalidObjectException: 2, MetaException: 3 } },
  get_database: { args: [[1, 'name', str]], returns: s('Database'), throws: { NoSuchObjectException: 1, MetaException: 2 } },
  drop_database: {
    args: [[1, 'name', str], [2, 'deleteData', 'bool'], [3, 'cascade', 'bool']],
    throws: { NoSuchObjectException: 1, InvalidOperationException: 2, MetaException: 3 },
  },
  get_databases: { args: [[1, 'pattern', str]], returns: strings, throws: { MetaException: 1 } },
  get_all_databases: { args: [], returns: strings, throws: { MetaException: 1 } },
  alter_database: { args: [[1, 'dbName', str], [2, 'database', s('Database')]], throws: { MetaException: 1, NoSuchObjectException: 2 } },

  get_fields: { args: dbTable, returns: list('FieldSchema'), throws: { MetaException: 1, UnknownTableException: 2, UnknownDBException: 3 } },
  get_schema: { args: dbTable, returns: list('FieldSchema'), throws: { MetaException: 1, UnknownTableException: 2, UnknownDBException: 3 } },
  create_table: { args: [[1, 'table', s('Table')]], throws: { AlreadyExistsException: 1, InvalidObjectException: 2, MetaException: 3, NoSuchObjectException: 4 } },
  create_table_with_environment_context: {
    args: [[1, 'table', s('Table')], [2, 'environmentContext', s('EnvironmentContext')]],
    throws: { AlreadyExistsException: 1, InvalidObjectException: 2, MetaException: 3, NoSuchObjectException: 4 },
  },
  drop_table: { args: [...dbTable, [3, 'deleteData', 'bool']], throws: { NoSuchObjectException: 1, MetaException: 2 } },
  drop_table_with_environment_context: { args: [...dbTable, [3, 'deleteData', 'bool'], ctx], throws: { NoSuchObjectException: 1, MetaException: 2 } },
  truncate_table: { args: [...dbTable, [3, 'partNames', strings]], throws: { MetaException: 1 } },
  get_tables: { args: [[1, 'dbName', str], [2, 'pattern', str]], returns: strings, throws: { MetaException: 1 } },
  get_tables_by_type: { args: [[1, 'dbName', str], [2, 'pattern', str], [3, 'tableType', str]], returns: strings, throws: { MetaException: 1 } },
  get_table_meta: { args: [[1, 'dbPatterns', str], [2, 'tablePatterns', str], [3, 'tableTypes', strings]], returns: list('TableMeta'), throws: { MetaException: 1 } },
  get_all_tables: { args: [[1, 'dbName', str]], returns: strings, throws: { MetaException: 1 } },
  get_table: { args: dbTable, returns: s('Table'), throws: { MetaException: 1, NoSuchObjectException: 2 } },
  get_table_objects_by_name: {
    args: [[1, 'dbName', str], [2, 'tableNames', strings]],
    returns: list('Table'),
    throws: { MetaException: 1, InvalidOperationException: 2, UnknownDBException: 3 },
  },
  alter_table: { args: [...dbTable, [3, 'table', s('Table')]], throws: { InvalidOperationException: 1, MetaException: 2 } },
  alter_table_with_environment_context: { args: [...dbTable, [3, 'table', s('Table')], ctx], throws: { InvalidOperationException: 1, MetaException: 2 } },
  alter_table_with_cascade: { args: [...dbTable, [3, 'table', s('Table')], [4, 'cascade', 'bool']], throws: { InvalidOperationException: 1, MetaException: 2 } },

  add_partition: { args: [[1, 'partition', s('Partition')]], returns: s('Partition'), throws: { InvalidObjectException: 1, AlreadyExistsException: 2, MetaException: 3 } },
  add_partition_with_environment_context: {
    args: [[1, 'partition', s('Partition')], [2, 'environmentContext', s('EnvironmentContext')]],
    returns: s('Partition'),
    throws: { InvalidObjectException: 1, AlreadyExistsException: 2, MetaException: 3 },
  },
  add_partitions: { args: [[1, 'partitions', list('Partition')]], returns: 'i32', throws: { InvalidObjectException: 1, AlreadyExistsException: 2, MetaException: 3 } },
  add_partitions_req: {
    args: [[1, 'request', s('AddPartitionsRequest')]],
    returns: s('AddPartitionsResult'),
    throws: { InvalidObjectException: 1, AlreadyExistsException: 2, MetaException: 3 },
  },
  drop_partition: { args: [...dbTable, [3, 'values', strings], [4, 'deleteData', 'bool']], returns: 'bool', throws: { NoSuchObjectException: 1, MetaException: 2 } },
  drop_partition_with_environment_context: {
    args: [...dbTable, [3, 'values', strings], [4, 'deleteData', 'bool'], [5, 'environmentContext', s('EnvironmentContext')]],
    returns: 'bool',
    throws: { NoSuchObjectException: 1, MetaException: 2 },
  },
  drop_partition_by_name: { args: [...dbTable, [3, 'partName', str], [4, 'deleteData', 'bool']], returns: 'bool', throws: { NoSuchObjectException: 1, MetaException: 2 } },
  drop_partitions_req: { args: [[1, 'request', s('DropPartitionsRequest')]], returns: s('DropPartitionsResult'), throws: { NoSuchObjectException: 1, MetaException: 2 } },
  get_partition: { args: [...dbTable, [3, 'values', strings]], returns: s('Partition'), throws: { MetaException: 1, NoSuchObjectException: 2 } },
  get_partition_with_auth: {
    args: [...dbTable, [3, 'values', strings], [4, 'userName', str], [5, 'groupNames', strings]],
    returns: s('Partition'),
    throws: { MetaException: 1, NoSuchObjectException: 2 },
  },
  get_partition_by_name: { args: [...dbTable, [3, 'partName', str]], returns: s('Partition'), throws: { MetaException: 1, NoSuchObjectException: 2 } },
  get_partitions: { args: [...dbTable, [3, 'maxParts', 'i16']], returns: list('Partition'), throws: { NoSuchObjectException: 1, MetaException: 2 } },
  get_partitions_with_auth: {
    args: [...dbTable, [3, 'maxParts', 'i16'], [4, 'userName', str], [5, 'groupNames', strings]],
    returns: list('Partition'),
    throws: { NoSuchObjectException: 1, MetaException: 2 },
  },
  get_partition_names: { args: [...dbTable, [3, 'maxParts', 'i16']], returns: strings, throws: { MetaException: 1, NoSuchObjectException: 2 } },
  get_partitions_ps: { args: [...dbTable, [3, 'values', strings], [4, 'maxParts', 'i16']], returns: list('Partition'), throws: { MetaException: 1, NoSuchObjectException: 2 } },
  get_partitions_ps_with_auth: {
    args: [...dbTable, [3, 'values', strings], [4, 'maxParts', 'i16'], [5, 'userName', str], [6, 'groupNames', strings]],
    returns: list('Partition'),
    throws: { NoSuchObjectException: 1, MetaException: 2 },
  },
  get_partition_names_ps: { args: [...dbTable, [3, 'values', strings], [4, 'maxParts', 'i16']], returns: strings, throws: { MetaException: 1, NoSuchObjectException: 2 } },
  get_partitions_by_names: { args: [...dbTable, [3, 'names', strings]], returns: list('Partition'), throws: { MetaException: 1, NoSuchObjectException: 2 } },
  alter_partition: { args: [...dbTable, [3, 'partition', s('Partition')]], throws: { InvalidOperationException: 1, MetaException: 2 } },
  alter_partitions: { args: [...dbTable, [3, 'partitions', list('Partition')]], throws: { InvalidOperationException: 1, MetaException: 2 } },
  alter_partitions_with_environment_context: {
    args: [...dbTable, [3, 'partitions', list('Partition')], ctx],
    throws: { InvalidOperationException: 1, MetaException: 2 },
  },
  alter_partition_with_environment_context: { args: [...dbTable, [3, 'partition', s('Partition')], ctx], throws: { InvalidOperationException: 1, MetaException: 2 } },
  rename_partition: { args: [...dbTable, [3, 'values', strings], [4, 'partition', s('Partition')]], throws: { InvalidOperationException: 1, MetaException: 2 } },
  partition_name_to_vals: { args: [[1, 'partName', str]], returns: strings, throws: { MetaException: 1 } },
  partition_name_to_spec: { args: [[1, 'partName', str]], returns: params, throws: { MetaException: 1 } },

  get_table_statistics_req: { args: [[1, 'request', s('TableStatsRequest')]], returns: s('TableStatsResult'), throws: { NoSuchObjectException: 1, MetaException: 2 } },
  get_partitions_statistics_req: {
    args: [[1, 'request', s('PartitionsStatsRequest')]],
    returns: s('PartitionsStatsResult'),
    throws: { NoSuchObjectException: 1, MetaException: 2 },
  },

  create_function: { args: [[1, 'function', s('Function')]], throws: { AlreadyExistsException: 1, InvalidObjectException: 2, MetaException: 3, NoSuchObjectException: 4 } },
  drop_function: { args: [[1, 'dbName', str], [2, 'functionName', str]], throws: { NoSuchObjectException: 1, MetaException: 2 } },
  alter_function: { args: [[1, 'dbName', str], [2, 'functionName', str], [3, 'function', s('Function')]], throws: { InvalidOperationException: 1, MetaException: 2 } },
  get_functions: { args: [[1, 'dbName', str], [2, 'pattern', str]], returns: strings, throws: { MetaException: 1 } },
  get_function: { args: [[1, 'dbName', str], [2, 'functionName', str]], returns: s('Function'), throws: { MetaException: 1, NoSuchObjectException: 2 } },
  get_all_functions: { args: [], returns: s('GetAllFunctionsResponse'), throws: { MetaException: 1 } },
  get_current_notificationEventId: { args: [], returns: s('CurrentNotificationEventId'), throws: {} },
};
