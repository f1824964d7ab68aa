// Results in Owlet's own object store: a calculation writes into a staging folder of its own; when it ends,
// each file is put into the store under the calculation's working directory, so results are ordinary objects
// that are listed, headed and got like any other (and a user may put files beside them). The bucket of a
// workgroup's output location is created on first use.
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ObjectStore, ObjectStoreError } from '../objects/object-store.js';
import { joinKey, type ResultStore, ResultStoreError, type S3Location, s3Uri } from './result-store.js';

export const RESULT_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.ipynb': 'application/x-ipynb+json',
};

/** Result files up to this size are read whole before they are put. */
const SMALL_FILE_BYTES = 1024 * 1024;

export const contentTypeOfName = (name: string): string => RESULT_CONTENT_TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';

export class ObjectStoreResultStore implements ResultStore {
  constructor(
    private readonly store: ObjectStore,
    /** Where calculations write before their files are put into the store. */
    private readonly stagingRoot: string,
  ) {}

  async stagingDirectory(folder: S3Location, calculationId: string): Promise<string> {
    const dir = join(this.stagingRoot, calculationId);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw new ResultStoreError(s3Uri(folder), error);
    }
    return dir;
  }

  private async ensureBucket(bucket: string): Promise<void> {
    if (await this.store.headBucket(bucket)) return;
    try {
      await this.store.createBucket(bucket);
    } catch (error) {
      if (!(error instanceof ObjectStoreError && error.code === 'BucketAlreadyOwnedByYou')) throw error;
    }
  }

  async publish(dir: string, folder: S3Location, names: readonly string[]): Promise<void> {
    try {
      await this.ensureBucket(folder.bucket);
    } catch (error) {
      throw new ResultStoreError(s3Uri({ bucket: folder.bucket, key: folder.key }), error);
    }
    // The files are put at once: their syncs overlap rather than queue one after the other.
    const puts = names.map(async (name) => {
      const key = joinKey(folder.key, name);
      try {
        const path = join(dir, name);
        const { size } = await stat(path);
        // Most result files are small: read whole, they cost a few file operations rather than a stream's.
        const source = size <= SMALL_FILE_BYTES ? [await readFile(path)] : createReadStream(path);
        await this.store.putObject(folder.bucket, key, { source, expectedSize: size }, { contentType: contentTypeOfName(name), user: {} });
      } catch (error) {
        throw new ResultStoreError(s3Uri({ bucket: folder.bucket, key }), error);
      }
    });
    const outcomes = await Promise.allSettled(puts);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
    await rm(dir, { recursive: true, force: true });
  }

  async read(location: S3Location): Promise<Uint8Array | undefined> {
    let opened;
    try {
      opened = await this.store.openObject(location.bucket, location.key);
    } catch (error) {
      if (error instanceof ObjectStoreError) return undefined;
      throw error;
    }
    const chunks: Buffer[] = [];
    if (opened.info.size === 0) {
      await opened.close();
      return new Uint8Array();
    }
    for await (const chunk of opened.stream()) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}
