// The key index of the embedded object store: which buckets, objects, uploads and parts exist and which blob
// files hold their bytes. A key is stored as its UTF-8 bytes (SQLite BLOB, PostgreSQL bytea), so that an index
// scan is S3's listing order (byte order of UTF-8) in both backends and any key, NUL included, is just data.
// Every change is one transaction: committing the index is the moment an object becomes visible.
import type { BlobRef, BucketInfo, ObjectInfo, PartInfo, UploadInfo } from './object-store.js';

export interface KeyRange {
  /** Keys starting with these bytes. */
  prefix: Buffer;
  /** Keys after this one (or from it, when `inclusive`). */
  from?: { key: Buffer; inclusive: boolean };
  limit: number;
}

export interface UploadRange {
  prefix: Buffer;
  /** Uploads after (key, upload id), as ListMultipartUploads' markers say. */
  after?: { key: Buffer; uploadId: string };
  limit: number;
}

export interface ObjectIndex {
  /** Returns false when the bucket exists already. */
  createBucket(bucket: BucketInfo): Promise<boolean>;
  deleteBucket(name: string): Promise<'deleted' | 'missing' | 'not-empty'>;
  getBucket(name: string): Promise<BucketInfo | undefined>;
  listBuckets(): Promise<BucketInfo[]>;

  /**
   * Makes `object` the one at its key, atomically; returns the blobs of the object it replaced (to delete), or
   * 'no-bucket'. `check` sees the current object first and may throw to refuse the write (conditional PUT).
   */
  putObject(object: ObjectInfo, check?: (current: ObjectInfo | undefined) => void): Promise<BlobRef[] | 'no-bucket'>;
  getObject(bucket: string, key: string): Promise<ObjectInfo | undefined>;
  /** Removes the object; returns its blobs, or undefined when there was none. */
  deleteObject(bucket: string, key: string): Promise<BlobRef[] | undefined>;
  listObjects(bucket: string, range: KeyRange): Promise<ObjectInfo[]>;

  createUpload(upload: UploadInfo): Promise<boolean>;
  getUpload(uploadId: string): Promise<UploadInfo | undefined>;
  /** Records a part (replacing one of the same number); returns the replaced part's blob, or 'no-upload'. */
  putPart(uploadId: string, part: PartInfo): Promise<BlobRef | undefined | 'no-upload'>;
  listParts(uploadId: string, after: number, limit: number): Promise<PartInfo[]>;
  /**
   * Ends the upload and makes `object` visible in one transaction. `check` sees the upload's parts and the
   * current object and may throw. Returns the blobs that are no longer used (parts left out and the replaced
   * object's), or 'no-upload' when the upload is gone.
   */
  completeUpload(
    uploadId: string,
    object: ObjectInfo,
    check: (parts: PartInfo[], current: ObjectInfo | undefined) => void,
  ): Promise<BlobRef[] | 'no-upload'>;
  /** Removes the upload and its parts; returns their blobs, or undefined when there was none. */
  abortUpload(uploadId: string): Promise<BlobRef[] | undefined>;
  listUploads(bucket: string, range: UploadRange): Promise<UploadInfo[]>;

  /** Whether a blob id is named by any object or part (the sweep at start asks for files it finds). */
  referencedBlobs(ids: readonly string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

/** What an object row keeps beside its key columns, as JSON text. */
export interface ObjectRowBody {
  size: number;
  etag: string;
  lastModified: number;
  metadata: ObjectInfo['metadata'];
  checksum?: ObjectInfo['checksum'];
  parts?: number[];
  blobs: BlobRef[];
}

export function objectRowBody(object: ObjectInfo): string {
  const body: ObjectRowBody = {
    size: object.size,
    etag: object.etag,
    lastModified: object.lastModified,
    metadata: object.metadata,
    blobs: object.blobs,
  };
  if (object.checksum) body.checksum = object.checksum;
  if (object.parts) body.parts = object.parts;
  return JSON.stringify(body);
}

export function objectFromRow(bucket: string, key: Buffer, body: string): ObjectInfo {
  const b = JSON.parse(body) as ObjectRowBody;
  const object: ObjectInfo = { bucket, key: key.toString('utf8'), size: b.size, etag: b.etag, lastModified: b.lastModified, metadata: b.metadata, blobs: b.blobs };
  if (b.checksum) object.checksum = b.checksum;
  if (b.parts) object.parts = b.parts;
  return object;
}

export interface UploadRowBody {
  initiated: number;
  metadata: UploadInfo['metadata'];
  checksumAlgorithm?: UploadInfo['checksumAlgorithm'];
}

export function uploadRowBody(upload: UploadInfo): string {
  const body: UploadRowBody = { initiated: upload.initiated, metadata: upload.metadata };
  if (upload.checksumAlgorithm) body.checksumAlgorithm = upload.checksumAlgorithm;
  return JSON.stringify(body);
}

export function uploadFromRow(uploadId: string, bucket: string, key: Buffer, body: string): UploadInfo {
  const b = JSON.parse(body) as UploadRowBody;
  const upload: UploadInfo = { uploadId, bucket, key: key.toString('utf8'), initiated: b.initiated, metadata: b.metadata };
  if (b.checksumAlgorithm) upload.checksumAlgorithm = b.checksumAlgorithm;
  return upload;
}

export function partRowBody(part: PartInfo): string {
  return JSON.stringify(part);
}

export const partFromRow = (body: string): PartInfo => JSON.parse(body) as PartInfo;

/** The smallest byte string greater than every string starting with `prefix`, or undefined (no bound). */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const bound = Buffer.from(prefix.subarray(0, end));
  bound[end - 1] = bound[end - 1]! + 1;
  return bound;
}

export const blobsOfParts = (parts: readonly PartInfo[]): BlobRef[] => parts.map((p) => p.blob);
