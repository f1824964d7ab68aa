// What a session's S3A is given, on the fake engine, with the AWS SDK for JavaScript v3 as the store's client:
// a key pair of its own (never the API's) that Owlet's S3 API takes while the session lives and refuses once it
// has ended, whether the session started cold or took a pooled runner; and, with the data plane's store set
// (OWLET_S3_*, or the older OWLET_RESULTS_S3_* names), that store's endpoint and key pair instead.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GetSessionStatusCommand, StartSessionCommand, TerminateSessionCommand } from '@aws-sdk/client-athena';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config/config.js';
import { FakeEngine, type FakeRunner } from '../src/engine/fake-engine.js';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from './harness.js';
import { s3ClientOf } from './support/s3.js';

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The Hadoop settings a runner got: with its launch, or from `configure`. */
function hadoopSettingsOf(runner: FakeRunner): Record<string, string> {
  return runner.configuredHadoop ?? runner.launch.hadoopSettings ?? {};
}

async function sessionKeyLifecycle(owlet: TestOwlet, engine: FakeEngine, pooled: boolean): Promise<void> {
  const athena = owlet.client();
  const admin = s3ClientOf(owlet.endpoint);
  await admin.send(new CreateBucketCommand({ Bucket: 'session-data' }));
  const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
  const id = started.SessionId!;
  await until(async () => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State === 'IDLE', 'IDLE');
  const runner = engine.runners.find((r) => r.sessionId === id)!;
  assert.equal(runner.configuredFor !== undefined, pooled, pooled ? 'took the pooled runner' : 'started cold');
  const settings = hadoopSettingsOf(runner);
  assert.equal(settings['fs.s3a.endpoint'], owlet.endpoint);
  assert.equal(settings['fs.s3a.path.style.access'], 'true');
  assert.equal(settings['fs.s3a.aws.credentials.provider'], 'org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider');
  const key = { accessKeyId: settings['fs.s3a.access.key']!, secretAccessKey: settings['fs.s3a.secret.key']! };
  assert.match(key.accessKeyId, /^OWLS[A-Z2-7]{16}$/);
  // Nothing the runner was given holds the API's key pair.
  const given = JSON.stringify({ launch: runner.launch, configuredWith: runner.configuredWith, configuredHadoop: runner.configuredHadoop });
  assert.ok(!given.includes(TEST_CREDENTIALS.secretAccessKey) && !given.includes(TEST_CREDENTIALS.accessKeyId));

  const session = s3ClientOf(owlet.endpoint, key);
  await session.send(new PutObjectCommand({ Bucket: 'session-data', Key: 'written.txt', Body: 'by the session' }));
  const read = await admin.send(new GetObjectCommand({ Bucket: 'session-data', Key: 'written.txt' }));
  assert.equal(await read.Body!.transformToString(), 'by the session');

  await athena.send(new TerminateSessionCommand({ SessionId: id }));
  await until(async () => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State === 'TERMINATED', 'TERMINATED');
  await assert.rejects(session.send(new GetObjectCommand({ Bucket: 'session-data', Key: 'written.txt' })), (e: unknown) => {
    assert.ok(e instanceof S3ServiceException);
    assert.equal(e.name, 'InvalidAccessKeyId');
    assert.equal(e.$metadata.httpStatusCode, 403);
    return true;
  });
  session.destroy();
  admin.destroy();
}

describe('S3 key pairs of sessions', () => {
  it('gives a cold session a key pair of its own, refused once the session ends', async () => {
    const engine = new FakeEngine();
    const owlet = await startTestOwlet({ engine });
    try {
      await sessionKeyLifecycle(owlet, engine, false);
    } finally {
      await owlet.stop();
    }
  });

  it('gives a pooled runner the session key pair when the session takes it', async () => {
    const engine = new FakeEngine();
    const owlet = await startTestOwlet({ engine, config: { warmPoolSize: 1 } });
    try {
      await until(() => engine.runners.some((r) => r.driver !== undefined), 'a ready pooled runner');
      const pooled = engine.runners[0]!;
      assert.equal(hadoopSettingsOf(pooled)['fs.s3a.access.key'], undefined, 'no key pair before it has a session');
      await sessionKeyLifecycle(owlet, engine, true);
    } finally {
      await owlet.stop();
    }
  });

  it("points sessions at the data plane's external store, with its key pair", async () => {
    const engine = new FakeEngine();
    const external = { endpoint: 'http://127.0.0.1:9', region: 'eu-west-1', accessKeyId: 'EXTERNALKEY', secretAccessKey: 'external-secret', forcePathStyle: true };
    const owlet = await startTestOwlet({ engine, config: { resultsS3: external } });
    try {
      const athena = owlet.client();
      const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
      await until(() => engine.runners.some((r) => r.sessionId === started.SessionId), 'the runner');
      const settings = hadoopSettingsOf(engine.runners.find((r) => r.sessionId === started.SessionId)!);
      assert.deepEqual(
        [settings['fs.s3a.endpoint'], settings['fs.s3a.endpoint.region'], settings['fs.s3a.access.key'], settings['fs.s3a.secret.key']],
        [external.endpoint, 'eu-west-1', 'EXTERNALKEY', 'external-secret'],
      );
      await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));
    } finally {
      await owlet.stop();
    }
  });

  it('reads the data plane store from OWLET_S3_*, with OWLET_RESULTS_S3_* as older names', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'owlet-s3-config-'));
    const base = { OWLET_ACCESS_KEY_ID: 'AKIDCONFIGTEST000001', OWLET_SECRET_ACCESS_KEY: 'secret', OWLET_DATA_DIR: dataDir };
    const older = loadConfig({}, { ...base, OWLET_RESULTS_S3_ENDPOINT: 'http://old:9000', OWLET_RESULTS_S3_ACCESS_KEY_ID: 'a', OWLET_RESULTS_S3_SECRET_ACCESS_KEY: 'b' });
    assert.deepEqual(older.resultsS3, { endpoint: 'http://old:9000', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b', forcePathStyle: true });
    const newer = loadConfig({}, { ...base, OWLET_S3_ENDPOINT: 'http://new:9000', OWLET_RESULTS_S3_ENDPOINT: 'http://old:9000', OWLET_S3_FORCE_PATH_STYLE: 'false' });
    assert.deepEqual(newer.resultsS3, { endpoint: 'http://new:9000', region: 'us-east-1', forcePathStyle: false });
    assert.equal(loadConfig({}, base).resultsS3, undefined);
    assert.throws(() => loadConfig({}, { ...base, OWLET_S3_ENDPOINT: 'http://new:9000', OWLET_S3_ACCESS_KEY_ID: 'a' }), /OWLET_S3_SECRET_ACCESS_KEY/);
    rmSync(dataDir, { recursive: true, force: true });
  });
});
