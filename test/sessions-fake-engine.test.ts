// Sessions and calculations through @aws-sdk/client-athena, on the fake engine: the state machines, the
// errors and the idle reaper, fast and without Spark. test/python/test_sessions_spark.py runs the same
// operations on real PySpark.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type AthenaClient,
  type Classification,
  CreateWorkGroupCommand,
  type EngineConfiguration,
  DeleteWorkGroupCommand,
  GetCalculationExecutionCodeCommand,
  GetCalculationExecutionCommand,
  GetCalculationExecutionStatusCommand,
  GetSessionCommand,
  GetSessionStatusCommand,
  InvalidRequestException,
  ListCalculationExecutionsCommand,
  ListSessionsCommand,
  StartCalculationExecutionCommand,
  StartSessionCommand,
  StopCalculationExecutionCommand,
  TerminateSessionCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-athena';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { FakeEngine } from '../src/engine/fake-engine.js';
import type { SessionRecord } from '../src/sessions/records.js';
import { SqliteStateStore } from '../src/store/sqlite-state-store.js';
import { eventually, rejectsWith } from './assertions.js';
import { ownSparkProperties, type TestOwlet, startTestOwlet } from './harness.js';
import { objectText, s3ClientOf } from './support/s3.js';

describe('sessions and calculations on the fake engine', () => {
  let owlet: TestOwlet;
  let athena: AthenaClient;
  let clock = Date.now();
  const engine = new FakeEngine();

  before(async () => {
    owlet = await startTestOwlet({ engine, now: () => clock, reaperIntervalMs: 3_600_000, config: { dpuCapacity: 3, cancelDeadlineMs: 300 } });
    athena = owlet.client();
  });
  after(() => owlet.stop());

  const sessionState = async (id: string) => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State;
  const calcState = async (id: string) => (await athena.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId: id }))).Status?.State;
  async function idleSession(): Promise<string> {
    const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: { MaxConcurrentDpus: 2 } }));
    await eventually(() => sessionState(started.SessionId!), (s) => s === 'IDLE', 'IDLE');
    return started.SessionId!;
  }
  async function run(sessionId: string, code: string): Promise<string> {
    return (await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: code }))).CalculationExecutionId!;
  }

  it('starts a session that moves from CREATING to IDLE, and describes it', async () => {
    const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', Description: 'd', EngineConfiguration: { MaxConcurrentDpus: 2 } }));
    assert.equal(started.State, 'CREATING');
    assert.match(started.SessionId!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await eventually(() => sessionState(started.SessionId!), (s) => s === 'IDLE', 'IDLE');
    const session = await athena.send(new GetSessionCommand({ SessionId: started.SessionId! }));
    assert.equal(session.WorkGroup, 'spark');
    assert.equal(session.Description, 'd');
    assert.equal(session.EngineVersion, 'PySpark engine version 3');
    assert.deepEqual(session.EngineConfiguration, { MaxConcurrentDpus: 2 });
    assert.equal(session.SessionConfiguration?.IdleTimeoutSeconds, 1200);
    assert.equal(session.SessionConfiguration?.SessionIdleTimeoutInMinutes, 20);
    assert.equal(session.SessionConfiguration?.WorkingDirectory, `s3://owlet-results/spark/${started.SessionId}/`);
    assert.ok(session.Status?.IdleSinceDateTime instanceof Date);
    assert.equal(session.Statistics?.DpuExecutionInMillis, 0);
    await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));
  });

  it('runs a calculation: BUSY while it runs, results where Result says, IDLE after', async () => {
    const sessionId = await idleSession();
    const calcId = await run(sessionId, 'wait');
    await eventually(() => calcState(calcId), (s) => s === 'RUNNING', 'RUNNING');
    assert.equal(await sessionState(sessionId), 'BUSY');
    // Statistics is never empty (PyAthena raises on an empty one): 0 DPU-milliseconds until the calculation ends.
    const running = await athena.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId: calcId }));
    assert.deepEqual(running.Statistics, { DpuExecutionInMillis: 0 });
    assert.deepEqual((await athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: calcId }))).Statistics, { DpuExecutionInMillis: 0 });
    assert.equal((await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }))).Status?.IdleSinceDateTime, undefined);
    // Athena refuses a second calculation while one runs, with this exact message (dbt-athena matches it).
    await assert.rejects(athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'x' })), (e: unknown) => {
      assert.ok(e instanceof InvalidRequestException);
      assert.equal(e.message, 'Session is in the BUSY state; needs to be IDLE to accept Calculations.');
      return true;
    });
    await athena.send(new StopCalculationExecutionCommand({ CalculationExecutionId: calcId }));
    await eventually(() => sessionState(sessionId), (s) => s === 'IDLE', 'IDLE after cancel');

    const done = await run(sessionId, 'print(1)');
    const calc = await eventually(
      () => athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: done })),
      (c) => c.Status?.State === 'COMPLETED',
      'COMPLETED',
    );
    assert.equal(calc.SessionId, sessionId);
    assert.equal(calc.WorkingDirectory, `s3://owlet-results/spark/${sessionId}/${done}/`);
    assert.deepEqual(calc.Result, {
      StdOutS3Uri: `s3://owlet-results/spark/${sessionId}/${done}/stdout.txt`,
      StdErrorS3Uri: `s3://owlet-results/spark/${sessionId}/${done}/stderr.txt`,
      ResultS3Uri: `s3://owlet-results/spark/${sessionId}/${done}/result.json`,
      ResultType: 'application/vnd.aws.athena.v1+json',
    });
    assert.equal(calc.Status?.StateChangeReason, undefined);
    assert.ok(calc.Status?.CompletionDateTime instanceof Date);
    assert.ok((calc.Statistics?.DpuExecutionInMillis ?? 0) > 0);
    assert.equal(calc.Statistics?.Progress, '100% (1/1 tasks)');
    const s3 = s3ClientOf(owlet.endpoint);
    const stdout = await objectText(s3, `s3://owlet-results/spark/${sessionId}/${done}/stdout.txt`);
    s3.destroy();
    assert.equal(stdout, 'ran: print(1)\n');
    assert.equal(await sessionState(sessionId), 'IDLE');
    const code = await athena.send(new GetCalculationExecutionCodeCommand({ CalculationExecutionId: done }));
    assert.equal(code.CodeBlock, 'print(1)');
    await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
  });

  it('reports a failing calculation as FAILED with the exception line as the reason', async () => {
    const sessionId = await idleSession();
    const calcId = await run(sessionId, 'raise boom');
    const calc = await eventually(
      () => athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: calcId })),
      (c) => c.Status?.State === 'FAILED',
      'FAILED',
    );
    assert.equal(calc.Status?.StateChangeReason, 'RuntimeError: boom');
    assert.ok(calc.Result?.StdErrorS3Uri);
    assert.equal(await sessionState(sessionId), 'IDLE');
    await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
  });

  it('lists calculations newest first, filtered and paged', async () => {
    const sessionId = await idleSession();
    const ids: string[] = [];
    for (const code of ['a', 'raise b', 'c']) {
      clock += 1000;
      const id = await run(sessionId, code);
      await eventually(() => calcState(id), (s) => s === 'COMPLETED' || s === 'FAILED', 'end');
      ids.push(id);
    }
    const all = await athena.send(new ListCalculationExecutionsCommand({ SessionId: sessionId }));
    assert.deepEqual(all.Calculations?.map((c) => c.CalculationExecutionId), [...ids].reverse());
    const failed = await athena.send(new ListCalculationExecutionsCommand({ SessionId: sessionId, StateFilter: 'FAILED' }));
    assert.deepEqual(failed.Calculations?.map((c) => c.CalculationExecutionId), [ids[1]]);
    const first = await athena.send(new ListCalculationExecutionsCommand({ SessionId: sessionId, MaxResults: 2 }));
    assert.equal(first.Calculations?.length, 2);
    const rest = await athena.send(new ListCalculationExecutionsCommand({ SessionId: sessionId, MaxResults: 2, NextToken: first.NextToken }));
    assert.deepEqual(rest.Calculations?.map((c) => c.CalculationExecutionId), [ids[0]]);
    assert.equal(rest.NextToken, undefined);
    await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
  });

  it('lists only active sessions unless a filter asks, newest first', async () => {
    await athena.send(new CreateWorkGroupCommand({ Name: 'listing', Configuration: { EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3' }, ExecutionRole: 'arn:aws:iam::123456789012:role/r' } }));
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      clock += 1000;
      const s = await athena.send(new StartSessionCommand({ WorkGroup: 'listing', EngineConfiguration: {} }));
      await eventually(() => sessionState(s.SessionId!), (st) => st === 'IDLE', 'IDLE');
      ids.push(s.SessionId!);
    }
    await athena.send(new TerminateSessionCommand({ SessionId: ids[0]! }));
    await eventually(() => sessionState(ids[0]!), (s) => s === 'TERMINATED', 'TERMINATED');
    const active = await athena.send(new ListSessionsCommand({ WorkGroup: 'listing' }));
    assert.deepEqual(active.Sessions?.map((s) => s.SessionId), [ids[1]]);
    assert.deepEqual(active.Sessions?.[0]?.EngineVersion, { SelectedEngineVersion: 'PySpark engine version 3', EffectiveEngineVersion: 'PySpark engine version 3' });
    const ended = await athena.send(new ListSessionsCommand({ WorkGroup: 'listing', StateFilter: 'TERMINATED' }));
    assert.deepEqual(ended.Sessions?.map((s) => s.SessionId), [ids[0]]);
    assert.equal(ended.Sessions?.[0]?.Status?.StateChangeReason, 'Session was terminated per request.');
    await athena.send(new TerminateSessionCommand({ SessionId: ids[1]! }));
  });

  it('terminates: a running calculation is canceled, an ended session is left alone', async () => {
    const sessionId = await idleSession();
    const calcId = await run(sessionId, 'wait');
    await eventually(() => calcState(calcId), (s) => s === 'RUNNING', 'RUNNING');
    const out = await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
    assert.equal(out.State, 'TERMINATING');
    await eventually(() => sessionState(sessionId), (s) => s === 'TERMINATED', 'TERMINATED');
    const calc = await athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: calcId }));
    assert.equal(calc.Status?.State, 'CANCELED');
    assert.equal(calc.Status?.StateChangeReason, 'canceled because the session was terminated');
    const session = await athena.send(new GetSessionCommand({ SessionId: sessionId }));
    assert.ok(session.Status?.EndDateTime instanceof Date);
    assert.equal((await athena.send(new TerminateSessionCommand({ SessionId: sessionId }))).State, 'TERMINATED');
    await assert.rejects(athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'x' })), /Session is in the TERMINATED state; needs to be IDLE to accept Calculations\./);
  });

  it('fails a session whose runner dies, with the reason, and its running calculation', async () => {
    const sessionId = await idleSession();
    const calcId = await run(sessionId, 'wait');
    await eventually(() => calcState(calcId), (s) => s === 'RUNNING', 'RUNNING');
    engine.runnerOf(sessionId).crash('The session runner exited unexpectedly (signal SIGKILL).');
    await eventually(() => sessionState(sessionId), (s) => s === 'FAILED', 'FAILED');
    const session = await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }));
    assert.equal(session.Status?.StateChangeReason, 'The session runner exited unexpectedly (signal SIGKILL).');
    const calc = await athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: calcId }));
    assert.equal(calc.Status?.State, 'FAILED');
    assert.match(calc.Status?.StateChangeReason ?? '', /session failed/);
  });

  it('kills the runner and fails the session when a calculation cannot be canceled in time', async () => {
    const sessionId = await idleSession();
    const calcId = await run(sessionId, 'stubborn');
    await eventually(() => calcState(calcId), (s) => s === 'RUNNING', 'RUNNING');
    const stop = await athena.send(new StopCalculationExecutionCommand({ CalculationExecutionId: calcId }));
    assert.equal(stop.State, 'CANCELING');
    await eventually(() => calcState(calcId), (s) => s === 'CANCELED', 'CANCELED after the deadline');
    const session = await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }));
    assert.equal(session.Status?.State, 'FAILED');
    assert.match(session.Status?.StateChangeReason ?? '', /could not be canceled within 0.3 seconds/);
    assert.equal(engine.runnerOf(sessionId).stopped, true);
    // Stopping an ended calculation succeeds and changes nothing.
    assert.equal((await athena.send(new StopCalculationExecutionCommand({ CalculationExecutionId: calcId }))).State, 'CANCELED');
  });

  it('terminates sessions idle longer than their timeout, counted from the last calculation', async () => {
    const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, SessionIdleTimeoutInMinutes: 1 }));
    const sessionId = started.SessionId!;
    await eventually(() => sessionState(sessionId), (s) => s === 'IDLE', 'IDLE');
    clock += 50_000;
    const calcId = await run(sessionId, 'wait');
    await eventually(() => calcState(calcId), (s) => s === 'RUNNING', 'RUNNING');
    clock += 120_000;
    assert.deepEqual(await owlet.sessions.reapIdleSessions(), [], 'never while BUSY');
    await athena.send(new StopCalculationExecutionCommand({ CalculationExecutionId: calcId }));
    await eventually(() => sessionState(sessionId), (s) => s === 'IDLE', 'IDLE');
    clock += 59_000;
    assert.deepEqual(await owlet.sessions.reapIdleSessions(), []);
    clock += 2_000;
    assert.deepEqual(await owlet.sessions.reapIdleSessions(), [sessionId]);
    await eventually(() => sessionState(sessionId), (s) => s === 'TERMINATED', 'TERMINATED');
    const status = await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }));
    assert.equal(status.Status?.StateChangeReason, 'Session was terminated per request.');
  });

  it('refuses what Athena refuses at StartSession', async () => {
    await rejectsWith(athena.send(new StartSessionCommand({ WorkGroup: 'primary', EngineConfiguration: {} })), InvalidRequestException, 'Workgroup EngineVersion is not Spark.');
    await assert.rejects(athena.send(new StartSessionCommand({ WorkGroup: 'nope', EngineConfiguration: {} })), /WorkGroup nope is not found\./);
    await assert.rejects(
      athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: { AdditionalConfigs: { NotebookId: '00000000-0000-0000-0000-000000000000' } } })),
      /NotebookVersion is required when NotebookId is provided\./,
    );
    await assert.rejects(athena.send(new GetSessionCommand({ SessionId: 'no-such-session' })), (e: unknown) => e instanceof InvalidRequestException);
    await assert.rejects(athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: 'no-such-calc' })), (e: unknown) => e instanceof InvalidRequestException);
  });

  it('applies spark-defaults classifications under SparkProperties, and refuses any other classification', async () => {
    const engineConfiguration: EngineConfiguration = {
      Classifications: [
        { Name: 'spark-defaults', Properties: { 'spark.sql.shuffle.partitions': '7', 'spark.executor.cores': '1', 'spark.ui.enabled': 'false' } },
        { Name: 'spark-defaults', Properties: { 'spark.executor.cores': '2' } },
      ],
      SparkProperties: { 'spark.sql.shuffle.partitions': '9' },
    };
    const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: engineConfiguration }));
    await eventually(() => sessionState(started.SessionId!), (s) => s === 'IDLE', 'IDLE');
    const runner = engine.runners.find((r) => r.launch.sessionId === started.SessionId)!;
    // SparkProperties over spark-defaults, and a later classification over an earlier one.
    assert.deepEqual(ownSparkProperties(runner.launch.sparkProperties), { 'spark.sql.shuffle.partitions': '9', 'spark.executor.cores': '2', 'spark.ui.enabled': 'false' });
    assert.deepEqual((await athena.send(new GetSessionCommand({ SessionId: started.SessionId! }))).EngineConfiguration, engineConfiguration);
    await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));

    const before = engine.runners.length;
    const refusals: [Classification[], string][] = [
      [[{ Name: 'spark-defaults', Properties: {} }, { Name: 'spark-hive-site', Properties: { 'hive.metastore.uris': 'thrift://x:9083' } }], 'The classification spark-hive-site'],
      [[{ Name: 'athena-query-engine-properties', Properties: { 'max-dpu-count': '4' } }], 'The classification athena-query-engine-properties'],
      [[{ Properties: { 'spark.sql.shuffle.partitions': '7' } }], 'A classification without a Name'],
    ];
    for (const [classifications, named] of refusals) {
      await rejectsWith(
        athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: { Classifications: classifications } })),
        InvalidRequestException,
        `${named} cannot be applied to a Spark session; the classification Owlet applies is spark-defaults.`,
      );
    }
    assert.equal(engine.runners.length, before, 'a refused StartSession starts nothing');
  });

  it('answers TooManyRequestsException past the DPU capacity', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!);
    await assert.rejects(athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} })), (e: unknown) => {
      assert.ok(e instanceof TooManyRequestsException);
      assert.equal(e.Reason, 'CONCURRENT_QUERY_LIMIT_EXCEEDED');
      return true;
    });
    for (const id of ids) await athena.send(new TerminateSessionCommand({ SessionId: id }));
  });

  it('honours ClientRequestToken: same parameters, same answer; other parameters, refused', async () => {
    const token = 'a'.repeat(32);
    const first = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, ClientRequestToken: token }));
    const again = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, ClientRequestToken: token }));
    assert.equal(again.SessionId, first.SessionId);
    await assert.rejects(athena.send(new StartSessionCommand({ WorkGroup: 'spark', Description: 'other', EngineConfiguration: {}, ClientRequestToken: token })), (e: unknown) => {
      assert.ok(e instanceof InvalidRequestException);
      assert.equal(e.message, 'Idempotent parameters do not match');
      assert.equal(e.AthenaErrorCode, 'IDEMPOTENT_PARAMETER_MISMATCH');
      return true;
    });
    await eventually(() => sessionState(first.SessionId!), (s) => s === 'IDLE', 'IDLE');
    const calcToken = 'b'.repeat(40);
    const c1 = await athena.send(new StartCalculationExecutionCommand({ SessionId: first.SessionId!, CodeBlock: 'x', ClientRequestToken: calcToken }));
    const c2 = await athena.send(new StartCalculationExecutionCommand({ SessionId: first.SessionId!, CodeBlock: 'x', ClientRequestToken: calcToken }));
    assert.equal(c2.CalculationExecutionId, c1.CalculationExecutionId);
    await athena.send(new TerminateSessionCommand({ SessionId: first.SessionId! }));
  });

  it('takes the deprecated CalculationConfiguration.CodeBlock, but not both', async () => {
    const sessionId = await idleSession();
    const id = (await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CalculationConfiguration: { CodeBlock: 'old' } }))).CalculationExecutionId!;
    await eventually(() => calcState(id), (s) => s === 'COMPLETED', 'COMPLETED');
    await assert.rejects(
      athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'a', CalculationConfiguration: { CodeBlock: 'b' } })),
      /either CodeBlock or CalculationConfiguration.CodeBlock, not both/,
    );
    await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
  });

  it('DeleteWorkGroup with RecursiveDeleteOption refuses while a session is live, then deletes the sessions with their calculations', async () => {
    // Found by the fuzzer: deleting the records of a live session left its runner running and its
    // calculations stuck in QUEUED or RUNNING, their session gone.
    const configuration = { EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3' }, ExecutionRole: 'arn:aws:iam::123456789012:role/OwletSparkRole' };
    await athena.send(new CreateWorkGroupCommand({ Name: 'deleted-with-sessions', Configuration: configuration }));
    const started = await athena.send(new StartSessionCommand({ WorkGroup: 'deleted-with-sessions', EngineConfiguration: {} }));
    const sessionId = started.SessionId!;
    await eventually(() => sessionState(sessionId), (s) => s === 'IDLE', 'IDLE');
    const calcId = await run(sessionId, 'wait');
    await rejectsWith(
      athena.send(new DeleteWorkGroupCommand({ WorkGroup: 'deleted-with-sessions', RecursiveDeleteOption: true })),
      InvalidRequestException,
      `WorkGroup deleted-with-sessions has an active session (${sessionId}); terminate its sessions before deleting the workgroup.`,
    );
    assert.equal(await calcState(calcId), 'RUNNING');
    await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
    await eventually(() => sessionState(sessionId), (s) => s === 'TERMINATED', 'TERMINATED');
    await athena.send(new DeleteWorkGroupCommand({ WorkGroup: 'deleted-with-sessions', RecursiveDeleteOption: true }));
    await rejectsWith(athena.send(new GetSessionCommand({ SessionId: sessionId })), InvalidRequestException, `Session ${sessionId} is not found.`);
    await rejectsWith(athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: calcId })), InvalidRequestException, `Calculation ${calcId} is not found.`);
  });
});

describe('a restart', () => {
  it('fails the sessions the store still calls live, and reclaims their runners', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'owlet-restart-'));
    try {
      const store = new SqliteStateStore({ path: join(dataDir, 'state.sqlite') });
      const now = Date.now();
      const body: SessionRecord = {
        SessionId: 'left-behind',
        WorkGroup: 'spark',
        EngineVersion: 'PySpark engine version 3',
        EngineConfiguration: {},
        WorkingDirectory: 's3://owlet-results/spark/left-behind/',
        IdleTimeoutMinutes: 20,
        Dpus: 1,
        Status: { State: 'IDLE', StartDateTime: now, LastModifiedDateTime: now, IdleSinceDateTime: now },
        DpuExecutionInMillis: 0,
        Runner: { pid: 424242, dir: join(dataDir, 'sessions', 'left-behind') },
      };
      await store.create({ kind: 'session', id: 'left-behind', parent: 'spark', state: 'IDLE', createdAt: now, body });
      await store.close();
      const engine = new FakeEngine();
      const owlet = await startTestOwlet({ dataDir, engine });
      try {
        const status = await owlet.client().send(new GetSessionStatusCommand({ SessionId: 'left-behind' }));
        assert.equal(status.Status?.State, 'FAILED');
        assert.equal(status.Status?.StateChangeReason, 'The Owlet server restarted and could not reach the session.');
        assert.deepEqual(engine.reclaimed, [424242]);
      } finally {
        await owlet.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a graceful stop and a new server on the same data directory', () => {
  // One engine for both servers stands for runners that outlive the server process.
  let engine: FakeEngine;
  let dataDir: string;
  let clock = Date.now();
  const servers: TestOwlet[] = [];

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'owlet-graceful-'));
  });
  after(async () => {
    for (const s of servers) await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function serve(config: Partial<TestOwlet['config']> = {}): Promise<{ owlet: TestOwlet; athena: AthenaClient }> {
    const owlet = await startTestOwlet({
      dataDir,
      engine,
      now: () => clock,
      reaperIntervalMs: 3_600_000,
      config: { terminateSessionsOnExit: false, cancelDeadlineMs: 60_000, ...config },
    });
    servers.push(owlet);
    return { owlet, athena: owlet.client() };
  }
  const state = async (athena: AthenaClient, id: string) => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State;
  const calculation = async (athena: AthenaClient, id: string) =>
    (await athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: id })));

  it('leaves the runner running; a calculation that ends meanwhile lands, once, and tokens still hold', async () => {
    engine = new FakeEngine();
    let { owlet, athena } = await serve();
    const token = 'restart-token-'.padEnd(40, 'x');
    const sessionId = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, ClientRequestToken: token }))).SessionId!;
    await eventually(() => state(athena, sessionId), (s) => s === 'IDLE', 'IDLE');
    const calcToken = 'calc-token-'.padEnd(40, 'y');
    const calcId = (await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'wait', ClientRequestToken: calcToken })))
      .CalculationExecutionId!;
    await eventually(async () => (await calculation(athena, calcId)).Status?.State, (s) => s === 'RUNNING', 'RUNNING');
    await owlet.stop();
    const runner = engine.runnerOf(sessionId);
    assert.equal(runner.stopped, false, 'the runner outlives the server');
    runner.complete(calcId);

    ({ owlet, athena } = await serve());
    const landed = await eventually(() => calculation(athena, calcId), (c) => c.Status?.State === 'COMPLETED', 'COMPLETED');
    assert.ok(landed.Result?.StdOutS3Uri);
    await eventually(() => state(athena, sessionId), (s) => s === 'IDLE', 'IDLE');
    // The same tokens answer what they answered before the restart, and create nothing.
    const again = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, ClientRequestToken: token }));
    assert.equal(again.SessionId, sessionId);
    const calcAgain = await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'wait', ClientRequestToken: calcToken }));
    assert.equal(calcAgain.CalculationExecutionId, calcId);
    const listed = await athena.send(new ListCalculationExecutionsCommand({ SessionId: sessionId }));
    assert.equal(listed.Calculations?.length, 1);
    const sessions = await athena.send(new ListSessionsCommand({ WorkGroup: 'spark' }));
    assert.equal(sessions.Sessions?.filter((s) => s.SessionId === sessionId).length, 1);
    // The session carries on.
    const next = (await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'print(1)' }))).CalculationExecutionId!;
    await eventually(async () => (await calculation(athena, next)).Status?.State, (s) => s === 'COMPLETED', 'COMPLETED');
    await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
    await owlet.stop();
  });

  it('keeps a cancel deadline across the restart', async () => {
    engine = new FakeEngine();
    let { owlet, athena } = await serve({ cancelDeadlineMs: 2_000 });
    const sessionId = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
    await eventually(() => state(athena, sessionId), (s) => s === 'IDLE', 'IDLE');
    const calcId = (await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'stubborn' }))).CalculationExecutionId!;
    await eventually(async () => (await calculation(athena, calcId)).Status?.State, (s) => s === 'RUNNING', 'RUNNING');
    assert.equal((await athena.send(new StopCalculationExecutionCommand({ CalculationExecutionId: calcId }))).State, 'CANCELING');
    await owlet.stop();
    // The new server starts after the deadline has passed: it acts on it at once.
    clock += 5_000;
    ({ owlet, athena } = await serve({ cancelDeadlineMs: 2_000 }));
    await eventually(() => state(athena, sessionId), (s) => s === 'FAILED', 'FAILED');
    const session = await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }));
    assert.match(session.Status?.StateChangeReason ?? '', /could not be canceled within 2 seconds/);
    assert.equal((await calculation(athena, calcId)).Status?.State, 'CANCELED');
    assert.equal(engine.runnerOf(sessionId).stopped, true);
    await owlet.stop();
  });

  it('records TERMINATED, with the idle reason, a session whose runner ended itself for its idle timeout meanwhile', async () => {
    engine = new FakeEngine();
    let { owlet, athena } = await serve({ idleMinuteMs: 1_000 });
    const sessionId = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, SessionIdleTimeoutInMinutes: 3 }))).SessionId!;
    await eventually(() => state(athena, sessionId), (s) => s === 'IDLE', 'IDLE');
    const runner = engine.runnerOf(sessionId);
    // The runner is told its idle timeout, to count alone.
    assert.equal(runner.idleTimeoutMs, 3_000);
    // A calculation runs when the server stops, ends while no server is attached, and the runner ends later.
    const calcId = (await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'wait' }))).CalculationExecutionId!;
    await eventually(async () => (await calculation(athena, calcId)).Status?.State, (s) => s === 'RUNNING', 'RUNNING');
    await owlet.stop();
    runner.complete(calcId);
    const endedAt = clock + 4_000;
    runner.endIdle(endedAt);
    clock += 10_000;

    ({ owlet, athena } = await serve({ idleMinuteMs: 1_000 }));
    const status = (await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }))).Status!;
    assert.equal(status.State, 'TERMINATED');
    assert.equal(status.StateChangeReason, 'Session was terminated per request.');
    assert.equal(status.EndDateTime?.getTime(), endedAt);
    const calc = await calculation(athena, calcId);
    assert.equal(calc.Status?.State, 'COMPLETED', 'the calculation it finished meanwhile landed');
    assert.ok((calc.Statistics?.DpuExecutionInMillis ?? 0) > 0);
    assert.ok(engine.reclaimed.includes(runner.pid));
    await owlet.stop();
  });

  it('still fails a session whose runner is gone without having ended itself', async () => {
    engine = new FakeEngine();
    let { owlet, athena } = await serve();
    const sessionId = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
    await eventually(() => state(athena, sessionId), (s) => s === 'IDLE', 'IDLE');
    await owlet.stop();
    engine.runnerOf(sessionId).kill();
    ({ owlet, athena } = await serve());
    const status = (await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }))).Status!;
    assert.equal(status.State, 'FAILED');
    assert.equal(status.StateChangeReason, 'The Owlet server restarted and could not reach the session.');
    await owlet.stop();
  });

  it('ends every session when asked to terminate sessions on exit', async () => {
    engine = new FakeEngine();
    let { owlet, athena } = await serve({ terminateSessionsOnExit: true });
    const sessionId = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
    await eventually(() => state(athena, sessionId), (s) => s === 'IDLE', 'IDLE');
    await owlet.stop();
    assert.equal(engine.runnerOf(sessionId).stopped, true);
    ({ owlet, athena } = await serve());
    const status = await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }));
    assert.equal(status.Status?.State, 'TERMINATED');
    assert.equal(status.Status?.StateChangeReason, 'Session was terminated because the Owlet server stopped.');
    await owlet.stop();
  });
});

describe('retention of ended sessions', () => {
  it('deletes sessions ended longer ago than the retention time, with their calculations, tokens and directories', async () => {
    let clock = Date.now();
    const day = 86_400_000;
    const owlet = await startTestOwlet({ engine: new FakeEngine(), now: () => clock, reaperIntervalMs: 3_600_000, config: { sessionRetentionMs: 7 * day } });
    try {
      const athena = owlet.client();
      const state = async (id: string) => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State;
      async function sessionWithACalculation(token?: string): Promise<{ sessionId: string; calcId: string }> {
        const sessionId = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, ...(token ? { ClientRequestToken: token } : {}) }))).SessionId!;
        await eventually(() => state(sessionId), (s) => s === 'IDLE', 'IDLE');
        const calcId = (await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: 'print(1)' }))).CalculationExecutionId!;
        await eventually(() => state(sessionId), (s) => s === 'IDLE', 'IDLE after the calculation');
        return { sessionId, calcId };
      }
      const old = await sessionWithACalculation('old-token'.padEnd(32, '0'));
      await athena.send(new TerminateSessionCommand({ SessionId: old.sessionId }));
      await eventually(() => state(old.sessionId), (s) => s === 'TERMINATED', 'TERMINATED');
      const live = await sessionWithACalculation();
      const oldEnded = clock;
      // Within the fifteen minutes a signature's time may be off by.
      clock += 10 * 60_000;
      const recent = await sessionWithACalculation();
      await athena.send(new TerminateSessionCommand({ SessionId: recent.sessionId }));
      await eventually(() => state(recent.sessionId), (s) => s === 'TERMINATED', 'TERMINATED');

      // A week and five minutes after the first session ended, the second ended five minutes ago.
      const sweptAt = oldEnded + 7 * day + 5 * 60_000;
      assert.deepEqual(await owlet.retention.sweep(sweptAt), { sessions: 1, calculations: 1, tokens: 1 });
      await rejectsWith(athena.send(new GetSessionCommand({ SessionId: old.sessionId })), InvalidRequestException, `Session ${old.sessionId} is not found.`);
      await assert.rejects(athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: old.calcId })));
      assert.equal(existsSync(join(owlet.dataDir, 'sessions', old.sessionId)), false);
      // The live session (however old) and the one that ended within the retention time are kept whole.
      for (const kept of [live, recent]) {
        assert.ok(await athena.send(new GetSessionCommand({ SessionId: kept.sessionId })));
        assert.equal((await athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: kept.calcId }))).Status?.State, 'COMPLETED');
      }
      // The forgotten token starts a new session.
      const again = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, ClientRequestToken: 'old-token'.padEnd(32, '0') }));
      assert.notEqual(again.SessionId, old.sessionId);
      assert.deepEqual(await owlet.retention.sweep(sweptAt), { sessions: 0, calculations: 0, tokens: 0 });
    } finally {
      await owlet.stop();
    }
  });
});
