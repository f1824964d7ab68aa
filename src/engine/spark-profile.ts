// A session's Spark settings: the master its driver runs against, and its Athena sizes (DPUs) as Spark
// properties. This is the one place where DPUs become Spark settings (docs/cluster.md, docs/kubernetes.md).
//
// In local mode (`local[N]`) the driver runs the tasks itself, so a session is its driver: the server's
// driver heap and nothing else. On a cluster master the driver runs here, in the session's runner (client
// mode), and executors run on the cluster, sized from the session's DPUs and scaled by dynamic allocation up
// to what MaxConcurrentDpus leaves after the coordinator.
import type { EngineConfiguration, Tag } from '../generated/athena-model.js';
import type { RunnerLaunch } from './engine.js';

/**
 * The workgroup tag that picks the Spark master of the workgroup's sessions. Athena's WorkGroupConfiguration
 * has no member for it, and a tag is something every client (boto3's CreateWorkGroup `Tags`, TagResource)
 * can already set. Its value must be one of the masters the server allows.
 */
export const SPARK_MASTER_TAG = 'owlet:spark-master';

/** What the server is told about Spark clusters, besides its own master and local driver heap. */
export interface SparkClusterSettings {
  /** Masters, besides the server's own, that a workgroup may name with its `owlet:spark-master` tag. */
  otherMasters: string[];
  /** The cores of one DPU on a cluster. */
  dpuCores: number;
  /** The memory of one DPU on a cluster (heap and overhead together), as Spark writes sizes: `16g`. */
  dpuMemory: string;
  /** How long an executor may be idle before dynamic allocation gives it back (`60s`). */
  executorIdleTimeout: string;
  /** The address executors reach a session's driver at; without it the runner's loopback default stays. */
  driverHost?: string;
  /** What the driver listens on; `0.0.0.0` when a driver host is given and this is not. */
  driverBindAddress?: string;
  kubernetes: {
    /** The executors' container image. */
    image?: string;
    namespace?: string;
    /** The service account executor pods run as. */
    serviceAccount?: string;
    /** The pod the drivers run in (the server's own), which then owns the executor pods. */
    driverPod?: string;
  };
}

/** The server's Spark settings: its master and local-mode driver heap, and the cluster settings. */
export interface SparkSettings extends SparkClusterSettings {
  master: string;
  /**
   * What every session (and every pooled runner, which starts before its session is known) gets to reach the
   * account's catalog: the Hive Metastore's address and Spark's Hive settings (src/catalog/session-catalog.ts).
   */
  catalogProperties?: Record<string, string>;
  /** The driver heap of a local-mode session. */
  driverMemory: string;
}

/** The Spark part of a runner's launch. */
export type SparkLaunch = Pick<RunnerLaunch, 'master' | 'driverMemory' | 'sparkProperties' | 'runtime'>;

/** Athena's DPU: "4 vCPUs of compute capacity and 16 GB of memory" (spec/athena-behaviour.md §4). */
export const DEFAULT_SPARK_CLUSTER: SparkClusterSettings = {
  otherMasters: [],
  dpuCores: 4,
  dpuMemory: '16g',
  // Spark's own default for spark.dynamicAllocation.executorIdleTimeout.
  executorIdleTimeout: '60s',
  kubernetes: {},
};

/**
 * Athena's sizes when a session leaves them out: the coordinator and each executor are 1 DPU (the only value
 * the API accepts), and MaxConcurrentDpus is the console's default, 20 (spec/athena-behaviour.md §4).
 */
const ATHENA_DEFAULT_SIZES = { coordinator: 1, executor: 1, maxConcurrent: 20 };

/**
 * Athena's coordinator is "spark.driver.memory = 10g" and "spark.driver.memoryOverhead = 6g" in one DPU of
 * 16 GB (spec/athena-behaviour.md §4): a DPU's memory is split the same way, five eighths heap.
 */
const HEAP_EIGHTHS = 5;

/** Raised when a workgroup names a Spark master the server does not allow: the caller's fault. */
export class SparkMasterNotAllowedError extends Error {}

export type MasterKind = 'local' | 'standalone' | 'kubernetes' | 'cluster';

/** What kind of master a URL is. `cluster` is any other master Spark knows (`yarn`): the DPU mapping applies. */
export function masterKind(master: string): MasterKind {
  if (master === 'local' || master.startsWith('local[')) return 'local';
  if (master.startsWith('spark://')) return 'standalone';
  if (master.startsWith('k8s://')) return 'kubernetes';
  return 'cluster';
}

/** Mebibytes in a Spark size with a unit (`512m`, `16g`, `1t`, `1048576k`); undefined when it is not one. */
function sizeInMiB(size: string): number | undefined {
  const match = /^(\d+)([kmgt])b?$/i.exec(size.trim());
  if (!match) return undefined;
  const scale = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 }[match[2]!.toLowerCase() as 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(match[1]) * scale);
}

/** A size as Spark reads it, in whole gibibytes where it can be. */
function sizeText(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}g` : `${mib}m`;
}

/** A DPU's memory as heap and overhead, in mebibytes; undefined when `dpuMemory` is not a Spark size. */
export function dpuMemorySplit(dpuMemory: string): { heap: number; overhead: number } | undefined {
  const total = sizeInMiB(dpuMemory);
  if (total === undefined) return undefined;
  const heap = Math.floor((total * HEAP_EIGHTHS) / 8);
  return { heap, overhead: total - heap };
}

/** The heap and overhead of `dpus` DPUs, as Spark writes sizes. */
function dpuMemory(settings: Pick<SparkClusterSettings, 'dpuMemory'>, dpus: number): { heap: string; overhead: string } {
  const split = dpuMemorySplit(settings.dpuMemory);
  if (split === undefined) throw new Error(`not a Spark size: '${settings.dpuMemory}'`);
  return { heap: sizeText(split.heap * dpus), overhead: sizeText(split.overhead * dpus) };
}

/**
 * The master a workgroup's sessions run against: the one its `owlet:spark-master` tag names, which must be
 * one the server allows, or the server's own.
 */
export function workGroupMaster(settings: SparkSettings, workGroup: { Name: string; Tags: readonly Tag[] }): string {
  const named = workGroup.Tags.find((tag) => tag.Key === SPARK_MASTER_TAG)?.Value?.trim();
  if (!named) return settings.master;
  const allowed = [settings.master, ...settings.otherMasters];
  if (!allowed.includes(named)) {
    throw new SparkMasterNotAllowedError(
      `WorkGroup ${workGroup.Name} names the Spark master ${named} (tag ${SPARK_MASTER_TAG}), which this server does not allow; it allows ${allowed.join(', ')}.`,
    );
  }
  return named;
}

/**
 * The classification of EngineConfiguration.Classifications whose properties are Spark's own: the contents of
 * spark-defaults.conf, as on Amazon EMR, whose release 7.12 Athena's `Apache Spark version 3.5` is built on
 * (Athena UG, notebooks-spark-release-versions). Athena documents no other classification for Spark sessions.
 */
export const SPARK_DEFAULTS_CLASSIFICATION = 'spark-defaults';

/** Raised for a classification Owlet cannot apply to a session: the caller's fault, never dropped silently. */
export class UnsupportedClassificationError extends Error {
  constructor(readonly classification: string | undefined) {
    super(
      classification === undefined
        ? `A classification without a Name cannot be applied to a Spark session; the classification Owlet applies is ${SPARK_DEFAULTS_CLASSIFICATION}.`
        : `The classification ${classification} cannot be applied to a Spark session; the classification Owlet applies is ${SPARK_DEFAULTS_CLASSIFICATION}.`,
    );
  }
}

/**
 * A session's own Spark properties: those of its `spark-defaults` classifications (a later one over an earlier
 * one), then its SparkProperties over them. Spark's own order, where properties set on the SparkConf (which
 * is what Athena says SparkProperties are: UG notebooks-spark-custom-jar-cfg) win over spark-defaults.conf
 * (Spark's configuration guide, "Dynamically Loading Spark Properties"). Throws for any other classification.
 */
export function sessionSparkProperties(engine: EngineConfiguration): Record<string, string> {
  // Spread, not Object.assign: a property named `__proto__` stays a property.
  let properties: Record<string, string> = {};
  for (const classification of engine.Classifications ?? []) {
    if (classification.Name !== SPARK_DEFAULTS_CLASSIFICATION) throw new UnsupportedClassificationError(classification.Name);
    properties = { ...properties, ...classification.Properties };
  }
  return { ...properties, ...engine.SparkProperties };
}

/**
 * A session's Spark settings on `master`. The session's own properties (sessionSparkProperties) win over
 * every property derived here: a user who sets `spark.executor.memory` gets that, as on a plain spark-submit.
 */
export function sparkLaunch(settings: SparkSettings, master: string, engine: EngineConfiguration = {}): SparkLaunch {
  const own = sessionSparkProperties(engine);
  const kind = masterKind(master);
  const catalog = settings.catalogProperties ?? {};
  if (kind === 'local') return { master, driverMemory: settings.driverMemory, sparkProperties: { ...catalog, ...own } };

  const coordinator = engine.CoordinatorDpuSize ?? ATHENA_DEFAULT_SIZES.coordinator;
  const executor = engine.DefaultExecutorDpuSize ?? ATHENA_DEFAULT_SIZES.executor;
  const maxConcurrent = engine.MaxConcurrentDpus ?? ATHENA_DEFAULT_SIZES.maxConcurrent;
  // MaxConcurrentDpus counts the coordinator too: the API's minimum, 2, is one coordinator and one executor.
  const maxExecutors = Math.max(0, Math.floor((maxConcurrent - coordinator) / executor));
  const driver = dpuMemory(settings, coordinator);
  const executorMemory = dpuMemory(settings, executor);
  const executorCores = settings.dpuCores * executor;
  const derived: Record<string, string> = {
    ...catalog,
    // In client mode Spark does not use the driver's cores; they say what the coordinator is, for the UI.
    'spark.driver.cores': String(settings.dpuCores * coordinator),
    'spark.driver.memoryOverhead': driver.overhead,
    'spark.executor.cores': String(executorCores),
    'spark.executor.memory': executorMemory.heap,
    'spark.executor.memoryOverhead': executorMemory.overhead,
    // Athena "will attempt to allocate up to the maximum specified when the compute load requires it": Spark's
    // dynamic allocation, from no executors up to what MaxConcurrentDpus leaves after the coordinator.
    'spark.dynamicAllocation.enabled': 'true',
    'spark.dynamicAllocation.minExecutors': '0',
    'spark.dynamicAllocation.maxExecutors': String(maxExecutors),
    // Without an external shuffle service (which neither a plain standalone worker nor Kubernetes runs), an
    // executor holding shuffle data may be removed only once no job needs that data.
    'spark.dynamicAllocation.shuffleTracking.enabled': 'true',
    'spark.dynamicAllocation.executorIdleTimeout': settings.executorIdleTimeout,
  };
  if (kind === 'standalone') {
    // A hard cap that holds even when the session turns dynamic allocation off.
    derived['spark.cores.max'] = String(executorCores * maxExecutors);
  }
  if (settings.driverHost) {
    derived['spark.driver.host'] = settings.driverHost;
    // The host executors are told may be a name (a Kubernetes Service) that the runner cannot bind to.
    derived['spark.driver.bindAddress'] = settings.driverBindAddress ?? '0.0.0.0';
  } else if (settings.driverBindAddress) {
    derived['spark.driver.bindAddress'] = settings.driverBindAddress;
  }
  if (kind === 'kubernetes') Object.assign(derived, kubernetesProperties(settings.kubernetes));
  return { master, driverMemory: driver.heap, sparkProperties: { ...derived, ...own } };
}

/**
 * Client mode: the driver is the session's runner, in the server's pod, and executors are pods. Executor pods
 * are named after the application (Spark's default prefix, `owlet-<session id>-<unique id>` for a session
 * started cold), so the sessions of one namespace never collide.
 */
function kubernetesProperties(k8s: SparkClusterSettings['kubernetes']): Record<string, string> {
  const properties: Record<string, string> = {};
  if (k8s.image) properties['spark.kubernetes.container.image'] = k8s.image;
  if (k8s.namespace) properties['spark.kubernetes.namespace'] = k8s.namespace;
  if (k8s.serviceAccount) properties['spark.kubernetes.authenticate.executor.serviceAccountName'] = k8s.serviceAccount;
  // Owned by the driver's pod, executor pods are deleted by Kubernetes with it, even if no runner is left to.
  if (k8s.driverPod) properties['spark.kubernetes.driver.pod.name'] = k8s.driverPod;
  return properties;
}

/**
 * What a runner started for the warm pool must already hold to serve a session launched as `launch`: its
 * master and driver heap as well as the properties. A pooled runner refuses, and the session starts cold,
 * when any of them differs (docs/runner-protocol.md, `configure`): its master came from the server, its sizes
 * from Athena's defaults.
 */
export function settingsToHold(launch: SparkLaunch): Record<string, string> {
  return { 'spark.master': launch.master, 'spark.driver.memory': launch.driverMemory, ...launch.sparkProperties };
}
