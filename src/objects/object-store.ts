// The S3-compatible object store: buckets, objects and multipart uploads, whole or not at all. The S3 REST
// front end (src/protocol/s3-api.ts), the calculation result writer and the import of old result folders all
// go through this interface; every backend passes one conformance suite (test/object-store-conformance.ts).
import type { Readable, Writable } from 'node:stream';

/** A checksum S3 stores with an object (`x-amz-checksum-<algorithm>`), base64 of the digest as S3 sends it. */
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  value: string;
  /** FULL_OBJECT for a checksum of the whole body; COMPOSITE (`<checksum of part checksums>-N`) for multipart. */
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** The headers S3 stores with an object and answers GET and HEAD with. */
export interface ObjectMetadata {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
  /** `x-amz-meta-*` without the prefix, names in lower case. */
  user: Record<string, string>;
}

export interface BucketInfo {
  name: string;
  createdAt: number;
}

/** A file of object bytes; an object is one or more of them, read in order. */
export interface BlobRef {
  id: string;
  size: number;
}

export interface ObjectInfo {
  bucket: string;
  key: string;
  size: number;
  /** As S3 sends it: the MD5 in hex in double quotes, or `"<md5 of the part MD5s>-<parts>"` after multipart. */
  etag: string;
  /** Milliseconds since the epoch. */
  lastModified: number;
  metadata: ObjectMetadata;
  checksum?: StoredChecksum;
  /** Part sizes of an object made by multipart upload (GET and HEAD with partNumber use them). */
  parts?: number[];
  blobs: BlobRef[];
}

export interface UploadInfo {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: number;
  metadata: ObjectMetadata;
  /** The checksum algorithm named at CreateMultipartUpload; every part then carries one. */
  checksumAlgorithm?: ChecksumAlgorithm;
}

export interface PartInfo {
  partNumber: number;
  size: number;
  etag: string;
  lastModified: number;
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
  blob: BlobRef;
}

/** What the reader of an object gets: its record and its bytes, opened before anything could replace them. */
export interface OpenedObject {
  info: ObjectInfo;
  /** The bytes from `start` to `end` (inclusive), or all of them. Call once. */
  stream(range?: { start: number; end: number }): Readable;
  /**
   * Writes the bytes from `start` to `end` (inclusive), or all of them, to `out` and ends it, reusing its read
   * buffers (the GetObject path); resolves when `out` has finished or closed. Call once, instead of `stream`.
   */
  send(out: Writable, range?: { start: number; end: number }): Promise<void>;
  /** Closes the bytes when neither `stream` nor `send` is called. */
  close(): Promise<void>;
}

/** Conditions a write is made under (`If-Match` / `If-None-Match: *` on PutObject and CompleteMultipartUpload). */
export interface WriteConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

/**
 * A body to store and what to check it against: hashes the client declared (`Content-MD5`, a hex
 * `x-amz-content-sha256`, `x-amz-checksum-*`) or that only arrive after the body (a trailer); `expectedSize`
 * catches a body cut short.
 */
export interface IncomingBody {
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  expectedSize?: number;
  contentMd5?: string;
  sha256Hex?: string;
  /** Checksum values known before the body. */
  checksum?: { algorithm: ChecksumAlgorithm; value?: string };
  /** A checksum value that arrives after the body (a trailer); called once the source has ended. */
  trailingChecksum?: () => string | undefined;
}

export interface ListObjectsQuery {
  prefix: string;
  delimiter?: string;
  /** Only keys (and common prefixes) after this one, in byte order. */
  after?: string;
  maxKeys: number;
}

export interface ListObjectsPage {
  objects: ObjectInfo[];
  commonPrefixes: string[];
  truncated: boolean;
  /** The last key or common prefix listed: where the next page starts after. */
  last?: string;
}

export interface ListUploadsQuery {
  prefix: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
  checksum?: string;
}

/** S3's error codes the store raises; the S3 front end gives each its HTTP status and wording. */
export type ObjectStoreErrorCode =
  | 'NoSuchBucket'
  | 'NoSuchKey'
  | 'NoSuchUpload'
  | 'BucketNotEmpty'
  | 'BucketAlreadyOwnedByYou'
  | 'InvalidBucketName'
  | 'KeyTooLongError'
  | 'InvalidArgument'
  | 'InvalidRequest'
  | 'EntityTooSmall'
  | 'EntityTooLarge'
  | 'InvalidPart'
  | 'InvalidPartOrder'
  | 'MalformedXML'
  | 'BadDigest'
  | 'InvalidDigest'
  | 'XAmzContentSHA256Mismatch'
  | 'IncompleteBody'
  | 'PreconditionFailed'
  | 'InvalidRange';

export class ObjectStoreError extends Error {
  constructor(
    readonly code: ObjectStoreErrorCode,
    message: string,
    /** Members S3 adds to the error document (BucketName, Key, UploadId, ...). */
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = code;
  }
}

export interface ObjectStore {
  createBucket(name: string): Promise<BucketInfo>;
  /** Deletes an empty bucket (NoSuchBucket, BucketNotEmpty otherwise). */
  deleteBucket(name: string): Promise<void>;
  headBucket(name: string): Promise<BucketInfo | undefined>;
  listBuckets(): Promise<BucketInfo[]>;

  putObject(bucket: string, key: string, body: IncomingBody, metadata: ObjectMetadata, conditions?: WriteConditions): Promise<ObjectInfo>;
  headObject(bucket: string, key: string): Promise<ObjectInfo>;
  openObject(bucket: string, key: string): Promise<OpenedObject>;
  /** Deletes an object; deleting one that is not there succeeds, as on S3. */
  deleteObject(bucket: string, key: string): Promise<void>;
  copyObject(from: { bucket: string; key: string }, to: { bucket: string; key: string }, metadata: ObjectMetadata | 'COPY'): Promise<ObjectInfo>;
  listObjects(bucket: string, query: ListObjectsQuery): Promise<ListObjectsPage>;

  createUpload(bucket: string, key: string, metadata: ObjectMetadata, checksumAlgorithm?: ChecksumAlgorithm): Promise<UploadInfo>;
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: IncomingBody): Promise<PartInfo>;
  uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    from: { bucket: string; key: string; range?: { start: number; end: number } },
  ): Promise<PartInfo>;
  completeUpload(bucket: string, key: string, uploadId: string, parts: readonly CompletedPart[], conditions?: WriteConditions): Promise<ObjectInfo>;
  abortUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  listParts(bucket: string, key: string, uploadId: string, after: number, maxParts: number): Promise<{ upload: UploadInfo; parts: PartInfo[]; truncated: boolean }>;
  listUploads(bucket: string, query: ListUploadsQuery): Promise<{ uploads: UploadInfo[]; commonPrefixes: string[]; truncated: boolean }>;

  close(): Promise<void>;
}

// --- Names, as S3 validates them ---------------------------------------------------------------------

/**
 * Bucket naming rules for general purpose buckets (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html):
 * 3 to 63 characters of lower-case letters, digits, dots and hyphens, beginning and ending with a letter or
 * digit, no two adjacent dots, not an IP address, not starting with `xn--`, `sthree-` or `amzn-s3-demo-`, not
 * ending with `-s3alias`, `--ol-s3`, `.mrap`, `--x-s3` or `--table-s3`.
 */
export function isValidBucketName(name: string): boolean {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) return false;
  if (name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name)) return false;
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) return false;
  return !/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name);
}

/** S3's limit on a key: 1,024 bytes of UTF-8 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html). */
export const MAX_KEY_BYTES = 1024;

export function checkBucketName(name: string): void {
  if (!isValidBucketName(name)) throw new ObjectStoreError('InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
}

export function checkKey(key: string): void {
  if (key === '') throw new ObjectStoreError('InvalidArgument', 'Key must not be empty.');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new ObjectStoreError('KeyTooLongError', 'Your key is too long', { Size: String(Buffer.byteLength(key)), MaxSizeAllowed: String(MAX_KEY_BYTES) });
  }
}

/** Multipart limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_NUMBER = 10_000;
/** The largest single PUT (5 GiB) and part. */
export const MAX_PUT_BYTES = 5 * 1024 * 1024 * 1024;

export const emptyMetadata = (): ObjectMetadata => ({ user: {} });
