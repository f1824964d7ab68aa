// Request throughput of one Athena operation: Owlet beside a bare node:http server that answers the same JSON
// body, both loaded in the same run by the same load generator (autocannon) with the same connections and
// duration, in alternating rounds so that a noisy machine weighs on both alike. GetWorkGroup
// (getworkgroup-throughput.ts) and GetCalculationExecutionStatus (status-throughput.ts) are measured so.
import { mkdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AthenaClient } from '@aws-sdk/client-athena';
import autocannon from 'autocannon';
import { athenaClient, owletEnvironment, RESULTS_DIR, startOwletServer, temporaryDataDir, type OwletServer } from './owlet-server.js';
import { MOTO, type MotoServer, startMotoServer } from './moto-server.js';
import { cpuMicrosSplit } from './proc.js';
import { countSyscalls, perRequest, READ_CALLS, WRITE_CALLS } from './syscall-count.js';
import { startServerProcess, type ServerProcess } from './processes.js';
import { machine, median, type Row, type Target } from './report.js';

const BARE_SERVER = fileURLToPath(new URL('./bare-server.js', import.meta.url));
export const OWLET = 'Owlet';
export const BARE = 'bare node:http';

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
  /** Loads moto_server too, for the operations it serves (on unless `--no-moto`). */
  moto: boolean;
  /**
   * Seconds of one more run per server under `strace -c` (`--syscalls <seconds>`), counting its system calls
   * per request: socket writes per response above all. Off when unset.
   */
  syscallSeconds?: number;
}

export const DEFAULT_OPTIONS: ThroughputOptions = { connections: 10, durationSeconds: 5, rounds: 3, warmupSeconds: 2, moto: true };

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
  /** Of which system time: the kernel's work for the process, its socket reads and writes above all. */
  systemCpuMicrosPerRequest: number;
}

export interface ServerFigures {
  server: string;
  medianRequestsPerSecond: number;
  medianLatencyP50Ms: number;
  medianLatencyP99Ms: number;
  medianCpuMicrosPerRequest: number;
  medianSystemCpuMicrosPerRequest: number;
  rounds: RunFigures[];
  /** Not counted in the medians; kept so that a CPU profile's request count is known. */
  warmup?: RunFigures;
}

export interface ThroughputResult {
  benchmark: string;
  /** The operation loaded (`GetWorkGroup`). */
  operation: string;
  date: string;
  node: string;
  cpus: number;
  machine: ReturnType<typeof machine>;
  options: ThroughputOptions;
  owlet: ServerFigures;
  bare: ServerFigures;
  /** moto_server beside Owlet and the bare server, when moto serves the operation. */
  peer?: PeerComparison;
  /** System calls per request, counted in a run of their own under strace, when asked for. */
  syscalls?: SyscallFigures[];
  /** Owlet's median throughput over the bare server's. */
  ratio: number;
  /**
   * Owlet's throughput over the bare server's within each round: the two runs of a round are back to back,
   * so these are the least touched by the machine's load drifting between rounds.
   */
  roundRatios: number[];
  target: number;
  /** The most CPU time a request may cost the server, where the issue sets one (GetWorkGroup: 30 µs). */
  cpuTargetMicros?: number;
}

export interface SyscallFigures {
  server: string;
  requests: number;
  writesPerRequest: number;
  readsPerRequest: number;
  allPerRequest: number;
  calls: Record<string, number>;
}

export interface SignedRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** What a throughput benchmark of one operation needs to know. */
export interface ThroughputSpec {
  benchmark: string;
  operation: string;
  /** Prepares the server's data directory before it starts (seeds records); returns what `send` needs. */
  prepare?: (dataDir: string) => Promise<void>;
  /** Sends the operation once with the given client (whose request handler captures it unsent). */
  send: (client: AthenaClient) => Promise<unknown>;
  /** The JSON body the signed request must have. */
  expectedBody: string;
  /** Throws unless Owlet's answer is the expected, successful one. */
  check: (answer: Answer) => void;
  /** The most CPU time a request may cost the server, where there is a target for it. */
  cpuTargetMicros?: number;
  /** Throws unless moto_server's answer is the expected, successful one; unset where moto lacks the operation. */
  checkMoto?: (answer: Answer) => void;
}

class Captured extends Error {}

/** The SDK hands over JSON bodies as bytes (a Uint8Array subclass) or as a string, by version. */
function bodyText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  throw new Error(`the signed request has a body of an unexpected kind: ${Object.prototype.toString.call(body)}`);
}

/**
 * Signs one request the way the AWS SDK for JavaScript does, by letting the SDK build and sign it and
 * taking it from its request handler before it is sent.
 *
 * The benchmark replays these exact bytes. That is fair: Owlet accepts a signature for 15 minutes and keeps
 * no record of the ones it has seen (it does not reject replays), so each replayed request still goes
 * through the whole verification (parsing Authorization, the clock check, recomputing the signature over
 * the canonical request, the comparison) exactly as a freshly signed one would. Only the client's cost of
 * signing is left out, which is not the server's throughput.
 */
export async function signRequest(endpoint: string, spec: ThroughputSpec): Promise<SignedRequest> {
  let signed: SignedRequest | undefined;
  const client = athenaClient(endpoint, {
    requestHandler: {
      handle(req: { path: string; headers: Record<string, string>; body?: unknown }): Promise<never> {
        signed = { path: req.path, headers: { ...req.headers }, body: bodyText(req.body) };
        return Promise.reject(new Captured());
      },
    },
  });
  try {
    await spec.send(client);
  } catch (error) {
    if (!(error instanceof Captured)) throw error;
  } finally {
    client.destroy();
  }
  if (!signed) throw new Error(`the AWS SDK did not hand over a signed ${spec.operation} request`);
  const header = (name: string): string | undefined =>
    Object.entries(signed!.headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const expect = (what: string, actual: string | undefined, wanted: string | RegExp): void => {
    const ok = typeof wanted === 'string' ? actual === wanted : actual !== undefined && wanted.test(actual);
    if (!ok) throw new Error(`the signed ${spec.operation} request has ${what} ${JSON.stringify(actual)}, not ${String(wanted)}`);
  };
  expect('X-Amz-Target', header('x-amz-target'), `AmazonAthena.${spec.operation}`);
  expect('Content-Type', header('content-type'), 'application/x-amz-json-1.1');
  expect('Authorization', header('authorization'), /^AWS4-HMAC-SHA256 Credential=/);
  expect('body', signed.body, spec.expectedBody);
  return signed;
}

/** Sends the signed request once on a fresh connection; resolves with the status, content type and body. */
export function sendOnce(url: string, signed: SignedRequest): Promise<Answer> {
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

const autocannonLoad: LoadGenerator = async (url, signed, connections, durationSeconds, pid) => {
  // autocannon writes Content-Length itself, from the body; the signed value is the same.
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k.toLowerCase() !== 'content-length'));
  const cpuBefore = cpuMicrosSplit(pid);
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
    ...cpuPerRequest(pid, cpuBefore, result.requests.total),
  };
};

function cpuPerRequest(pid: number, before: { user: number; system: number }, requests: number): Pick<RunFigures, 'cpuMicrosPerRequest' | 'systemCpuMicrosPerRequest'> {
  const after = cpuMicrosSplit(pid);
  const system = after.system - before.system;
  return { cpuMicrosPerRequest: (after.user - before.user + system) / requests, systemCpuMicrosPerRequest: system / requests };
}

function figures(server: string, rounds: RunFigures[], warmup: RunFigures | undefined): ServerFigures {
  return {
    server,
    medianRequestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
    medianLatencyP50Ms: median(rounds.map((r) => r.latencyP50Ms)),
    medianLatencyP99Ms: median(rounds.map((r) => r.latencyP99Ms)),
    medianCpuMicrosPerRequest: median(rounds.map((r) => r.cpuMicrosPerRequest)),
    medianSystemCpuMicrosPerRequest: median(rounds.map((r) => r.systemCpuMicrosPerRequest)),
    rounds,
    ...(warmup ? { warmup } : {}),
  };
}

/**
 * moto_server answers every request with `Connection: close` (Werkzeug's development server), which
 * autocannon 9 does not survive: it writes the next request into the closing connection and loses count (14
 * answers in 3 s here, where a client that reconnects gets hundreds a second). The peer comparison therefore
 * loads all three servers with one generator that handles both kinds of connection: node:http's keep-alive
 * Agent, `connections` requests in flight at a time, in this process.
 */
const AGENT_GENERATOR = "node:http's keep-alive Agent";

/** Owlet, the bare server and moto_server loaded by the same generator, in the same rounds. */
export interface PeerComparison {
  generator: string;
  owlet: ServerFigures;
  bare: ServerFigures;
  moto: ServerFigures;
}

type LoadGenerator = (url: string, signed: SignedRequest, connections: number, durationSeconds: number, pid: number) => Promise<RunFigures>;

interface LoadedServer {
  name: string;
  url: string;
  pid: number;
}

async function measureRounds(
  servers: readonly LoadedServer[],
  signed: SignedRequest,
  opts: ThroughputOptions,
  generator: LoadGenerator,
  progress: (line: string) => void,
): Promise<{ warmups: Map<string, RunFigures>; rounds: Map<string, RunFigures[]> }> {
  const warmups = new Map<string, RunFigures>();
  if (opts.warmupSeconds > 0) {
    for (const server of servers) warmups.set(server.name, await generator(server.url, signed, opts.connections, opts.warmupSeconds, server.pid));
  }
  const rounds = new Map<string, RunFigures[]>(servers.map((server) => [server.name, []]));
  for (let round = 0; round < opts.rounds; round++) {
    // Rotating which server goes first keeps a drift in the machine's load from favouring one.
    const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
    for (const server of order) {
      const run = await generator(server.url, signed, opts.connections, opts.durationSeconds, server.pid);
      rounds.get(server.name)!.push(run);
      progress(
        `  round ${round + 1} ${server.name.padEnd(15)} ${formatCount(run.requestsPerSecond).padStart(7)} req/s  ` +
          `p50 ${run.latencyP50Ms} ms  p99 ${run.latencyP99Ms} ms  ${Math.round(run.cpuMicrosPerRequest)} µs CPU/request ` +
          `(system ${Math.round(run.systemCpuMicrosPerRequest)})`,
      );
    }
  }
  return { warmups, rounds };
}

/** The value below which `share` of the sorted samples lie. */
function percentile(sorted: readonly number[], share: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!;
}

const agentLoad: LoadGenerator = async (url, signed, connections, durationSeconds, pid) => {
  const { hostname, port } = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let bytes = 0;
  let failures = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request({ hostname, port, method: 'POST', path: signed.path, headers: signed.headers, agent }, (res) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => {
          if (res.statusCode !== 200) failures++;
          latencies.push(performance.now() - started);
          resolve();
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(signed.body);
    });
  const cpuBefore = cpuMicrosSplit(pid);
  const started = performance.now();
  const until = started + durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) await one();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuPerRequest(pid, cpuBefore, latencies.length);
  agent.destroy();
  if (failures > 0 || latencies.length === 0) throw new Error(`load on ${url} went wrong: ${latencies.length} answers, ${failures} not 200`);
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: latencies.length / seconds,
    requests: latencies.length,
    durationSeconds: seconds,
    latencyP50Ms: Math.round(percentile(latencies, 0.5) * 10) / 10,
    latencyP99Ms: Math.round(percentile(latencies, 0.99) * 10) / 10,
    // The body only: the Agent does not report the bytes of the headers.
    bytesPerResponse: bytes / latencies.length,
    ...cpu,
  };
};

export async function measureThroughput(
  spec: ThroughputSpec,
  options: Partial<ThroughputOptions> = {},
  progress: (line: string) => void = () => {},
): Promise<ThroughputResult> {
  const opts: ThroughputOptions = { ...DEFAULT_OPTIONS, ...options };
  if (opts.cpuProfileDir !== undefined) mkdirSync(opts.cpuProfileDir, { recursive: true });
  const profileArgs = (name: string): string[] =>
    opts.cpuProfileDir === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`, `--cpu-prof-name=${name}-\${pid}.cpuprofile`];
  const dir = temporaryDataDir();
  let owlet: OwletServer | undefined;
  let bare: ServerProcess | undefined;
  let moto: MotoServer | undefined;
  try {
    await spec.prepare?.(dir.dataDir);
    // The warm pool is off (startOwletServer's default): a JVM starting in the background would take CPU
    // from the server under load.
    owlet = await startOwletServer({ name: OWLET, dataDir: dir, nodeArgs: profileArgs('owlet') });

    const signed = await signRequest(owlet.url, spec);
    const owletAnswer = await sendOnce(owlet.url, signed);
    spec.check(owletAnswer);

    bare = await startServerProcess({
      name: BARE,
      args: [...profileArgs('bare'), BARE_SERVER],
      env: owletEnvironment({ BARE_SERVER_BODY: owletAnswer.body }),
      ready: /^bare node:http server at (http:\/\/127\.0\.0\.1:\d+)$/,
      stdinPipe: true,
    });
    const bareAnswer = await sendOnce(bare.url, signed);
    if (bareAnswer.status !== 200 || bareAnswer.body !== owletAnswer.body) {
      throw new Error(`${BARE} did not answer with Owlet's body: HTTP ${bareAnswer.status} ${bareAnswer.body}`);
    }
    if (opts.moto && spec.checkMoto) {
      moto = await startMotoServer();
      spec.checkMoto(await sendOnce(moto.url, signed));
    }
    progress(
      `${spec.operation}: ${Buffer.byteLength(owletAnswer.body)}-byte JSON body, ${opts.connections} connections, ` +
        `${opts.warmupSeconds} s warm-up, ${opts.rounds} rounds of ${opts.durationSeconds} s per server`,
    );

    const servers = [
      { name: OWLET, url: owlet.url, pid: owlet.pid },
      { name: BARE, url: bare.url, pid: bare.pid },
    ];
    const main = await measureRounds(servers, signed, opts, autocannonLoad, progress);
    const owletRounds = main.rounds.get(OWLET)!;
    const bareRounds = main.rounds.get(BARE)!;
    const owletFigures = figures(OWLET, owletRounds, main.warmups.get(OWLET));
    const bareFigures = figures(BARE, bareRounds, main.warmups.get(BARE));

    let peer: PeerComparison | undefined;
    if (moto) {
      progress(`${spec.operation} beside ${MOTO}, all three loaded by ${AGENT_GENERATOR}:`);
      const all = [...servers, { name: MOTO, url: moto.url, pid: moto.pid }];
      const agent = await measureRounds(all, signed, opts, agentLoad, progress);
      const [o, b, m] = all.map((server) => figures(server.name, agent.rounds.get(server.name)!, agent.warmups.get(server.name)));
      peer = { generator: AGENT_GENERATOR, owlet: o!, bare: b!, moto: m! };
    }
    let syscalls: SyscallFigures[] | undefined;
    if (opts.syscallSeconds !== undefined) {
      syscalls = [];
      for (const server of servers) {
        const counts = await countSyscalls(server.pid, async () =>
          (await autocannonLoad(server.url, signed, opts.connections, opts.syscallSeconds!, server.pid)).requests,
        );
        const figures: SyscallFigures = {
          server: server.name,
          requests: counts.requests,
          writesPerRequest: perRequest(counts, WRITE_CALLS),
          readsPerRequest: perRequest(counts, READ_CALLS),
          allPerRequest: perRequest(counts, Object.keys(counts.calls)),
          calls: counts.calls,
        };
        syscalls.push(figures);
        progress(
          `  under strace: ${server.name.padEnd(15)} ${figures.writesPerRequest.toFixed(2)} socket writes, ` +
            `${figures.readsPerRequest.toFixed(2)} reads, ${figures.allPerRequest.toFixed(2)} system calls in all per request (${counts.requests} requests)`,
        );
      }
    }
    const m = machine();
    return {
      benchmark: spec.benchmark,
      operation: spec.operation,
      date: new Date().toISOString(),
      node: m.node,
      cpus: m.cpus,
      machine: m,
      options: opts,
      owlet: owletFigures,
      bare: bareFigures,
      ...(peer ? { peer } : {}),
      ...(syscalls ? { syscalls } : {}),
      ratio: owletFigures.medianRequestsPerSecond / bareFigures.medianRequestsPerSecond,
      roundRatios: owletRounds.map((r, i) => r.requestsPerSecond / bareRounds[i]!.requestsPerSecond),
      target: 0.5,
      ...(spec.cpuTargetMicros !== undefined ? { cpuTargetMicros: spec.cpuTargetMicros } : {}),
    };
  } finally {
    // Stopped one at a time, each by its own process id.
    await moto?.stop();
    await bare?.stop();
    if (owlet) await owlet.stop();
    else dir.remove();
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
    `${result.operation} throughput: Owlet ${formatCount(result.owlet.medianRequestsPerSecond)} req/s vs bare node:http ` +
      `${formatCount(result.bare.medianRequestsPerSecond)} req/s = ${percent}%` +
      ` (target ${Math.round(result.target * 100)}%: ${result.ratio >= result.target ? 'met' : 'not met'})`,
    ...(result.peer
      ? [
          `Beside moto_server, all three loaded by ${result.peer.generator}: ` +
            [result.peer.owlet, result.peer.bare, result.peer.moto]
              .map((f) => `${f.server} ${formatCount(f.medianRequestsPerSecond)} req/s (${Math.round(f.medianCpuMicrosPerRequest)} µs CPU/request)`)
              .join(', ') +
            `; Owlet / moto_server = ${(result.peer.owlet.medianRequestsPerSecond / result.peer.moto.medianRequestsPerSecond).toFixed(1)}x (moto verifies no signature)`,
        ]
      : []),
    `Owlet / bare node:http within each round: ${result.roundRatios.map((r) => `${Math.round(r * 100)}%`).join(' / ')}`,
    `CPU per request: Owlet ${Math.round(result.owlet.medianCpuMicrosPerRequest)} µs, bare node:http ` +
      `${Math.round(result.bare.medianCpuMicrosPerRequest)} µs (bare / Owlet = ` +
      `${Math.round((result.bare.medianCpuMicrosPerRequest / result.owlet.medianCpuMicrosPerRequest) * 100)}%); of which system time: ` +
      `Owlet ${Math.round(result.owlet.medianSystemCpuMicrosPerRequest)} µs, bare ${Math.round(result.bare.medianSystemCpuMicrosPerRequest)} µs`,
  ].join('\n');
}

/** moto_server's row of the summary table, when it was loaded: the peer, beside the same bare server. */
export function motoRow(result: ThroughputResult): Row | undefined {
  const peer = result.peer;
  if (!peer) return undefined;
  return {
    figure: `${result.operation} throughput beside moto_server (${result.options.connections} connections, ${peer.generator})`,
    owlet:
      `Owlet ${formatCount(peer.owlet.medianRequestsPerSecond)} req/s, ${Math.round(peer.owlet.medianCpuMicrosPerRequest)} µs CPU/req; ` +
      `moto_server ${formatCount(peer.moto.medianRequestsPerSecond)} req/s, ${Math.round(peer.moto.medianCpuMicrosPerRequest)} µs CPU/req ` +
      `(Owlet ${(peer.owlet.medianRequestsPerSecond / peer.moto.medianRequestsPerSecond).toFixed(1)}x moto)`,
    baseline: `bare node:http: ${formatCount(peer.bare.medianRequestsPerSecond)} req/s, ${Math.round(peer.bare.medianCpuMicrosPerRequest)} µs CPU/req`,
  };
}

/** The row of the summary table. */
export function throughputRow(result: ThroughputResult): { figure: string; owlet: string; baseline: string; target: Target } {
  return {
    figure: `${result.operation} throughput (${result.options.connections} connections)`,
    owlet:
      `${formatCount(result.owlet.medianRequestsPerSecond)} req/s (${Math.round(result.ratio * 100)}%), ` +
      `${Math.round(result.owlet.medianCpuMicrosPerRequest)} µs CPU/req`,
    baseline:
      `bare node:http, same body: ${formatCount(result.bare.medianRequestsPerSecond)} req/s, ` +
      `${Math.round(result.bare.medianCpuMicrosPerRequest)} µs CPU/req`,
    target: {
      text: `≥ ${Math.round(result.target * 100)}% of bare${result.cpuTargetMicros !== undefined ? `, ≤ ${result.cpuTargetMicros} µs CPU` : ''}`,
      met:
        result.ratio >= result.target &&
        (result.cpuTargetMicros === undefined || result.owlet.medianCpuMicrosPerRequest <= result.cpuTargetMicros),
      whyMissed: 'docs/performance.md, "The request path, second pass"',
    },
  };
}

/**
 * `--connections`, `--duration`, `--rounds` and `--warmup` override the defaults; `--cpu-prof` has both
 * servers write a CPU profile (open it in Chrome DevTools) into bench/results/; `--syscalls <seconds>` counts
 * each server's system calls per request in one more run of that length under strace. Other options are left to
 * whoever else reads the command line.
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
      'no-moto': { type: 'boolean' },
      syscalls: { type: 'string' },
    },
    strict: false,
  });
  const options: Partial<ThroughputOptions> = {};
  const number = (name: string, value: string | boolean | undefined, min: number): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes a whole number of at least ${min}`);
    return n;
  };
  const connections = number('connections', values.connections, 1);
  const duration = number('duration', values.duration, 1);
  const rounds = number('rounds', values.rounds, 1);
  const warmup = number('warmup', values.warmup, 0);
  const syscalls = number('syscalls', values.syscalls, 1);
  if (connections !== undefined) options.connections = connections;
  if (duration !== undefined) options.durationSeconds = duration;
  if (rounds !== undefined) options.rounds = rounds;
  if (warmup !== undefined) options.warmupSeconds = warmup;
  if (values['cpu-prof']) options.cpuProfileDir = RESULTS_DIR;
  if (values['no-moto']) options.moto = false;
  if (syscalls !== undefined) options.syscallSeconds = syscalls;
  return options;
}
