// Two `owlet server` processes sharing one real PostgreSQL (started by the test), with sessions on real
// PySpark: a session started through one node is listed, inspected, sent calculations and terminated through
// the other; the idle reaper acts once, on the session's node; a small load through both nodes; and a node
// killed with SIGKILL has its sessions failed by the survivor. test/nodes.test.ts covers the same rules fast,
// in one process on the fake engine.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AthenaClient,
  GetCalculationExecutionCommand,
  GetCalculationExecutionStatusCommand,
  GetSessionCommand,
  GetSessionStatusCommand,
  InvalidRequestException,
  ListExecutorsCommand,
  ListSessionsCommand,
  StartCalculationExecutionCommand,
  StartSessionCommand,
  TerminateSessionCommand,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { killRunnersUnder } from '../bench/proc.js';
import { type ServerProcess, startServerProcess } from '../bench/processes.js';
import { projectRoot } from '../src/config/paths.js';
import { eventually, SPARK_START_DEADLINE_MS } from './assertions.js';
import { TEST_CREDENTIALS } from './harness.js';
import { ThrowawayPostgres } from './support/postgres.js';

const FINAL = ['COMPLETED', 'FAILED', 'CANCELED'];
/** A session's idle timeout "minute" in these servers: one second. */
const IDLE_MINUTE_MS = 1_000;

interface Node {
  name: string;
  dataDir: string;
  server: ServerProcess;
  athena: AthenaClient;
  s3: S3Client;
  /** The session ids this node logged a move to TERMINATING for. */
  terminating: string[];
}

async function startNode(name: string, storeUrl: string): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), `owlet-${name}-`));
  const terminating: string[] = [];
  const server = await startServerProcess({
    name,
    args: [join(projectRoot, 'dist/src/cli/main.js'), 'server', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir],
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OWLET_'))),
      OWLET_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      OWLET_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      OWLET_STATE_STORE_URL: storeUrl,
      OWLET_NODE_ID: name,
      OWLET_NODE_HEARTBEAT_MS: '250',
      OWLET_NODE_DEAD_AFTER_MS: '3000',
      OWLET_WARM_POOL_SIZE: '0',
      OWLET_IDLE_MINUTE_MS: String(IDLE_MINUTE_MS),
      OWLET_TERMINATE_SESSIONS_ON_EXIT: 'true',
    },
    ready: /^Owlet is serving the Athena API at (http:\/\/127\.0\.0\.1:\d+)$/,
    timeoutMs: 180_000,
    stopGraceMs: 20_000,
    onLine: (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; to?: string; sessionId?: string };
      if (entry.msg === 'session state' && entry.to === 'TERMINATING' && entry.sessionId) terminating.push(entry.sessionId);
    },
  });
  const clientConfig = { endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 };
  return { name, dataDir, server, athena: new AthenaClient(clientConfig), s3: new S3Client({ ...clientConfig, forcePathStyle: true }), terminating };
}

async function stopNode(node: Node): Promise<void> {
  node.athena.destroy();
  node.s3.destroy();
  await node.server.stop();
  // A node killed outright leaves its runners (and their JVMs) running: the test stops them by pid.
  killRunnersUnder(node.dataDir);
  rmSync(node.dataDir, { recursive: true, force: true });
}

const state = async (athena: AthenaClient, id: string) => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State;

async function idleSession(through: AthenaClient, idleMinutes = 20): Promise<string> {
  const id = (await through.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, SessionIdleTimeoutInMinutes: idleMinutes })))
    .SessionId!;
  await eventually(() => state(through, id), (s) => s === 'IDLE', `session ${id} IDLE`, SPARK_START_DEADLINE_MS);
  return id;
}

async function calculate(through: AthenaClient, sessionId: string, code: string) {
  const id = (await through.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: code }))).CalculationExecutionId!;
  return eventually(
    () => through.send(new GetCalculationExecutionCommand({ CalculationExecutionId: id })),
    (c) => FINAL.includes(c.Status?.State ?? ''),
    `calculation ${id} to end`,
    300_000,
  );
}

describe('two server nodes on PostgreSQL, with real PySpark sessions', { timeout: 3 * SPARK_START_DEADLINE_MS }, () => {
  let pg: ThrowawayPostgres;
  let a: Node;
  let b: Node;

  before(async () => {
    pg = await ThrowawayPostgres.start();
    const url = await pg.createDatabase('owlet_nodes');
    [a, b] = await Promise.all([startNode('node-a', url), startNode('node-b', url)]);
  });
  after(async () => {
    for (const node of [a, b]) if (node) await stopNode(node);
    await pg?.stop();
  });

  it('serves a session started through one node through the other', async () => {
    const started = performance.now();
    const sessionId = await idleSession(a.athena);
    console.log(`StartSession to IDLE through node-a: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const listed = await b.athena.send(new ListSessionsCommand({ WorkGroup: 'spark' }));
    assert.ok(listed.Sessions?.some((s) => s.SessionId === sessionId), 'listed through node-b');
    assert.equal((await b.athena.send(new GetSessionCommand({ SessionId: sessionId }))).SessionId, sessionId);

    const calc = await calculate(b.athena, sessionId, 'total = sum(spark.range(10).toPandas()["id"])\nprint(total)');
    assert.equal(calc.Status?.State, 'COMPLETED', calc.Status?.StateChangeReason);
    // The results are in the data directory of the node that ran it (several nodes share an S3 store instead).
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.*)$/.exec(calc.Result?.StdOutS3Uri ?? '')!;
    assert.equal(await (await a.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString(), '45\n');

    const executors = await b.athena.send(new ListExecutorsCommand({ SessionId: sessionId }));
    assert.equal(executors.ExecutorsSummary?.[0]?.ExecutorType, 'COORDINATOR');
    // BUSY is refused through either node, in Athena's words.
    const busy = (await b.athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'import time\ntime.sleep(2)' })))
      .CalculationExecutionId!;
    await assert.rejects(a.athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: '1' })), (error: unknown) => {
      assert.ok(error instanceof InvalidRequestException);
      assert.equal(error.message, 'Session is in the BUSY state; needs to be IDLE to accept Calculations.');
      return true;
    });
    await eventually(
      async () => (await a.athena.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId: busy }))).Status?.State,
      (s) => s === 'COMPLETED',
      'the sleep to finish',
    );

    assert.equal((await b.athena.send(new TerminateSessionCommand({ SessionId: sessionId }))).State, 'TERMINATING');
    await eventually(() => state(a.athena, sessionId), (s) => s === 'TERMINATED', 'TERMINATED', 60_000);
    assert.deepEqual(a.terminating.filter((id) => id === sessionId).length, 1, 'terminated by the node that ran it');
    assert.ok(!b.terminating.includes(sessionId));
  });

  it('takes a small load through both nodes, and reaps idle sessions once, on their nodes', async () => {
    // One session on each node; two clients a session, each sending its calculations through the other node.
    // Each session's clients start as soon as it is IDLE: a session that waited for the other to start cold
    // could be reaped first on a loaded machine. Ten one-second minutes leave room for a stalled client.
    const sessionA = idleSession(a.athena, 10);
    const sessionB = idleSession(b.athena, 10);
    const counts = { calculations: 0, busyRefusals: 0, unexpected: [] as string[], requests: 0 };
    const latencies: number[] = [];
    const client = async (through: AthenaClient, sessionId: string, n: number): Promise<void> => {
      for (let done = 0; done < n; ) {
        const started = performance.now();
        try {
          counts.requests++;
          const id = (await through.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: `spark.range(${1000 + done}).count()` })))
            .CalculationExecutionId!;
          for (;;) {
            counts.requests++;
            const status = await through.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId: id }));
            if (FINAL.includes(status.Status?.State ?? '')) {
              if (status.Status?.State !== 'COMPLETED') counts.unexpected.push(`${id} ${status.Status?.State}`);
              break;
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          latencies.push(performance.now() - started);
          counts.calculations++;
          done++;
        } catch (error) {
          if (error instanceof InvalidRequestException && /BUSY state/.test(error.message)) {
            counts.busyRefusals++;
            await new Promise((resolve) => setTimeout(resolve, 25));
          } else {
            counts.unexpected.push(String(error));
            done++;
          }
        }
      }
    };
    const started = performance.now();
    const [onA, onB] = await Promise.all([
      sessionA.then(async (id) => (await Promise.all([client(b.athena, id, 10), client(b.athena, id, 10)]), id)),
      sessionB.then(async (id) => (await Promise.all([client(a.athena, id, 10), client(a.athena, id, 10)]), id)),
    ]);
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((x, y) => x - y);
    console.log(
      `two nodes under load: ${counts.calculations} calculations in ${seconds.toFixed(1)} s over ${counts.requests} requests, ` +
        `each sent through the node that does not run its session; ${counts.busyRefusals} BUSY refusals (expected: two clients a session), ` +
        `${counts.unexpected.length} unexpected errors; calculation p50 ${Math.round(latencies[latencies.length >> 1]!)} ms`,
    );
    assert.deepEqual(counts.unexpected, []);
    assert.equal(counts.calculations, 40);

    // Idle for ten of these one-second minutes, each session is reaped by its own node, once.
    await eventually(async () => [await state(a.athena, onA), await state(a.athena, onB)], (s) => s.every((x) => x === 'TERMINATED'), 'both reaped', 60_000);
    assert.deepEqual([a.terminating.includes(onA), b.terminating.includes(onA)], [true, false]);
    assert.deepEqual([a.terminating.includes(onB), b.terminating.includes(onB)], [false, true]);
  });

  it('fails the sessions of a node killed with SIGKILL, through the survivor', async () => {
    const sessionId = await idleSession(a.athena);
    process.kill(a.server.pid, 'SIGKILL');
    const killedAt = performance.now();
    await eventually(() => state(b.athena, sessionId), (s) => s === 'FAILED', 'FAILED', 60_000);
    console.log(`a killed node's session FAILED after ${((performance.now() - killedAt) / 1000).toFixed(1)} s (dead after 3 s without a heartbeat)`);
    const status = await b.athena.send(new GetSessionStatusCommand({ SessionId: sessionId }));
    assert.match(status.Status?.StateChangeReason ?? '', /^The Owlet server node node-a that ran the session stopped answering \(no heartbeat for \d+ seconds\)\.$/);
    // The survivor goes on serving sessions of its own.
    const next = await idleSession(b.athena);
    assert.equal((await calculate(b.athena, next, 'print(1)')).Status?.State, 'COMPLETED');
    await b.athena.send(new TerminateSessionCommand({ SessionId: next }));
  });
});
