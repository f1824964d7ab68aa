// The directories of what the catalog manages, as the Hive Metastore owns them: a database's and a table's
// location is made when it is created, a managed table's data goes when the table is dropped with its data,
// a renamed managed table's directory moves, and a truncated table is emptied (Hive's HMSHandler and
// HiveAlterHandler do this through their Warehouse and the location's Hadoop file system).
//
// Two kinds of location: `file:` (a local directory) and `s3://`, `s3a://`, `s3n://` (a prefix of the data
// plane's store: Owlet's own object store, or the external store of OWLET_S3_*; docs/s3.md). On S3 a
// "directory" is only a key prefix. Nothing is written to make one: no `dir/` marker object. S3A on Hadoop
// 3.4 (Spark 4.1's) writes no marker for mkdirs and treats a prefix with objects under it as a directory;
// S3A on Hadoop 3.3 (Spark 3.5's) writes one but reads a missing one the same way (hadoop-aws
// directory_markers.md). A marker is a zero-byte object that other readers of the data (pyarrow, awswrangler,
// Athena SQL) may take for a file. Making an S3 location checks only that its bucket exists.
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

/** What the catalog needs of an S3 store: keys under a prefix, deleted, copied. */
export interface PrefixStore {
  bucketExists(bucket: string): Promise<boolean>;
  /** Every key that starts with `prefix`, in pages. */
  listKeys(bucket: string, prefix: string): AsyncIterable<string[]>;
  deleteKeys(bucket: string, keys: readonly string[]): Promise<void>;
  copyKey(bucket: string, from: string, to: string): Promise<void>;
}

/** A location the catalog can act on: a local directory, or a bucket and a key prefix (no trailing slash). */
export type TableLocation = { kind: 'file'; path: string } | { kind: 's3'; bucket: string; key: string };

/** A local directory for a `file:` URI (Hadoop writes `file:/a/b` as well as `file:///a/b`); else undefined. */
export function localPath(location: string | undefined): string | undefined {
  if (!location?.startsWith('file:')) return undefined;
  const path = decodeURIComponent(location.slice('file:'.length).replace(/^\/+/, '/'));
  return path.startsWith('/') ? path : undefined;
}

/**
 * A location URI as the catalog holds it (a Hadoop Path's URI: a partition value's escapes are themselves
 * percent-encoded, and S3A's key is the decoded path).
 */
export function parseLocation(location: string | undefined): TableLocation | undefined {
  const path = localPath(location);
  if (path !== undefined) return { kind: 'file', path };
  const s3 = location === undefined ? null : /^s3[an]?:\/\/([^/]+)(?:\/(.*))?$/i.exec(location);
  if (!s3) return undefined;
  return { kind: 's3', bucket: s3[1]!, key: decodeURIComponent(s3[2] ?? '').replace(/\/+$/, '') };
}

/** Why a location cannot be made; the metastore words it as Hive does for a database or a table. */
export class LocationUnavailableError extends Error {}

export interface TableDirectoriesOptions {
  /** The data plane's store for `s3://` locations; without one they are left to the engine (and logged). */
  s3?: PrefixStore;
  log: Logger;
}

export class TableDirectories {
  constructor(private readonly o: TableDirectoriesOptions) {}

  /** Checks, before a definition is stored, that its location can exist: an S3 location's bucket must. */
  async check(location: string | undefined): Promise<void> {
    const at = parseLocation(location);
    if (at?.kind !== 's3' || !this.o.s3) return;
    if (!(await this.o.s3.bucketExists(at.bucket))) throw new LocationUnavailableError(`The bucket ${at.bucket} does not exist`);
  }

  /** Makes the directory of a definition just stored (a local one; an S3 prefix needs nothing). */
  async make(location: string | undefined): Promise<void> {
    const at = parseLocation(location);
    if (at?.kind === 'file') await mkdir(at.path, { recursive: true });
  }

  /** Deletes everything at the location. */
  async remove(location: string | undefined): Promise<void> {
    const at = parseLocation(location);
    if (at?.kind === 'file') {
      await rm(at.path, { recursive: true, force: true });
      return;
    }
    const s3 = this.s3(at, location, 'data left in place');
    if (!s3 || at?.kind !== 's3') return;
    for await (const keys of s3.listKeys(at.bucket, `${at.key}/`)) await s3.deleteKeys(at.bucket, keys);
  }

  /** Empties the location and leaves the directory (TRUNCATE TABLE). */
  async clear(location: string | undefined): Promise<void> {
    await this.remove(location);
    await this.make(location);
  }

  /**
   * Moves a directory (a managed table renamed from its database's default path). On S3 that is a copy and a
   * delete per object, as S3A's own rename does.
   */
  async move(from: string, to: string): Promise<void> {
    const source = parseLocation(from);
    const target = parseLocation(to);
    if (source?.kind === 'file' && target?.kind === 'file') {
      await mkdir(dirname(target.path), { recursive: true });
      await rename(source.path, target.path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      return;
    }
    const s3 = this.s3(source, from, 'directory not moved');
    if (!s3 || source?.kind !== 's3' || target?.kind !== 's3' || source.bucket !== target.bucket) {
      if (s3) this.o.log.warn({ from, to }, 'a renamed table\'s directory is not moved across buckets or file systems');
      return;
    }
    const prefix = `${source.key}/`;
    for await (const keys of s3.listKeys(source.bucket, prefix)) {
      for (const key of keys) await s3.copyKey(source.bucket, key, `${target.key}/${key.slice(prefix.length)}`);
      await s3.deleteKeys(source.bucket, keys);
    }
  }

  /**
   * The store for an S3 location, or undefined (logged) when there is none to act on. A bucket's root is never
   * acted on: a database or table whose location is a whole bucket keeps its bucket's other data.
   */
  private s3(at: TableLocation | undefined, location: string | undefined, consequence: string): PrefixStore | undefined {
    if (at?.kind !== 's3') {
      if (location) this.o.log.info({ location }, `a location outside the local file system and the data plane's store: ${consequence}`);
      return undefined;
    }
    if (at.key === '') {
      this.o.log.warn({ location }, `a bucket's root is not a table's directory: ${consequence}`);
      return undefined;
    }
    if (!this.o.s3) this.o.log.info({ location }, `no S3 store is configured for the catalog: ${consequence}`);
    return this.o.s3;
  }
}
