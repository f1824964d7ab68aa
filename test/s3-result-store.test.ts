// Calculation results in a real S3-compatible store: Owlet configured with an S3 endpoint uploads each
// calculation's files there with @aws-sdk/client-s3. The store is moto's S3 server, started here.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  GetCalculationExecutionCommand,
  GetSessionStatusCommand,
  StartCalculationExecutionCommand,
  StartSessionCommand,
  UpdateWorkGroupCommand,
} from '@aws-sdk/client-athena';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { projectRoot } from '../src/config/paths.js';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { ResultStoreError } from '../src/results/result-store.js';
import { S3ResultStore } from '../src/results/s3-result-store.js';
import { eventually, rejectsWith } from './assertions.js';
import { type TestOwlet, startTestOwlet } from './harness.js';

const S3_KEYS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

async function startS3Server(): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(join(projectRoot, '.venv', 'bin', 'python'), [join(projectRoot, 'test', 'support', 's3_compatible_server.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`S3 server did not start: ${out}`)), 180_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /s3 server at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`S3 server exited with ${code}`)));
  });
  return { child, endpoint };
}

describe('S3-compatible result store', () => {
  let s3Server: { child: ChildProcess; endpoint: string };
  let owlet: TestOwlet;
  let s3: S3Client;

  before(async () => {
    s3Server = await startS3Server();
    s3 = new S3Client({ endpoint: s3Server.endpoint, region: 'us-east-1', credentials: S3_KEYS, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'team-results' }));
    owlet = await startTestOwlet({
      engine: new FakeEngine(),
      config: { resultsS3: { endpoint: s3Server.endpoint, region: 'us-east-1', ...S3_KEYS, forcePathStyle: true } },
    });
  });
  after(async () => {
    await owlet?.stop();
    s3?.destroy();
    const { child } = s3Server;
    child.stdin!.end();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const timer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  });

  it('uploads a calculation\'s stdout, stderr and result document where Result says', async () => {
    const athena = owlet.client();
    await athena.send(
      new UpdateWorkGroupCommand({ WorkGroup: 'spark', ConfigurationUpdates: { ResultConfigurationUpdates: { OutputLocation: 's3://team-results/athena/' } } }),
    );
    const { SessionId } = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
    for (let i = 0; (await athena.send(new GetSessionStatusCommand({ SessionId }))).Status?.State !== 'IDLE'; i++) {
      assert.ok(i < 500, 'session did not become IDLE');
      await new Promise((r) => setTimeout(r, 10));
    }
    const { CalculationExecutionId } = await athena.send(new StartCalculationExecutionCommand({ SessionId, CodeBlock: 'hello' }));
    let calc;
    for (let i = 0; ; i++) {
      calc = await athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId }));
      if (calc.Status?.State === 'COMPLETED') break;
      assert.ok(i < 500, `calculation did not complete: ${calc.Status?.State}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(calc.Result?.StdOutS3Uri, `s3://team-results/athena/${SessionId}/${CalculationExecutionId}/stdout.txt`);
    const read = async (uri: string) => {
      const [, bucket, key] = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri)!;
      return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
    };
    assert.equal(await read(calc.Result!.StdOutS3Uri!), 'ran: hello\n');
    assert.equal(await read(calc.Result!.StdErrorS3Uri!), '');
    assert.deepEqual(JSON.parse(await read(calc.Result!.ResultS3Uri!)), { version: 1, outputs: [] });
  });

  it('fails the calculation with a reason when the store refuses the results, and the session carries on', async () => {
    const athena = owlet.client();
    await athena.send(
      new UpdateWorkGroupCommand({ WorkGroup: 'spark', ConfigurationUpdates: { ResultConfigurationUpdates: { OutputLocation: 's3://no-such-bucket/athena/' } } }),
    );
    const { SessionId } = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
    const waitState = async (want: string) => {
      for (let i = 0; ; i++) {
        const state = (await athena.send(new GetSessionStatusCommand({ SessionId }))).Status?.State;
        if (state === want) return;
        assert.ok(i < 500, `session is ${state}, not ${want}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await waitState('IDLE');
    const { CalculationExecutionId } = await athena.send(new StartCalculationExecutionCommand({ SessionId, CodeBlock: 'hello' }));
    let calc;
    for (let i = 0; ; i++) {
      calc = await athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId }));
      if (calc.Status?.State === 'FAILED') break;
      assert.ok(i < 500, `calculation is ${calc.Status?.State}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(
      calc.Status?.StateChangeReason,
      `The calculation's results could not be written: cannot write s3://no-such-bucket/athena/${SessionId}/${CalculationExecutionId}/stdout.txt: ` +
        'NoSuchBucket (HTTP 404): The specified bucket does not exist',
    );
    await waitState('IDLE');
  });
});

/** A loopback port nothing listens on: one that was free a moment ago (a connection to it is refused). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('an S3-compatible result store that cannot be reached', () => {
  it('fails the calculation with the reason when nobody listens on the endpoint, and the session carries on', async () => {
    const port = await closedPort();
    const owlet = await startTestOwlet({
      engine: new FakeEngine(),
      config: { resultsS3: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', ...S3_KEYS, forcePathStyle: true } },
    });
    try {
      const athena = owlet.client();
      const { SessionId } = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
      const sessionState = async () => (await athena.send(new GetSessionStatusCommand({ SessionId }))).Status?.State;
      await eventually(sessionState, (s) => s === 'IDLE', 'IDLE');
      const started = performance.now();
      const { CalculationExecutionId } = await athena.send(new StartCalculationExecutionCommand({ SessionId, CodeBlock: 'hello' }));
      const calc = await eventually(
        () => athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId })),
        (c) => c.Status?.State === 'FAILED',
        'the calculation to fail',
        20_000,
      );
      console.log(`dead S3 endpoint: calculation FAILED after ${Math.round(performance.now() - started)} ms`);
      assert.equal(
        calc.Status?.StateChangeReason,
        `The calculation's results could not be written: cannot write s3://owlet-results/spark/${SessionId}/${CalculationExecutionId}/stdout.txt: ` +
          `connect ECONNREFUSED 127.0.0.1:${port}`,
      );
      assert.equal(await sessionState(), 'IDLE');
    } finally {
      await owlet.stop();
    }
  });

  it('gives up on a store that accepts a connection and never answers, within its timeouts', async () => {
    // Accepts and then says nothing: every attempt waits out the idle timeout.
    const held: Socket[] = [];
    const silent: Server = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const staging = mkdtempSync(join(tmpdir(), 'owlet-s3-staging-'));
    const store = new S3ResultStore({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: S3_KEYS,
      forcePathStyle: true,
      stagingRoot: staging,
      timeouts: { connectionMs: 200, socketIdleMs: 300 },
    });
    try {
      const dir = await store.stagingDirectory({ bucket: 'team-results', key: 'athena/' }, 'calc');
      writeFileSync(join(dir, 'stdout.txt'), 'out');
      const started = performance.now();
      await rejectsWith(
        store.publish(dir, { bucket: 'team-results', key: 'athena/s/calc/' }, ['stdout.txt']),
        ResultStoreError,
        /^cannot write s3:\/\/team-results\/athena\/s\/calc\/stdout\.txt: /,
      );
      const ms = performance.now() - started;
      console.log(`silent S3 endpoint, 300 ms idle timeout: publish failed after ${Math.round(ms)} ms, ${held.length} connections`);
      // The SDK's three attempts, each cut at 300 ms, and its backoff between them.
      assert.ok(held.length >= 1 && held.length <= 3, `${held.length} connections`);
      // It fails rather than hangs: a deadline far past the three 300 ms attempts, not a measure of them.
      assert.ok(ms < 120_000, `${ms} ms`);
    } finally {
      store.dispose();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
      rmSync(staging, { recursive: true, force: true });
    }
  });
});
