// The S3 API on Owlet's port through the AWS SDK for JavaScript v3 (@aws-sdk/client-s3 and
// @aws-sdk/lib-storage's Upload): writes, reads, listings, multipart, checksums the SDK adds by default, errors
// in S3's terms, and result files of an older data directory imported at start.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Hash } from '@smithy/hash-node';
import { getSigningKey, SignatureV4 } from '@smithy/signature-v4';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from './harness.js';
import { s3ClientOf } from './support/s3.js';

const Sha256 = Hash.bind(null, 'sha256');

async function rejectsS3(promise: Promise<unknown>, name: string, status: number): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof S3ServiceException, String(e));
    assert.equal(e.name, name);
    assert.equal(e.$metadata.httpStatusCode, status);
    return true;
  });
}

describe('S3 API through the AWS SDK for JavaScript v3', () => {
  let owlet: TestOwlet;
  let s3: S3Client;
  const dataDir = mkdtempSync(join(tmpdir(), 'owlet-s3-api-'));
  before(async () => {
    // Result files as an earlier Owlet left them in its data directory: imported at start.
    const old = join(dataDir, 's3', 'results-bucket', 'spark', 'session-1', 'calc-1');
    mkdirSync(old, { recursive: true });
    writeFileSync(join(old, 'stdout.txt'), '+---+\n| id|\n+---+\n|  0|\n+---+\n\n');
    writeFileSync(join(old, 'result.json'), '{"version":1,"outputs":[]}\n');
    owlet = await startTestOwlet({ dataDir });
    s3 = s3ClientOf(owlet.endpoint);
  });
  after(async () => {
    s3.destroy();
    await owlet.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('imports the result files of an older data directory, with their content types', async () => {
    const out = await s3.send(new GetObjectCommand({ Bucket: 'results-bucket', Key: 'spark/session-1/calc-1/stdout.txt' }));
    assert.equal(await out.Body?.transformToString(), '+---+\n| id|\n+---+\n|  0|\n+---+\n\n');
    assert.match(out.ContentType ?? '', /^text\/plain/);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'results-bucket', Key: 'spark/session-1/calc-1/result.json' }));
    assert.equal(head.ContentType, 'application/json');
    assert.equal(head.ContentLength, 27);
  });

  it('creates buckets, puts, gets, heads, copies and deletes objects with their metadata', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'js-bucket' }));
    await rejectsS3(s3.send(new CreateBucketCommand({ Bucket: 'js-bucket' })), 'BucketAlreadyOwnedByYou', 409);
    await rejectsS3(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })), 'InvalidBucketName', 400);
    await s3.send(new HeadBucketCommand({ Bucket: 'js-bucket' }));
    await rejectsS3(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket' })), 'NotFound', 404);
    assert.equal((await s3.send(new GetBucketLocationCommand({ Bucket: 'js-bucket' }))).LocationConstraint, undefined);
    assert.ok((await s3.send(new ListBucketsCommand({}))).Buckets?.some((b) => b.Name === 'js-bucket'));

    const put = await s3.send(
      new PutObjectCommand({ Bucket: 'js-bucket', Key: 'dir/hello.txt', Body: 'hello world', ContentType: 'text/plain', Metadata: { owner: 'tests' }, CacheControl: 'no-cache' }),
    );
    assert.equal(put.ETag, `"${createHash('md5').update('hello world').digest('hex')}"`);
    // The SDK sends a CRC32 of every body by default; the store checks and keeps it.
    assert.equal(put.ChecksumCRC32, 'DUoRhQ==');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'js-bucket', Key: 'dir/hello.txt', ChecksumMode: 'ENABLED' }));
    assert.equal(await got.Body?.transformToString(), 'hello world');
    assert.equal(got.ContentType, 'text/plain');
    assert.equal(got.CacheControl, 'no-cache');
    assert.deepEqual(got.Metadata, { owner: 'tests' });
    assert.equal(got.ChecksumCRC32, 'DUoRhQ==');
    const ranged = await s3.send(new GetObjectCommand({ Bucket: 'js-bucket', Key: 'dir/hello.txt', Range: 'bytes=6-' }));
    assert.equal(await ranged.Body?.transformToString(), 'world');
    assert.equal(ranged.ContentRange, 'bytes 6-10/11');
    await rejectsS3(s3.send(new GetObjectCommand({ Bucket: 'js-bucket', Key: 'dir/hello.txt', Range: 'bytes=20-' })), 'InvalidRange', 416);
    await rejectsS3(s3.send(new GetObjectCommand({ Bucket: 'js-bucket', Key: 'dir/hello.txt', IfMatch: '"nope"' })), 'PreconditionFailed', 412);
    // S3 answers 304 without a body, so the SDK has no error code to name.
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'js-bucket', Key: 'dir/hello.txt', IfNoneMatch: put.ETag })), (e: S3ServiceException) => e.$metadata.httpStatusCode === 304);
    await rejectsS3(s3.send(new PutObjectCommand({ Bucket: 'js-bucket', Key: 'dir/hello.txt', Body: 'x', IfNoneMatch: '*' })), 'PreconditionFailed', 412);

    const copied = await s3.send(new CopyObjectCommand({ Bucket: 'js-bucket', Key: 'copy.txt', CopySource: 'js-bucket/dir/hello.txt' }));
    assert.equal(copied.CopyObjectResult?.ETag, put.ETag);
    await s3.send(
      new CopyObjectCommand({ Bucket: 'js-bucket', Key: 'replaced.txt', CopySource: 'js-bucket/dir/hello.txt', MetadataDirective: 'REPLACE', ContentType: 'text/x', Metadata: { n: '2' } }),
    );
    const replaced = await s3.send(new HeadObjectCommand({ Bucket: 'js-bucket', Key: 'replaced.txt' }));
    assert.deepEqual([replaced.ContentType, replaced.Metadata], ['text/x', { n: '2' }]);
    await rejectsS3(s3.send(new CopyObjectCommand({ Bucket: 'js-bucket', Key: 'copy.txt', CopySource: 'js-bucket/copy.txt' })), 'InvalidRequest', 400);

    await rejectsS3(s3.send(new DeleteBucketCommand({ Bucket: 'js-bucket' })), 'BucketNotEmpty', 409);
    const deleted = await s3.send(new DeleteObjectsCommand({ Bucket: 'js-bucket', Delete: { Objects: [{ Key: 'copy.txt' }, { Key: 'replaced.txt' }, { Key: 'never-was' }] } }));
    assert.deepEqual(deleted.Deleted?.map((d) => d.Key), ['copy.txt', 'replaced.txt', 'never-was']);
    await s3.send(new DeleteObjectCommand({ Bucket: 'js-bucket', Key: 'dir/hello.txt' }));
    await rejectsS3(s3.send(new GetObjectCommand({ Bucket: 'js-bucket', Key: 'dir/hello.txt' })), 'NoSuchKey', 404);
    await s3.send(new DeleteBucketCommand({ Bucket: 'js-bucket' }));
    await rejectsS3(s3.send(new GetObjectCommand({ Bucket: 'js-bucket', Key: 'x' })), 'NoSuchBucket', 404);
  });

  it('uploads with lib-storage Upload in parts and reads the object back', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'js-multipart' }));
    const body = Buffer.alloc(12 * 1024 * 1024 + 123);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    const upload = new Upload({ client: s3, params: { Bucket: 'js-multipart', Key: 'big.bin', Body: body, ContentType: 'application/x-test' }, partSize: 5 * 1024 * 1024, queueSize: 2 });
    const done = await upload.done();
    assert.match(done.ETag ?? '', /^"[0-9a-f]{32}-3"$/);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'js-multipart', Key: 'big.bin' }));
    assert.equal(got.ContentType, 'application/x-test');
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));

    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'js-multipart', Key: 'left' }));
    await s3.send(new UploadPartCommand({ Bucket: 'js-multipart', Key: 'left', UploadId: created.UploadId, PartNumber: 1, Body: 'part' }));
    const parts = await s3.send(new ListPartsCommand({ Bucket: 'js-multipart', Key: 'left', UploadId: created.UploadId }));
    assert.deepEqual(parts.Parts?.map((p) => [p.PartNumber, p.Size]), [[1, 4]]);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'js-multipart' }));
    assert.deepEqual(uploads.Uploads?.map((u) => u.Key), ['left']);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'js-multipart', Key: 'left', UploadId: created.UploadId }));
    await rejectsS3(s3.send(new ListPartsCommand({ Bucket: 'js-multipart', Key: 'left', UploadId: created.UploadId })), 'NoSuchUpload', 404);
  });

  it('checks and keeps CRC32C and CRC64NVME checksums, of streamed bodies too', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'js-checksums' }));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'js-checksums', Key: 'c', Body: 'abc', ChecksumAlgorithm: 'CRC32C' }));
    assert.equal(put.ChecksumCRC32C, 'Nks/tw==');
    // A stream of unknown content is sent aws-chunked, its checksum in a trailer after the body.
    const streamed = await s3.send(
      new PutObjectCommand({ Bucket: 'js-checksums', Key: 'n', Body: Readable.from([Buffer.from('a'), Buffer.from('bc')]), ContentLength: 3, ChecksumAlgorithm: 'CRC64NVME' }),
    );
    assert.equal(streamed.ChecksumCRC64NVME, 'BeXKuz/B+us=');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'js-checksums', Key: 'n', ChecksumMode: 'ENABLED' }));
    assert.equal(await got.Body?.transformToString(), 'abc');
    assert.equal(got.ChecksumCRC64NVME, 'BeXKuz/B+us=');
    await rejectsS3(s3.send(new PutObjectCommand({ Bucket: 'js-checksums', Key: 'bad', Body: 'abc', ChecksumCRC32C: 'AAAAAA==' })), 'BadDigest', 400);
  });

  it('checks the signature of every chunk of a signed streaming upload', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'js-chunks' }));
    const chunks = [Buffer.alloc(65_536, 'a'), Buffer.from('last bytes')];
    assert.equal((await signedChunkedPut(owlet.endpoint, 'js-chunks', 'ok', chunks, false)).status, 200);
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'js-chunks', Key: 'ok' }))).Body?.transformToString(), 'a'.repeat(65_536) + 'last bytes');
    const tampered = await signedChunkedPut(owlet.endpoint, 'js-chunks', 'tampered', chunks, true);
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    await rejectsS3(s3.send(new HeadObjectCommand({ Bucket: 'js-chunks', Key: 'tampered' })), 'NotFound', 404);
  });

  it('serves buckets named like the Jupyter routes to signed requests, and the Jupyter API to the rest', async () => {
    for (const bucket of ['api', 'console', 'login']) {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kernels', Body: 'kept' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'kernels' }));
      assert.equal(await got.Body!.transformToString(), 'kept');
    }
    // Unsigned, /api/kernels is the Jupyter server's, which wants its token.
    const jupyter = await fetch(`${owlet.endpoint}/api/kernels`);
    assert.equal(jupyter.status, 403);
  });

  it('lists with prefixes, delimiters, pages, start-after and V1 markers', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'js-list' }));
    const keys = ['a/1', 'a/2', 'a/b/3', 'b', 'key with space+plus', 'é'];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 'js-list', Key, Body: 'x' }));
    const all = await s3.send(new ListObjectsV2Command({ Bucket: 'js-list' }));
    assert.deepEqual(all.Contents?.map((o) => o.Key), keys);
    const folders = await s3.send(new ListObjectsV2Command({ Bucket: 'js-list', Prefix: 'a/', Delimiter: '/' }));
    assert.deepEqual(folders.CommonPrefixes?.map((p) => p.Prefix), ['a/b/']);
    assert.deepEqual(folders.Contents?.map((o) => o.Key), ['a/1', 'a/2']);
    const paged: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: 'js-list', MaxKeys: 2, ContinuationToken: token }));
      paged.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    assert.deepEqual(paged, keys);
    assert.deepEqual((await s3.send(new ListObjectsV2Command({ Bucket: 'js-list', StartAfter: 'b' }))).Contents?.map((o) => o.Key), ['key with space+plus', 'é']);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: 'js-list', Delimiter: '/', MaxKeys: 1 }));
    assert.equal(v1.IsTruncated, true);
    assert.equal(v1.NextMarker, 'a/');
    const next = await s3.send(new ListObjectsCommand({ Bucket: 'js-list', Delimiter: '/', Marker: v1.NextMarker }));
    assert.deepEqual(next.Contents?.map((o) => o.Key), ['b', 'key with space+plus', 'é']);
  });

  it('refuses wrong keys, wrong secrets and anonymous requests in S3 terms', async () => {
    const wrong = s3ClientOf(owlet.endpoint, { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' });
    await rejectsS3(wrong.send(new ListBucketsCommand({})), 'SignatureDoesNotMatch', 403);
    await rejectsS3(wrong.send(new PutObjectCommand({ Bucket: 'results-bucket', Key: 'x', Body: 'x' })), 'SignatureDoesNotMatch', 403);
    wrong.destroy();
    const unknown = s3ClientOf(owlet.endpoint, { accessKeyId: 'AKIDNOSUCHKEY0000000', secretAccessKey: 'x' });
    await rejectsS3(unknown.send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);
    unknown.destroy();
    const anonymous = await fetch(`${owlet.endpoint}/results-bucket/spark/session-1/calc-1/stdout.txt`);
    assert.equal(anonymous.status, 403);
    assert.match(await anonymous.text(), /<Code>AccessDenied<\/Code>.*<RequestId>[^<]+<\/RequestId>/s);
    const put = await fetch(`${owlet.endpoint}/results-bucket/anonymous.txt`, { method: 'PUT', body: 'x' });
    assert.equal(put.status, 403);
    await rejectsS3(s3.send(new GetObjectCommand({ Bucket: 'results-bucket', Key: '../../objects/index.sqlite' })), 'NoSuchKey', 404);
  });
});

/**
 * A PUT with an aws-chunked body signed chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html), which the JavaScript SDK does not send
 * over plain HTTP; `tamper` changes a byte of the first chunk after it was signed.
 */
async function signedChunkedPut(endpoint: string, bucket: string, key: string, chunks: Buffer[], tamper: boolean): Promise<Response> {
  const url = new URL(`${endpoint}/${bucket}/${key}`);
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/us-east-1/s3/aws4_request`;
  const decoded = chunks.reduce((n, c) => n + c.length, 0);
  const frame = (data: Buffer, signature: string) => Buffer.concat([Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`), data, Buffer.from('\r\n')]);
  const signatureLength = 64;
  const length = [...chunks, Buffer.alloc(0)].reduce((n, c) => n + frame(c, '0'.repeat(signatureLength)).length, 0);
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(decoded),
    'content-length': String(length),
  };
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: TEST_CREDENTIALS, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, headers, query: {} }, { signingDate: new Date() });
  const seed = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))![1]!;
  const key4 = await getSigningKey(Sha256, TEST_CREDENTIALS, day, 'us-east-1', 's3');
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  let previous = seed;
  const body: Buffer[] = [];
  for (const chunk of [...chunks, Buffer.alloc(0)]) {
    const signature = createHmac('sha256', key4).update(`AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previous}\n${sha('')}\n${sha(chunk)}`).digest('hex');
    const sent = tamper && body.length === 0 ? Buffer.from(chunk).fill('b', 0, 1) : chunk;
    body.push(frame(sent, signature));
    previous = signature;
  }
  const sendHeaders = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'));
  return fetch(url, { method: 'PUT', headers: sendHeaders, body: Buffer.concat(body) });
}

describe('S3 API beside an external result store', () => {
  it('still serves the embedded store when results go to OWLET_RESULTS_S3_*', async () => {
    const owlet = await startTestOwlet({ config: { resultsS3: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', forcePathStyle: true } } });
    const s3 = s3ClientOf(owlet.endpoint);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'beside' }));
      await s3.send(new PutObjectCommand({ Bucket: 'beside', Key: 'k', Body: 'v' }));
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'beside', Key: 'k' }))).Body?.transformToString(), 'v');
    } finally {
      s3.destroy();
      await owlet.stop();
    }
  });
});
