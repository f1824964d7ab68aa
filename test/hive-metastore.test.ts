// Owlet's Hive Metastore service on the wire, fast: a Thrift client of the `thrift` package (TBinaryProtocol,
// buffered transport, as Spark's Hive client speaks) calls the service over a SQLite catalog. Spark itself is
// the client of test/python/test_catalog_spark.py; this pins the field ids, the exceptions each call answers
// with, and what the service does to directories.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import thrift from 'thrift';
import { HiveMetastoreService } from '../src/catalog/hive-metastore/hive-metastore-service.js';
import { HMS_METHODS, HMS_STRUCTS } from '../src/catalog/hive-metastore/hms-idl.js';
import { ThriftCodec, type ThriftStruct } from '../src/catalog/hive-metastore/thrift-codec.js';
import type { CatalogStore } from '../src/catalog/catalog-store.js';
import { PostgresCatalogStore } from '../src/catalog/postgres-catalog-store.js';
import { SqliteCatalogStore } from '../src/catalog/sqlite-catalog-store.js';
import { objectStorePrefixes } from '../src/catalog/prefix-stores.js';
import { TableDirectories } from '../src/catalog/table-directories.js';
import { EmbeddedObjectStore } from '../src/objects/embedded-object-store.js';
import { emptyMetadata } from '../src/objects/object-store.js';
import { SqliteObjectIndex } from '../src/objects/sqlite-object-index.js';
import { bodyOf } from './object-store-conformance.js';
import { ThrowawayPostgres } from './support/postgres.js';

const codec = new ThriftCodec(HMS_STRUCTS);
/** What the buffered transport throws when a reply has not arrived whole yet (the package's typings omit it). */
const UnderrunError = (thrift as unknown as { InputBufferUnderrunError: new () => Error }).InputBufferUnderrunError;

/** One connection; calls go one at a time, as the Hive client makes them. */
class MetastoreClient {
  private seq = 0;
  private pending: ((reply: { type: number; result: ThriftStruct }) => void) | undefined;
  private expected = '';

  private constructor(private readonly socket: Socket) {
    const onData = thrift.TBufferedTransport.receiver((transport) => {
      const input = new thrift.TBinaryProtocol(transport);
      try {
        const begin = input.readMessageBegin();
        const method = HMS_METHODS[begin.fname];
        const fields =
          begin.mtype === 3
            ? ([[1, 'message', 'string'], [2, 'type', 'i32']] as const)
            : [
                ...(method?.returns ? [[0, 'success', method.returns] as const] : []),
                ...Object.entries(method?.throws ?? {}).map(([name, id]) => [id, `e${id}`, { struct: name }] as const),
              ];
        const result = codec.readFields(input, fields);
        input.readMessageEnd();
        transport.commitPosition();
        this.pending?.({ type: begin.mtype, result });
      } catch (error) {
        if (error instanceof UnderrunError) transport.rollbackPosition();
        else throw error;
      }
    }, 0);
    socket.on('data', onData);
  }

  static async open(port: number): Promise<MetastoreClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new MetastoreClient(socket);
  }

  /** Calls `name` and returns its result struct (`success`, or `e<id>` for a declared exception). */
  async call(name: string, args: ThriftStruct): Promise<ThriftStruct> {
    const reply = await this.send(name, args);
    assert.equal(reply.type, 2, `${name} answered with an application exception: ${JSON.stringify(reply.result)}`);
    return reply.result;
  }

  send(name: string, args: ThriftStruct): Promise<{ type: number; result: ThriftStruct }> {
    this.expected = name;
    const reply = new Promise<{ type: number; result: ThriftStruct }>((resolve) => (this.pending = resolve));
    const output = new thrift.TBinaryProtocol(new thrift.TBufferedTransport(undefined, (buf) => buf && this.socket.write(buf)));
    output.writeMessageBegin(name, 1 as never, ++this.seq);
    codec.writeFields(output, `${name}_args`, HMS_METHODS[name]?.args ?? [], args);
    output.writeMessageEnd();
    output.flush();
    return reply;
  }

  /** A oneway call: no reply comes. */
  sendOneway(name: string): void {
    const output = new thrift.TBinaryProtocol(new thrift.TBufferedTransport(undefined, (buf) => buf && this.socket.write(buf)));
    output.writeMessageBegin(name, 4 as never, ++this.seq);
    codec.writeFields(output, `${name}_args`, [], {});
    output.writeMessageEnd();
    output.flush();
  }

  close(): void {
    this.socket.destroy();
  }
}

const sd = (location: string): ThriftStruct => ({
  cols: [{ name: 'ID', type: 'bigint' }],
  location,
  inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
  compressed: false,
  numBuckets: -1,
  serdeInfo: { serializationLib: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', parameters: {} },
  bucketCols: [],
  sortCols: [],
  parameters: {},
});

interface ClosableStore extends CatalogStore {
  close(): Promise<void>;
}

/** The same cases over each backend of the catalog: SQLite, and PostgreSQL on a throwaway server. */
function metastoreCases(backend: string, openStore: (dir: string) => Promise<ClosableStore>): void {
  describe(`Hive Metastore service over ${backend}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'owlet-hms-'));
    let catalog: ClosableStore;
    let service: HiveMetastoreService;
    let client: MetastoreClient;

    before(async () => {
      catalog = await openStore(dir);
      service = new HiveMetastoreService({ catalog, log: pino({ level: 'silent' }) });
      client = await MetastoreClient.open(await service.listen());
    });
    after(async () => {
      client?.close();
      await service?.close();
      await catalog?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates a database and its directory, and lists it', async () => {
      const location = `file:${join(dir, 'wh', 'sales.db')}`;
      await client.call('create_database', { database: { name: 'Sales', description: 'the sales', locationUri: location, parameters: {} } });
      assert.ok(existsSync(join(dir, 'wh', 'sales.db')));
      const got = await client.call('get_database', { name: 'SALES' });
      assert.equal((got.success as ThriftStruct).name, 'sales');
      assert.equal((got.success as ThriftStruct).locationUri, location);
      assert.deepEqual((await client.call('get_all_databases', {})).success, ['sales']);
      assert.deepEqual((await client.call('get_databases', { pattern: 's*' })).success, ['sales']);
      const again = await client.call('create_database', { database: { name: 'sales', parameters: {} } });
      assert.equal((again.e1 as ThriftStruct).message, 'Database sales already exists');
      const missing = await client.call('get_database', { name: 'nope' });
      assert.ok(missing.e1, 'NoSuchObjectException travels in field 1');
    });

    it('creates a table, answers AlreadyExists and NoSuchObject in their fields, and drops a managed table\'s data', async () => {
      const location = `file:${join(dir, 'wh', 'sales.db', 'orders')}`;
      const table = { tableName: 'Orders', dbName: 'sales', owner: 'me', createTime: 1_700_000_000, sd: sd(location), partitionKeys: [], parameters: {}, tableType: 'MANAGED_TABLE' };
      await client.call('create_table_with_environment_context', { table, environmentContext: { properties: {} } });
      assert.ok(existsSync(join(dir, 'wh', 'sales.db', 'orders')));
      const got = (await client.call('get_table', { dbName: 'sales', tableName: 'ORDERS' })).success as ThriftStruct;
      assert.equal(got.tableName, 'orders');
      assert.equal(got.createTime, 1_700_000_000);
      assert.deepEqual((got.sd as ThriftStruct).cols, [{ name: 'id', type: 'bigint' }]);
      const twice = await client.call('create_table', { table });
      assert.equal((twice.e1 as ThriftStruct).message, 'Table orders already exists');
      const missing = await client.call('get_table', { dbName: 'sales', tableName: 'nope' });
      assert.equal((missing.e2 as ThriftStruct).message, 'sales.nope table not found');
      assert.deepEqual((await client.call('get_tables', { dbName: 'sales', pattern: '*' })).success, ['orders']);
      const objects = (await client.call('get_table_objects_by_name', { dbName: 'sales', tableNames: ['orders', 'nope'] })).success as ThriftStruct[];
      assert.deepEqual(objects.map((t) => t.tableName), ['orders']);
      await client.call('drop_table_with_environment_context', { dbName: 'sales', tableName: 'orders', deleteData: true, environmentContext: { properties: {} } });
      assert.ok(!existsSync(join(dir, 'wh', 'sales.db', 'orders')), 'a managed table\'s data goes with it');
      assert.ok((await client.call('get_table', { dbName: 'sales', tableName: 'orders' })).e2);
    });

    it('keeps an external table\'s data when it is dropped', async () => {
      const location = `file:${join(dir, 'outside')}`;
      const table = { tableName: 'ext', dbName: 'sales', sd: sd(location), partitionKeys: [], parameters: { EXTERNAL: 'TRUE' }, tableType: 'EXTERNAL_TABLE' };
      await client.call('create_table', { table });
      await client.call('drop_table', { dbName: 'sales', tableName: 'ext', deleteData: true });
      assert.ok(existsSync(join(dir, 'outside')));
    });

    it('adds, names, lists by partial spec and drops partitions', async () => {
      const location = `file:${join(dir, 'wh', 'sales.db', 'parts')}`;
      const table = {
        tableName: 'parts',
        dbName: 'sales',
        sd: sd(location),
        partitionKeys: [{ name: 'y', type: 'string' }, { name: 'tag', type: 'string' }],
        parameters: {},
        tableType: 'MANAGED_TABLE',
      };
      await client.call('create_table', { table });
      const part = (values: string[]) => ({ values, dbName: 'sales', tableName: 'parts', sd: sd(''), parameters: {} });
      const added = await client.call('add_partitions_req', {
        request: { dbName: 'sales', tblName: 'parts', parts: [part(['2024', 'a/b']), part(['2024', 'c']), part(['2025', 'c'])], ifNotExists: false, needResult: true },
      });
      const first = (added.success as ThriftStruct).partitions as ThriftStruct[];
      assert.equal((first[0]!.sd as ThriftStruct).location, `${location}/y=2024/tag=a%2Fb`, 'a partition without a location gets the default one');
      const names = (await client.call('get_partition_names', { dbName: 'sales', tableName: 'parts', maxParts: -1 })).success;
      assert.deepEqual(names, ['y=2024/tag=a%2Fb', 'y=2024/tag=c', 'y=2025/tag=c']);
      const ps = (await client.call('get_partitions_ps_with_auth', { dbName: 'sales', tableName: 'parts', values: ['', 'c'], maxParts: -1, userName: 'me', groupNames: [] })).success as ThriftStruct[];
      assert.deepEqual(ps.map((p) => p.values), [['2024', 'c'], ['2025', 'c']]);
      const byName = (await client.call('get_partitions_by_names', { dbName: 'sales', tableName: 'parts', names: ['y=2024/tag=a%2Fb'] })).success as ThriftStruct[];
      assert.deepEqual(byName.map((p) => p.values), [['2024', 'a/b']]);
      const dup = await client.call('add_partitions_req', { request: { dbName: 'sales', tblName: 'parts', parts: [part(['2025', 'c'])], ifNotExists: false } });
      assert.ok(dup.e2, 'AlreadyExistsException travels in field 2');
      await client.call('drop_partition_with_environment_context', { dbName: 'sales', tableName: 'parts', values: ['2025', 'c'], deleteData: true, environmentContext: { properties: {} } });
      assert.ok(!existsSync(join(dir, 'wh', 'sales.db', 'parts', 'y=2025', 'tag=c')));
      assert.equal(((await client.call('get_partitions', { dbName: 'sales', tableName: 'parts', maxParts: -1 })).success as ThriftStruct[]).length, 2);
    });

    it('refuses to drop a database that holds tables unless cascading', async () => {
      const refused = await client.call('drop_database', { name: 'sales', deleteData: true, cascade: false });
      assert.match(String((refused.e2 as ThriftStruct).message), /is not empty/);
      await client.call('drop_database', { name: 'sales', deleteData: true, cascade: true });
      assert.ok(!existsSync(join(dir, 'wh', 'sales.db')));
      assert.deepEqual((await client.call('get_all_databases', {})).success, []);
    });

    it('answers a call it does not serve with an application exception and keeps the connection', async () => {
      const reply = await client.send('get_open_txns', {});
      assert.equal(reply.type, 3);
      assert.match(String(reply.result.message), /get_open_txns/);
      assert.ok(service.unservedCalls.has('get_open_txns'));
      assert.deepEqual((await client.call('get_all_databases', {})).success, []);
    });

    it('serves the oneway shutdown Hive\'s client sends when it closes, without a reply', async () => {
      client.sendOneway('shutdown');
      // Had the service answered the oneway call, this call would read that answer instead of its own.
      assert.deepEqual((await client.call('get_all_databases', {})).success, []);
      assert.ok(!service.unservedCalls.has('shutdown'));
    });
  });
}

metastoreCases('SQLite', async (dir) => new SqliteCatalogStore({ path: join(dir, 'catalog.sqlite') }));

let postgres: ThrowawayPostgres | undefined;
after(async () => {
  await postgres?.stop();
});
metastoreCases('PostgreSQL', async () => {
  postgres = await ThrowawayPostgres.start();
  await postgres.createDatabase('owlet');
  return PostgresCatalogStore.open({ url: await postgres.createSchema('owlet', 'hms') });
});

describe('Hive Metastore service with s3:// locations in Owlet\'s object store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'owlet-hms-s3-'));
  let catalog: SqliteCatalogStore;
  let objects: EmbeddedObjectStore;
  let service: HiveMetastoreService;
  let client: MetastoreClient;
  const keys = async (prefix = ''): Promise<string[]> => (await objects.listObjects('lake', { prefix, maxKeys: 1000 })).objects.map((o) => o.key);
  const put = (key: string) => objects.putObject('lake', key, bodyOf('x'), emptyMetadata());
  const table = (name: string, location: string, external = false, partitionKeys: ThriftStruct[] = []) => ({
    tableName: name,
    dbName: 'lake',
    sd: sd(location),
    partitionKeys,
    parameters: external ? { EXTERNAL: 'TRUE' } : {},
    tableType: external ? 'EXTERNAL_TABLE' : 'MANAGED_TABLE',
  });

  before(async () => {
    catalog = new SqliteCatalogStore({ path: join(dir, 'catalog.sqlite') });
    objects = await EmbeddedObjectStore.open({ root: join(dir, 'objects'), index: new SqliteObjectIndex(join(dir, 'objects.sqlite')), sweepGraceMs: 0 });
    await objects.createBucket('lake');
    const log = pino({ level: 'silent' });
    service = new HiveMetastoreService({
      catalog,
      log,
      directories: new TableDirectories({ log, s3: objectStorePrefixes(objects) }),
      defaultDatabaseLocation: 's3://lake/server-warehouse',
    });
    client = await MetastoreClient.open(await service.listen());
  });
  after(async () => {
    client?.close();
    await service?.close();
    await objects?.close();
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a database at an s3 location without writing a marker, and refuses one in a missing bucket', async () => {
    await client.call('create_database', { database: { name: 'lake', locationUri: 's3://lake/wh/lake.db', parameters: {} } });
    assert.deepEqual(await keys(), [], 'an S3 "directory" is a prefix: nothing is written');
    const refused = await client.call('create_database', { database: { name: 'nowhere', locationUri: 's3a://no-such-bucket/wh/nowhere.db', parameters: {} } });
    assert.equal((refused.e3 as ThriftStruct).message, 'Unable to create database path s3a://no-such-bucket/wh/nowhere.db, failed to create database nowhere');
    assert.ok((await client.call('get_database', { name: 'nowhere' })).e1, 'nothing is stored for a refused database');
    const noTable = await client.call('create_table', { table: table('t', 's3://no-such-bucket/t') });
    assert.equal((noTable.e3 as ThriftStruct).message, 's3://no-such-bucket/t is not a directory or unable to create one');
  });

  it('puts `default` at the server\'s warehouse whichever session\'s warehouse creates it', async () => {
    await client.call('create_database', { database: { name: 'default', description: 'default database', locationUri: 's3://lake/team/spark-warehouse', parameters: {} } });
    const got = (await client.call('get_database', { name: 'default' })).success as ThriftStruct;
    assert.equal(got.locationUri, 's3://lake/server-warehouse');
  });

  it('drops a managed table\'s objects, and only those under its prefix; keeps an external table\'s', async () => {
    await client.call('create_table', { table: table('orders', 's3://lake/wh/lake.db/orders') });
    await client.call('create_table', { table: table('seen', 's3a://lake/raw/seen/', true) });
    for (const key of ['wh/lake.db/orders/part-0.parquet', 'wh/lake.db/orders/_SUCCESS', 'wh/lake.db/orders2/keep.parquet', 'raw/seen/a.csv']) await put(key);
    await client.call('drop_table', { dbName: 'lake', tableName: 'orders', deleteData: true });
    await client.call('drop_table', { dbName: 'lake', tableName: 'seen', deleteData: true });
    assert.deepEqual(await keys(), ['raw/seen/a.csv', 'wh/lake.db/orders2/keep.parquet']);
  });

  it('drops a managed partition\'s objects, moves a renamed managed table\'s, and empties a truncated one', async () => {
    await client.call('create_table', { table: table('parts', 's3://lake/wh/lake.db/parts', false, [{ name: 'y', type: 'string' }]) });
    const part = (y: string) => ({ values: [y], dbName: 'lake', tableName: 'parts', sd: sd(''), parameters: {} });
    await client.call('add_partitions', { partitions: [part('2024'), part('2025')] });
    await put('wh/lake.db/parts/y=2024/a.parquet');
    await put('wh/lake.db/parts/y=2025/b.parquet');
    await client.call('drop_partition', { dbName: 'lake', tableName: 'parts', values: ['2025'], deleteData: true });
    assert.deepEqual(await keys('wh/lake.db/parts/'), ['wh/lake.db/parts/y=2024/a.parquet']);

    const renamed = { ...table('moved', 's3://lake/wh/lake.db/parts', false, [{ name: 'y', type: 'string' }]) };
    await client.call('alter_table', { dbName: 'lake', tableName: 'parts', table: renamed });
    assert.deepEqual(await keys('wh/lake.db/'), ['wh/lake.db/moved/y=2024/a.parquet', 'wh/lake.db/orders2/keep.parquet']);
    const moved = (await client.call('get_table', { dbName: 'lake', tableName: 'moved' })).success as ThriftStruct;
    assert.equal((moved.sd as ThriftStruct).location, 's3://lake/wh/lake.db/moved');
    const partition = (await client.call('get_partition', { dbName: 'lake', tableName: 'moved', values: ['2024'] })).success as ThriftStruct;
    assert.equal((partition.sd as ThriftStruct).location, 's3://lake/wh/lake.db/moved/y=2024');

    await client.call('truncate_table', { dbName: 'lake', tableName: 'moved' });
    assert.deepEqual(await keys('wh/lake.db/moved/'), []);
  });

  it('removes a database\'s prefix with DROP DATABASE … CASCADE', async () => {
    await client.call('drop_database', { name: 'lake', deleteData: true, cascade: true });
    assert.deepEqual(await keys(), ['raw/seen/a.csv']);
  });
});
