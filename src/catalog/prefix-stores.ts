// The two stores an `s3://` location of the catalog can be in (docs/s3.md, "Which store"): Owlet's own object
// store, reached in the server through its interface, or the external S3-compatible store of OWLET_S3_*,
// reached with the AWS SDK and the key pair the data plane is given.
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  NotFound,
  NoSuchBucket,
  S3Client,
} from '@aws-sdk/client-s3';
import { type ObjectStore, ObjectStoreError } from '../objects/object-store.js';
import type { PrefixStore } from './table-directories.js';

/** S3's most keys in one listing page and in one DeleteObjects request. */
const PAGE = 1000;

export function objectStorePrefixes(objects: ObjectStore): PrefixStore {
  return {
    async bucketExists(bucket) {
      return (await objects.headBucket(bucket)) !== undefined;
    },
    async *listKeys(bucket, prefix) {
      let after: string | undefined;
      for (;;) {
        let page;
        try {
          page = await objects.listObjects(bucket, { prefix, maxKeys: PAGE, ...(after ? { after } : {}) });
        } catch (error) {
          if (error instanceof ObjectStoreError && error.code === 'NoSuchBucket') return;
          throw error;
        }
        if (page.objects.length > 0) yield page.objects.map((o) => o.key);
        if (!page.truncated || page.last === undefined) return;
        after = page.last;
      }
    },
    async deleteKeys(bucket, keys) {
      for (const key of keys) await objects.deleteObject(bucket, key);
    },
    async copyKey(bucket, from, to) {
      await objects.copyObject({ bucket, key: from }, { bucket, key: to }, 'COPY');
    },
  };
}

/**
 * Makes the bucket of an `s3://` location in Owlet's own store when it has none: a workgroup's output location
 * (where its sessions' warehouse is) gets its bucket as it does when results are first written there.
 */
export async function ensureOwnBucket(objects: ObjectStore, location: string): Promise<void> {
  const bucket = /^s3[an]?:\/\/([^/]+)/i.exec(location)?.[1];
  if (bucket === undefined || (await objects.headBucket(bucket))) return;
  try {
    await objects.createBucket(bucket);
  } catch (error) {
    if (!(error instanceof ObjectStoreError && error.code === 'BucketAlreadyOwnedByYou')) throw error;
  }
}

export interface ExternalStoreSettings {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function externalStorePrefixes(settings: ExternalStoreSettings): PrefixStore {
  const client = new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    // The SDK waits forever by default; a session's DDL waits on these calls, so each attempt is bounded (the
    // bounds the result store uses, src/results/s3-result-store.ts).
    requestHandler: { connectionTimeout: 5_000, socketTimeout: 30_000 },
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  });
  return {
    async bucketExists(bucket) {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        return true;
      } catch (error) {
        if (error instanceof NotFound || error instanceof NoSuchBucket) return false;
        throw error;
      }
    },
    async *listKeys(bucket, prefix) {
      // StartAfter rather than a continuation token: the caller may delete a page's keys before the next page.
      let after: string | undefined;
      for (;;) {
        let page;
        try {
          page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: PAGE, ...(after ? { StartAfter: after } : {}) }));
        } catch (error) {
          if (error instanceof NoSuchBucket) return;
          throw error;
        }
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
        if (keys.length > 0) yield keys;
        if (!page.IsTruncated || keys.length === 0) return;
        after = keys[keys.length - 1];
      }
    },
    async deleteKeys(bucket, keys) {
      for (let i = 0; i < keys.length; i += PAGE) {
        const batch = keys.slice(i, i + PAGE);
        const answer = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Quiet: true, Objects: batch.map((Key) => ({ Key })) } }));
        const failed = answer.Errors ?? [];
        if (failed.length > 0) throw new Error(`could not delete ${failed.length} objects under s3://${bucket}/: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`);
      }
    },
    async copyKey(bucket, from, to) {
      const source = `${bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
      await client.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: source }));
    },
  };
}
