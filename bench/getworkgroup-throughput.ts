// GetWorkGroup throughput: Owlet beside a bare node:http server that answers the same JSON body, both
// loaded in the same run by the same load generator (autocannon) with the same connections and duration,
// in alternating rounds so that a noisy machine weighs on both alike.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AthenaClient, GetWorkGroupCommand } from '@aws-sdk/client-athena';
import autocannon from 'autocannon';
import { onInterrupt, type ServerProcess, startServerProcess } from './processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OWLET_MAIN = join(ROOT, 'dist/src/cli/main.js');
const BARE_SERVER = fileURLToPath(new URL('./bare-server.js', import.meta.url));
export const RESULT_FILE = join(ROOT, 'bench/results/getworkgroup-throughput.json');

const CREDENTIALS = { accessKeyId: 'AKIDOWLETBENCH000001', secretAccessKey: 'owlet-bench-secret-key-000000000000000000' };
const REGION = 'us-east-1';
const WORKGROUP = 'spark';
const OWLET = 'Owlet';
const BARE = 'bare node:http';

export interface ThroughputOptions {
  /** Concurrent keep-alive connections. */
  connections: number;
  /** Seconds of each measured run. */
  durationSeconds: number;
  /** Measured runs per server; the servers alternate. */
  rounds: number;
  /** Seconds of load on each server before measuring, so that both run optimized code. */
  warmupSeconds: number;
  /**
   * When set, both servers run under `node --cpu-prof` and write their CPU profiles into this directory on
   * exit (owlet-<pid>.cpuprofile, bare-<pid>.cpuprofile), to compare where each spends its time.
   */
  cpuProfileDir?: string;
}

export const DEFAULT_OPTIONS: ThroughputOptions = { connections: 10, durationSeconds: 5, rounds: 3, warmupSeconds: 2 };

export interface RunFigures {
  requestsPerSecond: number;
  requests: number;
  durationSeconds: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Mean bytes received per response, headers included: the same for both servers when the comparison is fair. */
  bytesPerResponse: number;
  /**
   * CPU time (user and system) the server process used per request during the run. Less sensitive than
   * requests per second to what else the machine is doing, since it does not count time spent waiting.
   */
  cpuMicrosPerRequest: number;
}

export interface ServerFigures {
  server: string;
  medianRequestsPerSecond: number;
  medianLatencyP50Ms: number;
  medianLatencyP99Ms: number;
  medianCpuMicrosPerRequest: number;
  rounds: RunFigures[];
  /** Not counted in the medians; kept so that a CPU profile's request count is known. */
  warmup?: RunFigures;
}

export interface ThroughputResult {
  benchmark: 'getworkgroup-throughput';
  date: string;
  node: string;
  cpus: number;
  options: ThroughputOptions;
  owlet: ServerFigures;
  bare: ServerFigures;
  /** Owlet's median throughput over the bare server's. */
  ratio: number;
  /**
   * Owlet's throughput over the bare server's within each round: the two runs of a round are back to back,
   * so these are the least touched by the machine's load drifting between rounds.
   */
  roundRatios: number[];
  target: number;
}

interface SignedRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

class Captured extends Error {}

/** The SDK hands over JSON bodies as bytes (a Uint8Array subclass) or as a string, by version. */
function bodyText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  throw new Error(`the signed GetWorkGroup request has a body of an unexpected kind: ${Object.prototype.toString.call(body)}`);
}

/**
 * Signs one GetWorkGroup request the way the AWS SDK for JavaScript does, by letting the SDK build and sign
 * it and taking it from its request handler before it is sent.
 *
 * The benchmark replays these exact bytes. That is fair: Owlet accepts a signature for 15 minutes and keeps
 * no record of the ones it has seen (it does not reject replays), so each replayed request still goes
 * through the whole verification (parsing Authorization, the clock check, recomputing the signature over
 * the canonical request, the comparison) exactly as a freshly signed one would. Only the client's cost of
 * signing is left out, which is not the server's throughput.
 */
async function signGetWorkGroup(endpoint: string): Promise<SignedRequest> {
  let signed: SignedRequest | undefined;
  const client = new AthenaClient({
    endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestHandler: {
      handle(req: { path: string; headers: Record<string, string>; body?: unknown }): Promise<never> {
        signed = { path: req.path, headers: { ...req.headers }, body: bodyText(req.body) };
        return Promise.reject(new Captured());
      },
    },
  });
  try {
    await client.send(new GetWorkGroupCommand({ WorkGroup: WORKGROUP }));
  } catch (error) {
    if (!(error instanceof Captured)) throw error;
  } finally {
    client.destroy();
  }
  if (!signed) throw new Error('the AWS SDK did not hand over a signed GetWorkGroup request');
  const header = (name: string): string | undefined =>
    Object.entries(signed!.headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const expect = (what: string, actual: string | undefined, wanted: string | RegExp): void => {
    const ok = typeof wanted === 'string' ? actual === wanted : actual !== undefined && wanted.test(actual);
    if (!ok) throw new Error(`the signed GetWorkGroup request has ${what} ${JSON.stringify(actual)}, not ${String(wanted)}`);
  };
  expect('X-Amz-Target', header('x-amz-target'), 'AmazonAthena.GetWorkGroup');
  expect('Content-Type', header('content-type'), 'application/x-amz-json-1.1');
  expect('Authorization', header('authorization'), /^AWS4-HMAC-SHA256 Credential=/);
  expect('body', signed.body, JSON.stringify({ WorkGroup: WORKGROUP }));
  return signed;
}

/** Sends the signed request once on a fresh connection; resolves with the status, content type and body. */
function sendOnce(url: string, signed: SignedRequest): Promise<{ status: number; contentType: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port, method: 'POST', path: signed.path, headers: signed.headers, agent: false, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.on('error', reject);
    req.end(signed.body);
  });
}

/** Fails loudly unless the answer is Owlet's GetWorkGroup output for the ready Spark workgroup. */
function checkGetWorkGroupAnswer(server: string, answer: { status: number; contentType: string; body: string }): void {
  const fail = (why: string): never => {
    throw new Error(`${server} did not answer GetWorkGroup as expected (${why}): HTTP ${answer.status} ${answer.body}`);
  };
  if (answer.status !== 200) fail('status');
  if (answer.contentType !== 'application/x-amz-json-1.1') fail(`Content-Type ${answer.contentType}`);
  let parsed: { WorkGroup?: { Name?: unknown; State?: unknown; Configuration?: { EngineVersion?: { SelectedEngineVersion?: unknown } } } };
  try {
    parsed = JSON.parse(answer.body) as typeof parsed;
  } catch {
    return fail('not JSON');
  }
  const wg = parsed.WorkGroup;
  if (wg?.Name !== WORKGROUP || wg.State !== 'ENABLED') fail('not the ENABLED spark workgroup');
  if (!String(wg?.Configuration?.EngineVersion?.SelectedEngineVersion ?? '').startsWith('PySpark')) fail('not a Spark workgroup');
}

/** User plus system CPU time of a process so far, in microseconds (Linux `/proc/<pid>/stat`, in clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100;
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / ticksPerSecond;
}

async function load(url: string, signed: SignedRequest, connections: number, durationSeconds: number, pid: number): Promise<RunFigures> {
  // autocannon writes Content-Length itself, from the body; the signed value is the same.
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k.toLowerCase() !== 'content-length'));
  const cpuBefore = cpuMicros(pid);
  const result = await autocannon({
    url: new URL(signed.path, url).href,
    method: 'POST',
    headers,
    body: signed.body,
    connections,
    duration: durationSeconds,
  });
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0 || result.requests.total === 0) {
    throw new Error(
      `load on ${url} went wrong: ${result.requests.total} answers, ${result.errors} errors, ${result.timeouts} timeouts, ` +
        `${result.non2xx} not 2xx, status codes ${JSON.stringify(result.statusCodeStats)}`,
    );
  }
  return {
    requestsPerSecond: result.requests.total / result.duration,
    requests: result.requests.total,
    durationSeconds: result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    bytesPerResponse: result.throughput.total / result.requests.total,
    cpuMicrosPerRequest: (cpuMicros(pid) - cpuBefore) / result.requests.total,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function figures(server: string, rounds: RunFigures[], warmup: RunFigures | undefined): ServerFigures {
  return {
    server,
    medianRequestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
    medianLatencyP50Ms: median(rounds.map((r) => r.latencyP50Ms)),
    medianLatencyP99Ms: median(rounds.map((r) => r.latencyP99Ms)),
    medianCpuMicrosPerRequest: median(rounds.map((r) => r.cpuMicrosPerRequest)),
    rounds,
    ...(warmup ? { warmup } : {}),
  };
}

export async function measureGetWorkGroupThroughput(
  options: Partial<ThroughputOptions> = {},
  progress: (line: string) => void = () => {},
): Promise<ThroughputResult> {
  const opts: ThroughputOptions = { ...DEFAULT_OPTIONS, ...options };
  const dataDir = mkdtempSync(join(tmpdir(), 'owlet-bench-'));
  const removeDataDir = (): void => rmSync(dataDir, { recursive: true, force: true });
  const forgetDataDir = onInterrupt(removeDataDir);
  const servers: ServerProcess[] = [];
  if (opts.cpuProfileDir !== undefined) mkdirSync(opts.cpuProfileDir, { recursive: true });
  const profileArgs = (name: string): string[] =>
    opts.cpuProfileDir === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`, `--cpu-prof-name=${name}-\${pid}.cpuprofile`];
  try {
    // Owlet reads its settings from OWLET_* variables too; only the key pair is taken from there, so a
    // developer's own environment cannot move it off 127.0.0.1 or change its log level.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OWLET_')));
    const owlet = await startServerProcess({
      name: OWLET,
      args: [
        ...profileArgs('owlet'),
        OWLET_MAIN, 'server', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir,
      ],
      env: { ...env, OWLET_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, OWLET_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey },
      ready: /^Owlet is serving the Athena API at (http:\/\/127\.0\.0\.1:\d+)$/,
    });
    servers.push(owlet);

    const signed = await signGetWorkGroup(owlet.url);
    const owletAnswer = await sendOnce(owlet.url, signed);
    checkGetWorkGroupAnswer(OWLET, owletAnswer);

    const bare = await startServerProcess({
      name: BARE,
      args: [...profileArgs('bare'), BARE_SERVER],
      env: { ...env, BARE_SERVER_BODY: owletAnswer.body },
      ready: /^bare node:http server at (http:\/\/127\.0\.0\.1:\d+)$/,
      stdinPipe: true,
    });
    servers.push(bare);
    const bareAnswer = await sendOnce(bare.url, signed);
    if (bareAnswer.status !== 200 || bareAnswer.body !== owletAnswer.body) {
      throw new Error(`${BARE} did not answer with Owlet's body: HTTP ${bareAnswer.status} ${bareAnswer.body}`);
    }
    progress(
      `GetWorkGroup: ${Buffer.byteLength(owletAnswer.body)}-byte JSON body, ${opts.connections} connections, ` +
        `${opts.warmupSeconds} s warm-up, ${opts.rounds} rounds of ${opts.durationSeconds} s per server`,
    );

    let owletWarmup: RunFigures | undefined;
    let bareWarmup: RunFigures | undefined;
    if (opts.warmupSeconds > 0) {
      owletWarmup = await load(owlet.url, signed, opts.connections, opts.warmupSeconds, owlet.pid);
      bareWarmup = await load(bare.url, signed, opts.connections, opts.warmupSeconds, bare.pid);
    }

    const owletRounds: RunFigures[] = [];
    const bareRounds: RunFigures[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      // Alternating which server goes first keeps a drift in the machine's load from favouring one.
      const order = round % 2 === 0 ? ([owlet, bare] as const) : ([bare, owlet] as const);
      for (const server of order) {
        const run = await load(server.url, signed, opts.connections, opts.durationSeconds, server.pid);
        (server === owlet ? owletRounds : bareRounds).push(run);
        progress(
          `  round ${round + 1} ${server.name.padEnd(15)} ${formatCount(run.requestsPerSecond).padStart(7)} req/s  ` +
            `p50 ${run.latencyP50Ms} ms  p99 ${run.latencyP99Ms} ms  ${Math.round(run.cpuMicrosPerRequest)} µs CPU/request`,
        );
      }
    }

    const owletFigures = figures(OWLET, owletRounds, owletWarmup);
    const bareFigures = figures(BARE, bareRounds, bareWarmup);
    return {
      benchmark: 'getworkgroup-throughput',
      date: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      options: opts,
      owlet: owletFigures,
      bare: bareFigures,
      ratio: owletFigures.medianRequestsPerSecond / bareFigures.medianRequestsPerSecond,
      roundRatios: owletRounds.map((r, i) => r.requestsPerSecond / bareRounds[i]!.requestsPerSecond),
      target: 0.5,
    };
  } finally {
    // Stopped one at a time, each by its own process id.
    for (const server of servers.reverse()) await server.stop();
    forgetDataDir();
    removeDataDir();
  }
}

function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatReport(result: ThroughputResult): string {
  const rows = [result.owlet, result.bare].map((s) => [
    s.server,
    formatCount(s.medianRequestsPerSecond),
    String(s.medianLatencyP50Ms),
    String(s.medianLatencyP99Ms),
    String(Math.round(median(s.rounds.map((r) => r.bytesPerResponse)))),
    String(Math.round(s.medianCpuMicrosPerRequest)),
    s.rounds.map((r) => formatCount(r.requestsPerSecond)).join(' / '),
  ]);
  const head = ['server', 'req/s (median)', 'p50 ms', 'p99 ms', 'bytes/response', 'CPU µs/request', 'req/s per round'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const percent = Math.round(result.ratio * 100);
  return [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `GetWorkGroup throughput: Owlet ${formatCount(result.owlet.medianRequestsPerSecond)} req/s vs bare node:http ` +
      `${formatCount(result.bare.medianRequestsPerSecond)} req/s = ${percent}%` +
      ` (target ${Math.round(result.target * 100)}%: ${result.ratio >= result.target ? 'met' : 'not met'})`,
    `Owlet / bare node:http within each round: ${result.roundRatios.map((r) => `${Math.round(r * 100)}%`).join(' / ')}`,
    `CPU per request: Owlet ${Math.round(result.owlet.medianCpuMicrosPerRequest)} µs, bare node:http ` +
      `${Math.round(result.bare.medianCpuMicrosPerRequest)} µs (bare / Owlet = ` +
      `${Math.round((result.bare.medianCpuMicrosPerRequest / result.owlet.medianCpuMicrosPerRequest) * 100)}%)`,
  ].join('\n');
}

export function saveResult(result: ThroughputResult, file = RESULT_FILE): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}

/** Measures, prints the table and the ratio, and writes the figures to bench/results/. */
export async function getWorkGroupThroughput(options: Partial<ThroughputOptions> = {}): Promise<ThroughputResult> {
  const result = await measureGetWorkGroupThroughput(options, (line) => console.log(line));
  console.log(`\n${formatReport(result)}`);
  saveResult(result);
  console.log(`figures written to ${RESULT_FILE}`);
  return result;
}

/**
 * `--connections`, `--duration`, `--rounds` and `--warmup` override the defaults; `--cpu-prof` has both
 * servers write a CPU profile (open it in Chrome DevTools) into bench/results/.
 */
export function parseOptions(argv: readonly string[]): Partial<ThroughputOptions> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      connections: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
    },
  });
  const options: Partial<ThroughputOptions> = {};
  const number = (name: string, value: string | undefined, min: number): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes a whole number of at least ${min}`);
    return n;
  };
  const connections = number('connections', values.connections, 1);
  const duration = number('duration', values.duration, 1);
  const rounds = number('rounds', values.rounds, 1);
  const warmup = number('warmup', values.warmup, 0);
  if (connections !== undefined) options.connections = connections;
  if (duration !== undefined) options.durationSeconds = duration;
  if (rounds !== undefined) options.rounds = rounds;
  if (warmup !== undefined) options.warmupSeconds = warmup;
  if (values['cpu-prof']) options.cpuProfileDir = join(ROOT, 'bench/results');
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  getWorkGroupThroughput(parseOptions(process.argv.slice(2))).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
