// Reaching a test server's object store the way users do: @aws-sdk/client-s3 on its endpoint, path-style.
import { CreateBucketCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Credentials } from '../../src/protocol/sigv4.js';
import { TEST_CREDENTIALS } from '../harness.js';

export function s3ClientOf(endpoint: string, credentials: Credentials = TEST_CREDENTIALS): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', credentials, forcePathStyle: true, maxAttempts: 1 });
}

function split(uri: string): { Bucket: string; Key: string } {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { Bucket: m[1]!, Key: m[2]! };
}

/** Puts `body` at `uri`, creating its bucket when there is none. */
export async function putObjectAt(s3: S3Client, uri: string, body: string | Uint8Array): Promise<void> {
  const { Bucket, Key } = split(uri);
  try {
    await s3.send(new HeadBucketCommand({ Bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket }));
  }
  await s3.send(new PutObjectCommand({ Bucket, Key, Body: body }));
}

export async function objectText(s3: S3Client, uri: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand(split(uri)));
  return (await out.Body?.transformToString()) ?? '';
}
