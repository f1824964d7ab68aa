// Resident memory, from /proc (VmRSS of /proc/<pid>/status; PSS of smaps_rollup, which divides shared pages
// among the processes sharing them and so can be summed; VmHWM, the peak).
//
// - An idle session: its runner process and everything in the runner's process group (the Spark JVM it
//   started, and Python workers once a calculation has used them), summed. Baseline: bare_spark.py with
//   Spark up after the same first job, its process group summed the same way. Both use Spark's default
//   driver heap (1g; Owlet's OWLET_DRIVER_MEMORY default is 1g too).
// - The server holding 10,000 calculations: 10,000 COMPLETED calculation records of one session are written
//   into a fresh state file with the server's own store code (seed-state.ts) before the server starts on
//   it; then a client pages through all of them with ListCalculationExecutions (100 a page, 100 requests)
//   and the server's RSS is read. Running 10,000 calculations on Spark would take most of an hour; what the
//   server holds in memory for a calculation is the same whoever wrote its record. Baseline: the same
//   server on a state file with the session and no calculations, sent the same 100 requests; and a bare
//   node:http server's RSS, the floor of any Node server.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ListCalculationExecutionsCommand } from '@aws-sdk/client-athena';
import { startOwletServer, owletEnvironment, temporaryDataDir } from './owlet-server.js';
import { type GroupMemory, groupMemory, type ProcessMemory, processMemory } from './proc.js';
import { startServerProcess } from './processes.js';
import { type BenchResult, count, type Distribution, distribution, machine, mib, ms, type Row, runMain, saveJson, sleep } from './report.js';
import { seedState } from './seed-state.js';
import { type SparkFixture, withSparkFixture } from './spark-fixture.js';

export const NAME = 'memory';
const BARE_SERVER = fileURLToPath(new URL('./bare-server.js', import.meta.url));

export interface MemoryOptions {
  /** Calculations stored for the server measurement. */
  calculations: number;
  /** Skip the idle-session part (which needs Spark). */
  serverOnly?: boolean;
}

export const DEFAULT_MEMORY_OPTIONS: MemoryOptions = { calculations: 10_000 };
const PAGE = 100;
/** Issue 16: an idle session's process group at most this much over the bare PySpark one's. */
const TARGET_IDLE_EXTRA_MIB = 40;

export interface ServerMemory {
  calculations: number;
  seedMs: number;
  requests: number;
  listed: number;
  /** Latency of each ListCalculationExecutions page. */
  pageLatency: Distribution;
  atStart: ProcessMemory;
  afterListing: ProcessMemory;
  /** One second after the listing. */
  settled: ProcessMemory;
}

export interface MemoryResult extends BenchResult {
  options: MemoryOptions;
  idleSession?: { owlet: GroupMemory; bare: GroupMemory };
  server: { full: ServerMemory; empty: ServerMemory; bareNodeHttp: ProcessMemory };
}

function summary(m: GroupMemory): string {
  const by = (name: string): number => m.processes.filter((p) => p.name === name).reduce((s, p) => s + p.rssKiB, 0);
  const java = by('java');
  return `RSS ${mib(m.rssKiB)} (PSS ${mib(m.pssKiB)}; JVM ${mib(java)}, the rest ${mib(m.rssKiB - java)}; ${m.processes.length} processes)`;
}

export async function measureIdleSession(fixture?: SparkFixture, progress: (line: string) => void = () => {}): Promise<{ owlet: GroupMemory; bare: GroupMemory }> {
  return withSparkFixture(fixture, progress, async ({ runnerPid, bare }) => {
    const owlet = groupMemory(runnerPid);
    const baseline = groupMemory(bare.pid);
    progress(`  idle session: ${summary(owlet)}; bare PySpark: ${summary(baseline)}`);
    return { owlet, bare: baseline };
  });
}

async function serverMemory(calculations: number, pages: number, progress: (line: string) => void): Promise<ServerMemory> {
  const dir = temporaryDataDir();
  let seeded;
  try {
    seeded = await seedState(dir.dataDir, calculations);
  } catch (error) {
    dir.remove();
    throw error;
  }
  const server = await startOwletServer({ name: `Owlet (${calculations} calculations)`, dataDir: dir });
  try {
    const snapshot = (): ProcessMemory => {
      const m = processMemory(server.pid);
      if (!m) throw new Error('the server exited');
      return m;
    };
    await sleep(500);
    const atStart = snapshot();
    const latencies: number[] = [];
    let listed = 0;
    let requests = 0;
    let token: string | undefined;
    while (requests < pages) {
      const started = performance.now();
      const page = await server.athena.send(
        new ListCalculationExecutionsCommand({ SessionId: seeded.sessionId, MaxResults: PAGE, ...(token ? { NextToken: token } : {}) }),
      );
      latencies.push(performance.now() - started);
      requests++;
      listed += page.Calculations?.length ?? 0;
      token = page.NextToken;
      // With fewer calculations than pages, the same (first) page is asked for again: the same requests.
      if (!token) token = undefined;
    }
    if (listed !== calculations && calculations > 0) throw new Error(`listed ${listed} of ${calculations} calculations`);
    const afterListing = snapshot();
    await sleep(1000);
    const settled = snapshot();
    progress(
      `  server with ${count(calculations)} calculations (seeded in ${ms(seeded.ms)}): RSS at start ${mib(atStart.rssKiB)}, ` +
        `after ${requests} ListCalculationExecutions pages ${mib(afterListing.rssKiB)}, 1 s later ${mib(settled.rssKiB)}, peak ${mib(settled.peakRssKiB)}; ` +
        `page p50 ${ms(distribution(latencies).p50)}`,
    );
    return { calculations, seedMs: seeded.ms, requests, listed, pageLatency: distribution(latencies), atStart, afterListing, settled };
  } finally {
    await server.stop();
  }
}

async function bareNodeHttpMemory(): Promise<ProcessMemory> {
  const bare = await startServerProcess({
    name: 'bare node:http',
    args: [BARE_SERVER],
    env: owletEnvironment({ BARE_SERVER_BODY: '{}' }),
    ready: /^bare node:http server at (http:\/\/127\.0\.0\.1:\d+)$/,
    stdinPipe: true,
  });
  try {
    await sleep(500);
    const m = processMemory(bare.pid);
    if (!m) throw new Error('the bare node:http server exited');
    return m;
  } finally {
    await bare.stop();
  }
}

export async function measureMemory(
  options: Partial<MemoryOptions> = {},
  fixture?: SparkFixture,
  progress: (line: string) => void = () => {},
): Promise<MemoryResult> {
  const opts = { ...DEFAULT_MEMORY_OPTIONS, ...options };
  const idleSession = opts.serverOnly ? undefined : await measureIdleSession(fixture, progress);
  const pages = Math.max(1, Math.ceil(opts.calculations / PAGE));
  const full = await serverMemory(opts.calculations, pages, progress);
  const empty = await serverMemory(0, pages, progress);
  const bareNodeHttp = await bareNodeHttpMemory();
  progress(`  bare node:http server: RSS ${mib(bareNodeHttp.rssKiB)}`);
  const rows: Row[] = [];
  if (idleSession) {
    rows.push({
      figure: 'RSS of an idle session (runner + JVM, process group)',
      owlet: summary(idleSession.owlet),
      baseline: `bare PySpark process group: ${summary(idleSession.bare)}`,
      target: {
        text: `≤ bare + ${TARGET_IDLE_EXTRA_MIB} MiB (+${mib(idleSession.owlet.rssKiB - idleSession.bare.rssKiB)})`,
        met: idleSession.owlet.rssKiB <= idleSession.bare.rssKiB + TARGET_IDLE_EXTRA_MIB * 1024,
        whyMissed: 'docs/performance.md, "An idle session\'s memory, setting by setting"',
      },
    });
  }
  rows.push({
    figure: `RSS of the server, ${count(opts.calculations)} calculations stored, all listed`,
    owlet: `${mib(full.settled.rssKiB)} (peak ${mib(full.settled.peakRssKiB)}, at start ${mib(full.atStart.rssKiB)})`,
    baseline:
      `same server, no calculations, same ${empty.requests} requests: ${mib(empty.settled.rssKiB)} (peak ${mib(empty.settled.peakRssKiB)}); ` +
      `bare node:http: ${mib(bareNodeHttp.rssKiB)}`,
  });
  return {
    benchmark: NAME,
    date: new Date().toISOString(),
    machine: machine(),
    options: opts,
    rows,
    ...(idleSession ? { idleSession } : {}),
    server: { full, empty, bareNodeHttp },
  };
}

export async function memory(options: Partial<MemoryOptions> = {}, fixture?: SparkFixture): Promise<MemoryResult> {
  console.log('Resident memory: an idle session beside bare PySpark; the server holding calculations beside one holding none');
  const result = await measureMemory(options, fixture, (line) => console.log(line));
  result.file = saveJson(NAME, result);
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => memory({ serverOnly: process.argv.includes('--server-only') }));
}
