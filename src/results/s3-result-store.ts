// Results in a real S3-compatible store. A calculation writes into a local staging directory; when it ends,
// its files are uploaded under the calculation's working directory with @aws-sdk/client-s3.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { joinKey, type ResultStore, ResultStoreError, type S3Location, s3Uri } from './result-store.js';

export interface S3ResultStoreOptions {
  /** The store's endpoint; omit for AWS S3 itself. */
  endpoint?: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. */
  forcePathStyle: boolean;
  /** Where calculations write before their files are uploaded. */
  stagingRoot: string;
  /** Bounds on each attempt of an upload (tests shorten them). */
  timeouts?: { connectionMs: number; socketIdleMs: number };
}

const CONNECTION_TIMEOUT_MS = 5_000;
const SOCKET_IDLE_TIMEOUT_MS = 30_000;

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
      // The SDK waits forever by default: for a connection to an endpoint that drops packets (the operating
      // system gives up after about two minutes), and for a store that accepts and never answers. A
      // calculation's session stays BUSY until its files are written, so each attempt is bounded. With the
      // SDK's three attempts, a refused connection fails the calculation in a fraction of a second, one that is
      // never answered after three 5 s timeouts, and a store that accepts and stays silent after three 30 s
      // ones (99 s measured).
      requestHandler: {
        connectionTimeout: o.timeouts?.connectionMs ?? CONNECTION_TIMEOUT_MS,
        socketTimeout: o.timeouts?.socketIdleMs ?? SOCKET_IDLE_TIMEOUT_MS,
      },
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
      const key = joinKey(folder.key, name);
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: folder.bucket,
            Key: key,
            Body: await readFile(join(dir, name)),
            ContentType: CONTENT_TYPES[extension] ?? 'application/octet-stream',
          }),
        );
      } catch (error) {
        throw new ResultStoreError(s3Uri({ bucket: folder.bucket, key }), error);
      }
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
