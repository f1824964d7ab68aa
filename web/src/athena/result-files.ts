// Reads a calculation's stdout, stderr or result document from its s3:// location over Owlet's S3 API (the
// same port), signed with the user's key pair: the browser's "download results" of Athena's calculation page.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { KeyPair } from '../auth/console-credentials.js';

export async function readResultFile(keys: KeyPair, s3Uri: string): Promise<Blob> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(s3Uri);
  if (!match) throw new Error(`${s3Uri} is not an s3:// location.`);
  const client = new S3Client({
    endpoint: location.origin,
    region: keys.region,
    forcePathStyle: true,
    credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
  });
  const answer = await client.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }));
  const bytes = await answer.Body?.transformToByteArray();
  return new Blob(bytes ? [bytes] : [], { type: answer.ContentType ?? 'text/plain' });
}

export async function openResultFile(keys: KeyPair, s3Uri: string): Promise<void> {
  const blob = await readResultFile(keys, s3Uri);
  const url = URL.createObjectURL(blob);
  window.open(url, '_blank', 'noopener');
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
