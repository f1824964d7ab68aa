// The S3 API Owlet serves over its local result store, through the AWS SDK for JavaScript's S3 client.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from './harness.js';

describe('S3 API over the local result store', () => {
  let owlet: TestOwlet;
  let s3: S3Client;
  before(async () => {
    owlet = await startTestOwlet();
    s3 = new S3Client({ endpoint: owlet.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, forcePathStyle: true, maxAttempts: 1 });
    const dir = join(owlet.dataDir, 's3', 'results-bucket', 'spark', 'session-1', 'calc-1');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'stdout.txt'), '+---+\n| id|\n+---+\n|  0|\n+---+\n\n');
    await writeFile(join(dir, 'result.json'), '{"version":1,"outputs":[]}\n');
    await mkdir(join(owlet.dataDir, 's3', 'results-bucket', 'spark', 'session-2'), { recursive: true });
    await writeFile(join(owlet.dataDir, 's3', 'results-bucket', 'spark', 'session-2', 'key with space+plus.txt'), 'x');
  });
  after(async () => {
    s3.destroy();
    await owlet.stop();
  });

  it('gets an object byte for byte, with its headers', async () => {
    const out = await s3.send(new GetObjectCommand({ Bucket: 'results-bucket', Key: 'spark/session-1/calc-1/stdout.txt' }));
    assert.equal(await out.Body?.transformToString(), '+---+\n| id|\n+---+\n|  0|\n+---+\n\n');
    assert.equal(out.ContentLength, 31);
    assert.match(out.ContentType ?? '', /^text\/plain/);
    assert.ok(out.ETag);
    assert.ok(out.LastModified instanceof Date);
    const ranged = await s3.send(new GetObjectCommand({ Bucket: 'results-bucket', Key: 'spark/session-1/calc-1/stdout.txt', Range: 'bytes=0-4' }));
    assert.equal(await ranged.Body?.transformToString(), '+---+');
    assert.equal(ranged.ContentRange, 'bytes 0-4/31');
  });

  it('heads an object', async () => {
    const out = await s3.send(new HeadObjectCommand({ Bucket: 'results-bucket', Key: 'spark/session-1/calc-1/result.json' }));
    assert.equal(out.ContentLength, 27);
    assert.equal(out.ContentType, 'application/json');
  });

  it('lists objects with prefixes, delimiters and pages', async () => {
    const all = await s3.send(new ListObjectsV2Command({ Bucket: 'results-bucket', Prefix: 'spark/' }));
    assert.deepEqual(all.Contents?.map((o) => o.Key), [
      'spark/session-1/calc-1/result.json',
      'spark/session-1/calc-1/stdout.txt',
      'spark/session-2/key with space+plus.txt',
    ]);
    assert.equal(all.KeyCount, 3);
    const folders = await s3.send(new ListObjectsV2Command({ Bucket: 'results-bucket', Prefix: 'spark/', Delimiter: '/' }));
    assert.deepEqual(folders.CommonPrefixes?.map((p) => p.Prefix), ['spark/session-1/', 'spark/session-2/']);
    assert.equal(folders.Contents, undefined);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: 'results-bucket', MaxKeys: 2, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    assert.equal(keys.length, 3);
    const buckets = await s3.send(new ListBucketsCommand({}));
    assert.ok(buckets.Buckets?.some((b) => b.Name === 'results-bucket'));
  });

  it('answers NoSuchKey, NoSuchBucket and a bad signature in S3 terms', async () => {
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'results-bucket', Key: 'nope.txt' })), (e: unknown) => {
      assert.ok(e instanceof S3ServiceException);
      assert.equal(e.name, 'NoSuchKey');
      assert.equal(e.$metadata.httpStatusCode, 404);
      return true;
    });
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'x' })), (e: unknown) => e instanceof S3ServiceException && e.name === 'NoSuchBucket');
    const wrong = new S3Client({
      endpoint: owlet.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' },
      forcePathStyle: true,
      maxAttempts: 1,
    });
    await assert.rejects(wrong.send(new GetObjectCommand({ Bucket: 'results-bucket', Key: 'spark/session-1/calc-1/stdout.txt' })), (e: unknown) => e instanceof S3ServiceException && e.name === 'SignatureDoesNotMatch');
    wrong.destroy();
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'results-bucket', Key: '../../state.sqlite' })), (e: unknown) => e instanceof S3ServiceException && e.$metadata.httpStatusCode === 404);
  });
});
