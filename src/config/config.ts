// The server's settings: command-line options over environment variables over embedded defaults.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Credentials } from '../protocol/sigv4.js';
import { DEFAULT_SPARK_CLUSTER, dpuMemorySplit, masterKind, type SparkClusterSettings } from '../engine/spark-profile.js';
import { poolSizesFrom } from '../engine/runtimes.js';

export interface OwletConfig {
  host: string;
  port: number;
  /** Where state, results and generated credentials live. */
  dataDir: string;
  credentials: Credentials;
  /** Whether the key pair was generated for this data directory (and so should be shown at start). */
  credentialsGenerated: boolean;
  /** The account id in ARNs. */
  accountId: string;
  /** The region in ARNs and in the endpoint users are told to use. */
  region: string;
  logLevel: string;
  /** Spark's master for sessions: `local[N]` on this machine, or a cluster's URL. */
  sparkMaster: string;
  /** Each session driver's heap. */
  driverMemory: string;
  /** DPUs this server hands out to sessions at once (a local-mode session holds one). */
  dpuCapacity: number;
  /**
   * How long one minute of SessionIdleTimeoutInMinutes lasts. Always 60,000 in use; tests shorten it to
   * see the idle timeout act on real sessions without waiting minutes.
   */
  idleMinuteMs: number;
  /** How long a cancelled calculation may take to stop before its session's runner is killed. */
  cancelDeadlineMs: number;
  /** Runners kept started for new sessions; 0 turns the warm pool off. */
  warmPoolSize: number;
  /**
   * Where databases created without LOCATION (and `default`) keep their tables: Spark's warehouse directory
   * (OWLET_CATALOG_WAREHOUSE). By default `file:` under the data directory; an `s3://` one needs sessions that
   * reach S3 (docs/catalog.md).
   */
  catalogWarehouse: string;
  /** Runners kept started for the other Spark runtimes, by runtime id (OWLET_WARM_POOL_SIZES=spark-4.1=1). */
  warmPoolSizes?: Record<string, number>;
  /** The warm pool empties itself after this many minutes without a StartSession. */
  warmPoolShrinkMinutes: number;
  /** The Spark Connect proxy's port (0: a free one), the port GetSessionEndpoint's EndpointUrl names. */
  connectPort: number;
  /** How long a GetSessionEndpoint AuthToken is accepted. */
  connectTokenLifetimeMs: number;
  /** The Spark Connect proxy's listening address, when not the API's (docs/spark-connect.md). */
  connectHost?: string;
  /** GetSessionEndpoint's EndpointUrl, when clients reach the proxy by another address: `https://host` or `sc://host:port`. */
  connectPublicUrl?: string;
  /** Spark Connect over TLS; cleartext HTTP/2 when unset. */
  connectTls?: ConnectTlsSettings;
  /**
   * Whether stopping the server ends its sessions. By default their runners keep running, calculations and
   * all, and the next server on the data directory re-attaches them.
   */
  terminateSessionsOnExit: boolean;
  /** How long ended sessions and their calculations are kept before they are deleted; 0 keeps them all. */
  sessionRetentionMs: number;
  /** Where state is kept: the data directory's SQLite file when unset, or a PostgreSQL URL several nodes share. */
  stateStoreUrl?: string;
  /** This server node's id among the nodes sharing a store: kept in the data directory unless set. */
  nodeId: string;
  /** Where other nodes reach this one's API; by default the address it listens on. */
  nodeEndpoint?: string;
  /** How often this node writes its heartbeat. */
  nodeHeartbeatMs: number;
  /** A node without a heartbeat for this long is dead, and its sessions are ended by another node. */
  nodeDeadAfterMs: number;
  /**
   * The data plane's external S3-compatible store (OWLET_S3_*, or the older OWLET_RESULTS_S3_*): calculation
   * results and sessions' s3:// paths. Without it, both are in Owlet's own store (docs/s3.md).
   */
  resultsS3?: {
    endpoint?: string;
    region: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    forcePathStyle: boolean;
  };
  /** Spark clusters: the masters workgroups may pick, and what a DPU and a driver are there (sparkClusterSettings). */
  sparkCluster: SparkClusterSettings;
}

/** A certificate and key from files, or a server certificate for these names from Owlet's own authority. */
export type ConnectTlsSettings = { certFile: string; keyFile: string } | { localCaNames: string[] };

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 4577,
  dataDir: '.owlet',
  accountId: '000000000000',
  region: 'us-east-1',
  logLevel: 'info',
  sparkMaster: 'local[2]',
  driverMemory: '1g',
  // A local session is a Python process and a JVM with a 1 GiB heap; four of them fit a small machine.
  dpuCapacity: 4,
  idleMinuteMs: 60_000,
  cancelDeadlineMs: 5_000,
  // One ready runner (a JVM of about half a GiB) makes the first session of a small machine warm too.
  warmPoolSize: 1,
  warmPoolShrinkMinutes: 30,
  connectPort: 0,
  // Athena's tokens last about 29 minutes, by clients that renew them (spec/athena-behaviour.md §10).
  connectTokenLifetimeMs: 30 * 60_000,
  terminateSessionsOnExit: false,
  // Long enough to look back over a month of work; short enough that the store stays small.
  sessionRetentionDays: 30,
  nodeHeartbeatMs: 5_000,
  // Six missed heartbeats: long enough for a restart or a pause, short enough that a dead node's sessions
  // are not left looking alive for long.
  nodeDeadAfterMs: 30_000,
  sparkCluster: DEFAULT_SPARK_CLUSTER,
} as const;

const CREDENTIALS_FILE = 'credentials.json';
const NODE_ID_FILE = 'node-id';
const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A key pair shaped like AWS's: a 20-character access key id and a 40-character secret. */
export function generateCredentials(): Credentials {
  const id = [...randomBytes(16)].map((b) => ACCESS_KEY_ALPHABET[b % 32]).join('');
  return { accessKeyId: `OWLT${id}`, secretAccessKey: randomBytes(30).toString('base64').replace(/[+/]/g, 'x') };
}

/**
 * The accepted key pair: OWLET_ACCESS_KEY_ID and OWLET_SECRET_ACCESS_KEY when both are set, otherwise the
 * pair kept in the data directory, generated there (readable by the owner only) on first start.
 */
export function resolveCredentials(dataDir: string, env: NodeJS.ProcessEnv): { credentials: Credentials; generated: boolean } {
  const id = env.OWLET_ACCESS_KEY_ID;
  const secret = env.OWLET_SECRET_ACCESS_KEY;
  if (id && secret) return { credentials: { accessKeyId: id, secretAccessKey: secret }, generated: false };
  if (id || secret) throw new Error('set both OWLET_ACCESS_KEY_ID and OWLET_SECRET_ACCESS_KEY, or neither');
  const file = join(dataDir, CREDENTIALS_FILE);
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
    if (typeof stored.accessKeyId !== 'string' || typeof stored.secretAccessKey !== 'string') {
      throw new Error(`${file} does not hold a key pair; delete it to have a new one generated`);
    }
    return { credentials: { accessKeyId: stored.accessKeyId, secretAccessKey: stored.secretAccessKey }, generated: true };
  }
  mkdirSync(dataDir, { recursive: true });
  const credentials = generateCredentials();
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return { credentials, generated: true };
}

/** OWLET_NODE_ID, or the id kept in the data directory, made on first start: a node's runners live there. */
export function resolveNodeId(dataDir: string, env: NodeJS.ProcessEnv): string {
  if (env.OWLET_NODE_ID) return env.OWLET_NODE_ID;
  const file = join(dataDir, NODE_ID_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const id = `node-${randomBytes(6).toString('hex')}`;
  writeFileSync(file, `${id}\n`);
  return id;
}

export interface ConfigOptions {
  host?: string;
  port?: number;
  dataDir?: string;
  logLevel?: string;
  terminateSessionsOnExit?: boolean;
}

/**
 * A number from the environment, or `fallback` when the variable is unset or empty. A value that is not a
 * number in range stops the server with a message naming the variable, rather than running with NaN.
 */
function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, limits: { integer?: boolean; min?: number; max?: number } = {}): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  const { integer = true, min = 0, max = Number.MAX_SAFE_INTEGER } = limits;
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new Error(`${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not '${text}'`);
  }
  return value;
}

/** A yes-or-no setting from the environment: `true`/`false` (or 1/0, yes/no), else `fallback` when unset. */
function booleanFrom(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const lower = text.toLowerCase();
  if (['true', '1', 'yes'].includes(lower)) return true;
  if (['false', '0', 'no'].includes(lower)) return false;
  throw new Error(`${name} must be true or false, not '${text}'`);
}

// --- Spark Connect (docs/spark-connect.md) ----------------------------------------------------------------

type ConnectSettings = Pick<OwletConfig, 'connectPort' | 'connectTokenLifetimeMs' | 'connectHost' | 'connectPublicUrl' | 'connectTls'>;

/**
 * The public URL in the form GetSessionEndpoint answers. Athena answers `https://<host>`, which its clients turn
 * into `sc://<host>:443/;use_ssl=true;...` (docs/spark-connect.md), so that form takes neither a port nor a path.
 */
function connectPublicUrl(text: string): string {
  const problem = `OWLET_CONNECT_PUBLIC_URL must be https://<host> (as Athena answers; clients then connect to <host>:443 over TLS) or sc://<host>:<port>, not '${text}'`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(problem);
  }
  const bare = url.username === '' && url.password === '' && url.search === '' && url.hash === '' && (url.pathname === '' || url.pathname === '/');
  if (url.protocol === 'https:' && bare && url.port === '' && url.hostname !== '') return `https://${url.host}`;
  if (url.protocol === 'sc:' && bare && url.port !== '' && url.hostname !== '') return `sc://${url.host}`;
  throw new Error(`${problem}${url.protocol === 'https:' && url.port !== '' ? ': Athena\'s clients add :443 themselves' : ''}`);
}

function connectSettings(env: NodeJS.ProcessEnv, host: string): ConnectSettings {
  const text = (name: string): string | undefined => env[name]?.trim() || undefined;
  const port = numberFrom(env, 'OWLET_CONNECT_PORT', DEFAULTS.connectPort, { max: 65535 });
  const lifetime = numberFrom(env, 'OWLET_CONNECT_TOKEN_SECONDS', DEFAULTS.connectTokenLifetimeMs / 1000, { integer: false, min: 1 }) * 1000;
  const connectHost = text('OWLET_CONNECT_HOST');
  const publicText = text('OWLET_CONNECT_PUBLIC_URL');
  const publicUrl = publicText === undefined ? undefined : connectPublicUrl(publicText);
  const certFile = text('OWLET_CONNECT_TLS_CERT');
  const keyFile = text('OWLET_CONNECT_TLS_KEY');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new Error('set both OWLET_CONNECT_TLS_CERT and OWLET_CONNECT_TLS_KEY, or neither');
  const tlsOn = booleanFrom(env, 'OWLET_CONNECT_TLS', certFile !== undefined);
  if (!tlsOn && certFile !== undefined) throw new Error('OWLET_CONNECT_TLS is false, but OWLET_CONNECT_TLS_CERT and OWLET_CONNECT_TLS_KEY are set');
  let tls: ConnectTlsSettings | undefined;
  if (certFile !== undefined && keyFile !== undefined) tls = { certFile: resolve(certFile), keyFile: resolve(keyFile) };
  else if (tlsOn) {
    // The names a client may dial: the public URL's host, the listening address, and this machine's own names.
    const listening = connectHost ?? host;
    const named = (env.OWLET_CONNECT_TLS_NAMES ?? '').split(/[\s,]+/).filter((n) => n !== '');
    const defaults = [publicUrl ? new URL(publicUrl).hostname.replace(/^\[|\]$/g, '') : '', ['0.0.0.0', '::'].includes(listening) ? '' : listening, 'localhost', '127.0.0.1', '::1'];
    tls = { localCaNames: [...new Set(named.length > 0 ? named : defaults.filter((n) => n !== ''))] };
  }
  return {
    connectPort: port,
    connectTokenLifetimeMs: lifetime,
    ...(connectHost ? { connectHost } : {}),
    ...(publicUrl ? { connectPublicUrl: publicUrl } : {}),
    ...(tls ? { connectTls: tls } : {}),
  };
}

export function loadConfig(options: ConfigOptions, env: NodeJS.ProcessEnv = process.env): OwletConfig {
  const dataDir = resolve(options.dataDir ?? env.OWLET_DATA_DIR ?? DEFAULTS.dataDir);
  const { credentials, generated } = resolveCredentials(dataDir, env);
  const host = options.host ?? env.OWLET_HOST ?? DEFAULTS.host;
  return {
    host,
    port: options.port ?? numberFrom(env, 'OWLET_PORT', DEFAULTS.port, { max: 65535 }),
    dataDir,
    credentials,
    credentialsGenerated: generated,
    accountId: env.OWLET_ACCOUNT_ID ?? DEFAULTS.accountId,
    region: env.OWLET_REGION ?? DEFAULTS.region,
    logLevel: options.logLevel ?? env.OWLET_LOG_LEVEL ?? DEFAULTS.logLevel,
    sparkMaster: env.OWLET_SPARK_MASTER ?? DEFAULTS.sparkMaster,
    driverMemory: env.OWLET_DRIVER_MEMORY ?? DEFAULTS.driverMemory,
    dpuCapacity: numberFrom(env, 'OWLET_DPU_CAPACITY', DEFAULTS.dpuCapacity, { min: 1 }),
    idleMinuteMs: numberFrom(env, 'OWLET_IDLE_MINUTE_MS', DEFAULTS.idleMinuteMs, { min: 1 }),
    cancelDeadlineMs: numberFrom(env, 'OWLET_CANCEL_DEADLINE_MS', DEFAULTS.cancelDeadlineMs, { min: 1 }),
    warmPoolSize: numberFrom(env, 'OWLET_WARM_POOL_SIZE', DEFAULTS.warmPoolSize),
    warmPoolSizes: poolSizesFrom(env.OWLET_WARM_POOL_SIZES ?? ''),
    catalogWarehouse: env.OWLET_CATALOG_WAREHOUSE?.trim() || `file:${join(dataDir, 'warehouse')}`,
    warmPoolShrinkMinutes: numberFrom(env, 'OWLET_WARM_POOL_SHRINK_MINUTES', DEFAULTS.warmPoolShrinkMinutes, { integer: false }),
    ...connectSettings(env, host),
    terminateSessionsOnExit:
      options.terminateSessionsOnExit || booleanFrom(env, 'OWLET_TERMINATE_SESSIONS_ON_EXIT', DEFAULTS.terminateSessionsOnExit),
    sessionRetentionMs: numberFrom(env, 'OWLET_SESSION_RETENTION_DAYS', DEFAULTS.sessionRetentionDays, { integer: false }) * 86_400_000,
    ...(env.OWLET_STATE_STORE_URL ? { stateStoreUrl: env.OWLET_STATE_STORE_URL } : {}),
    nodeId: resolveNodeId(dataDir, env),
    ...(env.OWLET_NODE_ENDPOINT ? { nodeEndpoint: env.OWLET_NODE_ENDPOINT } : {}),
    nodeHeartbeatMs: numberFrom(env, 'OWLET_NODE_HEARTBEAT_MS', DEFAULTS.nodeHeartbeatMs, { min: 10 }),
    nodeDeadAfterMs: numberFrom(env, 'OWLET_NODE_DEAD_AFTER_MS', DEFAULTS.nodeDeadAfterMs, { min: 100 }),
    ...dataPlaneS3(env),
    sparkCluster: sparkClusterSettings(env),
  };
}

/**
 * The data plane's store from OWLET_S3_ENDPOINT, _REGION, _ACCESS_KEY_ID, _SECRET_ACCESS_KEY, _FORCE_PATH_STYLE;
 * each falls back to its OWLET_RESULTS_S3_* name, the setting's name from when it held results only.
 */
function dataPlaneS3(env: NodeJS.ProcessEnv): Pick<OwletConfig, 'resultsS3'> {
  const setting = (name: string): string | undefined => env[`OWLET_S3_${name}`] || env[`OWLET_RESULTS_S3_${name}`] || undefined;
  const endpoint = setting('ENDPOINT');
  const region = setting('REGION');
  if (!endpoint && !region) return {};
  const accessKeyId = setting('ACCESS_KEY_ID');
  const secretAccessKey = setting('SECRET_ACCESS_KEY');
  if (!accessKeyId !== !secretAccessKey) throw new Error('set both OWLET_S3_ACCESS_KEY_ID and OWLET_S3_SECRET_ACCESS_KEY, or neither');
  return {
    resultsS3: {
      ...(endpoint ? { endpoint } : {}),
      region: region ?? DEFAULTS.region,
      ...(accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : {}),
      forcePathStyle: setting('FORCE_PATH_STYLE') !== 'false',
    },
  };
}

// --- Spark clusters (docs/cluster.md, docs/kubernetes.md) ------------------------------------------------
// Read by src/engine/spark-profile.ts, which turns them and a session's DPUs into Spark settings.

/** Spark's minimum executor heap (1.5 × its 300 MiB of reserved memory); below it executors fail to start. */
const MIN_EXECUTOR_HEAP_MIB = 450;

function sparkClusterSettings(env: NodeJS.ProcessEnv): SparkClusterSettings {
  const text = (name: string): string | undefined => env[name]?.trim() || undefined;
  const dpuMemory = text('OWLET_DPU_MEMORY') ?? DEFAULT_SPARK_CLUSTER.dpuMemory;
  const heap = dpuMemorySplit(dpuMemory)?.heap;
  if (heap === undefined || heap < MIN_EXECUTOR_HEAP_MIB) {
    throw new Error(`OWLET_DPU_MEMORY must be a size with a unit of at least 720m (its heap, five eighths, must reach Spark's minimum of 450m), not '${dpuMemory}'`);
  }
  const idleTimeout = text('OWLET_EXECUTOR_IDLE_TIMEOUT') ?? DEFAULT_SPARK_CLUSTER.executorIdleTimeout;
  if (!/^\d+(ms|s|m|min|h|d)$/.test(idleTimeout)) {
    throw new Error(`OWLET_EXECUTOR_IDLE_TIMEOUT must be a Spark duration such as 60s or 5min, not '${idleTimeout}'`);
  }
  const driverHost = text('OWLET_DRIVER_HOST');
  const driverBindAddress = text('OWLET_DRIVER_BIND_ADDRESS');
  const image = text('OWLET_K8S_IMAGE');
  const namespace = text('OWLET_K8S_NAMESPACE');
  const serviceAccount = text('OWLET_K8S_SERVICE_ACCOUNT');
  const driverPod = text('OWLET_K8S_DRIVER_POD');
  // Whitespace separates masters: a standalone master with standby masters is one URL with commas in it.
  const otherMasters = (env.OWLET_SPARK_MASTERS ?? '').split(/\s+/).filter((m) => m !== '');
  // Executors on Kubernetes need an image and a driver they can reach: without either, every session on the
  // master would start and then never get an executor, so the server refuses to start instead.
  for (const master of [env.OWLET_SPARK_MASTER ?? DEFAULTS.sparkMaster, ...otherMasters]) {
    if (masterKind(master) !== 'kubernetes') continue;
    const missing = [image ? '' : 'OWLET_K8S_IMAGE (the executors\' container image)', driverHost ? '' : 'OWLET_DRIVER_HOST (the address executor pods reach the driver at)'].filter(Boolean);
    if (missing.length > 0) throw new Error(`${master} is a Kubernetes master: set ${missing.join(' and ')}`);
  }
  return {
    otherMasters,
    dpuCores: numberFrom(env, 'OWLET_DPU_CORES', DEFAULT_SPARK_CLUSTER.dpuCores, { min: 1 }),
    dpuMemory,
    executorIdleTimeout: idleTimeout,
    ...(driverHost ? { driverHost } : {}),
    ...(driverBindAddress ? { driverBindAddress } : {}),
    kubernetes: {
      ...(image ? { image } : {}),
      ...(namespace ? { namespace } : {}),
      ...(serviceAccount ? { serviceAccount } : {}),
      ...(driverPod ? { driverPod } : {}),
    },
  };
}
