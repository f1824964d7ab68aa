// The object store against the local disk it lives on, in the same run (issue 13, part 4):
// - GET of a 256 MiB object **from the disk**, the issue's target (at least half the local disk's read
//   throughput): before every read, on both sides, the object's blob file has its pages dropped from the page
//   cache (`dd iflag=nocache count=0`, posix_fadvise DONTNEED on that one file; what stays cached is counted
//   with `fincore` and reported), then, in turn, the file is read (`cat`; node's fs in 1 MiB reads) and the
//   object fetched (curl; plain node:http). Both sides then wait on the same disk;
// - the same reads **from the page cache** (the blob was written moments before; 256 MiB is far below the
//   machine's memory), which shows what the transport costs: plain node:http, the SDK and curl against the
//   file read before and after them; a bare node:http server piping that file (bench/bare-file-server.ts),
//   what node:http allows without the store; and the file through a pipe into a second process
//   (`cat f | cat`), what handing bytes from one process to another costs on this machine without HTTP;
// - PUT of the same object with the SDK (its default CRC32 checksum included) and over plain node:http, against
//   writing and fsyncing the same bytes as a file on the same disk (the store's write is fsynced too);
// - paging through 100,000 keys under one prefix with ListObjectsV2 (1,000 a page) against listing a folder
//   of 100,000 empty files (readdir). The keys are seeded through the store's own interface before the server
//   starts, with an index whose commits are not synced (a seed that fails is thrown away).
// The server is a separate `owlet server` process on 127.0.0.1; each figure is the median of --object-rounds.
// On a shared machine the wall times swing with the load, so the CPU time each side spends is reported too
// (this process's and the programs it ran, cat and curl, from process.cpuUsage and /proc/self/stat; the
// servers' from /proc), which the load moves much less.
//
// What the figures mean (docs/performance.md, "The object store's GET against the disk"): a GET moves the
// bytes three times (file to Owlet's buffer, buffer to the socket, socket to the client) across two processes
// sharing 2 cores, where `cat` copies them once in one process; from the page cache, where copying is all
// there is, curl gets 0.3-0.4x of cat. From the disk both sides wait on the same disk, and the GET reached
// 0.61-0.95x of cat (curl) and 0.51-0.73x of node's file read (node:http) in five runs of 7-9 rounds at load 5-11.
//
//   node dist/bench/object-store.js [--object-mib N] [--object-rounds N] [--keys N]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { EmbeddedObjectStore } from '../src/objects/embedded-object-store.js';
import { emptyMetadata } from '../src/objects/object-store.js';
import { SqliteObjectIndex } from '../src/objects/sqlite-object-index.js';
import { CREDENTIALS, owletEnvironment, REGION, startOwletServer, temporaryDataDir } from './owlet-server.js';
import { cpuMicros, waitedChildrenCpuMicros } from './proc.js';
import { type ServerProcess, startServerProcess } from './processes.js';
import { type BenchResult, count, machine, median, ms, type Row, runMain, saveJson } from './report.js';

export const NAME = 'object-store';

export interface ObjectStoreOptions {
  objectMiB: number;
  rounds: number;
  keys: number;
}

export const DEFAULT_OBJECT_STORE_OPTIONS: ObjectStoreOptions = { objectMiB: 256, rounds: 3, keys: 100_000 };

export function parseObjectStoreOptions(argv: readonly string[]): ObjectStoreOptions {
  const { values } = parseArgs({ args: [...argv], options: { 'object-mib': { type: 'string' }, 'object-rounds': { type: 'string' }, keys: { type: 'string' } }, strict: false });
  const number = (v: unknown, fallback: number): number => (typeof v === 'string' && Number(v) > 0 ? Math.floor(Number(v)) : fallback);
  return {
    objectMiB: number(values['object-mib'], DEFAULT_OBJECT_STORE_OPTIONS.objectMiB),
    rounds: number(values['object-rounds'], DEFAULT_OBJECT_STORE_OPTIONS.rounds),
    keys: number(values.keys, DEFAULT_OBJECT_STORE_OPTIONS.keys),
  };
}

const BARE_FILE_SERVER = fileURLToPath(new URL('./bare-file-server.js', import.meta.url));
const BUCKET = 'bench';
/** The file's bytes through a pipe into a second process: two processes and a copy between them, no HTTP. */
const PIPE = 'cat "$1" | cat';
const PREFIX = 'many/';

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function writeSynced(path: string, body: Buffer): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.writeFile(body);
    await file.sync();
  } finally {
    await file.close();
  }
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of stream);
}

/** Reads a file through fs.createReadStream in 1 MiB reads, dropping each chunk as node:http's reader does. */
function readFile(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
    stream.on('data', () => {});
    stream.on('end', resolve);
    stream.on('error', reject);
  });
}

/** A plain node:http GET of `path` whose body is dropped chunk by chunk, as fast as node:http reads it. */
function plainGet(url: string, path: string, headers: Record<string, string | string[]> = {}): Promise<void> {
  const target = new URL(url);
  return new Promise<void>((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, method: 'GET', path, headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A GET or PUT over plain node:http, signed with @smithy/signature-v4 (payload unsigned, no checksum): what the
 * store itself costs, without the SDK's own stream handling and the hashes it computes on the client's side.
 */
async function rawRequest(url: string, method: 'GET' | 'PUT', path: string, body?: Buffer): Promise<void> {
  const target = new URL(url);
  const headers: Record<string, string> = { host: target.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  if (body) headers['content-length'] = String(body.length);
  const signer = new SignatureV4({ service: 's3', region: REGION, credentials: CREDENTIALS, sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
  const signed = await signer.sign({ method, protocol: 'http:', hostname: target.hostname, port: Number(target.port), path, headers, query: {} });
  if (method === 'GET') return plainGet(url, path, signed.headers);
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, method, path, headers: signed.headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${method} ${path}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs a program to its end with its output dropped (stdout is /dev/null); rejects when it fails. */
function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
  });
}

/**
 * curl signs requests with SigV4 itself from 7.75 on (`--aws-sigv4`, https://curl.se/docs/manpage.html#--aws-sigv4):
 * a native client, whose reads are not node:http's 64 KiB ones. Undefined when the machine has no such curl.
 */
function curlArgs(url: string): string[] | undefined {
  const version = spawnSync('curl', ['--version'], { encoding: 'utf8' });
  const m = /^curl (\d+)\.(\d+)/.exec(version.stdout ?? '');
  if (version.status !== 0 || !m || Number(m[1]) * 1000 + Number(m[2]) < 7075) return undefined;
  const { accessKeyId, secretAccessKey } = CREDENTIALS;
  return ['-sf', '-o', '/dev/null', '--aws-sigv4', `aws:amz:${REGION}:s3`, '--user', `${accessKeyId}:${secretAccessKey}`, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', url];
}

/** What a drop of one file's pages did: why it was refused, and the bytes still cached after it (fincore). */
interface Drop {
  refused?: string;
  cached?: number;
}

/**
 * Drops one file's pages from the page cache, nothing else: GNU dd's `iflag=nocache` with `count=0` asks the
 * kernel to discard the whole file's cached data (posix_fadvise POSIX_FADV_DONTNEED; coreutils manual, "dd
 * invocation": https://www.gnu.org/software/coreutils/manual/html_node/dd-invocation.html), which needs no
 * root. A dd without `nocache` refuses it (its error is kept), and the kernel keeps pages it cannot drop
 * (dirty ones, pages another process has mapped), so what is still cached afterwards is counted with
 * util-linux's `fincore` (not counted without fincore).
 */
function dropPages(path: string): Drop {
  const dd = spawnSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
  const resident = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  return {
    ...(dd.status !== 0 ? { refused: (dd.stderr || dd.error?.message || `dd exited with ${dd.status}`).trim() } : {}),
    ...(resident.status === 0 ? { cached: Number(resident.stdout.trim()) } : {}),
  };
}

/**
 * Wall time, and CPU time of one piece of work: the client's (this process, and the programs it ran to their
 * end: cat, curl), and the server process's named.
 */
interface Measured {
  ms: number;
  clientCpuMs: number;
  serverCpuMs: number;
}

async function measured(work: () => Promise<unknown>, serverPid?: number): Promise<Measured> {
  const server0 = serverPid === undefined ? 0 : cpuMicros(serverPid);
  const cpu0 = process.cpuUsage();
  const children0 = waitedChildrenCpuMicros();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const children = waitedChildrenCpuMicros() - children0;
  return { ms, clientCpuMs: (cpu.user + cpu.system + children) / 1000, serverCpuMs: serverPid === undefined ? 0 : (cpuMicros(serverPid) - server0) / 1000 };
}

/** The blob files under the store's `blobs` folder (`<xx>/<id>`), relative to it. */
async function blobFiles(blobs: string): Promise<Set<string>> {
  const files = new Set<string>();
  for (const fan of await readdir(blobs)) for (const id of await readdir(join(blobs, fan))) files.add(`${fan}/${id}`);
  return files;
}

/** The blob a PUT of `size` bytes wrote: the one file of that size that was not there before it. */
async function newBlob(blobs: string, before: Set<string>, size: number): Promise<string> {
  const fresh: string[] = [];
  for (const name of await blobFiles(blobs)) if (!before.has(name) && (await stat(join(blobs, name))).size === size) fresh.push(name);
  if (fresh.length !== 1) throw new Error(`expected one new blob of ${size} bytes, found ${fresh.length}`);
  return fresh[0]!;
}

/** Seeds `keys` empty objects under one prefix through the store's interface, into the data directory. */
async function seedKeys(dataDir: string, keys: number): Promise<void> {
  const root = join(dataDir, 'objects');
  const store = await EmbeddedObjectStore.open({ root, index: new SqliteObjectIndex(join(root, 'index.sqlite'), { durable: false }), sweepGraceMs: 0 });
  try {
    await store.createBucket(BUCKET);
    for (let i = 0; i < keys; i++) {
      await store.putObject(BUCKET, `${PREFIX}${String(i).padStart(7, '0')}`, { source: [] }, emptyMetadata());
    }
  } finally {
    await store.close();
  }
}

const rate = (mib: number, msTaken: number): string => `${Math.round(mib / (msTaken / 1000))} MiB/s`;

export async function objectStore(options: ObjectStoreOptions = DEFAULT_OBJECT_STORE_OPTIONS, progress: (line: string) => void = console.log): Promise<BenchResult> {
  const dir = temporaryDataDir();
  progress(`seeding ${count(options.keys)} keys through the store's interface`);
  const seedMs = await timed(() => seedKeys(dir.dataDir, options.keys));
  progress(`  seeded in ${ms(seedMs)}`);
  const server = await startOwletServer({ name: 'Owlet (object store)', dataDir: dir });
  const blobs = join(dir.dataDir, 'objects', 'blobs');
  let bare: ServerProcess | undefined;
  const s3 = new S3Client({ endpoint: server.url, region: REGION, credentials: CREDENTIALS, forcePathStyle: true, maxAttempts: 1 });
  const local = join(dir.dataDir, 'local-baseline');
  await mkdir(local, { recursive: true });
  try {
    bare = await startServerProcess({
      name: 'bare node:http file server',
      args: [BARE_FILE_SERVER],
      env: owletEnvironment({ BARE_FILE_ROOT: blobs }),
      ready: /^bare node:http file server at (http:\/\/127\.0\.0\.1:\d+)$/,
      stdinPipe: true,
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'big' }));
    const body = randomBytes(options.objectMiB * 1024 * 1024);
    const put: Measured[] = [];
    const get: Measured[] = [];
    const rawPut: Measured[] = [];
    const rawGet: Measured[] = [];
    const bareGet: Measured[] = [];
    const curl = curlArgs(`${server.url}/big/raw.bin`);
    const curlGet: Measured[] = [];
    const catRead: Measured[] = [];
    const diskWrite: Measured[] = [];
    const diskRead: Measured[] = [];
    const pipeRead: Measured[] = [];
    // From the disk: the blob's pages dropped before each read, on both sides.
    const coldCat: Measured[] = [];
    const coldPipe: Measured[] = [];
    const coldCurl: Measured[] = [];
    const coldRead: Measured[] = [];
    const coldRawGet: Measured[] = [];
    const drops: Drop[] = [];
    const loads: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      diskWrite.push(await measured(() => writeSynced(join(local, 'object.bin'), body)));
      put.push(await measured(() => s3.send(new PutObjectCommand({ Bucket: 'big', Key: 'object.bin', Body: body })), server.pid));
      const before = await blobFiles(blobs);
      rawPut.push(await measured(() => rawRequest(server.url, 'PUT', '/big/raw.bin', body), server.pid));
      const blob = await newBlob(blobs, before, body.length);
      // The reads of one round, back to back: the file itself, through Owlet, through the bare server, with
      // the SDK (the same bytes under another key), and the file again.
      diskRead.push(await measured(() => readFile(join(blobs, blob))));
      rawGet.push(await measured(() => rawRequest(server.url, 'GET', '/big/raw.bin'), server.pid));
      bareGet.push(await measured(() => plainGet(bare!.url, `/${blob}`), bare!.pid));
      get.push(
        await measured(async () => {
          const out = await s3.send(new GetObjectCommand({ Bucket: 'big', Key: 'object.bin' }));
          await drain(out.Body as AsyncIterable<unknown>);
        }, server.pid),
      );
      diskRead.push(await measured(() => readFile(join(blobs, blob))));
      if (curl) {
        catRead.push(await measured(() => run('cat', [join(blobs, blob)])));
        curlGet.push(await measured(() => run('curl', curl), server.pid));
        catRead.push(await measured(() => run('cat', [join(blobs, blob)])));
      }
      if (curl) pipeRead.push(await measured(() => run('sh', ['-c', PIPE, 'sh', join(blobs, blob)])));
      // From the disk, alternating the file's side and the GET's, each after its own drop.
      const fromDisk = async (into: Measured[], work: () => Promise<unknown>, serverPid?: number): Promise<void> => {
        drops.push(dropPages(join(blobs, blob)));
        into.push(await measured(work, serverPid));
      };
      if (curl) {
        await fromDisk(coldCat, () => run('cat', [join(blobs, blob)]));
        await fromDisk(coldCurl, () => run('curl', curl), server.pid);
        await fromDisk(coldPipe, () => run('sh', ['-c', PIPE, 'sh', join(blobs, blob)]));
      }
      await fromDisk(coldRead, () => readFile(join(blobs, blob)));
      await fromDisk(coldRawGet, () => rawRequest(server.url, 'GET', '/big/raw.bin'), server.pid);
      loads.push(Math.round(loadavg()[0]! * 100) / 100);
      const read = (diskRead.at(-1)!.ms + diskRead.at(-2)!.ms) / 2;
      progress(
        `  round ${round + 1} (load ${loads.at(-1)}): GET plain HTTP ${ms(rawGet.at(-1)!.ms)} (${(read / rawGet.at(-1)!.ms).toFixed(2)}x the disk read's ${ms(read)}; bare node:http ${ms(bareGet.at(-1)!.ms)}), ` +
          (curl ? `curl ${ms(curlGet.at(-1)!.ms)} (cat ${ms((catRead.at(-1)!.ms + catRead.at(-2)!.ms) / 2)}), ` : '') +
          `SDK ${ms(get.at(-1)!.ms)}; PUT plain HTTP ${ms(rawPut.at(-1)!.ms)}, SDK ${ms(put.at(-1)!.ms)} (disk write ${ms(diskWrite.at(-1)!.ms)})`,
      );
      progress(
        `    from the disk: GET plain HTTP ${ms(coldRawGet.at(-1)!.ms)} (file read ${ms(coldRead.at(-1)!.ms)})` +
          (curl ? `, curl ${ms(coldCurl.at(-1)!.ms)} (cat ${ms(coldCat.at(-1)!.ms)}, cat | cat ${ms(coldPipe.at(-1)!.ms)}); warm cat | cat ${ms(pipeRead.at(-1)!.ms)}` : ''),
      );
    }
    progress(`creating ${count(options.keys)} empty files for the listing baseline`);
    const folder = join(local, 'many');
    await mkdir(folder);
    for (let i = 0; i < options.keys; i++) await writeFile(join(folder, String(i).padStart(7, '0')), '');
    const listing: number[] = [];
    const readdirs: number[] = [];
    let pages = 0;
    for (let round = 0; round < options.rounds; round++) {
      readdirs.push(await timed(() => readdir(folder)));
      let listed = 0;
      pages = 0;
      listing.push(
        await timed(async () => {
          let token: string | undefined;
          do {
            const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX, MaxKeys: 1000, ContinuationToken: token }));
            listed += page.KeyCount ?? 0;
            pages++;
            token = page.NextContinuationToken;
          } while (token);
        }),
      );
      if (listed !== options.keys) throw new Error(`listed ${listed} keys of ${options.keys}`);
      progress(`  round ${round + 1}: ${pages} pages in ${ms(listing.at(-1)!)} (readdir ${ms(readdirs.at(-1)!)})`);
    }

    const mibs = options.objectMiB;
    const wall = (m: readonly Measured[]): number => median(m.map((x) => x.ms));
    const cpu = (m: readonly Measured[], side: 'clientCpuMs' | 'serverCpuMs'): number => median(m.map((x) => x[side]));
    const [putMs, getMs, rawPutMs, rawGetMs, bareGetMs, writeMs, readMs] = [put, get, rawPut, rawGet, bareGet, diskWrite, diskRead].map(wall) as [number, number, number, number, number, number, number];
    const [listMs, readdirMs] = [listing, readdirs].map(median) as [number, number];
    const perGet = (m: readonly Measured[], server: string, client = 'client'): string => `${ms(cpu(m, 'serverCpuMs'))} ${server} + ${ms(cpu(m, 'clientCpuMs'))} ${client}`;
    const ratio = (file: number, getMs: number): string => (file / getMs).toFixed(2);
    const cachedAfter = drops.flatMap((d) => (d.cached === undefined ? [] : [d.cached]));
    const refusals = drops.flatMap((d) => (d.refused === undefined ? [] : [d.refused]));
    const maxCached = cachedAfter.length > 0 ? Math.max(...cachedAfter) : undefined;
    // Within 1 MiB of empty after every drop: the disk, not the page cache, served the from-disk reads.
    const dropDoubt = refusals.length > 0 ? 'drops refused' : maxCached === undefined ? 'drops not checked' : maxCached > 1024 * 1024 ? 'pages left cached' : undefined;
    const diskTarget = `at least 0.5x local disk read${dropDoubt ? ` (but ${dropDoubt}: see below)` : ''}`;
    const [coldReadMs, coldRawGetMs] = [coldRead, coldRawGet].map(wall) as [number, number];
    const rows: Row[] = [
      ...(curl
        ? [
            {
              figure: `GET of a ${mibs} MiB object from the disk with curl (its pages dropped before each read, both sides; median of ${options.rounds}; load ${loads.join(', ')})`,
              owlet: `${rate(mibs, wall(coldCurl))} (${ratio(wall(coldCat), wall(coldCurl))}x cat's read from the disk; CPU ${perGet(coldCurl, 'Owlet', 'curl')})`,
              baseline: `${rate(mibs, wall(coldCat))} \`cat\` of the object's file from the disk (CPU ${ms(cpu(coldCat, 'clientCpuMs'))}; \`cat | cat\` ${rate(mibs, wall(coldPipe))})`,
              target: { text: diskTarget, met: wall(coldCat) / wall(coldCurl) >= 0.5 },
            },
          ]
        : []),
      {
        figure: `GET of a ${mibs} MiB object from the disk over plain HTTP (pages dropped before each read)`,
        owlet: `${rate(mibs, coldRawGetMs)} (${ratio(coldReadMs, coldRawGetMs)}x the file's read from the disk; CPU ${perGet(coldRawGet, 'Owlet')})`,
        baseline: `${rate(mibs, coldReadMs)} reading the object's file from the disk (1 MiB reads)`,
        target: { text: diskTarget, met: coldReadMs / coldRawGetMs >= 0.5 },
      },
      {
        figure: `Bytes of the ${mibs} MiB file still cached after a drop (fincore; the most of ${drops.length} drops)`,
        owlet:
          (maxCached === undefined ? 'not checked: no fincore on this machine' : `${(maxCached / 1024 / 1024).toFixed(1)} MiB`) +
          (refusals.length > 0 ? `; ${refusals.length} drops refused: ${refusals[0]}` : ''),
        baseline: '0 when the drop did what it asks',
      },
      {
        figure: `GET of a ${mibs} MiB object over plain HTTP, from the page cache (the transport's cost)`,
        owlet: `${rate(mibs, rawGetMs)} (${ratio(readMs, rawGetMs)}x the file's read)`,
        baseline: `${rate(mibs, readMs)} reading the object's file from the page cache (median of ${diskRead.length})`,
      },
      {
        figure: `GET of the same file from a bare node:http server (the transport alone)`,
        owlet: `${rate(mibs, bareGetMs)} (${ratio(readMs, bareGetMs)}x the file's read)`,
        baseline: `${rate(mibs, readMs)} reading the file`,
      },
      {
        figure: `CPU time of one GET over plain HTTP, and of the bare server's`,
        owlet: `${perGet(rawGet, 'Owlet')}; bare: ${perGet(bareGet, 'server')}`,
        baseline: `${ms(cpu(diskRead, 'clientCpuMs'))} reading the file`,
      },
      ...(curl
        ? [
            {
              figure: `GET of the ${mibs} MiB object with curl, a native client (\`--aws-sigv4\`), from the page cache`,
              owlet: `${rate(mibs, wall(curlGet))} (${ratio(wall(catRead), wall(curlGet))}x cat's read; CPU ${perGet(curlGet, 'Owlet', 'curl')})`,
              baseline: `${rate(mibs, wall(catRead))} \`cat\` of the object's file (median of ${catRead.length}; CPU ${ms(cpu(catRead, 'clientCpuMs'))})`,
            },
            {
              figure: `The same GET with curl against the file through a pipe into a second process (\`cat f | cat\`), from the page cache`,
              owlet: `${rate(mibs, wall(curlGet))} (${ratio(wall(pipeRead), wall(curlGet))}x the pipe's)`,
              baseline: `${rate(mibs, wall(pipeRead))} \`cat f | cat\` (${ratio(wall(catRead), wall(pipeRead))}x cat's read alone; CPU of both ${ms(cpu(pipeRead, 'clientCpuMs'))})`,
            },
          ]
        : []),
      {
        figure: `GET of a ${mibs} MiB object with @aws-sdk/client-s3`,
        owlet: `${rate(mibs, getMs)} (${(readMs / getMs).toFixed(2)}x the disk's read; CPU ${perGet(get, 'Owlet')})`,
        baseline: `${rate(mibs, readMs)} reading the file`,
      },
      {
        figure: `PUT of a ${mibs} MiB object over plain HTTP (payload unsigned, no checksum)`,
        owlet: `${rate(mibs, rawPutMs)} (${(writeMs / rawPutMs).toFixed(2)}x the disk's synced write; CPU ${perGet(rawPut, 'Owlet')})`,
        baseline: `${rate(mibs, writeMs)} writing and syncing the file (CPU ${ms(cpu(diskWrite, 'clientCpuMs'))})`,
      },
      {
        figure: `PUT of a ${mibs} MiB object with @aws-sdk/client-s3 (SHA-256 and CRC32 checked)`,
        owlet: `${rate(mibs, putMs)} (${(writeMs / putMs).toFixed(2)}x the disk's synced write; CPU ${perGet(put, 'Owlet')})`,
        baseline: `${rate(mibs, writeMs)} writing and syncing the file`,
      },
      {
        figure: `ListObjectsV2 through ${count(options.keys)} keys under one prefix (${pages} pages)`,
        owlet: `${ms(listMs)} (${count(options.keys / (listMs / 1000))} keys/s)`,
        baseline: `${ms(readdirMs)} readdir of ${count(options.keys)} files`,
      },
    ];
    const result = { benchmark: NAME, date: new Date().toISOString(), machine: machine(), options, seedMs, loads, put, get, rawPut, rawGet, bareGet, curlGet, catRead, pipeRead, coldCat, coldPipe, coldCurl, coldRead, coldRawGet, drops, diskWrite, diskRead, listing, readdirs, rows };
    return { ...result, file: saveJson(NAME, result) };
  } finally {
    s3.destroy();
    await bare?.stop();
    await rm(local, { recursive: true, force: true });
    await server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runMain(() => objectStore(parseObjectStoreOptions(process.argv.slice(2))));
}
