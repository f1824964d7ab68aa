// Runtimes are data: which Spark each Spark engine version runs, the Python environment it runs in, the jars
// that come with it and when a session gets them. scripts/install-runtimes.sh installs what runtimes/<id>/
// pins (requirements.lock, jars.lock) into .runtimes/; this table says how sessions use it. docs/engines.md
// explains the choices.
import { join } from 'node:path';

export type TableFormat = 'iceberg' | 'delta' | 'hudi';

export const TABLE_FORMATS: readonly TableFormat[] = ['iceberg', 'delta', 'hudi'];

export const FORMAT_NAMES: Record<TableFormat, string> = { iceberg: 'Apache Iceberg', delta: 'Delta Lake', hudi: 'Apache Hudi' };

/** A jar of a runtime, as its file in .runtimes/jars (the Maven coordinate is in runtimes/<id>/jars.lock). */
type JarFile = string;

export interface SparkRuntime {
  /** The folder of runtimes/ and .runtimes/ that holds its locks and its installation. */
  id: string;
  sparkVersion: string;
  scalaVersion: string;
  /**
   * Jars every driver of this runtime starts with: the Spark Connect server where PySpark's wheel lacks it
   * (PySpark 3.5's has none; 4.x ships it), the token check Owlet builds for it, and the Java the runner calls
   * on its driver (runtimes/driver-helpers/), both built at setup (install-runtimes.sh).
   */
  driverJars: JarFile[];
  /** The table formats built for this runtime's Spark and Scala; a format missing here has no build for it. */
  tableFormats: Partial<Record<TableFormat, JarFile[]>>;
  /**
   * Hadoop's S3A and the AWS SDK modules it loads (not the SDK's bundle jar), spark-hadoop-cloud for the magic
   * committer and Owlet's commit protocol that picks it for S3 paths: on every session's `spark.jars`, pooled
   * runners included (docs/s3.md).
   */
  s3Jars: JarFile[];
  /** Settings a session of this runtime starts with, before the session's own SparkProperties. */
  sparkDefaults: Record<string, string>;
  /**
   * A gRPC interceptor the driver's Connect server always runs, whatever the session sets, for a Spark whose
   * server checks no token itself (Spark 4's checks `spark.connect.authenticate.token`).
   */
  connectInterceptor?: string;
}

/**
 * The AWS SDK v2 modules Iceberg's GlueCatalog and S3FileIO load (Iceberg's runtime jars carry iceberg-aws but no
 * SDK): glue, s3, kms (S3FileIO's encryption types), sts, the URL-connection HTTP client and their dependencies,
 * at the version Hadoop 3.4.2's S3A is built with (docs/glue.md). The same jars serve both runtimes: the SDK is
 * Java, not Scala.
 */
const ICEBERG_AWS_SDK_JARS: JarFile[] = [
  'annotations-2.29.52.jar',
  'arns-2.29.52.jar',
  'auth-2.29.52.jar',
  'aws-core-2.29.52.jar',
  'aws-json-protocol-2.29.52.jar',
  'aws-query-protocol-2.29.52.jar',
  'aws-xml-protocol-2.29.52.jar',
  'checksums-2.29.52.jar',
  'checksums-spi-2.29.52.jar',
  'crt-core-2.29.52.jar',
  'endpoints-spi-2.29.52.jar',
  'glue-2.29.52.jar',
  'http-auth-2.29.52.jar',
  'http-auth-aws-2.29.52.jar',
  'http-auth-aws-eventstream-2.29.52.jar',
  'http-auth-spi-2.29.52.jar',
  'http-client-spi-2.29.52.jar',
  'identity-spi-2.29.52.jar',
  'json-utils-2.29.52.jar',
  'kms-2.29.52.jar',
  'metrics-spi-2.29.52.jar',
  'profiles-2.29.52.jar',
  'protocol-core-2.29.52.jar',
  'regions-2.29.52.jar',
  'retries-2.29.52.jar',
  'retries-spi-2.29.52.jar',
  's3-2.29.52.jar',
  'sdk-core-2.29.52.jar',
  'sts-2.29.52.jar',
  'third-party-jackson-core-2.29.52.jar',
  'url-connection-client-2.29.52.jar',
  'utils-2.29.52.jar',
  'eventstream-1.0.1.jar',
  'reactive-streams-1.0.4.jar',
];

/** The schemes session code may use for S3 paths; all three are S3A, as on Amazon EMR 7.10 and later. */
export const S3_SCHEMES = ['s3', 's3a', 's3n'] as const;

/**
 * What every session starts with for S3, whichever store it reaches (the store itself, its endpoint and the
 * session's key pair come from src/engine/s3a.ts): S3A for all three schemes, and S3A's magic committer for
 * DataFrame writes (docs/s3.md says why). All are settings read when the JVM, the session or a file system
 * starts, so pooled runners have them from their launch.
 */
const S3A_DEFAULTS: Record<string, string> = {
  ...Object.fromEntries(
    S3_SCHEMES.flatMap((scheme) => [
      [`spark.hadoop.fs.${scheme}.impl`, 'org.apache.hadoop.fs.s3a.S3AFileSystem'],
      [`spark.hadoop.fs.AbstractFileSystem.${scheme}.impl`, 'org.apache.hadoop.fs.s3a.S3A'],
      [`spark.hadoop.mapreduce.outputcommitter.factory.scheme.${scheme}`, 'org.apache.hadoop.fs.s3a.commit.S3ACommitterFactory'],
    ]),
  ),
  'spark.hadoop.fs.s3a.committer.name': 'magic',
  'spark.hadoop.fs.s3a.committer.magic.enabled': 'true',
  // Owlet's protocol (runtimes/commit-protocol/, built at setup) hands S3 writes to spark-hadoop-cloud's
  // PathOutputCommitProtocol and the rest to Spark's default one: the cloud protocol on every path would append
  // where a dynamic partition overwrite of a file:// path must replace (docs/s3.md). apache/spark
  // docs/cloud-integration.md: the cloud protocol and the Parquet committer bind Spark's SQL writers to
  // Hadoop's PathOutputCommitter factories.
  'spark.sql.sources.commitProtocolClass': 'owlet.commit.SchemeCommitProtocol',
  'spark.sql.parquet.output.committer.class': 'org.apache.spark.internal.io.cloud.BindingParquetOutputCommitter',
};

/** The AWS SDK v2 modules S3A of Hadoop 3.4.2 loads (docs/research/s3a.md says how the set was found). */
const AWS_SDK_2_MODULES = [
  'annotations', 'apache-client', 'arns', 'auth', 'aws-core', 'aws-query-protocol', 'aws-xml-protocol', 'checksums',
  'checksums-spi', 'crt-core', 'endpoints-spi', 'http-auth', 'http-auth-aws', 'http-auth-aws-eventstream',
  'http-auth-spi', 'http-client-spi', 'identity-spi', 'json-utils', 'metrics-spi', 'netty-nio-client', 'profiles',
  'protocol-core', 'regions', 'retries', 'retries-spi', 's3', 's3-transfer-manager', 'sdk-core',
  'third-party-jackson-core', 'utils',
];

const SPARK_3_5: SparkRuntime = {
  id: 'spark-3.5',
  // 3.5.7 rather than 3.5.8 or 3.5.9: Maven Central as this project reaches it has no spark-connect_2.12 jar
  // for those two (docs/engines.md).
  sparkVersion: '3.5.7',
  scalaVersion: '2.12',
  driverJars: ['spark-connect_2.12-3.5.7.jar', 'owlet-connect-token-3.5.jar', 'owlet-driver-helpers-3.5.jar'],
  tableFormats: {
    iceberg: ['iceberg-spark-runtime-3.5_2.12-1.12.0.jar', ...ICEBERG_AWS_SDK_JARS],
    delta: ['delta-spark_2.12-3.3.2.jar', 'delta-storage-3.3.2.jar'],
    hudi: ['hudi-spark3.5-bundle_2.12-1.0.2.jar'],
  },
  // Hadoop 3.3.4 (the wheel's) and the AWS SDK v1 it was built with (runtimes/spark-3.5/jars.lock).
  s3Jars: [
    'hadoop-aws-3.3.4.jar',
    ...['core', 's3', 'kms', 'dynamodb'].map((m) => `aws-java-sdk-${m}-1.12.262.jar`),
    'jmespath-java-1.12.262.jar',
    'spark-hadoop-cloud_2.12-3.5.7.jar',
    'owlet-commit-protocol-3.5.jar',
  ],
  sparkDefaults: S3A_DEFAULTS,
  // Spark 3.5's Connect server checks no token and binds every interface (it has no binding address setting):
  // this interceptor, built at setup from runtimes/spark-3.5/connect-token/, makes it check the driver's token
  // as Spark 4's server does.
  connectInterceptor: 'owlet.connect.TokenInterceptor',
};

const SPARK_4_1: SparkRuntime = {
  id: 'spark-4.1',
  sparkVersion: '4.1.4',
  scalaVersion: '2.13',
  driverJars: ['owlet-driver-helpers-4.1.jar'],
  tableFormats: {
    iceberg: ['iceberg-spark-runtime-4.1_2.13-1.12.0.jar', ...ICEBERG_AWS_SDK_JARS],
    delta: ['delta-spark_4.1_2.13-4.4.0.jar', 'delta-storage-4.4.0.jar'],
    // Hudi publishes no bundle for Spark 4.1.
  },
  // Hadoop 3.4.2 (the wheel's) and the AWS SDK v2 modules it loads (runtimes/spark-4.1/jars.lock).
  s3Jars: [
    'hadoop-aws-3.4.2.jar',
    ...AWS_SDK_2_MODULES.map((m) => `${m}-2.29.52.jar`),
    'eventstream-1.0.1.jar',
    'reactive-streams-1.0.4.jar',
    'spark-hadoop-cloud_2.13-4.1.2.jar',
    'owlet-commit-protocol-4.1.jar',
  ],
  sparkDefaults: S3A_DEFAULTS,
};

export const SPARK_RUNTIMES: readonly SparkRuntime[] = [SPARK_3_5, SPARK_4_1];

/** The Spark engine versions a workgroup can select, and the runtime each runs. */
export const SPARK_ENGINE_VERSIONS: Readonly<Record<string, SparkRuntime>> = {
  // Athena's Spark 3.2.1 engine: Spark 3.2 does not run on Java 17, so it runs the newest Spark 3.5 here.
  'PySpark engine version 3': SPARK_3_5,
  'Apache Spark version 3.5': SPARK_3_5,
  // Owlet's own: the newest Spark 4 that Iceberg and Delta Lake publish runtimes for.
  'Apache Spark version 4.1': SPARK_4_1,
};

export const DEFAULT_SPARK_RUNTIME = SPARK_3_5;

export function runtimeById(id: string | undefined): SparkRuntime {
  return SPARK_RUNTIMES.find((r) => r.id === id) ?? DEFAULT_SPARK_RUNTIME;
}

export function runtimeOfEngineVersion(engineVersion: string | undefined): SparkRuntime {
  return (engineVersion !== undefined ? SPARK_ENGINE_VERSIONS[engineVersion] : undefined) ?? DEFAULT_SPARK_RUNTIME;
}

/**
 * The classes by which a session's SparkProperties switch a table format on: Athena's consoles set
 * `spark.sql.extensions` and `spark.sql.catalog.<name>` to the format's classes (Athena user guide,
 * notebooks-spark-table-formats-*). A format is on when either names a class of its packages.
 */
const FORMAT_CLASS_PREFIXES: Record<TableFormat, string[]> = {
  iceberg: ['org.apache.iceberg.'],
  delta: ['io.delta.', 'org.apache.spark.sql.delta.'],
  hudi: ['org.apache.hudi.', 'org.apache.spark.sql.hudi.'],
};

function isFormatSwitch(key: string): boolean {
  return key === 'spark.sql.extensions' || /^spark\.sql\.catalog\.[^.]+$/.test(key);
}

/** The table formats a session's SparkProperties switch on. */
export function tableFormatsOf(sparkProperties: Record<string, string>): TableFormat[] {
  const values = Object.entries(sparkProperties)
    .filter(([key]) => isFormatSwitch(key))
    .flatMap(([, value]) => value.split(',').map((v) => v.trim()));
  return TABLE_FORMATS.filter((format) => values.some((v) => FORMAT_CLASS_PREFIXES[format].some((p) => v.startsWith(p))));
}

/** Why a runtime cannot serve these properties (a format with no build for it), or undefined. */
export function unsupportedFormat(runtime: SparkRuntime, sparkProperties: Record<string, string>): TableFormat | undefined {
  return tableFormatsOf(sparkProperties).find((format) => runtime.tableFormats[format] === undefined);
}

/** Where a runtime lives in a checkout. */
export interface RuntimeInstallation {
  python: string;
  /** Jars for the driver's class path (before its JVM starts). */
  driverClassPath: string[];
  /** Jars for `spark.jars`: the driver and the executors. */
  jars: string[];
}

export function runtimeInstallation(root: string, runtime: SparkRuntime, sparkProperties: Record<string, string>): RuntimeInstallation {
  const jar = (file: JarFile) => join(root, '.runtimes', 'jars', file);
  return {
    python: join(root, '.runtimes', runtime.id, 'venv', 'bin', 'python'),
    driverClassPath: runtime.driverJars.map(jar),
    // Executors instantiate every spark.plugins class too (the Connect plugin among them), so the driver's jars
    // go to them as well.
    // Iceberg's AWS SDK v2 modules and Spark 4.1's S3A share versions (2.29.52): each jar once.
    jars: [
      ...new Set([...runtime.driverJars, ...runtime.s3Jars, ...tableFormatsOf(sparkProperties).flatMap((f) => runtime.tableFormats[f] ?? [])]),
    ].map(jar),
  };
}

/** Warm pool sizes by runtime, written `spark-4.1=1,spark-3.5=2` (OWLET_WARM_POOL_SIZES). */
export function poolSizesFrom(text: string): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const item of text.split(',').map((i) => i.trim()).filter((i) => i !== '')) {
    const [id, size] = item.split('=');
    if (!SPARK_RUNTIMES.some((r) => r.id === id) || !/^\d+$/.test(size ?? '')) {
      throw new Error(`OWLET_WARM_POOL_SIZES must list runtime=size pairs of ${SPARK_RUNTIMES.map((r) => r.id).join(', ')}, not '${item}'`);
    }
    sizes[id!] = Number(size);
  }
  return sizes;
}
