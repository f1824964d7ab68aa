// Two server nodes sharing one store, in one process on the fake engine: requests about a session reach the
// node that runs it, whichever node they are sent to; each node reaps only its own sessions; a node that stops
// beating has its sessions ended by the other. test/multi-node.test.ts does the same with two server processes
// on a real PostgreSQL and real PySpark.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AthenaClient,
  GetCalculationExecutionCommand,
  GetSessionStatusCommand,
  ListExecutorsCommand,
  ListSessionsCommand,
  StartCalculationExecutionCommand,
  StartSessionCommand,
  StopCalculationExecutionCommand,
  TerminateSessionCommand,
} from '@aws-sdk/client-athena';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { SqliteStateStore } from '../src/store/sqlite-state-store.js';
import { eventually } from './assertions.js';
import { type TestOwlet, startTestOwlet } from './harness.js';

const NODE_DEAD_AFTER_MS = 15_000;

describe('two server nodes sharing a store', () => {
  const store = new SqliteStateStore({ path: ':memory:' });
  const engines = { a: new FakeEngine(), b: new FakeEngine() };
  let a: TestOwlet;
  let b: TestOwlet;
  let viaA: AthenaClient;
  let viaB: AthenaClient;

  const node = (name: 'a' | 'b') =>
    startTestOwlet({
      store,
      engine: engines[name],
      reaperIntervalMs: 3_600_000,
      // A node that stops leaves its sessions running, as one that crashes does.
      // Both nodes share this process's event loop: a dead time of a fraction of a second let a stall of a loaded
      // machine pass a live node for dead. NODE_DEAD_AFTER_MS is far past any such stall.
      config: { nodeId: `node-${name}`, nodeHeartbeatMs: 50, nodeDeadAfterMs: NODE_DEAD_AFTER_MS, cancelDeadlineMs: 60_000, terminateSessionsOnExit: false },
    });

  before(async () => {
    a = await node('a');
    b = await node('b');
    viaA = a.client();
    viaB = b.client();
  });
  after(async () => {
    await b.stop();
    await a.stop();
    await store.close();
  });

  const state = async (client: AthenaClient, id: string) => (await client.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State;

  it('serves a session started through one node through the other, on the node that runs it', async () => {
    const sessionId = (await viaA.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
    await eventually(() => state(viaB, sessionId), (s) => s === 'IDLE', 'IDLE, seen through the other node');
    const listed = await viaB.send(new ListSessionsCommand({ WorkGroup: 'spark' }));
    assert.ok(listed.Sessions?.some((s) => s.SessionId === sessionId));

    const calcId = (await viaB.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'print(2)' }))).CalculationExecutionId!;
    const done = await eventually(
      () => viaB.send(new GetCalculationExecutionCommand({ CalculationExecutionId: calcId })),
      (c) => c.Status?.State === 'COMPLETED',
      'COMPLETED',
    );
    assert.ok(done.Result?.StdOutS3Uri);
    assert.deepEqual(engines.a.runnerOf(sessionId).executed, ['print(2)'], 'the code ran on the node that runs the session');
    assert.equal(engines.b.runners.length, 0);

    const executors = await viaB.send(new ListExecutorsCommand({ SessionId: sessionId }));
    assert.equal(executors.ExecutorsSummary?.[0]?.ExecutorType, 'COORDINATOR');

    const waiting = (await viaB.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'wait' }))).CalculationExecutionId!;
    assert.equal((await viaB.send(new StopCalculationExecutionCommand({ CalculationExecutionId: waiting }))).State, 'CANCELING');
    await eventually(
      async () => (await viaA.send(new GetCalculationExecutionCommand({ CalculationExecutionId: waiting }))).Status?.State,
      (s) => s === 'CANCELED',
      'CANCELED',
    );

    assert.equal((await viaB.send(new TerminateSessionCommand({ SessionId: sessionId }))).State, 'TERMINATING');
    await eventually(() => state(viaA, sessionId), (s) => s === 'TERMINATED', 'TERMINATED');
    assert.equal(engines.a.runnerOf(sessionId).stopped, true);
  });

  it('reaps a session once, on the node that runs it', async () => {
    const sessionId = (await viaB.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, SessionIdleTimeoutInMinutes: 1 }))).SessionId!;
    await eventually(() => state(viaA, sessionId), (s) => s === 'IDLE', 'IDLE');
    // An hour on, as far as the idle reapers know.
    const later = Date.now() + 3_600_000;
    assert.deepEqual(await a.sessions.reapIdleSessions(later), []);
    assert.deepEqual(await b.sessions.reapIdleSessions(later), [sessionId]);
    await eventually(() => state(viaA, sessionId), (s) => s === 'TERMINATED', 'TERMINATED');
  });

  it('ends the sessions of a node that stops beating, through the other node', async () => {
    const sessionId = (await viaA.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
    await eventually(() => state(viaB, sessionId), (s) => s === 'IDLE', 'IDLE');
    // Node a goes away without ending its sessions.
    await a.stop();
    await eventually(() => state(viaB, sessionId), (s) => s === 'FAILED', 'FAILED', NODE_DEAD_AFTER_MS + 120_000);
    const status = await viaB.send(new GetSessionStatusCommand({ SessionId: sessionId }));
    assert.match(status.Status?.StateChangeReason ?? '', /^The Owlet server node node-a that ran the session stopped answering \(no heartbeat for \d+ seconds\)\.$/);
    // Node a comes back: it is live again, and finds its old session ended.
    a = await node('a');
    viaA = a.client();
    assert.equal(await state(viaA, sessionId), 'FAILED');
    const next = (await viaB.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
    await eventually(() => state(viaA, next), (s) => s === 'IDLE', 'IDLE');
    await viaA.send(new TerminateSessionCommand({ SessionId: next }));
  });
});
