// A session on real PySpark through @aws-sdk/client-athena, its output read back with @aws-sdk/client-s3
// from the S3 API on Owlet's own port. (test/python/test_sessions_spark.py goes through the same with boto3.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AthenaClient,
  GetCalculationExecutionCommand,
  type GetCalculationExecutionCommandOutput,
  GetSessionStatusCommand,
  StartCalculationExecutionCommand,
  StartSessionCommand,
  StopCalculationExecutionCommand,
  TerminateSessionCommand,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SPARK_START_DEADLINE_MS } from './assertions.js';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from './harness.js';

const FINAL = ['COMPLETED', 'FAILED', 'CANCELED'];

describe('a session on real PySpark through @aws-sdk/client-athena', { timeout: 2 * SPARK_START_DEADLINE_MS }, () => {
  let owlet: TestOwlet;
  let athena: AthenaClient;
  let s3: S3Client;
  let sessionId: string;

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  async function sessionState(): Promise<string | undefined> {
    return (await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }))).Status?.State;
  }
  async function run(code: string): Promise<GetCalculationExecutionCommandOutput> {
    const { CalculationExecutionId } = await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: code }));
    const deadline = Date.now() + 300_000;
    for (;;) {
      const calc = await athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId }));
      if (FINAL.includes(calc.Status?.State ?? '')) return calc;
      assert.ok(Date.now() < deadline, `calculation stayed ${calc.Status?.State}`);
      await sleep(50);
    }
  }
  async function read(uri: string | undefined): Promise<string> {
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri ?? '')!;
    return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
  }

  before(async () => {
    owlet = await startTestOwlet();
    athena = owlet.client();
    s3 = new S3Client({ endpoint: owlet.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, forcePathStyle: true, maxAttempts: 1 });
    sessionId = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: { MaxConcurrentDpus: 2 } }))).SessionId!;
    const deadline = Date.now() + SPARK_START_DEADLINE_MS;
    while ((await sessionState()) !== 'IDLE') {
      assert.ok(Date.now() < deadline, `session stayed ${await sessionState()}`);
      await sleep(100);
    }
  });
  after(async () => {
    s3?.destroy();
    await owlet?.stop();
  });

  it('shows a DataFrame: stdout is the exact table, read through S3', async () => {
    const calc = await run('df = spark.range(3).toDF("id")\ndf.show()');
    assert.equal(calc.Status?.State, 'COMPLETED');
    assert.equal(await read(calc.Result?.StdOutS3Uri), '+---+\n| id|\n+---+\n|  0|\n|  1|\n|  2|\n+---+\n\n');
    const count = await run('df.count()');
    assert.deepEqual(JSON.parse(await read(count.Result?.ResultS3Uri)).outputs.map((o: { data: unknown }) => o.data), [{ 'text/plain': '3' }]);
  });

  it('fails a block that raises, with the traceback of the user\'s code only', async () => {
    const calc = await run('x = 1\nraise ValueError("no good")');
    assert.equal(calc.Status?.State, 'FAILED');
    assert.equal(calc.Status?.StateChangeReason, 'ValueError: no good');
    assert.equal(await read(calc.Result?.StdErrorS3Uri), '  File "<stdin>", line 2, in <module>\nValueError: no good\n');
  });

  it('cancels a running calculation and stays usable', async () => {
    const { CalculationExecutionId } = await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'import time\ntime.sleep(3600)' }));
    while ((await sessionState()) !== 'BUSY') await sleep(50);
    await athena.send(new StopCalculationExecutionCommand({ CalculationExecutionId }));
    // A deadline for a stuck cancel, far past the documented 15 s bound: a loaded machine has taken longer.
    const deadline = Date.now() + 120_000;
    let state: string | undefined;
    do {
      state = (await athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId }))).Status?.State;
      assert.ok(Date.now() < deadline, `still ${state}`);
      await sleep(50);
    } while (!FINAL.includes(state ?? ''));
    assert.equal(state, 'CANCELED');
    const after = await run('print(df.count())');
    assert.equal(await read(after.Result?.StdOutS3Uri), '3\n');
  });

  it('terminates', async () => {
    assert.equal((await athena.send(new TerminateSessionCommand({ SessionId: sessionId }))).State, 'TERMINATING');
    const deadline = Date.now() + 120_000;
    while ((await sessionState()) !== 'TERMINATED') {
      assert.ok(Date.now() < deadline);
      await sleep(100);
    }
  });
});
