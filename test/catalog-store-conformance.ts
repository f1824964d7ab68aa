// The CatalogStore conformance suite: the SQLite and PostgreSQL backends run these same cases. A backend that
// cannot pass a case must skip it with its reason, not leave it out.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  type CatalogDatabase,
  CatalogDatabaseNotEmptyError,
  CatalogEntityExistsError,
  CatalogEntityNotFoundError,
  type CatalogPartition,
  type CatalogStore,
  type CatalogTable,
  CatalogVersionConflictError,
  type StorageDescriptor,
} from '../src/catalog/catalog-store.js';

export interface ClosableCatalogStore extends CatalogStore {
  close(): Promise<void>;
}

export interface CatalogConformanceBackend {
  /** A store with an empty catalog. Called before every case. */
  open(): Promise<ClosableCatalogStore>;
  /** Closes `store` and opens the same storage again, as a restarted server would. */
  reopen(store: ClosableCatalogStore): Promise<ClosableCatalogStore>;
  /** A second store on the same storage, as another server node has (undefined: the backend has one owner). */
  another?(store: ClosableCatalogStore): Promise<ClosableCatalogStore>;
}

export function storage(location: string, columns: [string, string][] = [['id', 'bigint']]): StorageDescriptor {
  return {
    columns: columns.map(([name, type]) => ({ name, type })),
    location,
    inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
    compressed: false,
    numberOfBuckets: -1,
    serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', parameters: { 'serialization.format': '1' } },
    bucketColumns: [],
    sortColumns: [],
    parameters: {},
    storedAsSubDirectories: false,
  };
}

export function database(name: string): CatalogDatabase {
  return { name, description: `the ${name} database`, locationUri: `file:/warehouse/${name}.db`, parameters: { owner: 'me' }, createTime: 1_000 };
}

export function table(databaseName: string, name: string, extra: Partial<CatalogTable> = {}): Omit<CatalogTable, 'versionId'> {
  return {
    databaseName,
    name,
    owner: 'me',
    createTime: 2_000,
    updateTime: 2_000,
    retention: 0,
    storageDescriptor: storage(`file:/warehouse/${databaseName}.db/${name}`),
    partitionKeys: [],
    tableType: 'MANAGED_TABLE',
    parameters: { 'spark.sql.sources.provider': 'parquet' },
    ...extra,
  };
}

function partition(databaseName: string, tableName: string, values: string[]): CatalogPartition {
  return {
    databaseName,
    tableName,
    values,
    createTime: 3_000,
    storageDescriptor: storage(`file:/warehouse/${databaseName}.db/${tableName}/p=${values.join('/')}`),
    parameters: {},
  };
}

async function allPages<T>(list: (after: string | undefined) => Promise<{ items: T[]; nextToken?: string }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await list(after);
    items.push(...page.items);
    after = page.nextToken;
    pages++;
  } while (after !== undefined);
  return { items, pages };
}

export function runCatalogStoreConformance(name: string, backend: CatalogConformanceBackend): void {
  describe(`CatalogStore conformance: ${name}`, () => {
    let store: ClosableCatalogStore;
    beforeEach(async () => {
      store = await backend.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('creates, reads, updates and drops a database, its name folded to lower case', async () => {
      await store.createDatabase(database('Sales'));
      assert.deepEqual(await store.getDatabase('SALES'), { ...database('Sales'), name: 'sales' });
      await assert.rejects(store.createDatabase(database('sales')), CatalogEntityExistsError);
      await store.updateDatabase('sales', { ...database('sales'), description: 'changed' });
      assert.equal((await store.getDatabase('sales'))?.description, 'changed');
      await assert.rejects(store.updateDatabase('nope', database('nope')), CatalogEntityNotFoundError);
      await store.deleteDatabase('Sales', { cascade: false });
      assert.equal(await store.getDatabase('sales'), undefined);
      await assert.rejects(store.deleteDatabase('sales', { cascade: false }), CatalogEntityNotFoundError);
    });

    it('lists databases in name order, a page at a time, and by pattern', async () => {
      for (const n of ['d3', 'a1', 'c2', 'b4', 'e5']) await store.createDatabase(database(n));
      const { items, pages } = await allPages((after) => store.listDatabases({ maxResults: 2, ...(after ? { after } : {}) }));
      assert.deepEqual(items.map((d) => d.name), ['a1', 'b4', 'c2', 'd3', 'e5']);
      assert.equal(pages, 3);
      const matched = await store.listDatabases({ maxResults: 10, pattern: 'A*|C2' });
      assert.deepEqual(matched.items.map((d) => d.name), ['a1', 'c2']);
      const paged = await allPages((after) => store.listDatabases({ maxResults: 1, pattern: '*[0-9]', ...(after ? { after } : {}) }));
      assert.equal(paged.items.length, 5);
    });

    it('creates a table at version 1 in an existing database only, once', async () => {
      await assert.rejects(store.createTable(table('db', 't')), (e: unknown) => e instanceof CatalogEntityNotFoundError && e.entity === 'database');
      await store.createDatabase(database('db'));
      const created = await store.createTable(table('DB', 'Events'));
      assert.equal(created.versionId, '1');
      assert.equal(created.name, 'events');
      assert.deepEqual(await store.getTable('db', 'EVENTS'), { ...table('DB', 'Events'), databaseName: 'db', name: 'events', versionId: '1' });
      await assert.rejects(store.createTable(table('db', 'events')), CatalogEntityExistsError);
      assert.equal(await store.getTable('db', 'other'), undefined);
      assert.equal(await store.getTable('other', 'events'), undefined);
    });

    it('lets exactly one of many concurrent creates of a table win', async () => {
      await store.createDatabase(database('db'));
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.createTable(table('db', 'race'))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof CatalogEntityExistsError);
    });

    it('keeps every version of a table, and refuses an update that names a stale version', async () => {
      await store.createDatabase(database('db'));
      await store.createTable(table('db', 't'));
      const v2 = await store.updateTable('db', 't', table('db', 't', { description: 'two' }), { expectedVersionId: '1' });
      assert.equal(v2.versionId, '2');
      await assert.rejects(
        store.updateTable('db', 't', table('db', 't', { description: 'stale' }), { expectedVersionId: '1' }),
        CatalogVersionConflictError,
      );
      const v3 = await store.updateTable('db', 't', table('db', 't', { description: 'three' }), {});
      assert.equal(v3.versionId, '3');
      assert.equal((await store.getTable('db', 't'))?.description, 'three');
      assert.equal((await store.getTableVersion('db', 't', '2'))?.description, 'two');
      assert.equal((await store.getTableVersion('db', 't', '1'))?.description, undefined);
      assert.equal(await store.getTableVersion('db', 't', '9'), undefined);
      assert.equal(await store.getTableVersion('db', 't', 'x'), undefined);
      const { items, pages } = await allPages((after) => store.listTableVersions('db', 't', { maxResults: 2, ...(after ? { after } : {}) }));
      assert.deepEqual(items.map((t) => t.versionId), ['3', '2', '1']);
      assert.equal(pages, 2);
      await assert.rejects(store.updateTable('db', 'nope', table('db', 'nope'), {}), CatalogEntityNotFoundError);
    });

    it('lets one of two concurrent updates of the same version win', async () => {
      await store.createDatabase(database('db'));
      await store.createTable(table('db', 't'));
      const results = await Promise.allSettled(
        ['a', 'b'].map((d) => store.updateTable('db', 't', table('db', 't', { description: d }), { expectedVersionId: '1' })),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const lost = results.find((r) => r.status === 'rejected');
      assert.ok(lost?.status === 'rejected' && lost.reason instanceof CatalogVersionConflictError);
    });

    it('renames a table with its partitions and versions, into another database too', async () => {
      await store.createDatabase(database('db'));
      await store.createDatabase(database('other'));
      await store.createTable(table('db', 't', { partitionKeys: [{ name: 'p', type: 'string' }] }));
      await store.createTable(table('db', 'taken'));
      await store.createPartitions([partition('db', 't', ['1']), partition('db', 't', ['2'])], { ifNotExists: false });
      await assert.rejects(store.updateTable('db', 't', table('db', 'taken'), {}), CatalogEntityExistsError);
      const renamed = await store.updateTable('db', 't', table('other', 'Moved', { partitionKeys: [{ name: 'p', type: 'string' }] }), {});
      assert.equal(renamed.versionId, '2');
      assert.equal(await store.getTable('db', 't'), undefined);
      assert.equal((await store.getTable('other', 'moved'))?.versionId, '2');
      const parts = await store.listPartitions('other', 'moved', { maxResults: 10 });
      assert.deepEqual(parts.items.map((p) => [p.databaseName, p.tableName, p.values]), [
        ['other', 'moved', ['1']],
        ['other', 'moved', ['2']],
      ]);
      assert.equal((await store.listTableVersions('other', 'moved', { maxResults: 10 })).items.length, 2);
      await assert.rejects(store.listPartitions('db', 't', { maxResults: 10 }), CatalogEntityNotFoundError);
    });

    it('lists tables in name order, a page at a time, and by pattern', async () => {
      await store.createDatabase(database('db'));
      await store.createDatabase(database('db2'));
      for (const n of ['orders', 'Items', 'users', 'events']) await store.createTable(table('db', n));
      await store.createTable(table('db2', 'elsewhere'));
      const { items } = await allPages((after) => store.listTables('db', { maxResults: 3, ...(after ? { after } : {}) }));
      assert.deepEqual(items.map((t) => t.name), ['events', 'items', 'orders', 'users']);
      assert.deepEqual((await store.listTables('db', { maxResults: 10, pattern: '*s' })).items.map((t) => t.name).length, 4);
      assert.deepEqual((await store.listTables('db', { maxResults: 10, pattern: 'o*|u*' })).items.map((t) => t.name), ['orders', 'users']);
      await assert.rejects(store.listTables('nope', { maxResults: 10 }), CatalogEntityNotFoundError);
    });

    it('drops a table with its partitions and versions; a new table of that name starts afresh', async () => {
      await store.createDatabase(database('db'));
      await store.createTable(table('db', 't', { partitionKeys: [{ name: 'p', type: 'string' }] }));
      await store.updateTable('db', 't', table('db', 't'), {});
      await store.createPartitions([partition('db', 't', ['1'])], { ifNotExists: false });
      await store.deleteTable('DB', 'T');
      await assert.rejects(store.deleteTable('db', 't'), CatalogEntityNotFoundError);
      assert.equal((await store.createTable(table('db', 't'))).versionId, '1');
      assert.equal((await store.listPartitions('db', 't', { maxResults: 10 })).items.length, 0);
      assert.equal((await store.listTableVersions('db', 't', { maxResults: 10 })).items.length, 1);
    });

    it('refuses to drop a database that holds tables unless cascading, which drops everything in it', async () => {
      await store.createDatabase(database('db'));
      await store.createTable(table('db', 't'));
      await store.createPartitions([partition('db', 't', ['1'])], { ifNotExists: false });
      await store.createFunction({ databaseName: 'db', name: 'f', className: 'com.example.F', createTime: 1, resourceUris: [] });
      await assert.rejects(store.deleteDatabase('db', { cascade: false }), CatalogDatabaseNotEmptyError);
      await store.deleteDatabase('db', { cascade: true });
      await store.createDatabase(database('db'));
      assert.equal((await store.listTables('db', { maxResults: 10 })).items.length, 0);
      assert.equal(await store.getFunction('db', 'f'), undefined);
    });

    it('adds partitions all or nothing, reads, pages, updates and drops them', async () => {
      await store.createDatabase(database('db'));
      await store.createTable(table('db', 't', { partitionKeys: [{ name: 'y', type: 'string' }, { name: 'm', type: 'string' }] }));
      await assert.rejects(store.createPartitions([partition('db', 'nope', ['1', '2'])], { ifNotExists: false }), CatalogEntityNotFoundError);
      const values = [['2024', '02'], ['2023', '12'], ['2024', '01'], ['2023', 'x y/z']];
      await store.createPartitions(values.map((v) => partition('db', 't', v)), { ifNotExists: false });
      await assert.rejects(
        store.createPartitions([partition('db', 't', ['2025', '01']), partition('db', 't', ['2024', '01'])], { ifNotExists: false }),
        CatalogEntityExistsError,
      );
      assert.equal(await store.getPartition('db', 't', ['2025', '01']), undefined, 'the refused call added nothing');
      await store.createPartitions([partition('db', 't', ['2025', '01']), partition('db', 't', ['2024', '01'])], { ifNotExists: true });
      const { items, pages } = await allPages((after) => store.listPartitions('db', 'T', { maxResults: 2, ...(after ? { after } : {}) }));
      assert.deepEqual(items.map((p) => p.values), [['2023', '12'], ['2023', 'x y/z'], ['2024', '01'], ['2024', '02'], ['2025', '01']]);
      assert.equal(pages, 3);
      assert.deepEqual(await store.getPartition('DB', 'T', ['2023', 'x y/z']), partition('db', 't', ['2023', 'x y/z']));
      await store.updatePartition('db', 't', ['2024', '01'], { ...partition('db', 't', ['2024', '01']), parameters: { numRows: '5' } });
      assert.deepEqual((await store.getPartition('db', 't', ['2024', '01']))?.parameters, { numRows: '5' });
      await store.updatePartition('db', 't', ['2024', '01'], partition('db', 't', ['2024', '11']));
      assert.equal(await store.getPartition('db', 't', ['2024', '01']), undefined);
      assert.ok(await store.getPartition('db', 't', ['2024', '11']));
      await assert.rejects(store.updatePartition('db', 't', ['1999', '01'], partition('db', 't', ['1999', '01'])), CatalogEntityNotFoundError);
      await assert.rejects(store.deletePartitions('db', 't', [['2024', '11'], ['1999', '01']]), CatalogEntityNotFoundError);
      assert.ok(await store.getPartition('db', 't', ['2024', '11']), 'the refused drop dropped nothing');
      await store.deletePartitions('db', 't', [['2024', '11'], ['2025', '01']]);
      assert.equal((await store.listPartitions('db', 't', { maxResults: 10 })).items.length, 3);
    });

    it('keeps functions per database and lists them across databases', async () => {
      await store.createDatabase(database('a'));
      await store.createDatabase(database('b'));
      const fn = (db: string, name: string) => ({ databaseName: db, name, className: `com.example.${name}`, createTime: 1, resourceUris: [{ resourceType: 'JAR', uri: 'file:/f.jar' }] });
      await store.createFunction(fn('a', 'Upper'));
      await store.createFunction(fn('a', 'lower'));
      await store.createFunction(fn('b', 'upper'));
      await assert.rejects(store.createFunction(fn('a', 'upper')), CatalogEntityExistsError);
      await assert.rejects(store.createFunction(fn('nope', 'x')), CatalogEntityNotFoundError);
      assert.equal((await store.getFunction('A', 'UPPER'))?.className, 'com.example.Upper');
      const all = await allPages((after) => store.listFunctions(undefined, { maxResults: 2, ...(after ? { after } : {}) }));
      assert.deepEqual(all.items.map((f) => `${f.databaseName}.${f.name}`), ['a.lower', 'a.upper', 'b.upper']);
      assert.deepEqual((await store.listFunctions('a', { maxResults: 10, pattern: 'up*' })).items.map((f) => f.name), ['upper']);
      await store.updateFunction('a', 'upper', { ...fn('a', 'upper'), className: 'com.example.Changed' });
      assert.equal((await store.getFunction('a', 'upper'))?.className, 'com.example.Changed');
      await store.deleteFunction('a', 'upper');
      await assert.rejects(store.deleteFunction('a', 'upper'), CatalogEntityNotFoundError);
    });

    it('keeps everything across a restart', async () => {
      await store.createDatabase(database('db'));
      await store.createTable(table('db', 't', { partitionKeys: [{ name: 'p', type: 'string' }] }));
      await store.createPartitions([partition('db', 't', ['1'])], { ifNotExists: false });
      store = await backend.reopen(store);
      assert.equal((await store.getTable('db', 't'))?.versionId, '1');
      assert.ok(await store.getPartition('db', 't', ['1']));
    });

    it('keeps any text in names\' values and parameters', async () => {
      await store.createDatabase(database('db'));
      const odd = 'é 😀 \' " ? $1 %';
      await store.createTable(table('db', 't', { parameters: { comment: odd }, partitionKeys: [{ name: 'p', type: 'string' }] }));
      await store.createPartitions([partition('db', 't', [odd])], { ifNotExists: false });
      assert.equal((await store.getTable('db', 't'))?.parameters.comment, odd);
      assert.deepEqual((await store.getPartition('db', 't', [odd]))?.values, [odd]);
    });

    it('shows one node\'s writes to another and lets one of two racing creates win', { skip: backend.another ? false : 'one server owns this backend\'s file' }, async () => {
      const other = await backend.another!(store);
      try {
        await store.createDatabase(database('db'));
        assert.ok(await other.getDatabase('db'));
        const results = await Promise.allSettled([store.createTable(table('db', 't')), other.createTable(table('db', 't'))]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      } finally {
        await other.close();
      }
    });
  });
}
