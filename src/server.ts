// Owlet's composition root: the store, the operation handlers, the protocol layer and the HTTP server.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { catalogHandlers } from './api/catalog.js';
import { dataCatalogHandlers } from './api/data-catalogs.js';
import { notebookHandlers } from './api/notebooks.js';
import { presignedNotebookUrlHandlers } from './api/presigned-notebook-url.js';
import { sessionEndpointHandlers } from './api/session-endpoints.js';
import { sessionHandlers } from './api/sessions.js';
import { taggingHandlers } from './api/tagging.js';
import { unavailableOperation } from './api/unavailable.js';
import { createWorkGroup, PRIMARY_WORKGROUP, workGroupHandlers } from './api/workgroups.js';
import type { OwletConfig } from './config/config.js';
import { projectRoot } from './config/paths.js';
import { ConsoleFiles } from './console/console-files.js';
import { NodeMembership } from './cluster/node-membership.js';
import { SparkConnectProxy } from './connect/spark-connect-proxy.js';
import { connectTlsIdentity } from './connect/tls-identity.js';
import type { EngineAdapter } from './engine/engine.js';
import { LocalRunnerEngine } from './engine/local-runner-engine.js';
import { DEFAULT_SPARK_RUNTIME } from './engine/runtimes.js';
import { type S3aStore, s3aHadoopSettings } from './engine/s3a.js';
import { type SparkSettings, sparkLaunch } from './engine/spark-profile.js';
import { importResultFolders } from './objects/import-result-folders.js';
import type { ObjectStore } from './objects/object-store.js';
import { openObjectStore } from './objects/open-object-store.js';
import { ObjectStoreResultStore } from './results/object-store-result-store.js';
import type { ResultStore } from './results/result-store.js';
import { S3ResultStore } from './results/s3-result-store.js';
import { HistoryRetention } from './sessions/retention.js';
import { SessionKeys } from './sessions/session-keys.js';
import { SessionManager } from './sessions/session-manager.js';
import { athenaAccess } from './jupyter/athena-access.js';
import { OwletJupyterServer, PRESIGNED_TOKEN_LIFETIME_MS } from './jupyter/jupyter-server.js';
import { JupyterTokens } from './jupyter/tokens.js';
import { type OperationTypes as GlueOperationTypes, serviceModel as glueModel } from './generated/glue-model.js';
import { InvalidInputError as GlueInvalidInputError } from './glue/glue-errors.js';
import { glueHandlers, unservedGlueOperation } from './glue/glue-api.js';
import { asJsonApi, OwletHttpServer } from './protocol/http-server.js';
import { JsonService } from './protocol/json-service.js';
import { S3Api } from './protocol/s3-api.js';
import { SigV4Verifier } from './protocol/sigv4.js';
import { openStateStore } from './store/open-state-store.js';
import type { CatalogStore } from './catalog/catalog-store.js';
import { HiveMetastoreService } from './catalog/hive-metastore/hive-metastore-service.js';
import { sessionCatalogProperties } from './catalog/session-catalog.js';
import { ensureOwnBucket, externalStorePrefixes, objectStorePrefixes } from './catalog/prefix-stores.js';
import { TableDirectories } from './catalog/table-directories.js';
import { type OpenedCatalogStore, openCatalogStore } from './catalog/open-catalog-store.js';
import type { StateStore } from './store/state-store.js';

/** Where the Hive Metastore's port of the last run is kept, to be taken again after a restart. */
const METASTORE_PORT_FILE = 'metastore.port';

function readMetastorePort(dataDir: string): number {
  try {
    const port = Number(readFileSync(join(dataDir, METASTORE_PORT_FILE), 'utf8').trim());
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : 0;
  } catch {
    return 0;
  }
}

/** The Spark workgroup a fresh server has, so that a newcomer can start a session without creating one. */
export const READY_SPARK_WORKGROUP = 'spark';

export interface RunningOwlet {
  endpoint: string;
  port: number;
  log: Logger;
  store: StateStore;
  /** The account's table catalog (the Hive Metastore service and the Glue API both serve it). */
  catalog: CatalogStore;
  sessions: SessionManager;
  retention: HistoryRetention;
  /** The Spark Connect endpoint of every session (GetSessionEndpoint). */
  connectEndpoint: string;
  /** The port the Spark Connect proxy listens on (the public URL may name another). */
  connectPort: number;
  /** The certificate authority Spark Connect clients trust, when Owlet's own serves Connect over TLS. */
  connectCaFile?: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  now?: () => number;
  /** The engine sessions run on; by default runner processes on this machine. */
  engine?: EngineAdapter;
  /** How often the idle reaper looks (tests make it quick). */
  reaperIntervalMs?: number;
  /** The Spark Connect proxy's port and token lifetime, over the configuration's (tests shorten the lifetime). */
  connect?: { port?: number; tokenLifetimeMs?: number };
  /** A store to use instead of the configured one (tests share one between two nodes); the caller closes it. */
  store?: StateStore;
  /** A catalog to use instead of the configured one (nodes sharing a store in tests); the caller closes it. */
  catalog?: CatalogStore;
}

/**
 * Creates the workgroups of a fresh store: Athena's `primary`, and the ready Spark workgroup. Nodes sharing a
 * store may start at once: each workgroup is created by whichever gets there first.
 */
async function seedFreshStore(store: StateStore, config: OwletConfig, now: number): Promise<void> {
  // A store that has `primary` has been seeded: a `spark` workgroup deleted since stays deleted.
  if (await store.get('workgroup', PRIMARY_WORKGROUP)) return;
  const ensure = async (name: string, create: () => Promise<unknown>): Promise<void> => {
    if (await store.get('workgroup', name)) return;
    try {
      await create();
    } catch (error) {
      if (!(await store.get('workgroup', name))) throw error;
    }
  };
  await ensure(PRIMARY_WORKGROUP, () => createWorkGroup(store, { Name: PRIMARY_WORKGROUP, State: 'ENABLED', CreationTime: now, Tags: [] }));
  await ensure(READY_SPARK_WORKGROUP, () => createWorkGroup(store, {
    Name: READY_SPARK_WORKGROUP,
    State: 'ENABLED',
    Description: 'Apache Spark workgroup ready to use',
    CreationTime: now,
    Tags: [],
    Configuration: {
      EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3' },
      ExecutionRole: `arn:aws:iam::${config.accountId}:role/OwletSparkExecutionRole`,
      ResultConfiguration: { OutputLocation: 's3://owlet-results/spark/' },
    },
  }));
}

export async function startOwlet(config: OwletConfig, options: StartOptions = {}): Promise<RunningOwlet> {
  const log = options.log ?? pino({ level: config.logLevel, base: undefined });
  const now = options.now ?? Date.now;
  const ownStore = options.store === undefined;
  const store =
    options.store ??
    (await openStateStore({
      url: config.stateStoreUrl,
      dataDir: config.dataDir,
      onCorrupt: (error) => log.error({ kind: error.kind, id: error.id, err: error }, 'skipping a stored record that cannot be read'),
      now,
    }));
  const closeStore = async (): Promise<void> => {
    if (ownStore) await store.close();
  };
  let catalog: CatalogStore | undefined = options.catalog;
  /** Where this server is reached, once it listens. */
  let origin = '';
  let ownCatalog: OpenedCatalogStore | undefined;
  let metastore: HiveMetastoreService | undefined;
  let sessions: SessionManager | undefined;
  let connect: SparkConnectProxy | undefined;
  let membership: NodeMembership | undefined;
  let objects: ObjectStore | undefined;
  const retention = new HistoryRetention({ store, log, now, retentionMs: config.sessionRetentionMs, sessionsDir: join(config.dataDir, 'sessions') });
  try {
    await seedFreshStore(store, config, now());
    if (!catalog) catalog = ownCatalog = await openCatalogStore({ url: config.stateStoreUrl, dataDir: config.dataDir });
    objects = await openObjectStore({ dataDir: config.dataDir, stateStoreUrl: config.stateStoreUrl, now });
    await importResultFolders(objects, config.dataDir, log);
    const { resultsS3 } = config;
    // The metastore makes and removes `s3://` locations in the data plane's store, where sessions' S3A writes.
    const directories = new TableDirectories({
      log,
      s3: !resultsS3
        ? objectStorePrefixes(objects)
        : externalStorePrefixes({
          ...(resultsS3.endpoint ? { endpoint: resultsS3.endpoint } : {}),
          region: resultsS3.region,
          forcePathStyle: resultsS3.forcePathStyle,
          ...(resultsS3.accessKeyId && resultsS3.secretAccessKey
            ? { credentials: { accessKeyId: resultsS3.accessKeyId, secretAccessKey: resultsS3.secretAccessKey } }
            : {}),
        }),
    });
    metastore = new HiveMetastoreService({ catalog, log, now, directories, defaultDatabaseLocation: config.catalogWarehouse });
    const metastorePort = await metastore.listen(readMetastorePort(config.dataDir));
    writeFileSync(join(config.dataDir, METASTORE_PORT_FILE), `${metastorePort}\n`);
    const results: ResultStore = !resultsS3
      ? new ObjectStoreResultStore(objects, join(config.dataDir, 'staging'))
      : new S3ResultStore({
        ...(resultsS3?.endpoint ? { endpoint: resultsS3.endpoint } : {}),
        region: resultsS3.region,
        ...(resultsS3.accessKeyId && resultsS3.secretAccessKey
          ? { credentials: { accessKeyId: resultsS3.accessKeyId, secretAccessKey: resultsS3.secretAccessKey } }
          : {}),
        forcePathStyle: resultsS3.forcePathStyle,
        stagingRoot: join(config.dataDir, 'staging'),
      });
    // Where sessions' s3:// paths go (docs/s3.md): the external store of OWLET_S3_*, with its key pair, or this
    // server's own S3 API, with a key pair issued to the session (never the API's).
    const sessionKeys = new SessionKeys(store, now);
    let ownEndpoint = '';
    const sessionStore = async (sessionId: string): Promise<S3aStore> => {
      if (resultsS3) {
        return {
          endpoint: resultsS3.endpoint ?? `https://s3.${resultsS3.region}.amazonaws.com`,
          region: resultsS3.region,
          pathStyle: resultsS3.forcePathStyle,
          ...(resultsS3.accessKeyId && resultsS3.secretAccessKey
            ? { credentials: { accessKeyId: resultsS3.accessKeyId, secretAccessKey: resultsS3.secretAccessKey } }
            : {}),
        };
      }
      return { endpoint: ownEndpoint, region: config.region, pathStyle: true, credentials: await sessionKeys.issue(sessionId) };
    };
    const engine =
      options.engine ??
      new LocalRunnerEngine({
        root: projectRoot,
        runnerPath: join(projectRoot, 'runner'),
        log,
        owletApi: { endpoint: () => (origin === '' ? undefined : origin), region: config.region },
      });
    const spark: SparkSettings = {
      master: config.sparkMaster,
      driverMemory: config.driverMemory,
      ...config.sparkCluster,
      catalogProperties: sessionCatalogProperties({ metastorePort, warehouse: config.catalogWarehouse }),
    };
    sessions = new SessionManager({
      store,
      engine,
      results,
      log,
      now,
      sessionsDir: join(config.dataDir, 'sessions'),
      pooledLaunch: { ...sparkLaunch(spark, spark.master), runtime: DEFAULT_SPARK_RUNTIME.id },
      dpuCapacity: config.dpuCapacity,
      cancelDeadlineMs: config.cancelDeadlineMs,
      idleMinuteMs: config.idleMinuteMs,
      warmPoolSize: config.warmPoolSize,
      warmPoolSizes: config.warmPoolSizes,
      warmPoolShrinkAfterMs: config.warmPoolShrinkMinutes * 60_000,
      // Often enough that a session ends within a tenth of a minute of its timeout.
      reaperIntervalMs: options.reaperIntervalMs ?? Math.max(100, Math.min(10_000, config.idleMinuteMs / 10)),
      nodeId: config.nodeId,
      nodeEndpoint: async (nodeId) => membership?.endpointOf(nodeId),
      s3Settings: async (sessionId) => s3aHadoopSettings(await sessionStore(sessionId)),
    });
    await sessions.start();
    retention.start();
    const connectSettings = { port: config.connectPort, tokenLifetimeMs: config.connectTokenLifetimeMs, ...options.connect };
    const liveSessions = sessions;
    const tls = config.connectTls ? await connectTlsIdentity(config.connectTls, config.dataDir, now()) : undefined;
    if (tls?.caCreated) log.info({ caFile: tls.caFile }, 'generated the certificate authority of Spark Connect over TLS');
    connect = new SparkConnectProxy({
      host: config.connectHost ?? config.host,
      ...(tls ? { tls: tls.identity } : {}),
      ...(config.connectPublicUrl ? { publicUrl: config.connectPublicUrl } : {}),
      port: connectSettings.port,
      tokenLifetimeMs: connectSettings.tokenLifetimeMs,
      log,
      now,
      upstreamOf: (sessionId) => liveSessions.liveSparkConnect(sessionId),
    });
    const connectAddress = await connect.listen();
    const proxy = connect;
    sessions.useConnectActivity((sessionId) => proxy.activity(sessionId));
    // The Jupyter server's tokens are tied to the API's key pair (docs/jupyter.md).
    const tokens = new JupyterTokens([config.credentials], now);
    const liveCatalog = catalog;
    const liveObjects = objects;
    const service = new JsonService(
      {
        ...workGroupHandlers({ store, now }),
        ...catalogHandlers(),
        ...dataCatalogHandlers({ catalog: liveCatalog, accountId: config.accountId }),
        ...taggingHandlers({ store, accountId: config.accountId }),
        ...sessionHandlers({ store, sessions, spark, ...(resultsS3 ? {} : { prepareWarehouse: (location) => ensureOwnBucket(liveObjects, location) }) }),
        ...sessionEndpointHandlers({ sessions, connect, accountId: config.accountId }),
        ...notebookHandlers({ store, results, now, log }),
        ...presignedNotebookUrlHandlers({
          sessions,
          store,
          links: { issue: (accessKeyId) => tokens.issue(accessKeyId, PRESIGNED_TOKEN_LIFETIME_MS), origin: () => origin },
        }),
      },
      unavailableOperation,
      log,
    );
    const glue = new JsonService<GlueOperationTypes>(
      glueHandlers({ catalog: liveCatalog, accountId: config.accountId, now }),
      unservedGlueOperation,
      log,
      { model: glueModel, invalidInput: (message) => new GlueInvalidInputError(message) },
    );
    const verifier = new SigV4Verifier([config.credentials], now);
    const sessionVerifier = new SigV4Verifier([config.credentials], now, (id) => sessionKeys.secretOf(id));
    const server = new OwletHttpServer({
      host: config.host,
      port: config.port,
      service,
      verifier,
      log,
      now,
      // The S3 and Glue APIs also take the key pairs of live sessions.
      s3: new S3Api(objects, sessionVerifier, { region: config.region }),
      nodeId: config.nodeId,
      jupyter: new OwletJupyterServer({ athena: athenaAccess(service, results, () => config.credentials.accessKeyId, config.region), tokens, log }),
      console: new ConsoleFiles(join(projectRoot, 'dist', 'console')),
      services: [{ api: asJsonApi(glue), verifier: sessionVerifier }],
    });
    const address = await server.listen();
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    // Where browsers reach this server: the node endpoint when one is configured (a listen address of 0.0.0.0
    // is no address to open), else the listen address.
    origin = config.nodeEndpoint ?? `http://${host}:${address.port}`;
    // Sessions on this machine reach the store on the loopback address whatever address the server listens on;
    // executors elsewhere need the node endpoint.
    ownEndpoint = config.nodeEndpoint ?? `http://127.0.0.1:${address.port}`;
    const liveManager = sessions;
    membership = new NodeMembership({
      store,
      log,
      now,
      nodeId: config.nodeId,
      endpoint: config.nodeEndpoint ?? `http://${host}:${address.port}`,
      heartbeatMs: config.nodeHeartbeatMs,
      deadAfterMs: config.nodeDeadAfterMs,
      onNodeDead: (nodeId, reason) => liveManager.failSessionsOfNode(nodeId, reason),
      onRevived: () => liveManager.stopRunnersOfEndedSessions(),
    });
    await membership.join();
    let stopping: Promise<void> | undefined;
    return {
      endpoint: `http://${host}:${address.port}`,
      port: address.port,
      log,
      store,
      catalog,
      sessions,
      retention,
      connectEndpoint: connect.endpointUrl,
      connectPort: connectAddress.port,
      ...(tls?.caFile ? { connectCaFile: tls.caFile } : {}),
      stop() {
        stopping ??= (async () => {
          await server.close();
          await connect!.close();
          await membership?.leave();
          await retention.stop();
          await sessions!.dispose({ terminateSessions: config.terminateSessionsOnExit });
          await metastore?.close();
          await objects?.close();
          await ownCatalog?.close();
          await closeStore();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await connect?.close();
    await membership?.leave();
    await retention.stop();
    await sessions?.dispose({ terminateSessions: config.terminateSessionsOnExit });
    await metastore?.close();
    await objects?.close();
    await ownCatalog?.close();
    await closeStore();
    throw error;
  }
}
