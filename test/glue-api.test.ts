// The Glue Data Catalog API through the AWS SDK for JavaScript's Glue client: every served operation, Glue's
// errors as the client parses them, paging, partition filters and segments, the stale-VersionId refusal, and the
// answer of operations Owlet does not serve.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BatchCreatePartitionCommand,
  BatchDeletePartitionCommand,
  BatchDeleteTableCommand,
  BatchGetPartitionCommand,
  CreateDatabaseCommand,
  CreatePartitionCommand,
  CreateTableCommand,
  DeleteDatabaseCommand,
  DeletePartitionCommand,
  DeleteTableCommand,
  GetDatabaseCommand,
  GetDatabasesCommand,
  GetPartitionCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GetTablesCommand,
  GetTableVersionCommand,
  GetTableVersionsCommand,
  GetUserDefinedFunctionCommand,
  GetUserDefinedFunctionsCommand,
  GlueClient,
  type Partition,
  SearchTablesCommand,
  StartCrawlerCommand,
  type TableInput,
  UpdateDatabaseCommand,
  UpdatePartitionCommand,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { glueCatalogClientProperties, sessionAwsEnvironment } from '../src/catalog/session-catalog-clients.js';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { compilePartitionExpression } from '../src/glue/partition-expression.js';
import { startTestOwlet, TEST_CREDENTIALS, type TestOwlet } from './harness.js';

async function rejects(promise: Promise<unknown>, name: string, message?: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(error.name, name, `expected ${name}, got ${error.name}: ${error.message}`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else if (message) assert.match(error.message, message);
    assert.equal(error.$metadata?.httpStatusCode, 400);
    return true;
  });
}

const salesTable = (name: string, extra: Partial<TableInput> = {}): TableInput => ({
  Name: name,
  TableType: 'EXTERNAL_TABLE',
  Parameters: { classification: 'parquet', EXTERNAL: 'TRUE' },
  StorageDescriptor: {
    Columns: [
      { Name: 'id', Type: 'bigint' },
      { Name: 'amount', Type: 'double', Comment: 'in euros' },
    ],
    Location: `s3://warehouse/sales/${name}/`,
    InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
    SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', Parameters: { 'serialization.format': '1' } },
  },
  PartitionKeys: [
    { Name: 'year', Type: 'int' },
    { Name: 'region', Type: 'string' },
  ],
  ...extra,
});

describe('Glue Data Catalog API', () => {
  let owlet: TestOwlet;
  let glue: GlueClient;

  before(async () => {
    owlet = await startTestOwlet({ engine: new FakeEngine() });
    glue = new GlueClient({ endpoint: owlet.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    glue.destroy();
    await owlet.stop();
  });

  it('creates, reads, lists, updates and deletes databases', async () => {
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'Sales', Description: 'orders', LocationUri: 's3://warehouse/sales/', Parameters: { team: 'a' } } }));
    const { Database } = await glue.send(new GetDatabaseCommand({ Name: 'sales' }));
    assert.equal(Database?.Name, 'sales');
    assert.equal(Database?.Description, 'orders');
    assert.equal(Database?.LocationUri, 's3://warehouse/sales/');
    assert.deepEqual(Database?.Parameters, { team: 'a' });
    assert.equal(Database?.CatalogId, '123456789012');
    assert.ok(Database?.CreateTime instanceof Date);

    await rejects(glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'sales' } })), 'AlreadyExistsException', 'Database already exists.');
    await rejects(glue.send(new GetDatabaseCommand({ Name: 'nope' })), 'EntityNotFoundException', 'Database nope not found.');

    await glue.send(new UpdateDatabaseCommand({ Name: 'sales', DatabaseInput: { Name: 'sales', Description: 'all orders' } }));
    assert.equal((await glue.send(new GetDatabaseCommand({ Name: 'sales' }))).Database?.Description, 'all orders');

    for (let i = 0; i < 5; i++) await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: `paged_${i}` } }));
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await glue.send(new GetDatabasesCommand({ MaxResults: 2, NextToken: token }));
      assert.ok((page.DatabaseList ?? []).length <= 2);
      names.push(...(page.DatabaseList ?? []).map((d) => d.Name!));
      token = page.NextToken;
    } while (token);
    assert.deepEqual(names, ['paged_0', 'paged_1', 'paged_2', 'paged_3', 'paged_4', 'sales']);
    await rejects(glue.send(new GetDatabasesCommand({ NextToken: 'garbage' })), 'InvalidInputException');

    await glue.send(new DeleteDatabaseCommand({ Name: 'paged_0' }));
    await rejects(glue.send(new DeleteDatabaseCommand({ Name: 'paged_0' })), 'EntityNotFoundException', 'Database paged_0 not found.');
  });

  it('refuses input that breaks the model with InvalidInputException in the service wording', async () => {
    await rejects(
      glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: '' } })),
      'InvalidInputException',
      /^1 validation error detected: Value at 'databaseInput.name' failed to satisfy constraint: Member must have length greater than or equal to 1/,
    );
  });

  it('creates tables, reads them back whole, filters GetTables by Expression, and deletes them', async () => {
    await glue.send(new CreateTableCommand({ DatabaseName: 'sales', TableInput: salesTable('orders', { Description: 'the orders' }) }));
    await glue.send(new CreateTableCommand({ DatabaseName: 'sales', TableInput: salesTable('order_lines') }));
    await glue.send(new CreateTableCommand({ DatabaseName: 'sales', TableInput: salesTable('customers') }));
    const { Table } = await glue.send(new GetTableCommand({ DatabaseName: 'sales', Name: 'ORDERS' }));
    assert.equal(Table?.Name, 'orders');
    assert.equal(Table?.DatabaseName, 'sales');
    assert.equal(Table?.Description, 'the orders');
    assert.equal(Table?.TableType, 'EXTERNAL_TABLE');
    assert.equal(Table?.VersionId, '1');
    assert.deepEqual(Table?.Parameters, { classification: 'parquet', EXTERNAL: 'TRUE' });
    assert.deepEqual(Table?.PartitionKeys?.map((k) => [k.Name, k.Type]), [['year', 'int'], ['region', 'string']]);
    const sd = Table?.StorageDescriptor;
    assert.deepEqual(sd?.Columns?.map((c) => [c.Name, c.Type, c.Comment]), [['id', 'bigint', undefined], ['amount', 'double', 'in euros']]);
    assert.equal(sd?.Location, 's3://warehouse/sales/orders/');
    assert.equal(sd?.InputFormat, 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat');
    assert.equal(sd?.SerdeInfo?.SerializationLibrary, 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
    assert.deepEqual(sd?.SerdeInfo?.Parameters, { 'serialization.format': '1' });

    await rejects(glue.send(new CreateTableCommand({ DatabaseName: 'sales', TableInput: salesTable('orders') })), 'AlreadyExistsException', 'Table already exists.');
    await rejects(glue.send(new CreateTableCommand({ DatabaseName: 'nope', TableInput: salesTable('x') })), 'EntityNotFoundException', 'Database nope not found.');
    await rejects(glue.send(new GetTableCommand({ DatabaseName: 'sales', Name: 'nope' })), 'EntityNotFoundException', 'Table nope not found.');
    await rejects(glue.send(new GetTableCommand({ DatabaseName: 'nope', Name: 'orders' })), 'EntityNotFoundException', 'Database nope not found.');

    const all = await glue.send(new GetTablesCommand({ DatabaseName: 'sales' }));
    assert.deepEqual(all.TableList?.map((t) => t.Name), ['customers', 'order_lines', 'orders']);
    const filtered = await glue.send(new GetTablesCommand({ DatabaseName: 'sales', Expression: 'order.*' }));
    assert.deepEqual(filtered.TableList?.map((t) => t.Name), ['order_lines', 'orders']);
    const hiveStyle = await glue.send(new GetTablesCommand({ DatabaseName: 'sales', Expression: '*lines' }));
    assert.deepEqual(hiveStyle.TableList?.map((t) => t.Name), ['order_lines']);
    const first = await glue.send(new GetTablesCommand({ DatabaseName: 'sales', Expression: 'order.*', MaxResults: 1 }));
    assert.deepEqual(first.TableList?.map((t) => t.Name), ['order_lines']);
    const second = await glue.send(new GetTablesCommand({ DatabaseName: 'sales', Expression: 'order.*', MaxResults: 1, NextToken: first.NextToken }));
    assert.deepEqual(second.TableList?.map((t) => t.Name), ['orders']);
    assert.equal(second.NextToken, undefined);

    const search = await glue.send(new SearchTablesCommand({ SearchText: 'lines' }));
    assert.deepEqual(search.TableList?.map((t) => `${t.DatabaseName}.${t.Name}`), ['sales.order_lines']);
    const byFilter = await glue.send(new SearchTablesCommand({ Filters: [{ Key: 'DatabaseName', Value: 'sales', Comparator: 'EQUALS' }], MaxResults: 2 }));
    assert.equal(byFilter.TableList?.length, 2);
    const rest = await glue.send(new SearchTablesCommand({ Filters: [{ Key: 'DatabaseName', Value: 'sales', Comparator: 'EQUALS' }], MaxResults: 2, NextToken: byFilter.NextToken }));
    assert.deepEqual(rest.TableList?.map((t) => t.Name), ['orders']);

    const batch = await glue.send(new BatchDeleteTableCommand({ DatabaseName: 'sales', TablesToDelete: ['customers', 'ghost'] }));
    assert.deepEqual(batch.Errors?.map((e) => [e.TableName, e.ErrorDetail?.ErrorCode]), [['ghost', 'EntityNotFoundException']]);
    await glue.send(new DeleteTableCommand({ DatabaseName: 'sales', Name: 'order_lines' }));
    await rejects(glue.send(new DeleteTableCommand({ DatabaseName: 'sales', Name: 'order_lines' })), 'EntityNotFoundException', 'Table order_lines not found.');
  });

  it('updates a table with VersionId, keeps its versions, and refuses a stale VersionId', async () => {
    const before = (await glue.send(new GetTableCommand({ DatabaseName: 'sales', Name: 'orders' }))).Table!;
    await glue.send(
      new UpdateTableCommand({
        DatabaseName: 'sales',
        VersionId: before.VersionId,
        TableInput: salesTable('orders', { Parameters: { classification: 'parquet', EXTERNAL: 'TRUE', metadata_location: 's3://m/1.json' } }),
      }),
    );
    const updated = (await glue.send(new GetTableCommand({ DatabaseName: 'sales', Name: 'orders' }))).Table!;
    assert.equal(updated.VersionId, '2');
    assert.equal(updated.Parameters?.metadata_location, 's3://m/1.json');
    assert.equal(updated.CreateTime?.getTime(), before.CreateTime?.getTime());

    // A second writer that read version 1 loses: its commit is refused, not applied over the first.
    await rejects(
      glue.send(new UpdateTableCommand({ DatabaseName: 'sales', VersionId: '1', TableInput: salesTable('orders', { Parameters: { metadata_location: 's3://m/lost.json' } }) })),
      'ConcurrentModificationException',
      'Update table failed due to concurrent modifications.',
    );
    assert.equal((await glue.send(new GetTableCommand({ DatabaseName: 'sales', Name: 'orders' }))).Table?.Parameters?.metadata_location, 's3://m/1.json');

    const v1 = await glue.send(new GetTableVersionCommand({ DatabaseName: 'sales', TableName: 'orders', VersionId: '1' }));
    assert.equal(v1.TableVersion?.VersionId, '1');
    assert.equal(v1.TableVersion?.Table?.Parameters?.metadata_location, undefined);
    const current = await glue.send(new GetTableVersionCommand({ DatabaseName: 'sales', TableName: 'orders' }));
    assert.equal(current.TableVersion?.VersionId, '2');
    const versions = await glue.send(new GetTableVersionsCommand({ DatabaseName: 'sales', TableName: 'orders' }));
    assert.deepEqual(versions.TableVersions?.map((v) => v.VersionId), ['2', '1']);
    await rejects(glue.send(new GetTableVersionCommand({ DatabaseName: 'sales', TableName: 'orders', VersionId: '9' })), 'EntityNotFoundException', 'Version not found.');
    await rejects(glue.send(new UpdateTableCommand({ DatabaseName: 'sales', TableInput: salesTable('ghost') })), 'EntityNotFoundException', 'Table ghost not found.');
  });

  it('creates, reads, filters, updates and deletes partitions', async () => {
    const partition = (year: number, region: string) => ({
      Values: [String(year), region],
      StorageDescriptor: { ...salesTable('orders').StorageDescriptor, Location: `s3://warehouse/sales/orders/year=${year}/region=${region}/` },
      Parameters: { numRows: '10' },
    });
    await glue.send(new CreatePartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionInput: partition(2023, 'eu') }));
    await rejects(
      glue.send(new CreatePartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionInput: partition(2023, 'eu') })),
      'AlreadyExistsException',
      'Partition already exists.',
    );
    await rejects(
      glue.send(new CreatePartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionInput: { Values: ['2023'] } })),
      'InvalidInputException',
      /number of partition values/,
    );
    const created = await glue.send(
      new BatchCreatePartitionCommand({
        DatabaseName: 'sales',
        TableName: 'orders',
        PartitionInputList: [partition(2023, 'eu'), partition(2023, 'us'), partition(2024, 'eu'), partition(2024, 'us'), partition(2025, 'apac'), partition(9, 'eu')],
      }),
    );
    assert.deepEqual(created.Errors?.map((e) => [e.PartitionValues, e.ErrorDetail?.ErrorCode]), [[['2023', 'eu'], 'AlreadyExistsException']]);

    const got = await glue.send(new GetPartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionValues: ['2024', 'us'] }));
    assert.deepEqual(got.Partition?.Values, ['2024', 'us']);
    assert.equal(got.Partition?.StorageDescriptor?.Location, 's3://warehouse/sales/orders/year=2024/region=us/');
    assert.deepEqual(got.Partition?.Parameters, { numRows: '10' });
    assert.equal(got.Partition?.TableName, 'orders');
    await rejects(glue.send(new GetPartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionValues: ['1999', 'eu'] })), 'EntityNotFoundException', 'Cannot find partition.');

    const values = async (Expression?: string): Promise<string[]> => {
      const out: string[] = [];
      let NextToken: string | undefined;
      do {
        const page = await glue.send(new GetPartitionsCommand({ DatabaseName: 'sales', TableName: 'orders', Expression, MaxResults: 2, NextToken }));
        out.push(...(page.Partitions ?? []).map((p: Partition) => p.Values!.join('/')));
        NextToken = page.NextToken;
      } while (NextToken);
      return out.sort();
    };
    assert.deepEqual(await values(), ['2023/eu', '2023/us', '2024/eu', '2024/us', '2025/apac', '9/eu']);
    assert.deepEqual(await values("region = 'eu'"), ['2023/eu', '2024/eu', '9/eu']);
    // `year` is an int: compared as a number, 9 < 2024.
    assert.deepEqual(await values('year < 2024'), ['2023/eu', '2023/us', '9/eu']);
    assert.deepEqual(await values("year >= 2024 AND region <> 'us'"), ['2024/eu', '2025/apac']);
    assert.deepEqual(await values("year BETWEEN 2023 AND 2024 AND NOT region = 'eu'"), ['2023/us', '2024/us']);
    assert.deepEqual(await values("region IN ('apac', 'us') OR (year = 9)"), ['2023/us', '2024/us', '2025/apac', '9/eu']);
    assert.deepEqual(await values("region LIKE 'a%'"), ['2025/apac']);
    assert.deepEqual(await values("region NOT IN ('eu')"), ['2023/us', '2024/us', '2025/apac']);
    await rejects(glue.send(new GetPartitionsCommand({ DatabaseName: 'sales', TableName: 'orders', Expression: "colour = 'red'" })), 'InvalidInputException', /not a partition key/);
    await rejects(glue.send(new GetPartitionsCommand({ DatabaseName: 'sales', TableName: 'orders', Expression: 'year = ' })), 'InvalidInputException');

    // Segments split the partitions: together they are all of them, each once.
    const segmented: string[] = [];
    for (let n = 0; n < 3; n++) {
      const page = await glue.send(new GetPartitionsCommand({ DatabaseName: 'sales', TableName: 'orders', Segment: { SegmentNumber: n, TotalSegments: 3 } }));
      segmented.push(...(page.Partitions ?? []).map((p) => p.Values!.join('/')));
    }
    assert.deepEqual(segmented.sort(), ['2023/eu', '2023/us', '2024/eu', '2024/us', '2025/apac', '9/eu']);
    const noColumns = await glue.send(new GetPartitionsCommand({ DatabaseName: 'sales', TableName: 'orders', ExcludeColumnSchema: true, MaxResults: 1 }));
    assert.equal(noColumns.Partitions?.[0]?.StorageDescriptor?.Columns, undefined);

    const batch = await glue.send(new BatchGetPartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionsToGet: [{ Values: ['2023', 'eu'] }, { Values: ['1999', 'x'] }] }));
    assert.deepEqual(batch.Partitions?.map((p) => p.Values), [['2023', 'eu']]);
    assert.deepEqual(batch.UnprocessedKeys, []);

    await glue.send(
      new UpdatePartitionCommand({
        DatabaseName: 'sales',
        TableName: 'orders',
        PartitionValueList: ['2023', 'eu'],
        PartitionInput: { ...partition(2023, 'eu'), Parameters: { numRows: '11' } },
      }),
    );
    assert.deepEqual((await glue.send(new GetPartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionValues: ['2023', 'eu'] }))).Partition?.Parameters, { numRows: '11' });

    await glue.send(new DeletePartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionValues: ['9', 'eu'] }));
    await rejects(glue.send(new DeletePartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionValues: ['9', 'eu'] })), 'EntityNotFoundException', 'Cannot find partition.');
    const deleted = await glue.send(new BatchDeletePartitionCommand({ DatabaseName: 'sales', TableName: 'orders', PartitionsToDelete: [{ Values: ['2025', 'apac'] }, { Values: ['9', 'eu'] }] }));
    assert.deepEqual(deleted.Errors?.map((e) => e.PartitionValues), [['9', 'eu']]);
    assert.deepEqual(await values(), ['2023/eu', '2023/us', '2024/eu', '2024/us']);
  });

  it('reads user-defined functions', async () => {
    await owlet.catalog.createFunction({
      databaseName: 'sales',
      name: 'to_cents',
      className: 'com.example.ToCents',
      owner: 'owlet',
      ownerType: 'USER',
      createTime: 1_700_000_000_000,
      resourceUris: [{ resourceType: 'JAR', uri: 's3://jars/udf.jar' }],
    });
    const { UserDefinedFunction } = await glue.send(new GetUserDefinedFunctionCommand({ DatabaseName: 'sales', FunctionName: 'to_cents' }));
    assert.equal(UserDefinedFunction?.ClassName, 'com.example.ToCents');
    assert.deepEqual(UserDefinedFunction?.ResourceUris, [{ ResourceType: 'JAR', Uri: 's3://jars/udf.jar' }]);
    const list = await glue.send(new GetUserDefinedFunctionsCommand({ DatabaseName: 'sales', Pattern: 'to_.*' }));
    assert.deepEqual(list.UserDefinedFunctions?.map((f) => f.FunctionName), ['to_cents']);
    await rejects(glue.send(new GetUserDefinedFunctionCommand({ DatabaseName: 'sales', FunctionName: 'nope' })), 'EntityNotFoundException', 'Function nope not found.');
  });

  it('deleting a database takes its tables with it', async () => {
    await glue.send(new DeleteDatabaseCommand({ Name: 'sales' }));
    await rejects(glue.send(new GetTableCommand({ DatabaseName: 'sales', Name: 'orders' })), 'EntityNotFoundException', 'Database sales not found.');
  });

  it('answers the Glue operations it does not serve with OperationNotSupportedException', async () => {
    await rejects(glue.send(new StartCrawlerCommand({ Name: 'c' })), 'OperationNotSupportedException', /Owlet does not serve the Glue operation StartCrawler/);
  });
});

describe('partition expressions', () => {
  const keys = [
    { name: 'dt', type: 'date' },
    { name: 'n', type: 'bigint' },
    { name: 's', type: 'string' },
  ];
  const test = (expression: string, values: string[]): boolean => compilePartitionExpression(expression, keys)(values);

  it('compares dates as text, numbers as numbers, and reads quotes and precedence as SQL does', () => {
    assert.ok(test("dt >= '2024-01-01' AND dt < '2024-02-01'", ['2024-01-15', '1', 'a']));
    assert.ok(!test("dt >= '2024-01-01' AND dt < '2024-02-01'", ['2024-02-01', '1', 'a']));
    assert.ok(test('n > 9', ['2024-01-01', '10', 'a']));
    assert.ok(test("s = 'it''s'", ['2024-01-01', '1', "it's"]));
    // AND binds tighter than OR.
    assert.ok(test("s = 'x' OR n = 1 AND s = 'y'", ['d', '2', 'x']));
    assert.ok(!test("(s = 'x' OR n = 1) AND s = 'y'", ['d', '2', 'x']));
    assert.ok(test('`n` <> 3', ['d', '2', 'x']));
    assert.ok(test("s LIKE 'a_c'", ['d', '2', 'abc']));
    assert.ok(!test("s NOT LIKE 'a%'", ['d', '2', 'abc']));
  });
});

describe("a session's catalog clients", () => {
  const access = { endpoint: () => 'http://127.0.0.1:9', region: 'eu-west-1' };

  it('point every GlueCatalog the properties configure at Owlet, and leave a session its own values', () => {
    const added = glueCatalogClientProperties(
      {
        'spark.sql.catalog.spark_catalog': 'org.apache.iceberg.spark.SparkSessionCatalog',
        'spark.sql.catalog.spark_catalog.catalog-impl': 'org.apache.iceberg.aws.glue.GlueCatalog',
        'spark.sql.catalog.other.catalog-impl': 'org.apache.iceberg.hadoop.HadoopCatalog',
      },
      access,
    );
    assert.deepEqual(added, {
      'spark.sql.catalog.spark_catalog.glue.endpoint': 'http://127.0.0.1:9',
      'spark.sql.catalog.spark_catalog.client.region': 'eu-west-1',
      'spark.sql.catalog.spark_catalog.s3.endpoint': 'http://127.0.0.1:9',
      'spark.sql.catalog.spark_catalog.s3.path-style-access': 'true',
      'spark.sql.catalog.spark_catalog.http-client.type': 'urlconnection',
    });
    // The driver's AWS clients sign with the session's own key pair, the one its S3A settings carry.
    assert.deepEqual(sessionAwsEnvironment({ 'fs.s3a.access.key': 'AK', 'fs.s3a.secret.key': 'SK' }, 'eu-west-1'), {
      AWS_ACCESS_KEY_ID: 'AK',
      AWS_SECRET_ACCESS_KEY: 'SK',
      AWS_REGION: 'eu-west-1',
    });
    assert.deepEqual(sessionAwsEnvironment({}, 'eu-west-1'), { AWS_REGION: 'eu-west-1' });
    assert.deepEqual(glueCatalogClientProperties({ 'spark.sql.catalog.x.catalog-impl': 'org.apache.iceberg.aws.glue.GlueCatalog' }, { ...access, endpoint: () => undefined }), {});
  });
});
