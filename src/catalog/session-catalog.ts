// The Spark properties that put a session on the account's catalog. They are set when the runner's JVM starts
// (catalogImplementation is a static setting), which is what lets a pooled runner, started before any session
// is known, serve any session: every session of the server gets the same ones.
//
// Spark's built-in Hive client (Hive 2.3.x in both runtimes: 2.3.9 in Spark 3.5, 2.3.10 in Spark 4.1) is pointed
// at Owlet's metastore by `hive.metastore.uris`; Spark passes `spark.hadoop.*` into the Hive configuration
// (Spark SQL guide, "Hive Tables"; HiveUtils.newClientForMetadata).
export interface SessionCatalogSettings {
  /** The Hive Metastore service's port on loopback. */
  metastorePort: number;
  /** Spark's warehouse directory: where `default` and databases created without LOCATION keep tables. */
  warehouse: string;
}

export function sessionCatalogProperties(settings: SessionCatalogSettings): Record<string, string> {
  return {
    'spark.sql.catalogImplementation': 'hive',
    'spark.hadoop.hive.metastore.uris': `thrift://127.0.0.1:${settings.metastorePort}`,
    // Spark also gives this to Hive as hive.metastore.warehouse.dir.
    'spark.sql.warehouse.dir': settings.warehouse,
    // The metastore has no schema of Hive's to verify (Hive's check is for its own metastore database).
    'spark.hadoop.hive.metastore.schema.verification': 'false',
    // Spark then reads a table's partitions whole and prunes them itself, instead of sending the metastore
    // a filter string to parse (get_partitions_by_filter), which Owlet's metastore does not serve.
    'spark.sql.hive.metastorePartitionPruning': 'false',
    // A metastore call that fails is not worth the client's retries with a one-second pause.
    'spark.hadoop.hive.metastore.failure.retries': '1',
  };
}

/** The Spark property that says where a session's databases created without LOCATION go. */
export const WAREHOUSE_PROPERTY = 'spark.sql.warehouse.dir';

/**
 * A session's warehouse when its workgroup has an output location: `<OutputLocation>/spark-warehouse`, so that
 * `CREATE DATABASE d` lands at `<OutputLocation>/spark-warehouse/d.db`. Athena "creates a subdirectory in your
 * workgroup location" for such a database (Athena user guide, notebooks-spark-known-issues); the subdirectory's
 * name is not published, and Owlet takes Spark's own default name for a warehouse, which no session's result
 * folder (`<OutputLocation>/<session id>/`) can be. Without an output location: nothing (the server's
 * OWLET_CATALOG_WAREHOUSE stays).
 */
export function workGroupWarehouse(outputLocation: string | undefined): Record<string, string> {
  if (!outputLocation) return {};
  return { [WAREHOUSE_PROPERTY]: `${outputLocation.replace(/\/+$/, '')}/spark-warehouse` };
}
