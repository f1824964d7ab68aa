// ListExecutors, GetResourceDashboard, GetSessionEndpoint and CreatePresignedNotebookUrl through
// @aws-sdk/client-athena on the fake engine, and the Spark Connect proxy in front of a stand-in for a driver's
// Spark Connect server (a small HTTP/2 server answering as gRPC does). test/python/test_session_endpoints.py
// runs the same operations on real PySpark with a real Spark Connect client.
import assert from 'node:assert/strict';
import { connect as connectHttp2 } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import {
  type AthenaClient,
  CreatePresignedNotebookUrlCommand,
  GetResourceDashboardCommand,
  GetSessionEndpointCommand,
  GetSessionStatusCommand,
  InvalidRequestException,
  ListExecutorsCommand,
  ResourceNotFoundException,
  StartSessionCommand,
  TerminateSessionCommand,
} from '@aws-sdk/client-athena';
import { sessionArn } from '../src/api/session-endpoints.js';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { eventually } from './assertions.js';
import { type TestOwlet, startTestOwlet } from './harness.js';
import { call, DRIVER_TOKEN, FakeConnectServer } from './support/spark-connect.js';

const TOKEN_LIFETIME_MS = 5 * 60_000;

async function refusedWith(promise: Promise<unknown>, type: new (...args: never[]) => Error, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe('the session calls about a driver, on the fake engine', () => {
  let owlet: TestOwlet;
  let athena: AthenaClient;
  const fakeConnect = new FakeConnectServer();
  const engine = new FakeEngine();
  // Real time plus what a test adds: request signatures allow 15 minutes of skew, tokens last 5.
  let skew = 0;

  before(async () => {
    engine.connect = { port: await fakeConnect.listen(), token: DRIVER_TOKEN };
    // The idle reaper runs when a test says.
    owlet = await startTestOwlet({ engine, now: () => Date.now() + skew, reaperIntervalMs: 3_600_000, connect: { tokenLifetimeMs: TOKEN_LIFETIME_MS } });
    athena = owlet.client();
  });
  after(async () => {
    await owlet.stop();
    await fakeConnect.close();
  });

  const sessionState = async (id: string) => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State;
  async function idleSession(): Promise<string> {
    const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
    await eventually(() => sessionState(started.SessionId!), (s) => s === 'IDLE', 'IDLE');
    return started.SessionId!;
  }
  async function terminated(id: string): Promise<void> {
    await athena.send(new TerminateSessionCommand({ SessionId: id }));
    await eventually(() => sessionState(id), (s) => s === 'TERMINATED', 'TERMINATED');
  }
  const arn = (id: string, workGroup = 'spark', account = '123456789012') => sessionArn('us-east-1', account, workGroup, id);

  describe('ListExecutors', () => {
    it('lists the coordinator of a live session, as Spark reports its driver', async () => {
      const id = await idleSession();
      const before = Date.now();
      const listed = await athena.send(new ListExecutorsCommand({ SessionId: id }));
      assert.equal(listed.SessionId, id);
      assert.equal(listed.NextToken, undefined);
      assert.equal(listed.ExecutorsSummary?.length, 1);
      const [coordinator] = listed.ExecutorsSummary!;
      assert.equal(coordinator?.ExecutorId, 'driver');
      assert.equal(coordinator?.ExecutorType, 'COORDINATOR');
      assert.equal(coordinator?.ExecutorState, 'REGISTERED');
      assert.equal(coordinator?.ExecutorSize, 1);
      assert.equal(coordinator?.TerminationDateTime, undefined);
      // A long in epoch milliseconds.
      assert.ok(Number.isInteger(coordinator?.StartDateTime) && Math.abs(coordinator!.StartDateTime! - before) < 60_000, String(coordinator?.StartDateTime));
      await terminated(id);
    });

    it('lists workers newest first, filters by state and pages', async () => {
      const id = await idleSession();
      const runner = engine.runnerOf(id);
      const base = runner.driver!.startedAt! + 1000;
      const worker = (n: number, active = true) => ({
        id: String(n), isDriver: false, hostPort: `10.0.0.${n}:7000`, active, addTime: base + n * 1000, totalCores: 4, maxMemory: 1,
        ...(active ? {} : { removeTime: base + n * 1000 + 500, removeReason: 'lost' }),
      });
      runner.workers.push(worker(1, false), worker(2), worker(3));
      const all = (await athena.send(new ListExecutorsCommand({ SessionId: id }))).ExecutorsSummary!;
      assert.deepEqual(all.map((e) => [e.ExecutorId, e.ExecutorType, e.ExecutorState]), [
        ['3', 'WORKER', 'REGISTERED'],
        ['2', 'WORKER', 'REGISTERED'],
        ['1', 'WORKER', 'TERMINATED'],
        ['driver', 'COORDINATOR', 'REGISTERED'],
      ]);
      assert.equal(all[2]?.TerminationDateTime, base + 1500);
      const ended = await athena.send(new ListExecutorsCommand({ SessionId: id, ExecutorStateFilter: 'TERMINATED' }));
      assert.deepEqual(ended.ExecutorsSummary?.map((e) => e.ExecutorId), ['1']);
      const first = await athena.send(new ListExecutorsCommand({ SessionId: id, MaxResults: 3 }));
      assert.deepEqual(first.ExecutorsSummary?.map((e) => e.ExecutorId), ['3', '2', '1']);
      assert.ok(first.NextToken);
      const second = await athena.send(new ListExecutorsCommand({ SessionId: id, MaxResults: 3, NextToken: first.NextToken }));
      assert.deepEqual(second.ExecutorsSummary?.map((e) => e.ExecutorId), ['driver']);
      assert.equal(second.NextToken, undefined);
      // A token belongs to its listing.
      await refusedWith(
        athena.send(new ListExecutorsCommand({ SessionId: id, ExecutorStateFilter: 'REGISTERED', NextToken: first.NextToken })),
        InvalidRequestException,
        'The NextToken provided is not valid for this request.',
      );
      await terminated(id);
    });

    it('still lists the coordinator when Spark cannot be asked', async () => {
      const id = await idleSession();
      engine.runnerOf(id).executorsFailure = 'py4j is gone';
      const listed = (await athena.send(new ListExecutorsCommand({ SessionId: id }))).ExecutorsSummary!;
      assert.deepEqual(listed.map((e) => [e.ExecutorId, e.ExecutorState]), [['driver', 'REGISTERED']]);
      await terminated(id);
    });

    it('lists the coordinator of an ended session as TERMINATED, with the session end as its termination', async () => {
      const id = await idleSession();
      const started = (await athena.send(new ListExecutorsCommand({ SessionId: id }))).ExecutorsSummary![0]!.StartDateTime;
      await terminated(id);
      const [coordinator] = (await athena.send(new ListExecutorsCommand({ SessionId: id }))).ExecutorsSummary!;
      const end = (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.EndDateTime;
      assert.equal(coordinator?.ExecutorState, 'TERMINATED');
      assert.equal(coordinator?.StartDateTime, started);
      assert.equal(coordinator?.TerminationDateTime, end?.getTime());
      const filtered = await athena.send(new ListExecutorsCommand({ SessionId: id, ExecutorStateFilter: 'REGISTERED' }));
      assert.deepEqual(filtered.ExecutorsSummary, []);
    });

    it('lists a starting coordinator as CREATING, and one that never came up as FAILED', async () => {
      engine.autoReady = false;
      try {
        const starting = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
        const [creating] = (await athena.send(new ListExecutorsCommand({ SessionId: starting }))).ExecutorsSummary!;
        assert.equal(creating?.ExecutorState, 'CREATING');
        engine.runnerOf(starting).crash();
        await eventually(() => sessionState(starting), (s) => s === 'FAILED', 'FAILED');
        const [failed] = (await athena.send(new ListExecutorsCommand({ SessionId: starting }))).ExecutorsSummary!;
        assert.equal(failed?.ExecutorState, 'FAILED');
      } finally {
        engine.autoReady = true;
      }
    });

    it('refuses an unknown session as the other session calls do', async () => {
      await refusedWith(athena.send(new ListExecutorsCommand({ SessionId: 'no-such-session' })), InvalidRequestException, 'Session no-such-session is not found.');
    });
  });

  describe('GetResourceDashboard', () => {
    it('gives the live Spark UI of a session named by its ARN or its id', async () => {
      const id = await idleSession();
      const ui = engine.runnerOf(id).driver!.sparkUi!;
      assert.match(ui, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await athena.send(new GetResourceDashboardCommand({ ResourceARN: arn(id) }))).Url, ui);
      assert.equal((await athena.send(new GetResourceDashboardCommand({ ResourceARN: id }))).Url, ui);
      // Any region names this server, as for tags.
      assert.equal((await athena.send(new GetResourceDashboardCommand({ ResourceARN: sessionArn('eu-west-1', '123456789012', 'spark', id) }))).Url, ui);
      await terminated(id);
      await refusedWith(
        athena.send(new GetResourceDashboardCommand({ ResourceARN: arn(id) })),
        InvalidRequestException,
        `Session ${id} is in the TERMINATED state: its live Spark UI stopped with it, and Owlet keeps no Spark history server, so an ended session has no dashboard.`,
      );
    });

    it('refuses an ARN of another account or workgroup, an unknown session, and what is not a session ARN', async () => {
      const id = await idleSession();
      for (const resource of [arn(id, 'spark', '999999999999'), arn(id, 'primary'), arn('no-such-session'), 'no-such-session']) {
        await refusedWith(athena.send(new GetResourceDashboardCommand({ ResourceARN: resource })), ResourceNotFoundException, `Resource ${resource} is not found.`);
      }
      await refusedWith(
        athena.send(new GetResourceDashboardCommand({ ResourceARN: 'arn:aws:athena:us-east-1:123456789012:workgroup/spark' })),
        InvalidRequestException,
        /is not a session ARN/,
      );
      await terminated(id);
    });

    it('says a starting session has no Spark UI yet', async () => {
      engine.autoReady = false;
      try {
        const id = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
        await refusedWith(athena.send(new GetResourceDashboardCommand({ ResourceARN: id })), InvalidRequestException, `Session ${id} is in the CREATING state; its Spark UI is up once it is IDLE.`);
        await athena.send(new TerminateSessionCommand({ SessionId: id }));
      } finally {
        engine.autoReady = true;
      }
    });
  });

  describe('GetSessionEndpoint and the Spark Connect proxy', () => {
    it('hands out an sc:// endpoint and a token that expires; the proxy forwards calls with the driver\'s token', async () => {
      const id = await idleSession();
      const asked = Date.now() + skew;
      const endpoint = await athena.send(new GetSessionEndpointCommand({ SessionId: id }));
      const answeredAt = Date.now() + skew;
      assert.equal(endpoint.EndpointUrl, owlet.connectEndpoint);
      assert.match(endpoint.EndpointUrl!, /^sc:\/\/127\.0\.0\.1:\d+$/);
      assert.match(endpoint.AuthToken!, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(endpoint.AuthTokenExpirationTime instanceof Date);
      // Issued between the call and its answer, however long that took (whole seconds on the wire).
      const expires = endpoint.AuthTokenExpirationTime.getTime();
      assert.ok(expires >= Math.floor((asked + TOKEN_LIFETIME_MS) / 1000) * 1000 && expires <= answeredAt + TOKEN_LIFETIME_MS + 1000, String(expires));

      const answered = await call(endpoint.EndpointUrl!, '/spark.connect.SparkConnectService/ExecutePlan', { 'x-aws-proxy-auth': endpoint.AuthToken!, 'x-custom': 'kept' });
      assert.equal(answered.status, '0');
      assert.equal(answered.headers[':status'], 200);
      assert.equal(answered.headers['x-echo'], 'yes');
      assert.equal(answered.trailers['x-trailer'], 'done');
      assert.equal(answered.body.length, 5 + 3 * 1024 * 1024);
      assert.equal(answered.body.subarray(0, 5).toString(), 'hello');
      const reached = fakeConnect.calls.at(-1)!;
      assert.equal(reached.authorization, `Bearer ${DRIVER_TOKEN}`);
      assert.equal(reached['x-aws-proxy-auth'], undefined, 'the session token stays with the proxy');
      assert.equal(reached['x-custom'], 'kept');
      assert.equal(reached[':path'], '/spark.connect.SparkConnectService/ExecutePlan');

      // A token sent as a bearer token (sc://localhost:PORT/;token=...) is taken too.
      assert.equal((await call(endpoint.EndpointUrl!, '/Echo', { authorization: `Bearer ${endpoint.AuthToken}` })).status, '0');
      // The driver's own errors come through as they are.
      const failed = await call(endpoint.EndpointUrl!, '/Fail', { 'x-aws-proxy-auth': endpoint.AuthToken! });
      assert.deepEqual([failed.status, failed.message], ['3', 'bad plan']);

      const reachedBefore = fakeConnect.calls.length;
      const missing = await call(endpoint.EndpointUrl!, '/Echo', {});
      assert.equal(missing.status, '16');
      assert.match(missing.message!, /needs the AuthToken of GetSessionEndpoint in the x-aws-proxy-auth header/);
      const wrong = await call(endpoint.EndpointUrl!, '/Echo', { 'x-aws-proxy-auth': 'not-a-token' });
      assert.deepEqual([wrong.status, wrong.message], ['16', 'The Spark Connect token is not valid. Call GetSessionEndpoint for a new one.']);
      assert.equal(fakeConnect.calls.length, reachedBefore, 'refused calls never reach the driver');

      // Several tokens are valid at once; each expires on its own.
      skew += 2 * 60_000;
      const second = await athena.send(new GetSessionEndpointCommand({ SessionId: id }));
      assert.notEqual(second.AuthToken, endpoint.AuthToken);
      assert.equal((await call(endpoint.EndpointUrl!, '/Echo', { 'x-aws-proxy-auth': endpoint.AuthToken! })).status, '0');
      skew += TOKEN_LIFETIME_MS - 60_000;
      const expired = await call(endpoint.EndpointUrl!, '/Echo', { 'x-aws-proxy-auth': endpoint.AuthToken! });
      assert.deepEqual([expired.status, expired.message], ['16', 'The Spark Connect token has expired. Call GetSessionEndpoint for a new one.']);
      assert.equal((await call(endpoint.EndpointUrl!, '/Echo', { 'x-aws-proxy-auth': second.AuthToken! })).status, '0');
      skew = 0;

      await terminated(id);
      await refusedWith(
        athena.send(new GetSessionEndpointCommand({ SessionId: id })),
        InvalidRequestException,
        `Session ${id} is in the TERMINATED state; its Spark Connect endpoint ended with it.`,
      );
    });

    it('refuses the calls of a token whose session has ended', async () => {
      const id = await idleSession();
      const { EndpointUrl, AuthToken } = await athena.send(new GetSessionEndpointCommand({ SessionId: id }));
      await terminated(id);
      const ended = await call(EndpointUrl!, '/Echo', { 'x-aws-proxy-auth': AuthToken! });
      assert.deepEqual([ended.status, ended.message], ['9', `Session ${id} has ended; its Spark Connect endpoint ended with it.`]);
    });

    it('cancels the driver\'s call when the client goes away', async () => {
      const id = await idleSession();
      const { EndpointUrl, AuthToken } = await athena.send(new GetSessionEndpointCommand({ SessionId: id }));
      const session = connectHttp2(EndpointUrl!.replace(/^sc:/, 'http:'));
      const stream = session.request({ ':method': 'POST', ':path': '/Hang', 'content-type': 'application/grpc', te: 'trailers', 'x-aws-proxy-auth': AuthToken! });
      stream.end();
      await new Promise((resolve) => stream.once('data', resolve));
      session.destroy();
      await eventually(async () => fakeConnect.hungCallClosed, (closed) => closed, 'the driver\'s call to be cancelled');
      await terminated(id);
    });

    it('keeps a session used through Spark Connect from its idle timeout', async () => {
      const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {}, SessionIdleTimeoutInMinutes: 1 }));
      const id = started.SessionId!;
      await eventually(() => sessionState(id), (s) => s === 'IDLE', 'IDLE');
      const { EndpointUrl, AuthToken } = await athena.send(new GetSessionEndpointCommand({ SessionId: id }));
      const session = connectHttp2(EndpointUrl!.replace(/^sc:/, 'http:'));
      try {
        const stream = session.request({ ':method': 'POST', ':path': '/Hang', 'content-type': 'application/grpc', te: 'trailers', 'x-aws-proxy-auth': AuthToken! });
        stream.end();
        await new Promise((resolve) => stream.once('data', resolve));
        skew += 2 * 60_000;
        assert.deepEqual(await owlet.sessions.reapIdleSessions(), [], 'a call is under way');
        stream.close();
        await new Promise((resolve) => stream.once('close', resolve));
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(await owlet.sessions.reapIdleSessions(), [], 'the last call ended just now');
        skew += 2 * 60_000;
        assert.deepEqual(await owlet.sessions.reapIdleSessions(), [id]);
      } finally {
        session.destroy();
        skew = 0;
      }
      await eventually(() => sessionState(id), (s) => s === 'TERMINATED', 'TERMINATED');
    });

    it('says a session without a Spark Connect server has no endpoint, and a starting one has none yet', async () => {
      const saved = engine.connect;
      engine.connect = undefined;
      try {
        const id = await idleSession();
        await refusedWith(
          athena.send(new GetSessionEndpointCommand({ SessionId: id })),
          InvalidRequestException,
          `Session ${id} has no Spark Connect endpoint: the fake engine runs no Spark Connect server.`,
        );
        await terminated(id);
        engine.autoReady = false;
        const starting = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
        await refusedWith(
          athena.send(new GetSessionEndpointCommand({ SessionId: starting })),
          InvalidRequestException,
          `Session ${starting} is in the CREATING state; its Spark Connect endpoint is available once it is IDLE.`,
        );
        await athena.send(new TerminateSessionCommand({ SessionId: starting }));
      } finally {
        engine.connect = saved;
        engine.autoReady = true;
      }
      await refusedWith(athena.send(new GetSessionEndpointCommand({ SessionId: 'no-such-session' })), InvalidRequestException, 'Session no-such-session is not found.');
    });
  });

  it('CreatePresignedNotebookUrl of an unknown session is refused as the other session calls are', async () => {
    await refusedWith(athena.send(new CreatePresignedNotebookUrlCommand({ SessionId: 'any' })), InvalidRequestException, 'Session any is not found.');
  });
});

describe('a session from the warm pool, on the fake engine', () => {
  it('has the pooled driver\'s Spark UI, Spark Connect server and coordinator, joined when the session started', async () => {
    const fakeConnect = new FakeConnectServer();
    const engine = new FakeEngine();
    engine.connect = { port: await fakeConnect.listen(), token: DRIVER_TOKEN };
    const owlet = await startTestOwlet({ engine, config: { warmPoolSize: 1 } });
    try {
      const athena = owlet.client();
      await eventually(async () => engine.runners[0]?.driver, (driver) => driver !== undefined, 'a ready pooled runner');
      const pooled = engine.runners[0]!;
      const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
      assert.equal(started.State, 'IDLE');
      assert.equal(pooled.configuredFor, started.SessionId);
      const id = started.SessionId!;
      assert.equal((await athena.send(new GetResourceDashboardCommand({ ResourceARN: id }))).Url, pooled.driver!.sparkUi);
      const sessionStart = (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status!.StartDateTime!.getTime();
      const [coordinator] = (await athena.send(new ListExecutorsCommand({ SessionId: id }))).ExecutorsSummary!;
      assert.equal(coordinator?.StartDateTime, sessionStart);
      const { EndpointUrl, AuthToken } = await athena.send(new GetSessionEndpointCommand({ SessionId: id }));
      assert.equal((await call(EndpointUrl!, '/Echo', { 'x-aws-proxy-auth': AuthToken! })).status, '0');
      await athena.send(new TerminateSessionCommand({ SessionId: id }));
    } finally {
      await owlet.stop();
      await fakeConnect.close();
    }
  });
});
