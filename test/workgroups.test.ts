// Workgroups, tags and the catalog calls through the AWS SDK for JavaScript v3.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AthenaClient,
  CreateWorkGroupCommand,
  DeleteWorkGroupCommand,
  GetWorkGroupCommand,
  InvalidRequestException,
  ListApplicationDPUSizesCommand,
  ListEngineVersionsCommand,
  ListQueryExecutionsCommand,
  ListTagsForResourceCommand,
  ListWorkGroupsCommand,
  ResourceNotFoundException,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateWorkGroupCommand,
} from '@aws-sdk/client-athena';
import { rejectsWith } from './assertions.js';
import { type TestOwlet, startTestOwlet } from './harness.js';

const ROLE = 'arn:aws:iam::123456789012:role/AthenaSpark';
const spark = { EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3' }, ExecutionRole: ROLE };
const arnOf = (name: string) => `arn:aws:athena:us-east-1:123456789012:workgroup/${name}`;

describe('workgroups through @aws-sdk/client-athena', () => {
  let owlet: TestOwlet;
  let athena: AthenaClient;
  before(async () => {
    owlet = await startTestOwlet();
    athena = owlet.client();
  });
  after(() => owlet.stop());

  it('a fresh server has the primary workgroup and a ready Spark workgroup', async () => {
    const primary = await athena.send(new GetWorkGroupCommand({ WorkGroup: 'primary' }));
    assert.equal(primary.WorkGroup?.Configuration?.EngineVersion?.SelectedEngineVersion, 'AUTO');
    assert.equal(primary.WorkGroup?.Configuration?.EngineVersion?.EffectiveEngineVersion, 'Athena engine version 3');
    const ready = await athena.send(new GetWorkGroupCommand({ WorkGroup: 'spark' }));
    assert.equal(ready.WorkGroup?.State, 'ENABLED');
    assert.equal(ready.WorkGroup?.Configuration?.EngineVersion?.SelectedEngineVersion, 'PySpark engine version 3');
    assert.equal(ready.WorkGroup?.Configuration?.ExecutionRole, 'arn:aws:iam::123456789012:role/OwletSparkExecutionRole');
    assert.match(ready.WorkGroup?.Configuration?.ResultConfiguration?.OutputLocation ?? '', /^s3:\/\//);
  });

  it('creates a Spark workgroup and reads it back', async () => {
    const before = Date.now();
    const out = await athena.send(
      new CreateWorkGroupCommand({
        Name: 'wg-create',
        Description: 'for tests',
        Configuration: { ...spark, ResultConfiguration: { OutputLocation: 's3://bucket/results/' } },
        Tags: [{ Key: 'team', Value: 'data' }],
      }),
    );
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.ok(out.$metadata.requestId, 'x-amzn-RequestId is on every response');
    const { WorkGroup: wg } = await athena.send(new GetWorkGroupCommand({ WorkGroup: 'wg-create' }));
    assert.equal(wg?.Name, 'wg-create');
    assert.equal(wg?.Description, 'for tests');
    assert.equal(wg?.State, 'ENABLED');
    assert.ok(wg?.CreationTime instanceof Date);
    assert.ok(Math.abs(wg.CreationTime.getTime() - before) < 60_000);
    assert.deepEqual(wg?.Configuration, {
      ResultConfiguration: { OutputLocation: 's3://bucket/results/' },
      EnforceWorkGroupConfiguration: true,
      PublishCloudWatchMetricsEnabled: false,
      RequesterPaysEnabled: false,
      EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3', EffectiveEngineVersion: 'PySpark engine version 3' },
      ExecutionRole: ROLE,
      EnableMinimumEncryptionConfiguration: false,
    });
  });

  it('refuses what Athena refuses at creation', async () => {
    await rejectsWith(
      athena.send(new CreateWorkGroupCommand({ Name: 'no-role', Configuration: { EngineVersion: spark.EngineVersion } })),
      InvalidRequestException,
      'executionRole is null or empty',
    );
    await rejectsWith(athena.send(new CreateWorkGroupCommand({ Name: 'primary' })), InvalidRequestException, 'primary workGroup could not be created');
    await athena.send(new CreateWorkGroupCommand({ Name: 'twice' }));
    await rejectsWith(athena.send(new CreateWorkGroupCommand({ Name: 'twice' })), InvalidRequestException, 'WorkGroup twice is already created.');
    await rejectsWith(
      athena.send(new CreateWorkGroupCommand({ Name: 'bad-engine', Configuration: { EngineVersion: { SelectedEngineVersion: 'Spark 9' } } })),
      InvalidRequestException,
      /engine version Spark 9 is not valid/,
    );
    await rejectsWith(
      athena.send(new CreateWorkGroupCommand({ Name: 'bad-out', Configuration: { ResultConfiguration: { OutputLocation: '/tmp/x' } } })),
      InvalidRequestException,
      /S3 location provided to save your query results is invalid/,
    );
    const error = await athena.send(new CreateWorkGroupCommand({ Name: 'bad name!' })).catch((e: unknown) => e);
    assert.ok(error instanceof InvalidRequestException);
    assert.equal(
      error.message,
      "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}",
    );
    assert.equal(error.AthenaErrorCode, 'INVALID_INPUT');
    assert.equal(error.$metadata.httpStatusCode, 400);
    // Nothing was half-written by the refused requests.
    for (const name of ['no-role', 'bad-engine', 'bad-out']) {
      await rejectsWith(athena.send(new GetWorkGroupCommand({ WorkGroup: name })), InvalidRequestException, `WorkGroup ${name} is not found.`);
    }
  });

  it('lists workgroups in pages with opaque tokens', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await athena.send(new CreateWorkGroupCommand({ Name: n, Configuration: spark }));
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await athena.send(new ListWorkGroupsCommand({ MaxResults: 2, NextToken: token }));
      assert.ok((page.WorkGroups?.length ?? 0) <= 2);
      names.push(...(page.WorkGroups ?? []).map((w) => w.Name!));
      token = page.NextToken;
      pages++;
    } while (token);
    assert.ok(pages >= 2);
    for (const n of ['primary', 'spark', 'page-a', 'page-b', 'page-c']) assert.ok(names.includes(n), n);
    assert.equal(new Set(names).size, names.length, 'no workgroup twice');
    const summary = (await athena.send(new ListWorkGroupsCommand({}))).WorkGroups?.find((w) => w.Name === 'page-a');
    assert.deepEqual(summary?.EngineVersion, { SelectedEngineVersion: 'PySpark engine version 3', EffectiveEngineVersion: 'PySpark engine version 3' });
    await rejectsWith(athena.send(new ListWorkGroupsCommand({ NextToken: 'not-a-token' })), InvalidRequestException, /NextToken/);
  });

  it('updates description, state and configuration', async () => {
    await athena.send(new CreateWorkGroupCommand({ Name: 'upd', Configuration: spark }));
    await athena.send(
      new UpdateWorkGroupCommand({
        WorkGroup: 'upd',
        Description: 'changed',
        State: 'DISABLED',
        ConfigurationUpdates: {
          ResultConfigurationUpdates: { OutputLocation: 's3://b/out/' },
          PublishCloudWatchMetricsEnabled: true,
          EngineVersion: { SelectedEngineVersion: 'Apache Spark version 3.5' },
        },
      }),
    );
    let wg = (await athena.send(new GetWorkGroupCommand({ WorkGroup: 'upd' }))).WorkGroup;
    assert.equal(wg?.Description, 'changed');
    assert.equal(wg?.State, 'DISABLED');
    assert.equal(wg?.Configuration?.ResultConfiguration?.OutputLocation, 's3://b/out/');
    assert.equal(wg?.Configuration?.PublishCloudWatchMetricsEnabled, true);
    assert.equal(wg?.Configuration?.EngineVersion?.EffectiveEngineVersion, 'Apache Spark version 3.5');
    await athena.send(new UpdateWorkGroupCommand({ WorkGroup: 'upd', ConfigurationUpdates: { ResultConfigurationUpdates: { RemoveOutputLocation: true } } }));
    wg = (await athena.send(new GetWorkGroupCommand({ WorkGroup: 'upd' }))).WorkGroup;
    assert.equal(wg?.Configuration?.ResultConfiguration?.OutputLocation, undefined);
    await rejectsWith(
      athena.send(new UpdateWorkGroupCommand({ WorkGroup: 'upd', ConfigurationUpdates: { EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' } } })),
      InvalidRequestException,
      /analytics engine of a workgroup is chosen when it is created/,
    );
    await rejectsWith(
      athena.send(
        new UpdateWorkGroupCommand({
          WorkGroup: 'upd',
          ConfigurationUpdates: { ResultConfigurationUpdates: { OutputLocation: 's3://b/x/', RemoveOutputLocation: true } },
        }),
      ),
      InvalidRequestException,
      /cannot both be set/,
    );
    await rejectsWith(athena.send(new UpdateWorkGroupCommand({ WorkGroup: 'nope', Description: 'x' })), InvalidRequestException, 'WorkGroup nope is not found.');
    // The refused updates changed nothing.
    wg = (await athena.send(new GetWorkGroupCommand({ WorkGroup: 'upd' }))).WorkGroup;
    assert.equal(wg?.Configuration?.EngineVersion?.SelectedEngineVersion, 'Apache Spark version 3.5');
  });

  it('deletes workgroups; primary stays; a missing one is no error', async () => {
    await athena.send(new CreateWorkGroupCommand({ Name: 'del', Configuration: spark }));
    await athena.send(new DeleteWorkGroupCommand({ WorkGroup: 'del', RecursiveDeleteOption: true }));
    await rejectsWith(athena.send(new GetWorkGroupCommand({ WorkGroup: 'del' })), InvalidRequestException, 'WorkGroup del is not found.');
    await athena.send(new DeleteWorkGroupCommand({ WorkGroup: 'del' }));
    await rejectsWith(athena.send(new DeleteWorkGroupCommand({ WorkGroup: 'primary' })), InvalidRequestException, 'primary workGroup could not be deleted');
    await athena.send(new CreateWorkGroupCommand({ Name: 'del', Configuration: spark }));
  });

  it('tags, untags and lists tags of a workgroup by ARN', async () => {
    await athena.send(new CreateWorkGroupCommand({ Name: 'tagged', Configuration: spark, Tags: [{ Key: 'a', Value: '1' }] }));
    await athena.send(new TagResourceCommand({ ResourceARN: arnOf('tagged'), Tags: [{ Key: 'b', Value: '2' }, { Key: 'a', Value: 'one' }] }));
    let tags = (await athena.send(new ListTagsForResourceCommand({ ResourceARN: arnOf('tagged') }))).Tags;
    assert.deepEqual(tags, [{ Key: 'a', Value: 'one' }, { Key: 'b', Value: '2' }]);
    await athena.send(new UntagResourceCommand({ ResourceARN: arnOf('tagged'), TagKeys: ['a', 'zzz'] }));
    tags = (await athena.send(new ListTagsForResourceCommand({ ResourceARN: arnOf('tagged') }))).Tags;
    assert.deepEqual(tags, [{ Key: 'b', Value: '2' }]);
    await rejectsWith(athena.send(new ListTagsForResourceCommand({ ResourceARN: arnOf('ghost') })), ResourceNotFoundException, /is not found/);
    await rejectsWith(
      athena.send(new ListTagsForResourceCommand({ ResourceARN: 'arn:aws:athena:us-east-1:999999999999:workgroup/tagged' })),
      ResourceNotFoundException,
      /is not found/,
    );
    await rejectsWith(
      athena.send(new TagResourceCommand({ ResourceARN: arnOf('tagged'), Tags: Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: '' })) })),
      InvalidRequestException,
      /at most 50 tags/,
    );
    await rejectsWith(
      athena.send(new TagResourceCommand({ ResourceARN: arnOf('tagged'), Tags: [{ Key: 'aws:x', Value: '' }] })),
      InvalidRequestException,
      /reserved prefix/,
    );
    tags = (await athena.send(new ListTagsForResourceCommand({ ResourceARN: arnOf('tagged') }))).Tags;
    assert.deepEqual(tags, [{ Key: 'b', Value: '2' }], 'refused tag requests changed nothing');
  });

  it('lists engine versions and application DPU sizes', async () => {
    const versions = (await athena.send(new ListEngineVersionsCommand({}))).EngineVersions?.map((v) => v.SelectedEngineVersion);
    assert.ok(versions?.includes('PySpark engine version 3'));
    assert.ok(versions?.includes('Apache Spark version 3.5'));
    assert.ok(versions?.includes('AUTO'));
    const first = await athena.send(new ListEngineVersionsCommand({ MaxResults: 1 }));
    assert.equal(first.EngineVersions?.length, 1);
    const second = await athena.send(new ListEngineVersionsCommand({ MaxResults: 1, NextToken: first.NextToken }));
    assert.notDeepEqual(second.EngineVersions, first.EngineVersions);
    const sizes = await athena.send(new ListApplicationDPUSizesCommand({}));
    assert.deepEqual(sizes.ApplicationDPUSizes, [{ ApplicationRuntimeId: 'Athena notebook version 1', SupportedDPUSizes: [1] }]);
  });

  it('answers operations it does not serve with a clear InvalidRequestException', async () => {
    await rejectsWith(athena.send(new ListQueryExecutionsCommand({})), InvalidRequestException, /is an Athena SQL operation/);
  });
});
