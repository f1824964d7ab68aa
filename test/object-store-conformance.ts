// The ObjectStore conformance suite: every index backend (SQLite, PostgreSQL) runs these same cases through
// the embedded store. A backend that cannot pass a case must skip it with its reason, not leave it out.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { EmbeddedObjectStore } from '../src/objects/embedded-object-store.js';
import { type IncomingBody, MIN_PART_BYTES, type ObjectStore, ObjectStoreError, emptyMetadata } from '../src/objects/object-store.js';

export interface ObjectStoreBackend {
  /** An empty store over a fresh index and a fresh folder of blobs. Called before every case. */
  open(): Promise<EmbeddedObjectStore>;
  /** Closes `store` and opens the same index and folder again, as a restarted server would. */
  reopen(store: EmbeddedObjectStore): Promise<EmbeddedObjectStore>;
}

async function* chunks(...parts: (string | Buffer)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p;
}

export const bodyOf = (...parts: (string | Buffer)[]): IncomingBody => ({ source: chunks(...parts) });

export async function readAll(store: ObjectStore, bucket: string, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const opened = await store.openObject(bucket, key);
  if (opened.info.size === 0) {
    await opened.close();
    return Buffer.alloc(0);
  }
  const out: Buffer[] = [];
  for await (const c of opened.stream(range)) out.push(c as Buffer);
  return Buffer.concat(out);
}

/**
 * The bytes as GetObject sends them (`send`, reusing its buffers) into a sink that, as a socket does, is done
 * with a chunk when it calls back: it copies the chunk and calls back a turn later.
 */
export async function sendAll(store: ObjectStore, bucket: string, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const opened = await store.openObject(bucket, key);
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.push(Buffer.from(chunk));
      setImmediate(callback);
    },
  });
  await opened.send(sink, range);
  assert.ok(sink.writableFinished, 'send ends what it writes to');
  return Buffer.concat(out);
}

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

async function rejectsCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof ObjectStoreError, String(e));
    assert.equal(e.code, code);
    return true;
  });
}

async function blobCount(store: EmbeddedObjectStore): Promise<number> {
  let n = 0;
  for (const fan of await readdir(store.blobs.dir)) n += (await readdir(join(store.blobs.dir, fan))).length;
  return n;
}

async function allKeys(store: ObjectStore, bucket: string, query: { prefix?: string; delimiter?: string; maxKeys: number }): Promise<{ keys: string[]; prefixes: string[]; pages: number }> {
  const keys: string[] = [];
  const prefixes: string[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await store.listObjects(bucket, { prefix: query.prefix ?? '', ...(query.delimiter ? { delimiter: query.delimiter } : {}), maxKeys: query.maxKeys, ...(after ? { after } : {}) });
    pages++;
    keys.push(...page.objects.map((o) => o.key));
    prefixes.push(...page.commonPrefixes);
    if (!page.truncated) return { keys, prefixes, pages };
    after = page.last;
  }
}

export function runObjectStoreConformance(name: string, backend: ObjectStoreBackend): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let store: EmbeddedObjectStore;
    beforeEach(async () => {
      store = await backend.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('creates, lists, heads and deletes buckets, refusing bad names, twins and non-empty ones', async () => {
      await store.createBucket('alpha');
      await store.createBucket('beta.example');
      await rejectsCode(store.createBucket('alpha'), 'BucketAlreadyOwnedByYou');
      for (const bad of ['ab', 'Upper', 'a..b', '192.168.0.1', '-start', 'end-', 'xn--x', 'a'.repeat(64), 'under_score']) {
        await rejectsCode(store.createBucket(bad), 'InvalidBucketName');
      }
      assert.deepEqual((await store.listBuckets()).map((b) => b.name), ['alpha', 'beta.example']);
      assert.ok(await store.headBucket('alpha'));
      assert.equal(await store.headBucket('gamma'), undefined);
      await store.putObject('alpha', 'k', bodyOf('x'), emptyMetadata());
      await rejectsCode(store.deleteBucket('alpha'), 'BucketNotEmpty');
      await store.deleteObject('alpha', 'k');
      await store.deleteBucket('alpha');
      await rejectsCode(store.deleteBucket('alpha'), 'NoSuchBucket');
    });

    it('puts and gets objects whole and in ranges, with S3 ETags and metadata, any key bytes', async () => {
      await store.createBucket('bucket-1');
      const keys = ['plain.txt', '../../escape', 'a//b///c', 'nul\u0000byte', 'é/😀', ' ', 'x'.repeat(1024)];
      for (const key of keys) {
        const info = await store.putObject('bucket-1', key, bodyOf('hello ', 'world'), { contentType: 'text/plain', user: { owner: 'me' } });
        assert.equal(info.etag, `"${md5('hello world')}"`);
      }
      for (const key of keys) {
        assert.equal((await readAll(store, 'bucket-1', key)).toString(), 'hello world', key);
        const head = await store.headObject('bucket-1', key);
        assert.equal(head.size, 11);
        assert.deepEqual(head.metadata, { contentType: 'text/plain', user: { owner: 'me' } });
      }
      assert.equal((await readAll(store, 'bucket-1', 'plain.txt', { start: 6, end: 10 })).toString(), 'world');
      await rejectsCode(store.putObject('bucket-1', 'y'.repeat(1025), bodyOf('x'), emptyMetadata()), 'KeyTooLongError');
      await rejectsCode(store.putObject('nope', 'k', bodyOf('x'), emptyMetadata()), 'NoSuchBucket');
      await rejectsCode(store.headObject('bucket-1', 'missing'), 'NoSuchKey');
      await rejectsCode(store.headObject('nope', 'k'), 'NoSuchBucket');
      await store.putObject('bucket-1', 'empty', bodyOf(), emptyMetadata());
      assert.equal((await store.headObject('bucket-1', 'empty')).etag, `"${md5('')}"`);
      assert.equal((await readAll(store, 'bucket-1', 'empty')).length, 0);
    });

    it('refuses a body that does not match its length, MD5, SHA-256 or checksum, and keeps nothing of it', async () => {
      await store.createBucket('bucket-2');
      const before = await blobCount(store);
      await rejectsCode(store.putObject('bucket-2', 'k', { ...bodyOf('abc'), expectedSize: 4 }, emptyMetadata()), 'IncompleteBody');
      await rejectsCode(store.putObject('bucket-2', 'k', { ...bodyOf('abc'), contentMd5: createHash('md5').update('abd').digest('base64') }, emptyMetadata()), 'BadDigest');
      await rejectsCode(store.putObject('bucket-2', 'k', { ...bodyOf('abc'), sha256Hex: '0'.repeat(64) }, emptyMetadata()), 'XAmzContentSHA256Mismatch');
      await rejectsCode(store.putObject('bucket-2', 'k', { ...bodyOf('abc'), checksum: { algorithm: 'CRC32', value: 'AAAAAA==' } }, emptyMetadata()), 'BadDigest');
      await rejectsCode(store.putObject('bucket-2', 'k', { ...bodyOf('abc'), checksum: { algorithm: 'CRC32C' }, trailingChecksum: () => 'AAAAAA==' }, emptyMetadata()), 'BadDigest');
      await rejectsCode(store.headObject('bucket-2', 'k'), 'NoSuchKey');
      assert.equal(await blobCount(store), before);
      for (const [algorithm, value] of [
        ['CRC32', 'NSRBwg=='],
        ['CRC32C', 'Nks/tw=='],
        ['CRC64NVME', 'BeXKuz/B+us='],
        ['SHA1', 'qZk+NkcGgWq6PiVxeFDCbJzQ2J0='],
        ['SHA256', 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='],
      ] as const) {
        const info = await store.putObject('bucket-2', algorithm, { ...bodyOf('abc'), checksum: { algorithm, value } }, emptyMetadata());
        assert.deepEqual(info.checksum, { algorithm, value, type: 'FULL_OBJECT' });
      }
    });

    it('applies If-Match and If-None-Match: * to writes', async () => {
      await store.createBucket('bucket-3');
      const first = await store.putObject('bucket-3', 'k', bodyOf('one'), emptyMetadata(), { ifNoneMatch: '*' });
      await rejectsCode(store.putObject('bucket-3', 'k', bodyOf('two'), emptyMetadata(), { ifNoneMatch: '*' }), 'PreconditionFailed');
      await rejectsCode(store.putObject('bucket-3', 'k', bodyOf('two'), emptyMetadata(), { ifMatch: '"0000"' }), 'PreconditionFailed');
      await store.putObject('bucket-3', 'k', bodyOf('two'), emptyMetadata(), { ifMatch: first.etag });
      assert.equal((await readAll(store, 'bucket-3', 'k')).toString(), 'two');
      await rejectsCode(store.putObject('bucket-3', 'absent', bodyOf('x'), emptyMetadata(), { ifMatch: first.etag }), 'NoSuchKey');
    });

    it('keeps one whole body of concurrent writers to one key and frees the others', async () => {
      await store.createBucket('bucket-4');
      const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(256 * 1024 + i, 97 + i));
      await Promise.all(bodies.map((b) => store.putObject('bucket-4', 'same', bodyOf(b.subarray(0, 1000), b.subarray(1000)), emptyMetadata())));
      const got = await readAll(store, 'bucket-4', 'same');
      assert.ok(bodies.some((b) => b.equals(got)), 'the object is one of the bodies, whole');
      assert.equal(await blobCount(store), 1);
    });

    it('copies objects with COPY and REPLACE metadata, and refuses a copy onto itself without changes', async () => {
      await store.createBucket('bucket-5');
      await store.putObject('bucket-5', 'src', bodyOf('copied bytes'), { contentType: 'text/x', user: { a: '1' } });
      const copy = await store.copyObject({ bucket: 'bucket-5', key: 'src' }, { bucket: 'bucket-5', key: 'dst' }, 'COPY');
      assert.equal(copy.etag, `"${md5('copied bytes')}"`);
      assert.deepEqual((await store.headObject('bucket-5', 'dst')).metadata, { contentType: 'text/x', user: { a: '1' } });
      await store.copyObject({ bucket: 'bucket-5', key: 'src' }, { bucket: 'bucket-5', key: 'dst2' }, { contentType: 'text/y', user: {} });
      assert.equal((await store.headObject('bucket-5', 'dst2')).metadata.contentType, 'text/y');
      await store.deleteObject('bucket-5', 'src');
      assert.equal((await readAll(store, 'bucket-5', 'dst')).toString(), 'copied bytes', 'a copy outlives its source');
      await rejectsCode(store.copyObject({ bucket: 'bucket-5', key: 'dst' }, { bucket: 'bucket-5', key: 'dst' }, 'COPY'), 'InvalidRequest');
      await store.copyObject({ bucket: 'bucket-5', key: 'dst' }, { bucket: 'bucket-5', key: 'dst' }, { user: { b: '2' } });
      assert.equal((await readAll(store, 'bucket-5', 'dst')).toString(), 'copied bytes');
      await rejectsCode(store.copyObject({ bucket: 'bucket-5', key: 'missing' }, { bucket: 'bucket-5', key: 'x' }, 'COPY'), 'NoSuchKey');
    });

    it('lists in UTF-8 byte order with prefixes, delimiters, start-after and pages', async () => {
      await store.createBucket('bucket-6');
      const keys = ['a/1', 'a/2', 'a/b/3', 'a/b/4', 'a/c/5', 'b', 'é', 'z', '\u{1F600}', 'A', '_'];
      for (const key of keys) await store.putObject('bucket-6', key, bodyOf('x'), emptyMetadata());
      const byteOrder = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual((await allKeys(store, 'bucket-6', { maxKeys: 1000 })).keys, byteOrder);
      for (const size of [1, 2, 3]) assert.deepEqual((await allKeys(store, 'bucket-6', { maxKeys: size })).keys, byteOrder, `pages of ${size}`);
      const folders = await allKeys(store, 'bucket-6', { prefix: 'a/', delimiter: '/', maxKeys: 1 });
      assert.deepEqual(folders, { keys: ['a/1', 'a/2'], prefixes: ['a/b/', 'a/c/'], pages: 4 });
      const top = await store.listObjects('bucket-6', { prefix: '', delimiter: '/', maxKeys: 1000 });
      assert.deepEqual(top.commonPrefixes, ['a/']);
      assert.equal(top.objects.length, 6);
      const after = await store.listObjects('bucket-6', { prefix: '', after: 'a/b/3', maxKeys: 2 });
      assert.deepEqual(after.objects.map((o) => o.key), ['a/b/4', 'a/c/5']);
      assert.equal(after.truncated, true);
      const empty = await store.listObjects('bucket-6', { prefix: 'nothing/', maxKeys: 10 });
      assert.deepEqual([empty.objects, empty.commonPrefixes, empty.truncated], [[], [], false]);
      await rejectsCode(store.listObjects('nope', { prefix: '', maxKeys: 1 }), 'NoSuchBucket');
    });

    it('assembles multipart uploads with S3 ETags and refuses what S3 refuses', async () => {
      await store.createBucket('bucket-7');
      const upload = await store.createUpload('bucket-7', 'big', { contentType: 'application/x-big', user: {} }, 'CRC32');
      const p1 = Buffer.alloc(MIN_PART_BYTES, 1);
      const p2 = Buffer.alloc(MIN_PART_BYTES, 2);
      const p3 = Buffer.from('tail');
      const e1 = await store.uploadPart('bucket-7', 'big', upload.uploadId, 1, bodyOf(p1));
      const e2 = await store.uploadPart('bucket-7', 'big', upload.uploadId, 2, bodyOf(p2));
      const e3 = await store.uploadPart('bucket-7', 'big', upload.uploadId, 3, bodyOf(p3));
      await rejectsCode(store.uploadPart('bucket-7', 'big', upload.uploadId, 0, bodyOf('x')), 'InvalidArgument');
      await rejectsCode(store.uploadPart('bucket-7', 'big', upload.uploadId, 10_001, bodyOf('x')), 'InvalidArgument');
      await rejectsCode(store.uploadPart('bucket-7', 'big', 'no-such-upload', 1, bodyOf('x')), 'NoSuchUpload');
      const listed = await store.listParts('bucket-7', 'big', upload.uploadId, 0, 2);
      assert.deepEqual(listed.parts.map((p) => p.partNumber), [1, 2]);
      assert.equal(listed.truncated, true);
      assert.deepEqual((await store.listUploads('bucket-7', { prefix: '', maxUploads: 10 })).uploads.map((u) => u.uploadId), [upload.uploadId]);
      await rejectsCode(store.completeUpload('bucket-7', 'big', upload.uploadId, [{ partNumber: 2, etag: e2.etag }, { partNumber: 1, etag: e1.etag }]), 'InvalidPartOrder');
      await rejectsCode(store.completeUpload('bucket-7', 'big', upload.uploadId, [{ partNumber: 1, etag: '"bad"' }]), 'InvalidPart');
      await rejectsCode(store.completeUpload('bucket-7', 'big', upload.uploadId, [{ partNumber: 3, etag: e3.etag }, { partNumber: 4, etag: e3.etag }]), 'InvalidPart');
      await rejectsCode(store.completeUpload('bucket-7', 'big', upload.uploadId, [{ partNumber: 3, etag: e3.etag }, { partNumber: 5, etag: e3.etag }]), 'InvalidPart');
      const small = await store.createUpload('bucket-7', 'small', emptyMetadata());
      const s1 = await store.uploadPart('bucket-7', 'small', small.uploadId, 1, bodyOf('tiny'));
      const s2 = await store.uploadPart('bucket-7', 'small', small.uploadId, 2, bodyOf('tiny'));
      await rejectsCode(store.completeUpload('bucket-7', 'small', small.uploadId, [{ partNumber: 1, etag: s1.etag }, { partNumber: 2, etag: s2.etag }]), 'EntityTooSmall');
      await rejectsCode(store.headObject('bucket-7', 'big'), 'NoSuchKey');
      const done = await store.completeUpload('bucket-7', 'big', upload.uploadId, [
        { partNumber: 1, etag: e1.etag },
        { partNumber: 2, etag: e2.etag },
        { partNumber: 3, etag: e3.etag },
      ]);
      const partMd5s = Buffer.concat([p1, p2, p3].map((p) => createHash('md5').update(p).digest()));
      assert.equal(done.etag, `"${md5(partMd5s)}-3"`);
      assert.equal(done.checksum?.type, 'COMPOSITE');
      assert.match(done.checksum?.value ?? '', /-3$/);
      const whole = await readAll(store, 'bucket-7', 'big');
      assert.ok(whole.equals(Buffer.concat([p1, p2, p3])));
      assert.ok((await sendAll(store, 'bucket-7', 'big')).equals(whole));
      assert.ok((await readAll(store, 'bucket-7', 'big', { start: MIN_PART_BYTES - 2, end: MIN_PART_BYTES + 1 })).equals(Buffer.from([1, 1, 2, 2])));
      assert.ok((await sendAll(store, 'bucket-7', 'big', { start: MIN_PART_BYTES - 2, end: MIN_PART_BYTES + 1 })).equals(Buffer.from([1, 1, 2, 2])));
      assert.ok((await sendAll(store, 'bucket-7', 'big', { start: 3, end: 2 * MIN_PART_BYTES + 1 })).equals(whole.subarray(3, 2 * MIN_PART_BYTES + 2)));
      assert.equal((await store.headObject('bucket-7', 'big')).metadata.contentType, 'application/x-big');
      await rejectsCode(store.completeUpload('bucket-7', 'big', upload.uploadId, [{ partNumber: 1, etag: e1.etag }]), 'NoSuchUpload');
      await store.abortUpload('bucket-7', 'small', small.uploadId);
      await rejectsCode(store.abortUpload('bucket-7', 'small', small.uploadId), 'NoSuchUpload');
      assert.equal(await blobCount(store), 3, 'only the object\'s three parts are left');
    });

    it('copies ranges of objects into parts', async () => {
      await store.createBucket('bucket-8');
      await store.putObject('bucket-8', 'src', bodyOf(Buffer.alloc(MIN_PART_BYTES + 10, 7)), emptyMetadata());
      const upload = await store.createUpload('bucket-8', 'dst', emptyMetadata());
      const a = await store.uploadPartCopy('bucket-8', 'dst', upload.uploadId, 1, { bucket: 'bucket-8', key: 'src', range: { start: 0, end: MIN_PART_BYTES - 1 } });
      const b = await store.uploadPartCopy('bucket-8', 'dst', upload.uploadId, 2, { bucket: 'bucket-8', key: 'src', range: { start: MIN_PART_BYTES, end: MIN_PART_BYTES + 9 } });
      await rejectsCode(store.uploadPartCopy('bucket-8', 'dst', upload.uploadId, 3, { bucket: 'bucket-8', key: 'src', range: { start: 0, end: MIN_PART_BYTES + 10 } }), 'InvalidRange');
      await store.completeUpload('bucket-8', 'dst', upload.uploadId, [{ partNumber: 1, etag: a.etag }, { partNumber: 2, etag: b.etag }]);
      assert.ok((await readAll(store, 'bucket-8', 'dst')).equals(Buffer.alloc(MIN_PART_BYTES + 10, 7)));
    });

    it('keeps what was committed across a restart and sweeps blobs no object names', async () => {
      await store.createBucket('bucket-9');
      await store.putObject('bucket-9', 'kept', bodyOf('durable'), emptyMetadata());
      const upload = await store.createUpload('bucket-9', 'pending', emptyMetadata());
      await store.uploadPart('bucket-9', 'pending', upload.uploadId, 1, bodyOf('part'));
      // A write cut short after its bytes were synced and before its commit leaves a blob no row names.
      const orphan = await store.blobs.write(chunks('orphan'), () => {}, 100);
      assert.equal(await blobCount(store), 3);
      store = await backend.reopen(store);
      assert.equal(await blobCount(store), 2, 'the orphan is gone; the object and the pending part stay');
      await assert.rejects(store.blobs.openAll([orphan]));
      assert.equal((await readAll(store, 'bucket-9', 'kept')).toString(), 'durable');
      assert.deepEqual((await store.listParts('bucket-9', 'pending', upload.uploadId, 0, 10)).parts.map((p) => p.size), [4]);
    });

    it('keeps serving an object being read while it is replaced', async () => {
      await store.createBucket('bucket-10');
      await store.putObject('bucket-10', 'k', bodyOf(Buffer.alloc(100_000, 1)), emptyMetadata());
      const opened = await store.openObject('bucket-10', 'k');
      await store.putObject('bucket-10', 'k', bodyOf(Buffer.alloc(50, 2)), emptyMetadata());
      const out: Buffer[] = [];
      for await (const c of opened.stream()) out.push(c as Buffer);
      assert.ok(Buffer.concat(out).equals(Buffer.alloc(100_000, 1)));
      assert.ok((await readAll(store, 'bucket-10', 'k')).equals(Buffer.alloc(50, 2)));
      const again = await store.openObject('bucket-10', 'k');
      await store.putObject('bucket-10', 'k', bodyOf(Buffer.alloc(70, 3)), emptyMetadata());
      const sent: Buffer[] = [];
      await again.send(new Writable({ write: (chunk: Buffer, _encoding, callback) => callback(void sent.push(Buffer.from(chunk))) }));
      assert.ok(Buffer.concat(sent).equals(Buffer.alloc(50, 2)));
    });

    it('stops sending when the receiver goes away, and closes the object\'s file', async () => {
      await store.createBucket('bucket-11');
      const body = Buffer.alloc(3 * MIN_PART_BYTES, 4);
      await store.putObject('bucket-11', 'k', bodyOf(body), emptyMetadata());
      // Linux lists a process's open files in /proc/self/fd.
      const openFiles = existsSync('/proc/self/fd') ? (await readdir('/proc/self/fd')).length : 0;
      const opened = await store.openObject('bucket-11', 'k');
      let received = 0;
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          received += chunk.length;
          // A client that hangs up after the first chunk: its write never completes.
          sink.destroy();
          callback();
        },
      });
      await opened.send(sink);
      assert.ok(received > 0 && received < body.length, `received ${received} of ${body.length} bytes`);
      if (existsSync('/proc/self/fd')) assert.equal((await readdir('/proc/self/fd')).length, openFiles, 'the object\'s file is closed');
    });
  });
}
