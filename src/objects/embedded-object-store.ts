// Owlet's own object store: bytes in blob files (blob-files.ts), the key index in SQL (object-index.ts).
// A write puts the whole body in a new blob, syncs it, and only then commits the index row that names it: a
// reader sees the old object or the new one, never part of one, and a crash before the commit leaves a blob
// no row names, which the sweep at start removes. Two writers of one key each write their own blob; the
// later commit wins and frees the earlier one's blob.
import { createHash, randomBytes } from 'node:crypto';
import { BlobFiles, BodyTooLargeError, filesOf } from './blob-files.js';
import { newDigester } from './checksums.js';
import { blobsOfParts, type ObjectIndex, prefixEnd } from './object-index.js';
import {
  type BlobRef,
  type BucketInfo,
  type ChecksumAlgorithm,
  checkBucketName,
  checkKey,
  type CompletedPart,
  type IncomingBody,
  type ListObjectsPage,
  type ListObjectsQuery,
  type ListUploadsQuery,
  MAX_PART_NUMBER,
  MAX_PUT_BYTES,
  MIN_PART_BYTES,
  type ObjectInfo,
  type ObjectMetadata,
  type ObjectStore,
  ObjectStoreError,
  type OpenedObject,
  type PartInfo,
  type StoredChecksum,
  type UploadInfo,
  type WriteConditions,
} from './object-store.js';

export interface EmbeddedObjectStoreOptions {
  /** The folder of the blob files (`<data dir>/objects`). */
  root: string;
  index: ObjectIndex;
  now?: () => number;
  /**
   * Blob files younger than this at start are left to the sweep of a later start: another node sharing the
   * index may be about to commit them. 0 when this server is the index's only user (the SQLite file).
   */
  sweepGraceMs: number;
}

interface WrittenBody {
  blob: BlobRef;
  md5: Buffer;
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

const unquote = (etag: string): string => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

/** An ETag condition header (`"abc"`, `abc`, `*`, or a list) against an object's ETag. */
export function etagMatches(condition: string, etag: string): boolean {
  return condition.split(',').some((c) => c.trim() === '*' || unquote(c) === unquote(etag));
}

export class EmbeddedObjectStore implements ObjectStore {
  readonly blobs: BlobFiles;
  private readonly index: ObjectIndex;
  private readonly now: () => number;

  private constructor(options: EmbeddedObjectStoreOptions) {
    this.blobs = new BlobFiles(options.root);
    this.index = options.index;
    this.now = options.now ?? Date.now;
  }

  /** Opens the store and removes what crashed writes left behind. */
  static async open(options: EmbeddedObjectStoreOptions): Promise<EmbeddedObjectStore> {
    const store = new EmbeddedObjectStore(options);
    const startedAt = store.now();
    await store.blobs.sweep((ids) => store.index.referencedBlobs(ids), startedAt - options.sweepGraceMs);
    return store;
  }

  async createBucket(name: string): Promise<BucketInfo> {
    checkBucketName(name);
    const bucket = { name, createdAt: this.now() };
    if (!(await this.index.createBucket(bucket))) {
      throw new ObjectStoreError('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: name });
    }
    return bucket;
  }

  async deleteBucket(name: string): Promise<void> {
    const outcome = await this.index.deleteBucket(name);
    if (outcome === 'missing') throw noSuchBucket(name);
    if (outcome === 'not-empty') throw new ObjectStoreError('BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: name });
  }

  headBucket(name: string): Promise<BucketInfo | undefined> {
    return this.index.getBucket(name);
  }

  listBuckets(): Promise<BucketInfo[]> {
    return this.index.listBuckets();
  }

  private async requireBucket(name: string): Promise<void> {
    if (!(await this.index.getBucket(name))) throw noSuchBucket(name);
  }

  /** Writes a body to a new blob and checks it against every hash and length the client declared. */
  private async writeBody(body: IncomingBody, maxBytes: number): Promise<WrittenBody> {
    const md5 = createHash('md5');
    const sha256 = body.sha256Hex ? createHash('sha256') : undefined;
    const digester = body.checksum ? newDigester(body.checksum.algorithm) : undefined;
    let blob: BlobRef;
    try {
      blob = await this.blobs.write(
        body.source,
        (chunk) => {
          md5.update(chunk);
          sha256?.update(chunk);
          digester?.update(chunk);
        },
        maxBytes,
      );
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        throw new ObjectStoreError('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size.', { MaxSizeAllowed: String(maxBytes) });
      }
      throw error;
    }
    try {
      const md5Digest = md5.digest();
      if (body.expectedSize !== undefined && blob.size !== body.expectedSize) {
        throw new ObjectStoreError('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
      }
      if (body.contentMd5 !== undefined && Buffer.from(body.contentMd5, 'base64').toString('hex') !== md5Digest.toString('hex')) {
        throw new ObjectStoreError('BadDigest', 'The Content-MD5 you specified did not match what we received.');
      }
      if (sha256 && sha256.digest('hex') !== body.sha256Hex) {
        throw new ObjectStoreError('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
      }
      const written: WrittenBody = { blob, md5: md5Digest };
      if (digester && body.checksum) {
        const value = Buffer.from(await digester.digest()).toString('base64');
        const declared = body.checksum.value ?? body.trailingChecksum?.();
        if (declared !== undefined && declared !== value) {
          throw new ObjectStoreError('BadDigest', `The ${body.checksum.algorithm} you specified did not match the calculated checksum.`);
        }
        written.checksum = { algorithm: body.checksum.algorithm, value };
      }
      return written;
    } catch (error) {
      await this.blobs.remove([blob]);
      throw error;
    }
  }

  async putObject(bucket: string, key: string, body: IncomingBody, metadata: ObjectMetadata, conditions: WriteConditions = {}): Promise<ObjectInfo> {
    checkKey(key);
    await this.requireBucket(bucket);
    const written = await this.writeBody(body, MAX_PUT_BYTES);
    const object: ObjectInfo = {
      bucket,
      key,
      size: written.blob.size,
      etag: `"${written.md5.toString('hex')}"`,
      lastModified: this.now(),
      metadata,
      blobs: filesOf([written.blob]),
    };
    if (written.checksum) object.checksum = { ...written.checksum, type: 'FULL_OBJECT' };
    await this.commit([written.blob], () => this.index.putObject(object, (current) => checkWriteConditions(conditions, current, key)), bucket);
    return object;
  }

  /** Runs an index commit that names `fresh` blobs; frees what it replaced, or `fresh` when it fails. */
  private async commit(fresh: BlobRef[], work: () => Promise<BlobRef[] | 'no-bucket' | 'no-upload'>, bucket: string, uploadId?: string): Promise<void> {
    let outcome: BlobRef[] | 'no-bucket' | 'no-upload';
    try {
      outcome = await work();
    } catch (error) {
      await this.blobs.remove(fresh);
      throw error;
    }
    if (outcome === 'no-bucket') {
      await this.blobs.remove(fresh);
      throw noSuchBucket(bucket);
    }
    if (outcome === 'no-upload') {
      await this.blobs.remove(fresh);
      throw noSuchUpload(uploadId ?? '');
    }
    await this.blobs.remove(outcome);
  }

  async headObject(bucket: string, key: string): Promise<ObjectInfo> {
    const object = await this.index.getObject(bucket, key);
    if (object) return object;
    await this.requireBucket(bucket);
    throw noSuchKey(key);
  }

  async openObject(bucket: string, key: string): Promise<OpenedObject> {
    // A writer may replace the object and unlink its blobs between the index read and the opens; the next
    // read then finds the new object.
    for (let attempt = 0; ; attempt++) {
      const info = await this.headObject(bucket, key);
      try {
        const handles = await this.blobs.openAll(filesOf(info.blobs));
        let used = false;
        return {
          info,
          stream: (range) => {
            used = true;
            return this.blobs.stream(filesOf(info.blobs), handles, range?.start ?? 0, range?.end ?? info.size - 1);
          },
          send: (out, range) => {
            used = true;
            return this.blobs.send(filesOf(info.blobs), handles, range?.start ?? 0, range?.end ?? info.size - 1, out);
          },
          close: async () => {
            if (!used) await Promise.all(handles.map((h) => h.close()));
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw error;
      }
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const blobs = await this.index.deleteObject(bucket, key);
    if (blobs) await this.blobs.remove(blobs);
    else await this.requireBucket(bucket);
  }

  async copyObject(from: { bucket: string; key: string }, to: { bucket: string; key: string }, metadata: ObjectMetadata | 'COPY'): Promise<ObjectInfo> {
    checkKey(to.key);
    const source = await this.headObject(from.bucket, from.key);
    if (from.bucket === to.bucket && from.key === to.key && metadata === 'COPY') {
      throw new ObjectStoreError(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    await this.requireBucket(to.bucket);
    const blobs: BlobRef[] = [];
    try {
      for (const blob of source.blobs) blobs.push(await this.blobs.duplicate(blob));
    } catch (error) {
      await this.blobs.remove(blobs);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw noSuchKey(from.key);
      throw error;
    }
    const object: ObjectInfo = { ...source, bucket: to.bucket, key: to.key, lastModified: this.now(), metadata: metadata === 'COPY' ? source.metadata : metadata, blobs };
    await this.commit(blobs, () => this.index.putObject(object), to.bucket);
    return object;
  }

  async listObjects(bucket: string, query: ListObjectsQuery): Promise<ListObjectsPage> {
    await this.requireBucket(bucket);
    const page: ListObjectsPage = { objects: [], commonPrefixes: [], truncated: false };
    const prefix = Buffer.from(query.prefix);
    const groupOf = (key: string): string | undefined => {
      if (!query.delimiter) return undefined;
      const at = key.indexOf(query.delimiter, query.prefix.length);
      return at < 0 ? undefined : key.slice(0, at + query.delimiter.length);
    };
    let from: { key: Buffer; inclusive: boolean } | undefined;
    if (query.after !== undefined && query.after !== '') {
      // Listing after a common prefix (a continuation token or marker that names one) skips all its keys.
      const group = query.after.startsWith(query.prefix) ? groupOf(query.after) : undefined;
      const end = group !== undefined ? prefixEnd(Buffer.from(group)) : undefined;
      from = end ? { key: end, inclusive: true } : { key: Buffer.from(query.after), inclusive: false };
    }
    if (query.maxKeys <= 0) return page;
    let count = 0;
    for (;;) {
      const limit = Math.min(1000, query.maxKeys - count) + 1;
      const rows = await this.index.listObjects(bucket, { prefix, ...(from ? { from } : {}), limit });
      let regrouped = false;
      for (const row of rows) {
        if (count >= query.maxKeys) {
          page.truncated = true;
          return page;
        }
        const group = groupOf(row.key);
        count++;
        if (group !== undefined) {
          page.commonPrefixes.push(group);
          page.last = group;
          const end = prefixEnd(Buffer.from(group));
          if (!end) return page;
          from = { key: end, inclusive: true };
          regrouped = true;
          break;
        }
        page.objects.push(row);
        page.last = row.key;
        from = { key: Buffer.from(row.key), inclusive: false };
      }
      if (!regrouped && rows.length < limit) return page;
    }
  }

  async createUpload(bucket: string, key: string, metadata: ObjectMetadata, checksumAlgorithm?: ChecksumAlgorithm): Promise<UploadInfo> {
    checkKey(key);
    const upload: UploadInfo = { uploadId: randomBytes(24).toString('base64url'), bucket, key, initiated: this.now(), metadata };
    if (checksumAlgorithm) upload.checksumAlgorithm = checksumAlgorithm;
    if (!(await this.index.createUpload(upload))) throw noSuchBucket(bucket);
    return upload;
  }

  private async requireUpload(bucket: string, key: string, uploadId: string): Promise<UploadInfo> {
    const upload = await this.index.getUpload(uploadId);
    if (!upload || upload.bucket !== bucket || upload.key !== key) {
      await this.requireBucket(bucket);
      throw noSuchUpload(uploadId);
    }
    return upload;
  }

  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: IncomingBody): Promise<PartInfo> {
    checkPartNumber(partNumber);
    const upload = await this.requireUpload(bucket, key, uploadId);
    const written = await this.writeBody(upload.checksumAlgorithm && !body.checksum ? { ...body, checksum: { algorithm: upload.checksumAlgorithm } } : body, MAX_PUT_BYTES);
    const part: PartInfo = { partNumber, size: written.blob.size, etag: `"${written.md5.toString('hex')}"`, lastModified: this.now(), blob: written.blob };
    if (written.checksum) part.checksum = written.checksum;
    await this.commitPart(uploadId, part);
    return part;
  }

  private async commitPart(uploadId: string, part: PartInfo): Promise<void> {
    let replaced: BlobRef | undefined | 'no-upload';
    try {
      replaced = await this.index.putPart(uploadId, part);
    } catch (error) {
      await this.blobs.remove([part.blob]);
      throw error;
    }
    if (replaced === 'no-upload') {
      await this.blobs.remove([part.blob]);
      throw noSuchUpload(uploadId);
    }
    if (replaced) await this.blobs.remove([replaced]);
  }

  async uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    from: { bucket: string; key: string; range?: { start: number; end: number } },
  ): Promise<PartInfo> {
    checkPartNumber(partNumber);
    const upload = await this.requireUpload(bucket, key, uploadId);
    const source = await this.openObject(from.bucket, from.key);
    const range = from.range ?? { start: 0, end: source.info.size - 1 };
    if (range.end >= source.info.size || range.start > range.end) {
      await source.close();
      throw new ObjectStoreError('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: `bytes=${range.start}-${range.end}` });
    }
    const stream = source.info.size === 0 ? emptySource() : source.stream(range);
    if (source.info.size === 0) await source.close();
    const written = await this.writeBody({ source: stream, ...(upload.checksumAlgorithm ? { checksum: { algorithm: upload.checksumAlgorithm } } : {}) }, MAX_PUT_BYTES);
    const part: PartInfo = { partNumber, size: written.blob.size, etag: `"${written.md5.toString('hex')}"`, lastModified: this.now(), blob: written.blob };
    if (written.checksum) part.checksum = written.checksum;
    await this.commitPart(uploadId, part);
    return part;
  }

  async completeUpload(bucket: string, key: string, uploadId: string, parts: readonly CompletedPart[], conditions: WriteConditions = {}): Promise<ObjectInfo> {
    const upload = await this.requireUpload(bucket, key, uploadId);
    if (parts.length === 0) {
      throw new ObjectStoreError('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    }
    for (let i = 1; i < parts.length; i++) {
      if (parts[i]!.partNumber <= parts[i - 1]!.partNumber) {
        throw new ObjectStoreError('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.', { UploadId: uploadId });
      }
    }
    const object: ObjectInfo = { bucket, key, size: 0, etag: '', lastModified: this.now(), metadata: upload.metadata, blobs: [] };
    // The checksum of the parts as they are now; the commit keeps it only if it chooses the same parts.
    const storedNow = new Map((await this.index.listParts(uploadId, 0, MAX_PART_NUMBER)).map((p) => [p.partNumber, p]));
    const expected = parts.map((p) => storedNow.get(p.partNumber)).filter((p): p is PartInfo => p !== undefined);
    const composite = await compositeChecksum(upload.checksumAlgorithm, expected);
    const chosen: PartInfo[] = [];
    const check = (stored: PartInfo[], current: ObjectInfo | undefined): void => {
      const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
      chosen.length = 0;
      for (const wanted of parts) {
        const part = byNumber.get(wanted.partNumber);
        if (!part || unquote(part.etag) !== unquote(wanted.etag) || (wanted.checksum !== undefined && part.checksum !== undefined && wanted.checksum !== part.checksum.value)) {
          throw new ObjectStoreError(
            'InvalidPart',
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
            { UploadId: uploadId, PartNumber: String(wanted.partNumber), ETag: wanted.etag },
          );
        }
        chosen.push(part);
      }
      for (let i = 0; i < chosen.length - 1; i++) {
        if (chosen[i]!.size < MIN_PART_BYTES) {
          throw new ObjectStoreError('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', {
            ProposedSize: String(chosen[i]!.size),
            MinSizeAllowed: String(MIN_PART_BYTES),
            PartNumber: String(chosen[i]!.partNumber),
            ETag: chosen[i]!.etag,
          });
        }
      }
      checkWriteConditions(conditions, current, key);
      object.blobs = filesOf(blobsOfParts(chosen));
      object.size = chosen.reduce((sum, p) => sum + p.size, 0);
      object.parts = chosen.map((p) => p.size);
      // S3's multipart ETag: the MD5 of the parts' binary MD5s, a hyphen and the number of parts.
      const md5 = createHash('md5');
      for (const p of chosen) md5.update(Buffer.from(unquote(p.etag), 'hex'));
      object.etag = `"${md5.digest('hex')}-${chosen.length}"`;
      const sameParts = expected.length === chosen.length && expected.every((p, i) => p.blob.id === chosen[i]!.blob.id);
      if (composite && sameParts) object.checksum = composite;
      else delete object.checksum;
    };
    await this.commit([], () => this.index.completeUpload(uploadId, object, check), bucket, uploadId);
    return object;
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.requireUpload(bucket, key, uploadId);
    const blobs = await this.index.abortUpload(uploadId);
    if (!blobs) throw noSuchUpload(uploadId);
    await this.blobs.remove(blobs);
  }

  async listParts(bucket: string, key: string, uploadId: string, after: number, maxParts: number): Promise<{ upload: UploadInfo; parts: PartInfo[]; truncated: boolean }> {
    const upload = await this.requireUpload(bucket, key, uploadId);
    const parts = await this.index.listParts(uploadId, after, maxParts + 1);
    return { upload, parts: parts.slice(0, maxParts), truncated: parts.length > maxParts };
  }

  async listUploads(bucket: string, query: ListUploadsQuery): Promise<{ uploads: UploadInfo[]; commonPrefixes: string[]; truncated: boolean }> {
    await this.requireBucket(bucket);
    const after = query.keyMarker ? { key: Buffer.from(query.keyMarker), uploadId: query.uploadIdMarker ?? '' } : undefined;
    const rows = await this.index.listUploads(bucket, { prefix: Buffer.from(query.prefix), ...(after ? { after } : {}), limit: query.maxUploads + 1 });
    const uploads: UploadInfo[] = [];
    const commonPrefixes: string[] = [];
    for (const row of rows.slice(0, query.maxUploads)) {
      const at = query.delimiter ? row.key.indexOf(query.delimiter, query.prefix.length) : -1;
      if (at >= 0) {
        const group = row.key.slice(0, at + query.delimiter!.length);
        if (commonPrefixes.at(-1) !== group) commonPrefixes.push(group);
      } else {
        uploads.push(row);
      }
    }
    return { uploads, commonPrefixes, truncated: rows.length > query.maxUploads };
  }

  async close(): Promise<void> {
    await this.index.close();
  }
}

/** S3's COMPOSITE checksum of a multipart object: the checksum of the parts' binary checksums, `-N`. */
async function compositeChecksum(algorithm: ChecksumAlgorithm | undefined, parts: readonly PartInfo[]): Promise<StoredChecksum | undefined> {
  // CRC64NVME objects carry a full-object checksum on S3, which needs CRC combination; none is stored.
  if (!algorithm || algorithm === 'CRC64NVME' || parts.length === 0 || parts.some((p) => p.checksum?.algorithm !== algorithm)) return undefined;
  const digester = newDigester(algorithm);
  for (const p of parts) digester.update(Buffer.from(p.checksum!.value, 'base64'));
  const value = Buffer.from(await digester.digest()).toString('base64');
  return { algorithm, value: `${value}-${parts.length}`, type: 'COMPOSITE' };
}

function checkWriteConditions(conditions: WriteConditions, current: ObjectInfo | undefined, key: string): void {
  if (conditions.ifNoneMatch !== undefined && current && etagMatches(conditions.ifNoneMatch, current.etag)) {
    throw new ObjectStoreError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-None-Match' });
  }
  if (conditions.ifMatch !== undefined) {
    if (!current) throw noSuchKey(key);
    if (!etagMatches(conditions.ifMatch, current.etag)) {
      throw new ObjectStoreError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
    }
  }
}

function checkPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw new ObjectStoreError('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, {
      ArgumentName: 'partNumber',
      ArgumentValue: String(partNumber),
    });
  }
}

async function* emptySource(): AsyncGenerator<Uint8Array> {}

export const noSuchBucket = (bucket: string) => new ObjectStoreError('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
export const noSuchKey = (key: string) => new ObjectStoreError('NoSuchKey', 'The specified key does not exist.', { Key: key });
const noSuchUpload = (uploadId: string) =>
  new ObjectStoreError('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });

