// What a session's own AWS clients need to reach the account's catalog and objects on Owlet: on Athena a session's
// Iceberg GlueCatalog and S3FileIO reach AWS Glue and S3 by themselves, with the execution role's credentials
// (Athena user guide, notebooks-spark-table-formats-apache-iceberg: the SparkProperties name only the classes).
// Owlet keeps those properties working as written by adding, for each catalog they configure with GlueCatalog, the
// endpoints (Owlet's own Glue API and S3 API, path-style) and the region; a session's own values win. The session's own
// key pair (src/sessions/session-keys.ts; never the API's) reaches the driver through its environment (the AWS
// SDK's default credential chain reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).

/** Iceberg's GlueCatalog class, as Athena's documented `catalog-impl` names it. */
export const ICEBERG_GLUE_CATALOG = 'org.apache.iceberg.aws.glue.GlueCatalog';

export interface OwletApiAccess {
  /** Owlet's API endpoint (Athena, Glue and S3 are all served there); undefined until the server listens. */
  endpoint: () => string | undefined;
  region: string;
}

/**
 * The settings added for each `spark.sql.catalog.<name>.catalog-impl=...GlueCatalog` of the session's properties
 * (Iceberg's catalog properties: `glue.endpoint`, `client.region`, `s3.endpoint`, `s3.path-style-access`,
 * `http-client.type`; Iceberg docs, AWS integrations).
 */
export function glueCatalogClientProperties(sparkProperties: Record<string, string>, access: OwletApiAccess): Record<string, string> {
  const endpoint = access.endpoint();
  if (endpoint === undefined) return {};
  const added: Record<string, string> = {};
  for (const [key, value] of Object.entries(sparkProperties)) {
    const catalog = /^spark\.sql\.catalog\.([^.]+)\.catalog-impl$/.exec(key)?.[1];
    if (catalog === undefined || value.trim() !== ICEBERG_GLUE_CATALOG) continue;
    const prefix = `spark.sql.catalog.${catalog}`;
    added[`${prefix}.glue.endpoint`] = endpoint;
    added[`${prefix}.client.region`] = access.region;
    added[`${prefix}.s3.endpoint`] = endpoint;
    added[`${prefix}.s3.path-style-access`] = 'true';
    // Iceberg 1.12's `apache` client type is the SDK's Apache 5 HTTP client, which the SDK the runtimes pin
    // (2.29.52, shared with S3A) predates; its URL-connection client is there.
    added[`${prefix}.http-client.type`] = 'urlconnection';
  }
  return added;
}

/**
 * The driver's environment for its AWS clients (the SDKs' standard variables): the key pair the session's S3A
 * settings carry, which is the session's own when it reaches Owlet's store, and the region.
 */
export function sessionAwsEnvironment(hadoopSettings: Record<string, string>, region: string | undefined): Record<string, string> {
  const accessKeyId = hadoopSettings['fs.s3a.access.key'];
  const secretAccessKey = hadoopSettings['fs.s3a.secret.key'];
  return {
    ...(accessKeyId && secretAccessKey ? { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } : {}),
    ...(region ? { AWS_REGION: region } : {}),
  };
}
