// Calculation results in a real S3-compatible store: Owlet configured with an S3 endpoint uploads each
// calculation's files there with @aws-sdk/client-s3. The store is moto's S3 server, started here.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
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
import { type TestOwlet, startTestOwlet } from './harness.js';

const S3_KEYS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

async function startS3Server(): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(join(projectRoot, '.venv', 'bin', 'python'), [join(projectRoot, 'test', 'support', 's3_compatible_server.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`S3 server did not start: ${out}`)), 30_000);
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
    const timer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 5_000);
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
    assert.match(calc.Status?.StateChangeReason ?? '', /results could not be written/);
    await waitState('IDLE');
  });
});
