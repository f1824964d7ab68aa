// Data directories of earlier Owlet versions kept results as plain files, `<data dir>/s3/<bucket>/<key>`. At
// start they are put into the object store once (buckets created as needed) and the folder is renamed
// `s3-imported`, so nothing is lost and nothing is imported twice. A file whose bucket name S3 would refuse is
// left where it is and reported.
import { createReadStream } from 'node:fs';
import { readdir, rename, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Logger } from 'pino';
import { contentTypeOfName } from '../results/object-store-result-store.js';
import { isValidBucketName, type ObjectStore, ObjectStoreError } from './object-store.js';

export async function importResultFolders(store: ObjectStore, dataDir: string, log: Logger): Promise<number> {
  const root = join(dataDir, 's3');
  let buckets;
  try {
    buckets = await readdir(root, { withFileTypes: true });
  } catch {
    return 0;
  }
  let imported = 0;
  let skipped = false;
  for (const bucket of buckets) {
    if (!bucket.isDirectory() || !isValidBucketName(bucket.name)) {
      log.warn({ entry: bucket.name }, 'not imported into the object store: not a valid bucket name');
      skipped = true;
      continue;
    }
    try {
      await store.createBucket(bucket.name);
    } catch (error) {
      if (!(error instanceof ObjectStoreError && error.code === 'BucketAlreadyOwnedByYou')) throw error;
    }
    const bucketDir = join(root, bucket.name);
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile()) {
          const key = relative(bucketDir, path).split(sep).join('/');
          const { size } = await stat(path);
          await store.putObject(bucket.name, key, { source: createReadStream(path), expectedSize: size }, { contentType: contentTypeOfName(key), user: {} });
          imported++;
        }
      }
    };
    await walk(bucketDir);
  }
  if (!skipped) {
    // A second import (an older Owlet run on the directory again) keeps the first one's folder.
    await rename(root, join(dataDir, 's3-imported')).catch(() => rename(root, join(dataDir, `s3-imported-${Date.now()}`)));
  }
  if (imported > 0) log.info({ imported }, `imported result files from ${root} into the object store`);
  return imported;
}
