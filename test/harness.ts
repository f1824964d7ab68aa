// Starting and stopping an Owlet server for a test: in-process, on a free loopback port, in a fresh data
// directory, with a known key pair.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { pino } from 'pino';
import { sessionCatalogProperties } from '../src/catalog/session-catalog.js';
import { DEFAULTS, type OwletConfig } from '../src/config/config.js';
import type { EngineAdapter } from '../src/engine/engine.js';
import type { Credentials } from '../src/protocol/sigv4.js';
import { type RunningOwlet, type StartOptions, startOwlet } from '../src/server.js';

export const TEST_CREDENTIALS: Credentials = {
  accessKeyId: 'AKIDOWLETTEST0000001',
  secretAccessKey: 'owlet-test-secret-key-0000000000000000000',
};

export interface TestOwlet extends RunningOwlet {
  dataDir: string;
  config: OwletConfig;
  /** An Athena client of the AWS SDK for JavaScript pointed at this server. */
  client(credentials?: Credentials): AthenaClient;
}

export interface TestOwletOptions extends Omit<StartOptions, 'log'> {
  dataDir?: string;
  config?: Partial<OwletConfig>;
  engine?: EngineAdapter;
}

export async function startTestOwlet(options: TestOwletOptions = {}): Promise<TestOwlet> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'owlet-test-'));
  const config: OwletConfig = {
    host: '127.0.0.1',
    port: 0,
    dataDir,
    credentials: TEST_CREDENTIALS,
    credentialsGenerated: false,
    accountId: '123456789012',
    region: 'us-east-1',
    logLevel: 'silent',
    sparkMaster: DEFAULTS.sparkMaster,
    driverMemory: DEFAULTS.driverMemory,
    dpuCapacity: DEFAULTS.dpuCapacity,
    idleMinuteMs: DEFAULTS.idleMinuteMs,
    cancelDeadlineMs: DEFAULTS.cancelDeadlineMs,
    // Tests that are not about the warm pool start no runner ahead of time.
    warmPoolSize: 0,
    warmPoolShrinkMinutes: DEFAULTS.warmPoolShrinkMinutes,
    connectPort: 0,
    connectTokenLifetimeMs: DEFAULTS.connectTokenLifetimeMs,
    // A test's sessions end with its server, unless the test is about what outlives a stop.
    terminateSessionsOnExit: true,
    sessionRetentionMs: DEFAULTS.sessionRetentionDays * 86_400_000,
    nodeId: 'test-node',
    nodeHeartbeatMs: DEFAULTS.nodeHeartbeatMs,
    nodeDeadAfterMs: DEFAULTS.nodeDeadAfterMs,
    sparkCluster: DEFAULTS.sparkCluster,
    catalogWarehouse: `file:${join(dataDir, 'warehouse')}`,
    ...options.config,
  };
  const { dataDir: _dir, config: _config, ...startOptions } = options;
  const owlet = await startOwlet(config, { log: pino({ level: process.env.OWLET_TEST_LOG ?? 'silent' }), ...startOptions });
  const clients: AthenaClient[] = [];
  return {
    ...owlet,
    dataDir,
    config,
    client(credentials = TEST_CREDENTIALS) {
      const client = new AthenaClient({ endpoint: owlet.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await owlet.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A launch's properties without those every session gets to reach the account's catalog
 * (sessionCatalogProperties): what the session itself asked for.
 */
export function ownSparkProperties(properties: Record<string, string>): Record<string, string> {
  const catalogKeys = new Set(Object.keys(sessionCatalogProperties({ metastorePort: 0, warehouse: '' })));
  return Object.fromEntries(Object.entries(properties).filter(([key]) => !catalogKeys.has(key)));
}
