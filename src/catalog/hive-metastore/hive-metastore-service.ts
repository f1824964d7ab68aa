// Owlet's Hive Metastore: the Thrift service Spark's built-in Hive 2.3 client talks to when a session runs
// with `spark.sql.catalogImplementation=hive`, answered from the account's catalog store. It runs inside the
// server (no metastore JVM, no metastore database of its own), listens on loopback only, and speaks what
// Spark's client speaks: TBinaryProtocol over an unframed (buffered) socket, Hive's default
// (`hive.metastore.thrift.framed.transport.enabled` is false).
//
// Like a real metastore it owns the directories of what it manages: it creates a database's and a table's
// directory and deletes a managed table's data when the table is dropped (Hive's HMSHandler does the same
// through its Warehouse), for `file:` locations and for `s3://` ones in the data plane's store
// (table-directories.ts, docs/catalog.md).
import type { AddressInfo, Server } from 'node:net';
import type { Logger } from 'pino';
import thrift, { type TProtocol } from 'thrift';
import {
  CatalogDatabaseNotEmptyError,
  CatalogEntityExistsError,
  CatalogEntityNotFoundError,
  type CatalogPartition,
  type CatalogStore,
  type CatalogTable,
  CatalogVersionConflictError,
} from '../catalog-store.js';
import { catalogNamePattern } from '../sql-catalog-store.js';
import { LocationUnavailableError, TableDirectories } from '../table-directories.js';
import { HMS_METHODS, HMS_STRUCTS, type HmsExceptionName, type HmsMethod } from './hms-idl.js';
import {
  databaseFromHms,
  databaseToHms,
  functionFromHms,
  functionToHms,
  parsePartitionName,
  partitionFromHms,
  partitionName,
  partitionToHms,
  tableFromHms,
  tableToHms,
} from './hms-records.js';
import { ThriftCodec, type ThriftStruct } from './thrift-codec.js';

/** A modelled Hive Metastore exception, sent in the call's result when the call declares it. */
export class HmsException extends Error {
  constructor(
    readonly type: HmsExceptionName,
    message: string,
  ) {
    super(message);
  }
}

const MESSAGE = { CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4 } as const;
/** TApplicationException's type codes (Thrift's protocol spec). */
const APPLICATION_ERROR = { UNKNOWN_METHOD: 1, INTERNAL_ERROR: 6 } as const;

type Args = ThriftStruct;
type Handler = (args: Args) => Promise<unknown>;

const PAGE = 1000;

/** Every item of a paged list. */
async function everything<T>(list: (after: string | undefined) => Promise<{ items: T[]; nextToken?: string }>): Promise<T[]> {
  const items: T[] = [];
  let after: string | undefined;
  do {
    const page = await list(after);
    items.push(...page.items);
    after = page.nextToken;
  } while (after !== undefined);
  return items;
}

const isManaged = (t: CatalogTable): boolean => (t.tableType ?? 'MANAGED_TABLE') === 'MANAGED_TABLE' && t.parameters.EXTERNAL?.toUpperCase() !== 'TRUE';

export interface HiveMetastoreOptions {
  catalog: CatalogStore;
  log: Logger;
  now?: () => number;
  /** Where locations are made and removed; by default local directories only (no S3 store). */
  directories?: TableDirectories;
  /**
   * The `default` database's location (the server's warehouse, OWLET_CATALOG_WAREHOUSE). Spark creates `default`
   * when a session finds it missing, at that session's warehouse (SharedState); sessions' warehouses differ by
   * workgroup, so the metastore puts it here whichever session comes first.
   */
  defaultDatabaseLocation?: string;
}

export class HiveMetastoreService {
  private readonly codec = new ThriftCodec(HMS_STRUCTS);
  private readonly catalog: CatalogStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly directories: TableDirectories;
  private readonly defaultDatabaseLocation: string | undefined;
  private readonly handlers: Record<string, Handler>;
  private server: Server | undefined;
  /** Calls a session made that the service does not serve, by name (what a new Spark version may start to use). */
  readonly unservedCalls = new Set<string>();

  constructor(options: HiveMetastoreOptions) {
    this.catalog = options.catalog;
    this.log = options.log.child({ component: 'hive-metastore' });
    this.now = options.now ?? Date.now;
    this.directories = options.directories ?? new TableDirectories({ log: this.log });
    this.defaultDatabaseLocation = options.defaultDatabaseLocation;
    this.handlers = this.buildHandlers();
  }

  /**
   * Listens on loopback: on `preferredPort` when it is free (the port of the server's last run, so that
   * sessions that outlived a restart find their metastore again), else on a port the system picks. Resolves
   * to the port.
   */
  async listen(preferredPort = 0, host = '127.0.0.1'): Promise<number> {
    if (preferredPort > 0) {
      try {
        return await this.listenOn(preferredPort, host);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      }
    }
    return this.listenOn(0, host);
  }

  private async listenOn(port: number, host: string): Promise<number> {
    const service = this;
    // The `thrift` package's server: it buffers a connection's bytes until a whole call has arrived, then hands
    // it to `process`, which must read it synchronously (answers may follow later).
    class Processor {
      process(input: TProtocol, output: TProtocol): void {
        service.process(input, output);
      }
    }
    const server = thrift.createServer(Processor as never, {}, { transport: thrift.TBufferedTransport, protocol: thrift.TBinaryProtocol }) as unknown as Server;
    server.on('error', (error) => this.log.warn({ err: error }, 'a Hive Metastore connection failed'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const bound = (server.address() as AddressInfo).port;
    this.log.debug({ port: bound }, 'the Hive Metastore service listens');
    return bound;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    // Sessions keep their metastore connections open for their whole life; they are cut, not waited for.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }

  /** Reads one call whole (synchronously, as the transport requires), then answers it when its work is done. */
  process(input: TProtocol, output: TProtocol): void {
    const message = input.readMessageBegin();
    const method = HMS_METHODS[message.fname];
    const handler = this.handlers[message.fname];
    // A oneway call gets no reply, not even an error: its caller does not read one.
    const oneway = message.mtype === MESSAGE.ONEWAY;
    if (!method || !handler) {
      input.skip(12 as never);
      input.readMessageEnd();
      if (!this.unservedCalls.has(message.fname)) this.log.warn({ call: message.fname }, 'a session made a Hive Metastore call Owlet does not serve');
      this.unservedCalls.add(message.fname);
      if (!oneway) this.replyApplicationError(output, message.fname, message.rseqid, APPLICATION_ERROR.UNKNOWN_METHOD, `Invalid method name: '${message.fname}'`);
      return;
    }
    const args = this.codec.readFields(input, method.args);
    input.readMessageEnd();
    if (oneway) {
      handler(args).catch((error: unknown) => this.log.error({ err: error, call: message.fname }, 'a oneway Hive Metastore call failed'));
      return;
    }
    void this.answer(output, message.fname, message.rseqid, method, handler, args);
  }

  private async answer(output: TProtocol, name: string, seqid: number, method: HmsMethod, handler: Handler, args: Args): Promise<void> {
    let result: ThriftStruct;
    try {
      const value = await handler(args);
      result = method.returns && value !== undefined ? { success: value } : {};
    } catch (error) {
      const modelled = this.modelled(error);
      const id = modelled ? method.throws[modelled.type] : undefined;
      const fallback = method.throws.MetaException;
      if (modelled && id !== undefined) {
        result = { [`e${id}`]: { message: modelled.message } };
      } else if (fallback !== undefined) {
        if (!modelled) this.log.error({ err: error, call: name }, 'a Hive Metastore call failed');
        result = { [`e${fallback}`]: { message: error instanceof Error ? error.message : String(error) } };
      } else {
        this.log.error({ err: error, call: name }, 'a Hive Metastore call failed');
        this.replyApplicationError(output, name, seqid, APPLICATION_ERROR.INTERNAL_ERROR, error instanceof Error ? error.message : String(error));
        return;
      }
      if (modelled) this.log.debug({ call: name, exception: modelled.type, message: modelled.message }, 'a Hive Metastore call refused');
    }
    const fields = [
      ...(method.returns ? [[0, 'success', method.returns] as const] : []),
      ...Object.entries(method.throws).map(([type, id]) => [id, `e${id}`, { struct: type }] as const),
    ];
    try {
      output.writeMessageBegin(name, MESSAGE.REPLY as never, seqid);
      this.codec.writeFields(output, `${name}_result`, fields, result);
      output.writeMessageEnd();
      output.flush();
    } catch (error) {
      this.log.error({ err: error, call: name }, 'could not answer a Hive Metastore call');
    }
  }

  private replyApplicationError(output: TProtocol, name: string, seqid: number, type: number, message: string): void {
    output.writeMessageBegin(name, MESSAGE.EXCEPTION as never, seqid);
    this.codec.writeFields(output, 'TApplicationException', [[1, 'message', 'string'], [2, 'type', 'i32']], { message, type });
    output.writeMessageEnd();
    output.flush();
  }

  /** The catalog's errors as the Hive Metastore's exceptions, worded as Hive words them. */
  private modelled(error: unknown): HmsException | undefined {
    if (error instanceof HmsException) return error;
    if (error instanceof CatalogEntityExistsError) {
      const name = error.entityName;
      if (error.entity === 'database') return new HmsException('AlreadyExistsException', `Database ${name} already exists`);
      if (error.entity === 'table') return new HmsException('AlreadyExistsException', `Table ${name.split('.').pop()} already exists`);
      if (error.entity === 'partition') return new HmsException('AlreadyExistsException', `Partition already exists: ${name}`);
      return new HmsException('AlreadyExistsException', `Function ${name} already exists`);
    }
    if (error instanceof CatalogEntityNotFoundError) {
      if (error.entity === 'database') return new HmsException('NoSuchObjectException', `${error.entityName} database not found`);
      if (error.entity === 'table') return new HmsException('NoSuchObjectException', `${error.entityName} table not found`);
      return new HmsException('NoSuchObjectException', `${error.entity} not found: ${error.entityName}`);
    }
    if (error instanceof CatalogDatabaseNotEmptyError) {
      return new HmsException('InvalidOperationException', `Database ${error.databaseName} is not empty. One or more tables exist.`);
    }
    if (error instanceof CatalogVersionConflictError) return new HmsException('InvalidOperationException', error.message);
    return undefined;
  }

  // ---- the calls

  private async requireTable(db: unknown, name: unknown): Promise<CatalogTable> {
    const table = await this.catalog.getTable(String(db), String(name));
    if (!table) throw new HmsException('NoSuchObjectException', `${String(db).toLowerCase()}.${String(name).toLowerCase()} table not found`);
    return table;
  }

  private async partitionsOf(db: unknown, table: unknown): Promise<CatalogPartition[]> {
    return everything((after) => this.catalog.listPartitions(String(db), String(table), { maxResults: PAGE, ...(after ? { after } : {}) }));
  }

  /** The partitions matching a partial spec: an empty value, or one past the list's end, matches any. */
  private async partitionsMatching(db: unknown, tableName: unknown, values: string[], max: unknown): Promise<CatalogPartition[]> {
    await this.requireTable(db, tableName);
    const all = await this.partitionsOf(db, tableName);
    const matching = all.filter((p) => values.every((v, i) => v === '' || p.values[i] === v));
    return typeof max === 'number' && max >= 0 ? matching.slice(0, max) : matching;
  }

  private async createTable(args: Args): Promise<void> {
    const table = tableFromHms(args.table as ThriftStruct, this.now());
    if (!(await this.catalog.getDatabase(table.databaseName))) {
      throw new HmsException('InvalidObjectException', `${table.databaseName} database not found`);
    }
    if (!table.storageDescriptor.location && table.tableType !== 'VIRTUAL_VIEW') {
      const db = await this.catalog.getDatabase(table.databaseName);
      if (db?.locationUri) table.storageDescriptor.location = `${db.locationUri.replace(/\/+$/, '')}/${table.name}`;
    }
    if (table.tableType !== 'VIRTUAL_VIEW') await this.checkLocation(table.storageDescriptor.location, 'table');
    await this.catalog.createTable(table);
    if (table.tableType !== 'VIRTUAL_VIEW') await this.directories.make(table.storageDescriptor.location);
  }

  private async dropTable(args: Args): Promise<void> {
    const table = await this.requireTable(args.dbName, args.tableName);
    const partitions = table.partitionKeys.length > 0 ? await this.partitionsOf(table.databaseName, table.name) : [];
    await this.catalog.deleteTable(table.databaseName, table.name);
    if (args.deleteData && isManaged(table)) {
      await this.directories.remove(table.storageDescriptor.location);
      for (const p of partitions) await this.directories.remove(p.storageDescriptor.location);
    }
  }

  private async alterTable(args: Args): Promise<void> {
    const current = await this.requireTable(args.dbName, args.tableName);
    const next = tableFromHms(args.table as ThriftStruct, this.now());
    next.createTime = current.createTime;
    const renamed = next.databaseName !== current.databaseName || next.name !== current.name;
    if (renamed && isManaged(current)) {
      // Hive's HiveAlterHandler: a managed table at its database's default path moves to the new default path.
      const oldDb = await this.catalog.getDatabase(current.databaseName);
      const newDb = await this.catalog.getDatabase(next.databaseName);
      const base = (uri: string | undefined): string | undefined => uri?.replace(/\/+$/, '');
      const oldDefault = oldDb?.locationUri ? `${base(oldDb.locationUri)}/${current.name}` : undefined;
      const oldLocation = base(current.storageDescriptor.location);
      if (oldDefault && oldLocation === oldDefault && newDb?.locationUri) {
        const newLocation = `${base(newDb.locationUri)}/${next.name}`;
        next.storageDescriptor.location = newLocation;
        const updated = await this.catalog.updateTable(current.databaseName, current.name, next, {});
        await this.directories.move(oldLocation, newLocation);
        for (const p of await this.partitionsOf(updated.databaseName, updated.name)) {
          const location = p.storageDescriptor.location;
          if (location?.startsWith(`${oldLocation}/`)) {
            const moved = { ...p, storageDescriptor: { ...p.storageDescriptor, location: `${newLocation}${location.slice(oldLocation.length)}` } };
            await this.catalog.updatePartition(updated.databaseName, updated.name, p.values, moved);
          }
        }
        return;
      }
    }
    await this.catalog.updateTable(current.databaseName, current.name, next, {});
  }

  private async addPartitions(parts: ThriftStruct[], ifNotExists: boolean): Promise<CatalogPartition[]> {
    const now = this.now();
    const partitions = parts.map((p) => partitionFromHms(p, now));
    const tables = new Map<string, CatalogTable>();
    for (const p of partitions) {
      const key = `${p.databaseName}.${p.tableName}`;
      let table = tables.get(key);
      if (!table) {
        table = await this.catalog.getTable(p.databaseName, p.tableName);
        if (!table) throw new HmsException('InvalidObjectException', `Unable to add partitions because database or table ${p.databaseName}.${p.tableName} does not exist`);
        tables.set(key, table);
      }
      if (!p.storageDescriptor.location && table.storageDescriptor.location) {
        p.storageDescriptor.location = `${table.storageDescriptor.location.replace(/\/+$/, '')}/${partitionName(table.partitionKeys, p.values)}`;
      }
    }
    await this.catalog.createPartitions(partitions, { ifNotExists });
    for (const p of partitions) await this.directories.make(p.storageDescriptor.location);
    return partitions;
  }

  private async dropPartition(db: unknown, tableName: unknown, values: string[], deleteData: unknown): Promise<boolean> {
    const table = await this.requireTable(db, tableName);
    const partition = await this.catalog.getPartition(table.databaseName, table.name, values);
    if (!partition) throw new HmsException('NoSuchObjectException', `partition values=${JSON.stringify(values)}`);
    await this.catalog.deletePartitions(table.databaseName, table.name, [values]);
    if (deleteData && isManaged(table)) await this.directories.remove(partition.storageDescriptor.location);
    return true;
  }

  private async valuesOfName(db: unknown, tableName: unknown, name: string): Promise<string[]> {
    const table = await this.requireTable(db, tableName);
    const spec = new Map(parsePartitionName(name).map(([k, v]) => [k.toLowerCase(), v]));
    return table.partitionKeys.map((k) => {
      const v = spec.get(k.name);
      if (v === undefined) throw new HmsException('MetaException', `Invalid partition key & values; keys ${table.partitionKeys.map((c) => c.name).join(',')}, values ${name}`);
      return v;
    });
  }

  /**
   * Refuses a location that cannot exist (an S3 location in a bucket the store does not have) before anything
   * is stored, in the words of Hive 2.3's HMSHandler (create_database_core, create_table_core), whose
   * Warehouse.mkdirs fails there.
   */
  private async checkLocation(location: string | undefined, what: 'database' | 'table', name?: string): Promise<void> {
    try {
      await this.directories.check(location);
    } catch (error) {
      if (!(error instanceof LocationUnavailableError)) throw error;
      this.log.info({ location, reason: error.message }, 'a location refused');
      throw new HmsException(
        'MetaException',
        what === 'database' ? `Unable to create database path ${String(location)}, failed to create database ${String(name)}` : `${String(location)} is not a directory or unable to create one`,
      );
    }
  }

  private buildHandlers(): Record<string, Handler> {
    const c = this.catalog;
    const names = (a: Args, key: string): string[] => [...((a[key] as string[] | undefined) ?? [])];
    return {
      getMetaConf: async () => '',
      set_ugi: async (a) => [String(a.userName ?? ''), ...names(a, 'groupNames')],
      get_config_value: async (a) => String(a.defaultValue ?? ''),
      get_current_notificationEventId: async () => ({ eventId: 0 }),
      // The client closes its socket right after; the connection ends with it.
      shutdown: async () => undefined,

      create_database: async (a) => {
        const db = databaseFromHms(a.database as ThriftStruct, this.now());
        if (db.name.toLowerCase() === 'default' && this.defaultDatabaseLocation) db.locationUri = this.defaultDatabaseLocation;
        if (await c.getDatabase(db.name)) throw new HmsException('AlreadyExistsException', `Database ${db.name.toLowerCase()} already exists`);
        await this.checkLocation(db.locationUri, 'database', db.name);
        await c.createDatabase(db);
        await this.directories.make(db.locationUri);
      },
      get_database: async (a) => {
        const db = await c.getDatabase(String(a.name));
        if (!db) throw new HmsException('NoSuchObjectException', `${String(a.name).toLowerCase()} database not found`);
        return databaseToHms(db);
      },
      drop_database: async (a) => {
        const db = await c.getDatabase(String(a.name));
        if (!db) throw new HmsException('NoSuchObjectException', `${String(a.name).toLowerCase()} database not found`);
        const tables = a.cascade ? await everything((after) => c.listTables(db.name, { maxResults: PAGE, ...(after ? { after } : {}) })) : [];
        const partitions = new Map<string, CatalogPartition[]>();
        for (const t of tables) if (t.partitionKeys.length > 0) partitions.set(t.name, await this.partitionsOf(db.name, t.name));
        await c.deleteDatabase(db.name, { cascade: Boolean(a.cascade) });
        if (a.deleteData) {
          for (const t of tables.filter(isManaged)) {
            await this.directories.remove(t.storageDescriptor.location);
            for (const p of partitions.get(t.name) ?? []) await this.directories.remove(p.storageDescriptor.location);
          }
          await this.directories.remove(db.locationUri);
        }
      },
      get_databases: async (a) => {
        const pattern = typeof a.pattern === 'string' && a.pattern !== '' ? a.pattern : '*';
        const dbs = await everything((after) => c.listDatabases({ maxResults: PAGE, pattern, ...(after ? { after } : {}) }));
        return dbs.map((d) => d.name);
      },
      get_all_databases: async () => (await everything((after) => c.listDatabases({ maxResults: PAGE, ...(after ? { after } : {}) }))).map((d) => d.name),
      alter_database: async (a) => {
        const current = await c.getDatabase(String(a.dbName));
        if (!current) throw new HmsException('NoSuchObjectException', `${String(a.dbName).toLowerCase()} database not found`);
        await c.updateDatabase(current.name, { ...databaseFromHms(a.database as ThriftStruct, current.createTime), name: current.name });
      },

      get_fields: async (a) => (await this.requireTable(a.dbName, a.tableName)).storageDescriptor.columns.map((col) => ({ ...col })),
      get_schema: async (a) => {
        const t = await this.requireTable(a.dbName, a.tableName);
        return [...t.storageDescriptor.columns, ...t.partitionKeys].map((col) => ({ ...col }));
      },
      create_table: (a) => this.createTable(a),
      create_table_with_environment_context: (a) => this.createTable(a),
      drop_table: (a) => this.dropTable(a),
      drop_table_with_environment_context: (a) => this.dropTable(a),
      truncate_table: async (a) => {
        const t = await this.requireTable(a.dbName, a.tableName);
        await this.directories.clear(t.storageDescriptor.location);
      },
      get_tables: async (a) => {
        const pattern = typeof a.pattern === 'string' && a.pattern !== '' ? a.pattern : '*';
        if (!(await c.getDatabase(String(a.dbName)))) return [];
        return (await everything((after) => c.listTables(String(a.dbName), { maxResults: PAGE, pattern, ...(after ? { after } : {}) }))).map((t) => t.name);
      },
      get_tables_by_type: async (a) => {
        const pattern = typeof a.pattern === 'string' && a.pattern !== '' ? a.pattern : '*';
        if (!(await c.getDatabase(String(a.dbName)))) return [];
        const tables = await everything((after) => c.listTables(String(a.dbName), { maxResults: PAGE, pattern, ...(after ? { after } : {}) }));
        return tables.filter((t) => !a.tableType || (t.tableType ?? 'MANAGED_TABLE') === a.tableType).map((t) => t.name);
      },
      get_table_meta: async (a) => {
        const dbPattern = typeof a.dbPatterns === 'string' && a.dbPatterns !== '' ? a.dbPatterns : '*';
        const tablePattern = typeof a.tablePatterns === 'string' && a.tablePatterns !== '' ? catalogNamePattern(a.tablePatterns) : undefined;
        const types = names(a, 'tableTypes');
        const dbs = await everything((after) => c.listDatabases({ maxResults: PAGE, pattern: dbPattern, ...(after ? { after } : {}) }));
        const metas: ThriftStruct[] = [];
        for (const db of dbs) {
          for (const t of await everything((after) => c.listTables(db.name, { maxResults: PAGE, ...(after ? { after } : {}) }))) {
            if (tablePattern && !tablePattern.test(t.name)) continue;
            if (types.length > 0 && !types.includes(t.tableType ?? 'MANAGED_TABLE')) continue;
            metas.push({ dbName: db.name, tableName: t.name, tableType: t.tableType ?? 'MANAGED_TABLE', comments: t.parameters.comment });
          }
        }
        return metas;
      },
      get_all_tables: async (a) => {
        if (!(await c.getDatabase(String(a.dbName)))) return [];
        return (await everything((after) => c.listTables(String(a.dbName), { maxResults: PAGE, ...(after ? { after } : {}) }))).map((t) => t.name);
      },
      get_table: async (a) => tableToHms(await this.requireTable(a.dbName, a.tableName)),
      get_table_objects_by_name: async (a) => {
        if (!(await c.getDatabase(String(a.dbName)))) throw new HmsException('UnknownDBException', `Could not find database ${String(a.dbName)}`);
        const tables: ThriftStruct[] = [];
        for (const name of names(a, 'tableNames')) {
          const t = await c.getTable(String(a.dbName), name);
          if (t) tables.push(tableToHms(t));
        }
        return tables;
      },
      alter_table: (a) => this.alterTable(a),
      alter_table_with_environment_context: (a) => this.alterTable(a),
      alter_table_with_cascade: (a) => this.alterTable(a),

      add_partition: async (a) => partitionToHms((await this.addPartitions([a.partition as ThriftStruct], false))[0]!),
      add_partition_with_environment_context: async (a) => partitionToHms((await this.addPartitions([a.partition as ThriftStruct], false))[0]!),
      add_partitions: async (a) => (await this.addPartitions((a.partitions as ThriftStruct[] | undefined) ?? [], false)).length,
      add_partitions_req: async (a) => {
        const request = a.request as ThriftStruct;
        const added = await this.addPartitions((request.parts as ThriftStruct[] | undefined) ?? [], Boolean(request.ifNotExists));
        return request.needResult === false ? {} : { partitions: added.map(partitionToHms) };
      },
      drop_partition: (a) => this.dropPartition(a.dbName, a.tableName, names(a, 'values'), a.deleteData),
      drop_partition_with_environment_context: (a) => this.dropPartition(a.dbName, a.tableName, names(a, 'values'), a.deleteData),
      drop_partition_by_name: async (a) =>
        this.dropPartition(a.dbName, a.tableName, await this.valuesOfName(a.dbName, a.tableName, String(a.partName)), a.deleteData),
      drop_partitions_req: async (a) => {
        const request = a.request as ThriftStruct;
        const spec = (request.parts as ThriftStruct | undefined) ?? {};
        if (!spec.names) throw new HmsException('MetaException', 'Owlet\'s metastore drops partitions by name only; dropping by expression is not supported');
        const dropped: CatalogPartition[] = [];
        for (const name of spec.names as string[]) {
          const values = await this.valuesOfName(request.dbName, request.tblName, name);
          const p = await c.getPartition(String(request.dbName), String(request.tblName), values);
          if (!p) {
            if (request.ifExists === false) throw new HmsException('NoSuchObjectException', `partition ${name} not found`);
            continue;
          }
          await this.dropPartition(request.dbName, request.tblName, values, request.deleteData);
          dropped.push(p);
        }
        return request.needResult === false ? {} : { partitions: dropped.map(partitionToHms) };
      },
      get_partition: async (a) => {
        const p = await c.getPartition(String(a.dbName), String(a.tableName), names(a, 'values'));
        if (!p) throw new HmsException('NoSuchObjectException', `partition values=${JSON.stringify(names(a, 'values'))}`);
        return partitionToHms(p);
      },
      get_partition_with_auth: async (a) => {
        const p = await c.getPartition(String(a.dbName), String(a.tableName), names(a, 'values'));
        if (!p) throw new HmsException('NoSuchObjectException', `partition values=${JSON.stringify(names(a, 'values'))}`);
        return partitionToHms(p);
      },
      get_partition_by_name: async (a) => {
        const values = await this.valuesOfName(a.dbName, a.tableName, String(a.partName));
        const p = await c.getPartition(String(a.dbName), String(a.tableName), values);
        if (!p) throw new HmsException('NoSuchObjectException', `partition ${String(a.partName)} not found`);
        return partitionToHms(p);
      },
      get_partitions: async (a) => (await this.partitionsMatching(a.dbName, a.tableName, [], a.maxParts)).map(partitionToHms),
      get_partitions_with_auth: async (a) => (await this.partitionsMatching(a.dbName, a.tableName, [], a.maxParts)).map(partitionToHms),
      get_partition_names: async (a) => {
        const t = await this.requireTable(a.dbName, a.tableName);
        return (await this.partitionsMatching(a.dbName, a.tableName, [], a.maxParts)).map((p) => partitionName(t.partitionKeys, p.values));
      },
      get_partitions_ps: async (a) => (await this.partitionsMatching(a.dbName, a.tableName, names(a, 'values'), a.maxParts)).map(partitionToHms),
      get_partitions_ps_with_auth: async (a) => (await this.partitionsMatching(a.dbName, a.tableName, names(a, 'values'), a.maxParts)).map(partitionToHms),
      get_partition_names_ps: async (a) => {
        const t = await this.requireTable(a.dbName, a.tableName);
        return (await this.partitionsMatching(a.dbName, a.tableName, names(a, 'values'), a.maxParts)).map((p) => partitionName(t.partitionKeys, p.values));
      },
      get_partitions_by_names: async (a) => {
        const found: ThriftStruct[] = [];
        for (const name of names(a, 'names')) {
          const p = await c.getPartition(String(a.dbName), String(a.tableName), await this.valuesOfName(a.dbName, a.tableName, name));
          if (p) found.push(partitionToHms(p));
        }
        return found;
      },
      alter_partition: (a) => this.alterPartitions(a.dbName, a.tableName, [a.partition as ThriftStruct]),
      alter_partitions: (a) => this.alterPartitions(a.dbName, a.tableName, (a.partitions as ThriftStruct[] | undefined) ?? []),
      alter_partitions_with_environment_context: (a) => this.alterPartitions(a.dbName, a.tableName, (a.partitions as ThriftStruct[] | undefined) ?? []),
      alter_partition_with_environment_context: (a) => this.alterPartitions(a.dbName, a.tableName, [a.partition as ThriftStruct]),
      rename_partition: async (a) => {
        const next = partitionFromHms(a.partition as ThriftStruct, this.now());
        await c.updatePartition(String(a.dbName), String(a.tableName), names(a, 'values'), next);
      },
      partition_name_to_vals: async (a) => parsePartitionName(String(a.partName)).map(([, v]) => v),
      partition_name_to_spec: async (a) => Object.fromEntries(parsePartitionName(String(a.partName))),

      // Spark keeps its statistics in table properties (spark.sql.statistics.*), not in the metastore's.
      get_table_statistics_req: async () => ({ tableStats: [] }),
      get_partitions_statistics_req: async () => ({ partStats: {} }),

      create_function: async (a) => {
        await c.createFunction(functionFromHms(a.function as ThriftStruct, this.now()));
      },
      drop_function: async (a) => c.deleteFunction(String(a.dbName), String(a.functionName)),
      alter_function: async (a) => c.updateFunction(String(a.dbName), String(a.functionName), functionFromHms(a.function as ThriftStruct, this.now())),
      get_functions: async (a) => {
        const pattern = typeof a.pattern === 'string' && a.pattern !== '' ? a.pattern : '*';
        if (!(await c.getDatabase(String(a.dbName)))) return [];
        return (await everything((after) => c.listFunctions(String(a.dbName), { maxResults: PAGE, pattern, ...(after ? { after } : {}) }))).map((f) => f.name);
      },
      get_function: async (a) => {
        const f = await c.getFunction(String(a.dbName), String(a.functionName));
        if (!f) throw new HmsException('NoSuchObjectException', `Function ${String(a.dbName)}.${String(a.functionName)} does not exist`);
        return functionToHms(f);
      },
      get_all_functions: async () => ({
        functions: (await everything((after) => c.listFunctions(undefined, { maxResults: PAGE, ...(after ? { after } : {}) }))).map(functionToHms),
      }),
    };
  }

  private async alterPartitions(db: unknown, tableName: unknown, parts: ThriftStruct[]): Promise<void> {
    const now = this.now();
    for (const part of parts) {
      const next = partitionFromHms(part, now);
      const current = await this.catalog.getPartition(String(db), String(tableName), next.values);
      if (!current) throw new HmsException('InvalidOperationException', `alter is not possible: partition ${next.values.join('/')} does not exist`);
      await this.catalog.updatePartition(String(db), String(tableName), next.values, { ...next, createTime: current.createTime });
    }
  }
}
