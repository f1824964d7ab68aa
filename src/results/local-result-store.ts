// The default ResultStore: objects as files under `<data dir>/s3/<bucket>/<key>`, also served over the S3 API
// (GetObject, HeadObject, ListObjectsV2) by src/protocol/s3-api.ts.
import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { type ObjectInfo, type ResultStore, ResultStoreError, type S3Location, s3Uri } from './result-store.js';

/** Bucket names as S3 allows them (3 to 63 lower-case letters, digits, dots and hyphens). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class LocalResultStore implements ResultStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The file of an object, or undefined for a bucket or key that could leave the store's folder. */
  pathOf(bucket: string, key: string): string | undefined {
    if (!BUCKET.test(bucket)) return undefined;
    const path = resolve(this.root, bucket, key);
    const bucketDir = resolve(this.root, bucket);
    if (path !== bucketDir && !path.startsWith(bucketDir + sep)) return undefined;
    return path;
  }

  private folderPath(folder: S3Location): string {
    const path = this.pathOf(folder.bucket, folder.key);
    if (!path) throw new Error(`s3://${folder.bucket}/${folder.key} is not a location the local result store can hold`);
    return path;
  }

  async stagingDirectory(folder: S3Location): Promise<string> {
    const dir = this.folderPath(folder);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw new ResultStoreError(s3Uri(folder), error);
    }
    return dir;
  }

  async publish(dir: string, folder: S3Location): Promise<void> {
    // The staging directory is the folder itself.
    if (resolve(dir) !== this.folderPath(folder)) throw new Error(`${dir} is not where ${folder.key} lives`);
  }

  async read(location: S3Location): Promise<Uint8Array | undefined> {
    const path = this.pathOf(location.bucket, location.key);
    if (!path) return undefined;
    try {
      return await readFile(path);
    } catch {
      return undefined;
    }
  }

  async bucketExists(bucket: string): Promise<boolean> {
    const path = this.pathOf(bucket, '');
    if (!path) return false;
    try {
      return (await stat(path)).isDirectory();
    } catch {
      return false;
    }
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    const path = this.pathOf(bucket, key);
    if (!path || key === '' || key.endsWith('/')) return undefined;
    try {
      const s = await stat(path);
      if (!s.isFile()) return undefined;
      return { key, size: s.size, lastModified: s.mtime, etag: etagOf(s.size, s.mtimeMs) };
    } catch {
      return undefined;
    }
  }

  open(bucket: string, key: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.pathOf(bucket, key)!, range);
  }

  /** Every object of a bucket whose key starts with `prefix`, in key order (UTF-8 byte order, as S3 lists). */
  async list(bucket: string, prefix: string): Promise<ObjectInfo[]> {
    const bucketDir = this.pathOf(bucket, '');
    if (!bucketDir) return [];
    const found: ObjectInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        const key = relative(bucketDir, path).split(sep).join('/');
        if (entry.isDirectory()) {
          // Only descend where keys with the prefix can be.
          if (prefix.startsWith(`${key}/`) || `${key}/`.startsWith(prefix) || key.startsWith(prefix)) await walk(path);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const s = await stat(path);
          found.push({ key, size: s.size, lastModified: s.mtime, etag: etagOf(s.size, s.mtimeMs) });
        }
      }
    };
    await walk(bucketDir);
    return found.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }
}

/** A stable ETag for a file as it is now (its size and modification time; the content is not hashed). */
function etagOf(size: number, mtimeMs: number): string {
  return `"${createHash('md5').update(`${size}:${mtimeMs}`).digest('hex')}"`;
}
