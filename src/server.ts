// Owlet's composition root: the store, the operation handlers, the protocol layer and the HTTP server.
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { catalogHandlers } from './api/catalog.js';
import { taggingHandlers } from './api/tagging.js';
import { unavailableOperation } from './api/unavailable.js';
import { createWorkGroup, PRIMARY_WORKGROUP, workGroupHandlers } from './api/workgroups.js';
import type { OwletConfig } from './config/config.js';
import { OwletHttpServer } from './protocol/http-server.js';
import { JsonService } from './protocol/json-service.js';
import { SigV4Verifier } from './protocol/sigv4.js';
import { SqliteStateStore } from './store/sqlite-state-store.js';
import type { StateStore } from './store/state-store.js';

/** The Spark workgroup a fresh server has, so that a newcomer can start a session without creating one. */
export const READY_SPARK_WORKGROUP = 'spark';

export interface RunningOwlet {
  endpoint: string;
  port: number;
  log: Logger;
  store: StateStore;
  stop(): Promise<void>;
}

/** Creates the workgroups of a fresh data directory: Athena's `primary`, and the ready Spark workgroup. */
async function seedFreshStore(store: StateStore, config: OwletConfig, now: number): Promise<void> {
  if (await store.get('workgroup', PRIMARY_WORKGROUP)) return;
  await createWorkGroup(store, { Name: PRIMARY_WORKGROUP, State: 'ENABLED', CreationTime: now, Tags: [] });
  await createWorkGroup(store, {
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
  });
}

export async function startOwlet(config: OwletConfig, options: { log?: Logger; now?: () => number } = {}): Promise<RunningOwlet> {
  const log = options.log ?? pino({ level: config.logLevel, base: undefined });
  const now = options.now ?? Date.now;
  const store = new SqliteStateStore({
    path: join(config.dataDir, 'state.sqlite'),
    onCorrupt: (error) => log.error({ kind: error.kind, id: error.id, err: error }, 'skipping a stored record that cannot be read'),
    now,
  });
  try {
    await seedFreshStore(store, config, now());
    const service = new JsonService(
      { ...workGroupHandlers({ store, now }), ...catalogHandlers(), ...taggingHandlers({ store }) },
      unavailableOperation,
      log,
    );
    const server = new OwletHttpServer({
      host: config.host,
      port: config.port,
      service,
      verifier: new SigV4Verifier([config.credentials], now),
      log,
      now,
    });
    const address = await server.listen();
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    let stopping: Promise<void> | undefined;
    return {
      endpoint: `http://${host}:${address.port}`,
      port: address.port,
      log,
      store,
      stop() {
        stopping ??= (async () => {
          await server.close();
          await store.close();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
