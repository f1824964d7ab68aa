// Results in a real S3-compatible store. A calculation writes into a local staging directory; when it ends,
// its files are uploaded under the calculation's working directory with @aws-sdk/client-s3.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { joinKey, type ResultStore, type S3Location } from './result-store.js';

export interface S3ResultStoreOptions {
  /** The store's endpoint; omit for AWS S3 itself. */
  endpoint?: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. */
  forcePathStyle: boolean;
  /** Where calculations write before their files are uploaded. */
  stagingRoot: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
};

export class S3ResultStore implements ResultStore {
  private readonly client: S3Client;

  constructor(private readonly o: S3ResultStoreOptions) {
    this.client = new S3Client({
      region: o.region,
      forcePathStyle: o.forcePathStyle,
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      ...(o.credentials ? { credentials: o.credentials } : {}),
    });
  }

  async stagingDirectory(_folder: S3Location, calculationId: string): Promise<string> {
    const dir = join(this.o.stagingRoot, calculationId);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async publish(dir: string, folder: S3Location, names: readonly string[]): Promise<void> {
    for (const name of names) {
      const extension = name.slice(name.lastIndexOf('.'));
      await this.client.send(
        new PutObjectCommand({
          Bucket: folder.bucket,
          Key: joinKey(folder.key, name),
          Body: await readFile(join(dir, name)),
          ContentType: CONTENT_TYPES[extension] ?? 'application/octet-stream',
        }),
      );
    }
    await rm(dir, { recursive: true, force: true });
  }

  async read(location: S3Location): Promise<Uint8Array | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
      return await out.Body?.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey) return undefined;
      throw error;
    }
  }

  dispose(): void {
    this.client.destroy();
  }
}
