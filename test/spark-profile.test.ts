// The Spark settings of sessions on cluster masters, without a cluster: what the DPU mapping generates for
// local, standalone and Kubernetes masters, the settings that configure it, a workgroup's own master through
// the API (on the fake engine), and the warm pool on a cluster master. Kubernetes itself is not run here;
// test/python/test_standalone_cluster_spark.py runs a real standalone cluster.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type AthenaClient,
  CreateWorkGroupCommand,
  GetSessionStatusCommand,
  InvalidRequestException,
  StartSessionCommand,
  TerminateSessionCommand,
} from '@aws-sdk/client-athena';
import { sessionCatalogProperties } from '../src/catalog/session-catalog.js';
import { DEFAULTS, loadConfig } from '../src/config/config.js';
import { FakeEngine } from '../src/engine/fake-engine.js';
import {
  SparkMasterNotAllowedError,
  type SparkSettings,
  settingsToHold,
  sparkLaunch,
  workGroupMaster,
} from '../src/engine/spark-profile.js';
import { eventually, rejectsWith } from './assertions.js';
import { type TestOwlet, startTestOwlet } from './harness.js';

const STANDALONE = 'spark://spark-master.example:7077';
const KUBERNETES = 'k8s://https://kubernetes.default.svc:443';

/** The server's settings with Athena's DPU and the given changes. */
function settings(changes: Partial<SparkSettings> = {}): SparkSettings {
  return { master: 'local[2]', driverMemory: '1g', ...DEFAULTS.sparkCluster, ...changes };
}

describe('the DPU mapping', () => {
  it('leaves a local-mode session as it was: the local driver heap and the session own properties', () => {
    assert.deepEqual(sparkLaunch(settings(), 'local[2]', { MaxConcurrentDpus: 20, SparkProperties: { 'spark.sql.shuffle.partitions': '4' } }), {
      master: 'local[2]',
      driverMemory: '1g',
      sparkProperties: { 'spark.sql.shuffle.partitions': '4' },
    });
  });

  it('puts every session, and so every pooled runner, on the catalog; a session may set its own catalog', () => {
    const catalog = sessionCatalogProperties({ metastorePort: 9083, warehouse: 'file:/data/warehouse' });
    assert.equal(catalog['spark.sql.catalogImplementation'], 'hive');
    assert.equal(catalog['spark.hadoop.hive.metastore.uris'], 'thrift://127.0.0.1:9083');
    const withCatalog = settings({ catalogProperties: catalog });
    const pooled = sparkLaunch(withCatalog, 'local[2]');
    assert.deepEqual(pooled.sparkProperties, catalog);
    // A session with no properties of its own holds what a pooled runner was started with.
    assert.deepEqual(settingsToHold(sparkLaunch(withCatalog, 'local[2]', {})), settingsToHold(pooled));
    assert.equal(sparkLaunch(withCatalog, STANDALONE).sparkProperties['spark.hadoop.hive.metastore.uris'], 'thrift://127.0.0.1:9083');
    const own = sparkLaunch(withCatalog, 'local[2]', { SparkProperties: { 'spark.sql.catalogImplementation': 'in-memory' } });
    assert.equal(own.sparkProperties['spark.sql.catalogImplementation'], 'in-memory');
  });

  it("sizes a standalone session's driver and executors in Athena's DPUs, up to MaxConcurrentDpus", () => {
    assert.deepEqual(sparkLaunch(settings(), STANDALONE, {}), {
      master: STANDALONE,
      // Athena's coordinator: 10g heap and 6g overhead, 4 cores.
      driverMemory: '10g',
      sparkProperties: {
        'spark.driver.cores': '4',
        'spark.driver.memoryOverhead': '6g',
        'spark.executor.cores': '4',
        'spark.executor.memory': '10g',
        'spark.executor.memoryOverhead': '6g',
        'spark.dynamicAllocation.enabled': 'true',
        'spark.dynamicAllocation.minExecutors': '0',
        // MaxConcurrentDpus defaults to 20, one of them the coordinator's.
        'spark.dynamicAllocation.maxExecutors': '19',
        'spark.dynamicAllocation.shuffleTracking.enabled': 'true',
        'spark.dynamicAllocation.executorIdleTimeout': '60s',
        'spark.cores.max': '76',
      },
    });
  });

  it('scales with the DPU the server is told of and the sizes the session asks for', () => {
    const small = settings({ dpuCores: 1, dpuMemory: '1g', executorIdleTimeout: '3s' });
    const { driverMemory, sparkProperties } = sparkLaunch(small, STANDALONE, { CoordinatorDpuSize: 1, DefaultExecutorDpuSize: 1, MaxConcurrentDpus: 2 });
    assert.equal(driverMemory, '640m');
    assert.equal(sparkProperties['spark.executor.memory'], '640m');
    assert.equal(sparkProperties['spark.executor.memoryOverhead'], '384m');
    assert.equal(sparkProperties['spark.dynamicAllocation.maxExecutors'], '1');
    assert.equal(sparkProperties['spark.cores.max'], '1');
    assert.equal(sparkProperties['spark.dynamicAllocation.executorIdleTimeout'], '3s');
    // Executors of two DPUs, should Athena ever allow them: twice the cores and memory, half as many.
    const double = sparkLaunch(settings(), STANDALONE, { DefaultExecutorDpuSize: 2, MaxConcurrentDpus: 9 }).sparkProperties;
    assert.equal(double['spark.executor.cores'], '8');
    assert.equal(double['spark.executor.memory'], '20g');
    assert.equal(double['spark.dynamicAllocation.maxExecutors'], '4');
  });

  it("lets the session's own SparkProperties win over the mapping", () => {
    const launch = sparkLaunch(settings(), STANDALONE, {
      SparkProperties: { 'spark.executor.memory': '2g', 'spark.dynamicAllocation.enabled': 'false', 'spark.driver.memory': '3g' },
    });
    assert.equal(launch.sparkProperties['spark.executor.memory'], '2g');
    assert.equal(launch.sparkProperties['spark.dynamicAllocation.enabled'], 'false');
    // The runner gives spark.driver.memory from the properties after the launch's driver heap.
    assert.equal(settingsToHold(launch)['spark.driver.memory'], '3g');
  });

  it('generates the client-mode configuration of a Kubernetes master', () => {
    const k8s = settings({
      master: KUBERNETES,
      dpuCores: 2,
      dpuMemory: '8g',
      driverHost: 'owlet-driver.owlet.svc.cluster.local',
      kubernetes: { image: 'registry.example/owlet:1.0', namespace: 'owlet', serviceAccount: 'owlet-executor', driverPod: 'owlet-0' },
    });
    assert.deepEqual(sparkLaunch(k8s, KUBERNETES, { MaxConcurrentDpus: 5 }), {
      master: KUBERNETES,
      driverMemory: '5g',
      sparkProperties: {
        'spark.driver.cores': '2',
        'spark.driver.memoryOverhead': '3g',
        'spark.executor.cores': '2',
        'spark.executor.memory': '5g',
        'spark.executor.memoryOverhead': '3g',
        'spark.dynamicAllocation.enabled': 'true',
        'spark.dynamicAllocation.minExecutors': '0',
        'spark.dynamicAllocation.maxExecutors': '4',
        'spark.dynamicAllocation.shuffleTracking.enabled': 'true',
        'spark.dynamicAllocation.executorIdleTimeout': '60s',
        'spark.driver.host': 'owlet-driver.owlet.svc.cluster.local',
        // The Service name resolves to the pod's address; the driver listens on every address of its pod.
        'spark.driver.bindAddress': '0.0.0.0',
        'spark.kubernetes.container.image': 'registry.example/owlet:1.0',
        'spark.kubernetes.namespace': 'owlet',
        'spark.kubernetes.authenticate.executor.serviceAccountName': 'owlet-executor',
        'spark.kubernetes.driver.pod.name': 'owlet-0',
      },
    });
  });

  it("gives a workgroup the master its owlet:spark-master tag names, among the server's", () => {
    const server = settings({ otherMasters: [STANDALONE] });
    assert.equal(workGroupMaster(server, { Name: 'plain', Tags: [] }), 'local[2]');
    assert.equal(workGroupMaster(server, { Name: 'big', Tags: [{ Key: 'owlet:spark-master', Value: STANDALONE }] }), STANDALONE);
    assert.throws(
      () => workGroupMaster(server, { Name: 'rogue', Tags: [{ Key: 'owlet:spark-master', Value: 'spark://elsewhere:7077' }] }),
      (error: unknown) =>
        error instanceof SparkMasterNotAllowedError &&
        error.message ===
          `WorkGroup rogue names the Spark master spark://elsewhere:7077 (tag owlet:spark-master), which this server does not allow; it allows local[2], ${STANDALONE}.`,
    );
  });
});

describe('the Spark cluster settings', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'owlet-spark-profile-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const load = (env: Record<string, string>) =>
    loadConfig({ dataDir }, { OWLET_ACCESS_KEY_ID: 'AKIDSPARKPROFILE0001', OWLET_SECRET_ACCESS_KEY: 'secret', ...env });

  it("default to Athena's DPU and no other master", () => {
    assert.deepEqual(load({}).sparkCluster, { otherMasters: [], dpuCores: 4, dpuMemory: '16g', executorIdleTimeout: '60s', kubernetes: {} });
  });

  it('are read from the environment', () => {
    const config = load({
      OWLET_SPARK_MASTER: KUBERNETES,
      OWLET_SPARK_MASTERS: `spark://a:7077,b:7077  local[1]`,
      OWLET_DPU_CORES: '1',
      OWLET_DPU_MEMORY: '1g',
      OWLET_EXECUTOR_IDLE_TIMEOUT: '3s',
      OWLET_DRIVER_HOST: 'owlet-driver',
      OWLET_K8S_IMAGE: 'owlet:1',
      OWLET_K8S_NAMESPACE: 'spark',
      OWLET_K8S_SERVICE_ACCOUNT: 'executors',
      OWLET_K8S_DRIVER_POD: 'owlet-7d9f',
    });
    assert.equal(config.sparkMaster, KUBERNETES);
    assert.deepEqual(config.sparkCluster, {
      // A standalone master with a standby is one URL, commas and all.
      otherMasters: ['spark://a:7077,b:7077', 'local[1]'],
      dpuCores: 1,
      dpuMemory: '1g',
      executorIdleTimeout: '3s',
      driverHost: 'owlet-driver',
      kubernetes: { image: 'owlet:1', namespace: 'spark', serviceAccount: 'executors', driverPod: 'owlet-7d9f' },
    });
  });

  it('refuse a Kubernetes master without an image or a driver host, naming what to set', () => {
    assert.throws(
      () => load({ OWLET_SPARK_MASTER: KUBERNETES }),
      new Error(
        `${KUBERNETES} is a Kubernetes master: set OWLET_K8S_IMAGE (the executors' container image) and OWLET_DRIVER_HOST (the address executor pods reach the driver at)`,
      ),
    );
    assert.throws(
      () => load({ OWLET_SPARK_MASTERS: KUBERNETES, OWLET_DRIVER_HOST: 'owlet-driver' }),
      new Error(`${KUBERNETES} is a Kubernetes master: set OWLET_K8S_IMAGE (the executors' container image)`),
    );
  });

  it('refuse sizes Spark cannot run executors with', () => {
    assert.throws(() => load({ OWLET_DPU_MEMORY: '512m' }), /^Error: OWLET_DPU_MEMORY must be a size with a unit of at least 720m/);
    assert.throws(() => load({ OWLET_DPU_MEMORY: '16' }), /OWLET_DPU_MEMORY/);
    assert.throws(() => load({ OWLET_DPU_CORES: '0' }), /^Error: OWLET_DPU_CORES must be a whole number from 1/);
    assert.throws(() => load({ OWLET_EXECUTOR_IDLE_TIMEOUT: 'soon' }), /^Error: OWLET_EXECUTOR_IDLE_TIMEOUT must be a Spark duration/);
  });
});

describe("a workgroup's Spark master, through the API", () => {
  async function withOwlet(engine: FakeEngine, sparkCluster: Partial<SparkSettings>, sparkMaster: string, test: (athena: AthenaClient) => Promise<void>, warmPoolSize = 0): Promise<void> {
    const owlet: TestOwlet = await startTestOwlet({ engine, config: { sparkMaster, warmPoolSize, sparkCluster: { ...DEFAULTS.sparkCluster, ...sparkCluster } } });
    try {
      await test(owlet.client());
    } finally {
      await owlet.stop();
    }
  }
  const createWorkGroup = (athena: AthenaClient, name: string, master?: string) =>
    athena.send(
      new CreateWorkGroupCommand({
        Name: name,
        Configuration: { EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3' }, ExecutionRole: 'arn:aws:iam::123456789012:role/r' },
        Tags: master === undefined ? [] : [{ Key: 'owlet:spark-master', Value: master }],
      }),
    );
  const idle = (athena: AthenaClient, id: string) =>
    eventually(async () => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State, (s) => s === 'IDLE', 'IDLE');

  it('starts the sessions of a tagged workgroup on its master, sized for it', async () => {
    const engine = new FakeEngine();
    await withOwlet(engine, { otherMasters: [STANDALONE], dpuCores: 1, dpuMemory: '1g' }, 'local[2]', async (athena) => {
      await createWorkGroup(athena, 'on-standalone', STANDALONE);
      const started = await athena.send(new StartSessionCommand({ WorkGroup: 'on-standalone', EngineConfiguration: { MaxConcurrentDpus: 3 } }));
      await idle(athena, started.SessionId!);
      const { launch } = engine.runnerOf(started.SessionId!);
      assert.equal(launch.master, STANDALONE);
      assert.equal(launch.driverMemory, '640m');
      assert.equal(launch.sparkProperties['spark.dynamicAllocation.maxExecutors'], '2');
      await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId! }));
    });
  });

  it('refuses StartSession in a workgroup whose tag names a master the server does not allow', async () => {
    const engine = new FakeEngine();
    await withOwlet(engine, {}, 'local[2]', async (athena) => {
      await createWorkGroup(athena, 'rogue', 'spark://elsewhere:7077');
      const refused = athena.send(new StartSessionCommand({ WorkGroup: 'rogue', EngineConfiguration: {} }));
      await rejectsWith(
        refused,
        InvalidRequestException,
        'WorkGroup rogue names the Spark master spark://elsewhere:7077 (tag owlet:spark-master), which this server does not allow; it allows local[2].',
      );
      await refused.catch((error: InvalidRequestException) => assert.equal(error.AthenaErrorCode, 'INVALID_INPUT'));
      assert.equal(engine.runners.length, 0, 'no runner was started');
    });
  });

  it("hands a pooled runner only to a session of the pool's master and sizes", async () => {
    const engine = new FakeEngine();
    await withOwlet(
      engine,
      { otherMasters: ['local[2]'] },
      STANDALONE,
      async (athena) => {
        await eventually(() => engine.runners.length, (n) => n === 1, 'a pooled runner');
        await new Promise((resolve) => setImmediate(resolve));
        const pooled = engine.runners[0]!;
        assert.equal(pooled.launch.master, STANDALONE);
        assert.equal(pooled.launch.sparkProperties['spark.dynamicAllocation.maxExecutors'], '19', "Athena's default sizes");
        // Another MaxConcurrentDpus is another maxExecutors, which Spark reads only when the driver starts.
        const smaller = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: { MaxConcurrentDpus: 2 } }));
        assert.equal(smaller.State, 'CREATING');
        assert.equal(pooled.stopped, true);
        await eventually(() => engine.runners.filter((r) => !r.stopped && r.launch.sessionId === undefined).length, (n) => n === 1, 'the pool to refill');
        await new Promise((resolve) => setImmediate(resolve));
        // Another master starts cold too.
        await createWorkGroup(athena, 'local', 'local[2]');
        const local = await athena.send(new StartSessionCommand({ WorkGroup: 'local', EngineConfiguration: { MaxConcurrentDpus: 20 } }));
        assert.equal(local.State, 'CREATING');
        await eventually(() => engine.runners.filter((r) => !r.stopped && r.launch.sessionId === undefined).length, (n) => n === 1, 'the pool to refill');
        await new Promise((resolve) => setImmediate(resolve));
        // The pool's own master and sizes: the session takes the pooled runner.
        const same = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: { MaxConcurrentDpus: 20 } }));
        assert.equal(same.State, 'IDLE');
        for (const id of [smaller.SessionId!, local.SessionId!, same.SessionId!]) await athena.send(new TerminateSessionCommand({ SessionId: id }));
      },
      1,
    );
  });
});
