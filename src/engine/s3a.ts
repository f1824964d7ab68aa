// The settings that point a session's S3A (s3://, s3a://, s3n:// paths) at the data plane's store: Owlet's own
// S3 API by default, or the external S3-compatible store of OWLET_S3_* (docs/s3.md). What every session has
// whatever the store (the file systems, the committer) is in runtimes.ts.
import type { Credentials } from '../protocol/sigv4.js';

/** The store sessions reach, and the key pair they sign with (none: S3A looks for one the AWS way). */
export interface S3aStore {
  endpoint: string;
  region: string;
  pathStyle: boolean;
  credentials?: Credentials;
}

/**
 * The Hadoop settings (without Spark's `spark.hadoop.` prefix) for `store`. The names are S3A's, from Hadoop's
 * hadoop-aws documentation (index.md, "third party stores"): the region must be set (any name but `sdk`, `ec2`
 * or `auto`) so that S3A asks no AWS service which region the endpoint is in.
 */
export function s3aHadoopSettings(store: S3aStore): Record<string, string> {
  const settings: Record<string, string> = {
    'fs.s3a.endpoint': store.endpoint,
    'fs.s3a.endpoint.region': store.region,
    'fs.s3a.path.style.access': String(store.pathStyle),
    'fs.s3a.connection.ssl.enabled': String(store.endpoint.startsWith('https:')),
  };
  if (store.credentials) {
    // A key pair given in the configuration and nothing else: no environment, profile or instance metadata.
    settings['fs.s3a.aws.credentials.provider'] = 'org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider';
    settings['fs.s3a.access.key'] = store.credentials.accessKeyId;
    settings['fs.s3a.secret.key'] = store.credentials.secretAccessKey;
  }
  return settings;
}

/** Hadoop settings as Spark properties, which Spark copies into the driver's and every executor's Hadoop configuration. */
export function prefixedForSpark(hadoopSettings: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(hadoopSettings).map(([key, value]) => [`spark.hadoop.${key}`, value]));
}
