// The warm pool on the fake engine: a ready runner handed to StartSession, settings that need a fresh JVM
// starting cold, the pool within the DPU capacity, and the pool emptying itself when unused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AthenaClient,
  CreateWorkGroupCommand,
  GetSessionStatusCommand,
  StartSessionCommand,
  TerminateSessionCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-athena';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { ownSparkProperties, type TestOwlet, type TestOwletOptions, startTestOwlet } from './harness.js';

/** Polls `condition` until it holds; the deadline is generous, as `eventually`'s (assertions.ts). */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function withOwlet(engine: FakeEngine, config: TestOwletOptions['config'], test: (owlet: TestOwlet, athena: AthenaClient) => Promise<void>, now?: () => number): Promise<void> {
  const owlet = await startTestOwlet({ engine, config, ...(now ? { now } : {}) });
  try {
    await test(owlet, owlet.client());
  } finally {
    await owlet.stop();
  }
}

const state = async (athena: AthenaClient, id: string) => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State;
const live = (engine: FakeEngine) => engine.runners.filter((r) => !r.stopped);

describe('warm pool', () => {
  it('hands a ready runner to StartSession, which answers IDLE, and refills', async () => {
    const engine = new FakeEngine();
    await withOwlet(engine, { warmPoolSize: 1 }, async (_owlet, athena) => {
      await until(() => engine.runners.length === 1, 'a pooled runner');
      const pooled = engine.runners[0]!;
      assert.equal(pooled.launch.sessionId, undefined, 'started before any session');
      assert.match(pooled.dir, /\/pool-[0-9a-f-]+$/);
      await new Promise((resolve) => setImmediate(resolve));
      const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: { SparkProperties: { 'spark.sql.shuffle.partitions': '4' } } }));
      assert.equal(started.State, 'IDLE');
      assert.equal(pooled.configuredFor, started.SessionId);
      await until(() => engine.runners.length === 2, 'the pool to refill');
      await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));
    });
  });

  it('starts a session cold when its settings need a fresh JVM', async () => {
    const engine = new FakeEngine();
    await withOwlet(engine, { warmPoolSize: 1 }, async (_owlet, athena) => {
      await until(() => engine.runners.length === 1, 'a pooled runner');
      await new Promise((resolve) => setImmediate(resolve));
      const pooled = engine.runners[0]!;
      const started = await athena.send(
        new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: { SparkProperties: { 'spark.driver.memory': '2g' } } }),
      );
      assert.equal(started.State, 'CREATING');
      assert.equal(pooled.stopped, true, 'the pooled runner was given up');
      await until(async () => (await state(athena, started.SessionId!)) === 'IDLE', 'IDLE');
      const cold = engine.runners.find((r) => r.launch.sessionId === started.SessionId);
      assert.deepEqual(ownSparkProperties(cold?.launch.sparkProperties ?? {}), { 'spark.driver.memory': '2g' });
      await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));
    });
  });

  it('honours spark-defaults classifications as it honours SparkProperties', async () => {
    const engine = new FakeEngine();
    await withOwlet(engine, { warmPoolSize: 1 }, async (_owlet, athena) => {
      await until(() => engine.runners.length === 1, 'a pooled runner');
      await new Promise((resolve) => setImmediate(resolve));
      const pooled = engine.runners[0]!;
      // A runtime setting: the pooled runner takes the session and applies it.
      const warm = await athena.send(
        new StartSessionCommand({
          WorkGroup: 'spark',
          EngineConfiguration: { Classifications: [{ Name: 'spark-defaults', Properties: { 'spark.sql.shuffle.partitions': '7' } }] },
        }),
      );
      assert.equal(warm.State, 'IDLE');
      assert.equal(pooled.configuredFor, warm.SessionId);
      assert.equal(pooled.configuredWith?.['spark.sql.shuffle.partitions'], '7');
      await until(() => live(engine).length === 2, 'the pool to refill');
      await until(() => engine.runners.at(-1)!.driver !== undefined, 'the new pooled runner to be ready');
      await new Promise((resolve) => setImmediate(resolve));
      const next = engine.runners.at(-1)!;
      // A setting Spark reads only at start: the session starts cold, with it.
      const cold = await athena.send(
        new StartSessionCommand({
          WorkGroup: 'spark',
          EngineConfiguration: { Classifications: [{ Name: 'spark-defaults', Properties: { 'spark.driver.memory': '2g' } }] },
        }),
      );
      assert.equal(cold.State, 'CREATING');
      assert.equal(next.stopped, true, 'the pooled runner was given up');
      await until(async () => (await state(athena, cold.SessionId!)) === 'IDLE', 'IDLE');
      const launched = engine.runners.find((r) => r.launch.sessionId === cold.SessionId);
      assert.deepEqual(ownSparkProperties(launched?.launch.sparkProperties ?? {}), { 'spark.driver.memory': '2g' });
      for (const id of [warm.SessionId!, cold.SessionId!]) await athena.send(new TerminateSessionCommand({ SessionId: id }));
    });
  });

  it('stays within the DPU capacity, and gives way to sessions', async () => {
    const engine = new FakeEngine();
    await withOwlet(engine, { warmPoolSize: 1, dpuCapacity: 2 }, async (_owlet, athena) => {
      await until(() => engine.runners.length === 1, 'a pooled runner');
      await new Promise((resolve) => setImmediate(resolve));
      const a = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
      assert.equal(a.State, 'IDLE');
      await until(() => live(engine).length === 2, 'the pool to refill into the free DPU');
      await new Promise((resolve) => setImmediate(resolve));
      const b = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
      assert.equal(b.State, 'IDLE');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(live(engine).length, 2, 'no room for the pool now');
      await assert.rejects(athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} })), (e: unknown) => e instanceof TooManyRequestsException);
      await athena.send(new TerminateSessionCommand({ SessionId: a.SessionId! }));
      await until(() => live(engine).length === 2, 'the pool to take the freed DPU');
      await athena.send(new TerminateSessionCommand({ SessionId: b.SessionId! }));
    });
  });

  it('gives up a runner still starting rather than refuse a session', async () => {
    const engine = new FakeEngine();
    engine.autoReady = false;
    await withOwlet(engine, { warmPoolSize: 1, dpuCapacity: 1 }, async (_owlet, athena) => {
      await until(() => engine.runners.length === 1, 'a pooled runner');
      const starting = engine.runners[0]!;
      const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
      assert.equal(started.State, 'CREATING');
      assert.equal(starting.stopped, true);
      const cold = engine.runners.find((r) => r.launch.sessionId === started.SessionId)!;
      engine.ready(cold);
      await until(async () => (await state(athena, started.SessionId!)) === 'IDLE', 'IDLE');
      await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));
    });
  });

  it('does not retry at once a pooled runner that failed to start', async () => {
    const engine = new FakeEngine();
    engine.failStart = 'java not found';
    await withOwlet(engine, { warmPoolSize: 1 }, async () => {
      await until(() => engine.runners.length === 1, 'a pooled runner');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(engine.runners.length, 1);
    });
  });

  it('empties itself after a long time without sessions, and fills again on demand', async () => {
    const engine = new FakeEngine();
    let clock = Date.now();
    await withOwlet(
      engine,
      { warmPoolSize: 1, warmPoolShrinkMinutes: 0.01 },
      async (_owlet, athena) => {
        await until(() => engine.runners.length === 1, 'a pooled runner');
        clock += 61_000;
        await until(() => engine.runners[0]!.stopped, 'the pool to empty');
        const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
        assert.equal(started.State, 'CREATING', 'cold: the pool was empty');
        await until(() => live(engine).length === 2, 'the pool to fill again');
        await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));
      },
      () => clock,
    );
  });

  it('stays warm through start and terminate cycles', async () => {
    const engine = new FakeEngine();
    await withOwlet(engine, { warmPoolSize: 1 }, async (_owlet, athena) => {
      for (let cycle = 0; cycle < 4; cycle++) {
        await until(() => engine.runners.some((r) => !r.stopped && r.sessionId === undefined), `a pooled runner before cycle ${cycle}`);
        await new Promise((resolve) => setImmediate(resolve));
        const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
        assert.equal(started.State, 'IDLE', `cycle ${cycle} was cold`);
        await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));
      }
    });
  });

  it('gives a pooled runner its session\'s warehouse: under the workgroup\'s output location, else the server\'s', async () => {
    const engine = new FakeEngine();
    await withOwlet(engine, { warmPoolSize: 1 }, async (owlet, athena) => {
      await until(() => engine.runners.length === 1, 'a pooled runner');
      await new Promise((resolve) => setImmediate(resolve));
      const pooled = engine.runners[0]!;
      // The seeded workgroup `spark` keeps results at s3://owlet-results/spark/.
      const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }));
      assert.equal(started.State, 'IDLE');
      assert.equal(pooled.configuredWith?.['spark.sql.warehouse.dir'], 's3://owlet-results/spark/spark-warehouse');
      await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));

      await athena.send(new CreateWorkGroupCommand({ Name: 'no-output', Configuration: { EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3' }, ExecutionRole: 'arn:aws:iam::123456789012:role/spark' } }));
      await until(() => live(engine).length === 1 && engine.runners.at(-1)!.driver !== undefined, 'a ready pooled runner');
      await new Promise((resolve) => setImmediate(resolve));
      const next = engine.runners.at(-1)!;
      const plain = await athena.send(new StartSessionCommand({ WorkGroup: 'no-output', EngineConfiguration: {} }));
      assert.equal(plain.State, 'IDLE');
      assert.equal(next.configuredWith?.['spark.sql.warehouse.dir'], owlet.config.catalogWarehouse);
      await athena.send(new TerminateSessionCommand({ SessionId: plain.SessionId! }));
    });
  });
});
