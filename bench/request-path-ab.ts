// The CPU time of Owlet's own request work, two builds side by side in one process: SigV4 verification of a
// signed GetWorkGroup request, the encoding of a GetWorkGroupOutput and the decoding of a
// StartCalculationExecutionRequest body, old and new code alternating in rounds
// so that the machine's load weighs on both alike. Used to measure each change to the request path
// (docs/performance.md, "Owlet's own overheads").
//
//   node dist/bench/request-path-ab.js <old build's dist directory> [<new build's dist directory>]
//
// The new build defaults to this one. Both must be built (`tsc -p .`); the old one may predate encodeJson, in
// which case its OutputEncoder.encode and JSON.stringify are timed, as its server did.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { shapes } from '../src/generated/athena-model.js';
import { NodeSha256 } from '../src/protocol/node-sha256.js';
import type { RequestToVerify } from '../src/protocol/sigv4.js';
import { CREDENTIALS, REGION } from './owlet-server.js';

type SigV4Module = typeof import('../src/protocol/sigv4.js');
interface Encoder {
  encode?: (shape: string, value: unknown) => unknown;
  encodeJson?: (shape: string, value: unknown) => string;
}
interface ShapesModule {
  OutputEncoder: new (table: typeof shapes) => Encoder;
  InputDecoder: new (table: typeof shapes) => { decode: (shape: string, value: unknown) => { value: unknown } };
}

const ROUNDS = 5;
const CALLS = 20_000;

interface Build {
  verifier: InstanceType<SigV4Module['SigV4Verifier']>;
  encode: (value: unknown) => string;
  decode: (body: string) => unknown;
}

async function load(dist: string): Promise<Build> {
  const sigv4 = (await import(pathToFileURL(resolve(dist, 'src/protocol/sigv4.js')).href)) as SigV4Module;
  const shapesModule = (await import(pathToFileURL(resolve(dist, 'src/protocol/shapes.js')).href)) as ShapesModule;
  const encoder = new shapesModule.OutputEncoder(shapes);
  const encode = encoder.encodeJson
    ? (value: unknown): string => encoder.encodeJson!('GetWorkGroupOutput', value)
    : (value: unknown): string => JSON.stringify(encoder.encode!('GetWorkGroupOutput', value));
  const decoder = new shapesModule.InputDecoder(shapes);
  // As the JSON service reads a body: parsed, then decoded and checked by the model.
  const decode = (body: string): unknown => decoder.decode('StartCalculationExecutionRequest', JSON.parse(body)).value;
  return { verifier: new sigv4.SigV4Verifier([CREDENTIALS]), encode, decode };
}

async function cpuMicrosPerCall(call: () => unknown): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) await call();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / CALLS;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const [oldDist, newDist = fileURLToPath(new URL('../', import.meta.url))] = process.argv.slice(2);
  if (!oldDist) {
    console.error('usage: request-path-ab <old dist directory> [<new dist directory>]');
    process.exit(2);
  }
  const body = JSON.stringify({ WorkGroup: 'spark' });
  const signer = new SignatureV4({ credentials: CREDENTIALS, region: REGION, service: 'athena', sha256: NodeSha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 8080,
    path: '/',
    headers: {
      host: '127.0.0.1:8080',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AmazonAthena.GetWorkGroup',
      'content-length': String(body.length),
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    },
    body,
  });
  const request: RequestToVerify = {
    method: 'POST',
    rawPath: '/',
    rawQuery: '',
    headers: Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v])),
    body: Buffer.from(body),
  };
  const output = {
    WorkGroup: {
      Name: 'spark',
      State: 'ENABLED',
      Description: 'Spark workgroup',
      CreationTime: new Date(),
      Configuration: {
        EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3', EffectiveEngineVersion: 'PySpark engine version 3' },
        ExecutionRole: 'arn:aws:iam::123456789012:role/owlet',
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: false,
        ResultConfiguration: { OutputLocation: 's3://bucket/prefix/' },
      },
    },
  };
  const builds = [await load(oldDist), await load(newDist)];
  for (const build of builds) await build.verifier.verify(request, 'athena');
  if (builds[0]!.encode(output) !== builds[1]!.encode(output)) throw new Error('the two builds encode GetWorkGroupOutput differently');
  const input = JSON.stringify({ SessionId: '8f2a1c3e-1234-4a5b-9c7d-0123456789ab', Description: 'a calculation', CodeBlock: 'spark.range(1000).count()', ClientRequestToken: 'token-0123456789' });
  if (JSON.stringify(builds[0]!.decode(input)) !== JSON.stringify(builds[1]!.decode(input))) throw new Error('the two builds decode StartCalculationExecutionRequest differently');
  const verify = [[], []] as number[][];
  const encode = [[], []] as number[][];
  const decode = [[], []] as number[][];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, build] of builds.entries()) {
      verify[i]!.push(await cpuMicrosPerCall(() => build.verifier.verify(request, 'athena')));
      encode[i]!.push(await cpuMicrosPerCall(() => build.encode(output)));
      decode[i]!.push(await cpuMicrosPerCall(() => build.decode(input)));
    }
  }
  const f = (values: number[]): string => `${median(values).toFixed(1)} µs`;
  console.log(`SigV4 verify, CPU a call (median of ${ROUNDS} rounds of ${CALLS}): old ${f(verify[0]!)}, new ${f(verify[1]!)}`);
  console.log(`GetWorkGroupOutput encoding: old ${f(encode[0]!)}, new ${f(encode[1]!)}; the same text from both`);
  console.log(`StartCalculationExecutionRequest parsing and decoding: old ${f(decode[0]!)}, new ${f(decode[1]!)}; the same value from both`);
}

await main();
