// Athena's own catalog calls for AwsDataCatalog answer from the same catalog the Glue API writes, through the AWS
// SDK for JavaScript's Athena client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AthenaClient,
  GetDatabaseCommand,
  GetDataCatalogCommand,
  GetTableMetadataCommand,
  ListDatabasesCommand,
  ListDataCatalogsCommand,
  ListTableMetadataCommand,
} from '@aws-sdk/client-athena';
import { CreateDatabaseCommand, CreateTableCommand, GlueClient } from '@aws-sdk/client-glue';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { startTestOwlet, TEST_CREDENTIALS, type TestOwlet } from './harness.js';

async function rejects(promise: Promise<unknown>, name: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.equal(error.name, name, `expected ${name}, got ${error.name}: ${error.message}`);
    assert.match(error.message, message);
    return true;
  });
}

describe("Athena's catalog calls for AwsDataCatalog", () => {
  let owlet: TestOwlet;
  let athena: AthenaClient;
  let glue: GlueClient;

  before(async () => {
    owlet = await startTestOwlet({ engine: new FakeEngine() });
    athena = owlet.client();
    glue = new GlueClient({ endpoint: owlet.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'analytics', Description: 'team data', Parameters: { owner: 'a' } } }));
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'default' } }));
    for (const name of ['events', 'event_types', 'users']) {
      await glue.send(
        new CreateTableCommand({
          DatabaseName: 'analytics',
          TableInput: {
            Name: name,
            TableType: 'EXTERNAL_TABLE',
            Parameters: { classification: 'parquet' },
            StorageDescriptor: {
              Columns: [{ Name: 'id', Type: 'bigint', Comment: 'key' }],
              Location: `s3://lake/${name}/`,
              InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
              OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
              SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', Parameters: { 'serialization.format': '1' } },
            },
            PartitionKeys: [{ Name: 'dt', Type: 'date' }],
          },
        }),
      );
    }
  });
  after(async () => {
    glue.destroy();
    await owlet.stop();
  });

  it('lists and describes the one data catalog', async () => {
    const list = await athena.send(new ListDataCatalogsCommand({}));
    assert.deepEqual(list.DataCatalogsSummary, [{ CatalogName: 'AwsDataCatalog', Type: 'GLUE' }]);
    const { DataCatalog } = await athena.send(new GetDataCatalogCommand({ Name: 'AwsDataCatalog' }));
    assert.deepEqual(DataCatalog, { Name: 'AwsDataCatalog', Type: 'GLUE', Parameters: { 'catalog-id': '123456789012' } });
    await rejects(athena.send(new GetDataCatalogCommand({ Name: 'hive_elsewhere' })), 'InvalidRequestException', /Catalog hive_elsewhere does not exist/);
  });

  it('lists and reads databases', async () => {
    const first = await athena.send(new ListDatabasesCommand({ CatalogName: 'AwsDataCatalog', MaxResults: 1 }));
    assert.deepEqual(first.DatabaseList, [{ Name: 'analytics', Description: 'team data', Parameters: { owner: 'a' } }]);
    const second = await athena.send(new ListDatabasesCommand({ CatalogName: 'AwsDataCatalog', MaxResults: 1, NextToken: first.NextToken }));
    assert.deepEqual(second.DatabaseList?.map((d) => d.Name), ['default']);
    assert.equal(second.NextToken, undefined);
    const { Database } = await athena.send(new GetDatabaseCommand({ CatalogName: 'awsdatacatalog', DatabaseName: 'analytics' }));
    assert.equal(Database?.Description, 'team data');
    await rejects(athena.send(new GetDatabaseCommand({ CatalogName: 'AwsDataCatalog', DatabaseName: 'nope' })), 'MetadataException', /^Entity Not Found \(Service: AmazonDataCatalog/);
  });

  it('lists and reads table metadata with columns, partition keys and storage parameters', async () => {
    const all = await athena.send(new ListTableMetadataCommand({ CatalogName: 'AwsDataCatalog', DatabaseName: 'analytics' }));
    assert.deepEqual(all.TableMetadataList?.map((t) => t.Name), ['event_types', 'events', 'users']);
    const filtered = await athena.send(new ListTableMetadataCommand({ CatalogName: 'AwsDataCatalog', DatabaseName: 'analytics', Expression: 'event.*', MaxResults: 1 }));
    assert.deepEqual(filtered.TableMetadataList?.map((t) => t.Name), ['event_types']);
    const rest = await athena.send(new ListTableMetadataCommand({ CatalogName: 'AwsDataCatalog', DatabaseName: 'analytics', Expression: 'event.*', MaxResults: 1, NextToken: filtered.NextToken }));
    assert.deepEqual(rest.TableMetadataList?.map((t) => t.Name), ['events']);

    const { TableMetadata } = await athena.send(new GetTableMetadataCommand({ CatalogName: 'AwsDataCatalog', DatabaseName: 'analytics', TableName: 'events' }));
    assert.equal(TableMetadata?.TableType, 'EXTERNAL_TABLE');
    assert.ok(TableMetadata?.CreateTime instanceof Date);
    assert.deepEqual(TableMetadata?.Columns, [{ Name: 'id', Type: 'bigint', Comment: 'key' }]);
    assert.deepEqual(TableMetadata?.PartitionKeys, [{ Name: 'dt', Type: 'date' }]);
    assert.equal(TableMetadata?.Parameters?.location, 's3://lake/events/');
    assert.equal(TableMetadata?.Parameters?.classification, 'parquet');
    assert.equal(TableMetadata?.Parameters?.['serde.serialization.lib'], 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
    await rejects(
      athena.send(new GetTableMetadataCommand({ CatalogName: 'AwsDataCatalog', DatabaseName: 'analytics', TableName: 'nope' })),
      'MetadataException',
      /Error Code: EntityNotFoundException/,
    );
  });
});
