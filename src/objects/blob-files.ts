// Object bytes on disk: one file per blob, named by a random id under `<data dir>/objects/blobs/<xx>/<id>`,
// never by a key, so no key (`..`, slashes, NUL, 1,024 bytes) is ever part of a path. A blob is written and
// fsynced, then its directory is fsynced, before the index names it; a blob no index row names (a write cut
// short by a crash, a delete whose unlink did not happen) is removed by the sweep at start.
import { randomBytes } from 'node:crypto';
import { copyFile, type FileHandle, link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BlobRef } from './object-store.js';

/** Bytes gathered before each write: fewer, larger writes keep a 256 MiB PUT at disk speed. */
const WRITE_BATCH_BYTES = 8 * 1024 * 1024;
/**
 * Bytes each read of a GET asks for. Smaller chunks cost more system calls, larger ones keep the socket waiting
 * longer for the next: sending a 256 MiB object to a node:http client on a busy 2-CPU machine took a median
 * 1.0 s with 512 KiB chunks against 2.2 s with 4 MiB ones; 1 MiB chunks took 1.4-1.8x as long as 256 KiB ones,
 * and 256 KiB were no faster than 512 KiB and cost more CPU. Each pair was measured with two servers answering
 * in alternation in one run, 8 GETs each.
 */
const READ_CHUNK_BYTES = 512 * 1024;

export class BodyTooLargeError extends Error {}

/** The bytes of an empty body: no file at all. */
export const EMPTY_BLOB: BlobRef = { id: '', size: 0 };

/** The blobs that hold bytes, in order (empty bodies and parts have no file). */
export const filesOf = (blobs: readonly BlobRef[]): BlobRef[] => blobs.filter((b) => b.size > 0);

export class BlobFiles {
  readonly dir: string;
  private ready: Promise<void> | undefined;

  constructor(root: string) {
    this.dir = join(root, 'blobs');
  }

  pathOf(id: string): string {
    return join(this.dir, id.slice(0, 2), id);
  }

  /** Creates the 256 fan-out folders once and syncs them, so that a new blob only needs its own folder synced. */
  private prepare(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      for (let i = 0; i < 256; i++) await mkdir(join(this.dir, i.toString(16).padStart(2, '0')), { recursive: true });
      await syncDirectory(this.dir);
    })();
    return this.ready;
  }

  /**
   * Writes `source` to a new blob, durably: the file and its folder are synced before this returns. `observe`
   * sees every chunk (hashes); on any error the file is removed and the error passed on.
   */
  async write(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, observe: (chunk: Uint8Array) => void, maxBytes: number): Promise<BlobRef> {
    await this.prepare();
    const id = randomBytes(16).toString('hex');
    const path = this.pathOf(id);
    // The file is created with the first byte: an empty body (a folder marker, a _SUCCESS file) needs none.
    let file: FileHandle | undefined;
    let size = 0;
    // One write is in flight while the next batch is received and hashed: the disk and the hashing overlap.
    // Writes stay in order, each starting when the one before has ended.
    let writing: Promise<void> | undefined;
    try {
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      for await (const chunk of source) {
        if (chunk.length === 0) continue;
        size += chunk.length;
        if (size > maxBytes) throw new BodyTooLargeError();
        observe(chunk);
        file ??= await this.create(path);
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= WRITE_BATCH_BYTES) {
          await writing;
          writing = writeAll(file, batch);
          batch = [];
          batchBytes = 0;
        }
      }
      if (!file) return EMPTY_BLOB;
      await writing;
      if (batch.length > 0) await writeAll(file, batch);
      await file.sync();
      await file.close();
    } catch (error) {
      await writing?.catch(() => {});
      if (file) {
        await file.close().catch(() => {});
        await unlink(path).catch(() => {});
      }
      throw error;
    }
    await syncDirectory(join(this.dir, id.slice(0, 2)));
    return { id, size };
  }

  /** Creates a new blob file, and its fan-out folder again if something removed it since the start. */
  private async create(path: string): Promise<FileHandle> {
    try {
      return await open(path, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dirname(path), { recursive: true });
      await syncDirectory(dirname(dirname(path)));
      return await open(path, 'wx');
    }
  }

  /** A new blob with the same bytes: a hard link (no copy), or a copy where links are not possible. */
  async duplicate(blob: BlobRef): Promise<BlobRef> {
    if (blob.size === 0) return EMPTY_BLOB;
    await this.prepare();
    const id = randomBytes(16).toString('hex');
    try {
      await mkdir(dirname(this.pathOf(id)), { recursive: true });
      await link(this.pathOf(blob.id), this.pathOf(id));
    } catch {
      await copyFile(this.pathOf(blob.id), this.pathOf(id));
      const file = await open(this.pathOf(id), 'r+');
      await file.sync();
      await file.close();
    }
    await syncDirectory(join(this.dir, id.slice(0, 2)));
    return { id, size: blob.size };
  }

  /**
   * Opens every blob of an object now, so that the bytes stay readable even if the object is replaced and its
   * files unlinked before the reader gets to them.
   */
  async openAll(blobs: readonly BlobRef[]): Promise<FileHandle[]> {
    const handles: FileHandle[] = [];
    try {
      for (const blob of blobs) handles.push(await open(this.pathOf(blob.id), 'r'));
    } catch (error) {
      await Promise.all(handles.map((h) => h.close()));
      throw error;
    }
    return handles;
  }

  /** The bytes `start`..`end` (inclusive) of an object made of `blobs`, read from their open handles, which it closes. */
  stream(blobs: readonly BlobRef[], handles: FileHandle[], start: number, end: number): Readable {
    async function* read(): AsyncGenerator<Buffer> {
      try {
        for (const piece of piecesOf(blobs, start, end)) {
          const want = piece.to - piece.from + 1;
          const buffer = Buffer.allocUnsafe(want);
          await readFully(handles[piece.blob]!, buffer, want, piece.from);
          yield buffer;
        }
      } finally {
        await closeAll(handles);
      }
    }
    return Readable.from(read(), { objectMode: false, highWaterMark: READ_CHUNK_BYTES });
  }

  /**
   * Writes the bytes `start`..`end` (inclusive) to `out` and ends it; closes the handles. Resolves once `out`
   * has finished, or has closed early (the client went away).
   *
   * Two buffers are read into in turn, each reused once the write of its previous contents has completed, so
   * that a GET allocates no memory per chunk: a fresh buffer per read (what `stream` does) is 256 MiB of
   * external memory for a 256 MiB object, which makes V8 collect garbage over and over (with 4 MiB reads the
   * server spent about 350 ms of CPU on such a GET, garbage collection the largest part in --cpu-prof; about
   * 140 ms with the two buffers). The next chunk is read while the last is written, and no more than two
   * chunks are ever waiting for the socket: that is the backpressure. `out` must be done with a chunk when it
   * calls back, as a socket or an HTTP response is; a stream that keeps chunks (a PassThrough) is not.
   */
  async send(blobs: readonly BlobRef[], handles: FileHandle[], start: number, end: number, out: Writable): Promise<void> {
    let closed = false;
    const gone = new Promise<void>((resolve) => {
      const done = (): void => {
        closed = true;
        resolve();
      };
      if (out.destroyed) done();
      out.once('close', done);
    });
    try {
      const size = Math.min(READ_CHUNK_BYTES, end - start + 1);
      const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
      // The write each buffer was last given to; the buffer is reused once it has completed.
      const writes: (Promise<void> | undefined)[] = [undefined, undefined];
      let turn = 0;
      for (const piece of piecesOf(blobs, start, end)) {
        await Promise.race([writes[turn], gone]);
        if (closed) return;
        const buffer = buffers[turn]!;
        const want = piece.to - piece.from + 1;
        await readFully(handles[piece.blob]!, buffer, want, piece.from);
        if (closed) return;
        writes[turn] = new Promise<void>((resolve) => out.write(want === buffer.length ? buffer : buffer.subarray(0, want), () => resolve()));
        turn = 1 - turn;
      }
      out.end();
      await Promise.race([finished(out).catch(() => {}), gone]);
    } finally {
      await closeAll(handles);
    }
  }

  async remove(blobs: readonly BlobRef[]): Promise<void> {
    for (const blob of filesOf(blobs)) await unlink(this.pathOf(blob.id)).catch(() => {});
  }

  /**
   * Removes blob files no index row names and that were last written before `before` (ms since the epoch):
   * what writes cut short by a crash left. Returns how many.
   */
  async sweep(referenced: (ids: readonly string[]) => Promise<Set<string>>, before: number): Promise<number> {
    await this.prepare();
    let removed = 0;
    for (const fan of await readdir(this.dir)) {
      const folder = join(this.dir, fan);
      let names: string[];
      try {
        names = await readdir(folder);
      } catch {
        continue;
      }
      for (let i = 0; i < names.length; i += 500) {
        const ids = names.slice(i, i + 500);
        const used = await referenced(ids);
        for (const id of ids) {
          if (used.has(id)) continue;
          const path = join(folder, id);
          try {
            if ((await stat(path)).mtimeMs >= before) continue;
            await unlink(path);
            removed++;
          } catch {
            // Gone meanwhile.
          }
        }
      }
    }
    return removed;
  }
}

/**
 * The reads an object's bytes `start`..`end` take, blob by blob, each at most READ_CHUNK_BYTES: `blob` indexes
 * `blobs`, and `from`..`to` (inclusive) are offsets in that blob's file.
 */
function* piecesOf(blobs: readonly BlobRef[], start: number, end: number): Generator<{ blob: number; from: number; to: number }> {
  let offset = 0;
  for (let i = 0; i < blobs.length; i++) {
    const blob = blobs[i]!;
    const last = Math.min(end, offset + blob.size - 1) - offset;
    for (let from = Math.max(start, offset) - offset; from <= last; from += READ_CHUNK_BYTES) {
      yield { blob: i, from, to: Math.min(last, from + READ_CHUNK_BYTES - 1) };
    }
    offset += blob.size;
  }
}

/** Reads `length` bytes at `position` into the start of `buffer`; a file shorter than that is an error. */
async function readFully(file: FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error('a blob file is shorter than its object says');
    done += bytesRead;
  }
}

async function closeAll(handles: readonly FileHandle[]): Promise<void> {
  await Promise.all(handles.map((h) => h.close().catch(() => {})));
}

async function writeAll(file: FileHandle, chunks: Uint8Array[]): Promise<void> {
  let pending = chunks;
  while (pending.length > 0) {
    const { bytesWritten } = await file.writev(pending);
    let left = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const chunk of pending) {
      if (left >= chunk.length) left -= chunk.length;
      else {
        rest.push(chunk.subarray(left));
        left = 0;
      }
    }
    pending = rest;
  }
}

export async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
