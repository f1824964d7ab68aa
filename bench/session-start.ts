// StartSession → IDLE, cold and warm, beside PySpark started bare in a fresh Python process.
//
// - Bare PySpark (the baseline): bench/bare_spark.py in a new process, timed from just before it is started
//   to `SparkSession.builder.master("local[2]").getOrCreate()` returning, and to a first
//   `spark.range(1).count()` finishing (Owlet's runner runs that one small job before it reports ready, so
//   the second time is the one a cold session compares with).
// - Cold: an Owlet server with the warm pool off (OWLET_WARM_POOL_SIZE=0). From sending StartSession to the
//   GetSessionStatus answer that says IDLE. Bare and cold samples alternate, so that the machine's load
//   weighs on both alike.
// - Warm: a second Owlet server with a pool of one (OWLET_WARM_POOL_SIZE=1), timed the same way. Before each
//   sample the benchmark waits for the pool to hold a ready runner (see waitForPool); a sample that was IDLE
//   within 1 s counts as a warm hit. Every sample of this server is in the warm figures, hits or not: a server
//   without the pool (or a pool that was not ready) shows cold times there, and the hit count says so.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { type AthenaClient, TerminateSessionCommand } from '@aws-sdk/client-athena';
import { poll, startSessionToIdle } from './athena.js';
import { startBareSpark } from './bare-spark.js';
import { type OwletServer, sessionRunnerPid, startOwletServer } from './owlet-server.js';
import { groupCpuMicros, groupMembers, isAlive, runnersUnder } from './proc.js';
import {
  type BenchResult,
  type Distribution,
  distribution,
  machine,
  ms,
  p50p95,
  type Row,
  runMain,
  saveJson,
  sleep,
} from './report.js';

export const NAME = 'session-start';
/** A StartSession that is IDLE within this long was handed a pooled runner. */
export const WARM_THRESHOLD_MS = 1000;
export const TARGET_WARM_P50_MS = 300;

export interface SessionStartOptions {
  /** Samples of each: bare PySpark, cold sessions, warm sessions. */
  samples: number;
}

export const DEFAULT_SESSION_START_OPTIONS: SessionStartOptions = { samples: 3 };

export interface SessionSample {
  ms: number;
  /** What StartSession answered (IDLE when the server handed over a pooled runner at once). */
  answered: string;
  /** IDLE within WARM_THRESHOLD_MS. */
  warm: boolean;
  /** How the benchmark decided the pool was ready before this sample (warm run only). */
  poolReady?: string;
}

export interface SessionStartResult extends BenchResult {
  options: SessionStartOptions;
  bare: { getOrCreate: Distribution; firstCount: Distribution };
  cold: { figures: Distribution; samples: SessionSample[] };
  warm: { figures: Distribution; samples: SessionSample[]; hits: number };
  serverErrors: string[];
  /** Warnings the servers logged (a pooled runner that could not be handed over says why here). */
  serverWarnings: string[];
}

/** Terminates a session and waits until its runner, and its runner's process group (the JVM), are gone. */
async function endSession(athena: AthenaClient, server: OwletServer, sessionId: string, poolSize: number): Promise<void> {
  const pid = sessionRunnerPid(server.dataDir, sessionId);
  await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
  await poll(
    async () => {
      if (pid !== undefined) return !isAlive(pid) && groupMembers(pid).length === 0 ? true : undefined;
      // Without the pid file, the runners left must be no more than the pool's.
      return runnersUnder(server.dataDir).length <= poolSize ? true : undefined;
    },
    { intervalMs: 100, timeoutMs: 60_000, what: `the runner of session ${sessionId} to exit` },
  );
}

/**
 * Waits until the warm pool holds a ready runner. Two signs, whichever comes first:
 * - the server logged `pooled runner ready` for a runner that is still alive (and so was not handed to an
 *   earlier sample, whose session and runner have ended);
 * - failing that log line, a runner under the server's data directory that has run for 5 s and whose
 *   process group (Python and JVM) used under 5% of a core over the last 2 s: Spark is up and idle, since a
 *   JVM that is starting keeps a core busy.
 * When no runner at all is under the data directory for 5 s, the server has no pool: it returns at once.
 */
async function waitForPool(server: OwletServer, readyPids: ReadonlySet<number>, timeoutMs = 180_000): Promise<string> {
  const started = performance.now();
  const cpu = new Map<number, { at: number; micros: number; since: number }[]>();
  for (;;) {
    const elapsed = performance.now() - started;
    for (const pid of readyPids) if (isAlive(pid)) return `server logged "pooled runner ready" (pid ${pid})`;
    const runners = runnersUnder(server.dataDir);
    if (runners.length === 0 && elapsed > 5000) return 'no runner under the data directory for 5 s: no pool';
    const now = performance.now();
    for (const pid of runners) {
      const history = cpu.get(pid) ?? [];
      history.push({ at: now, micros: groupCpuMicros(pid), since: history[0]?.since ?? now });
      while (history.length > 1 && now - history[0]!.at > 2000) history.shift();
      cpu.set(pid, history);
      const first = history[0]!;
      const span = now - first.at;
      if (now - first.since >= 5000 && span >= 1900) {
        const share = (history.at(-1)!.micros - first.micros) / 1000 / span;
        if (share < 0.05) return `runner ${pid} idle (${Math.round(share * 100)}% of a core over 2 s)`;
      }
    }
    if (elapsed > timeoutMs) return `gave up waiting after ${Math.round(elapsed / 1000)} s`;
    await sleep(250);
  }
}

async function sessionSample(server: OwletServer, poolSize: number): Promise<SessionSample> {
  const start = await startSessionToIdle(server.athena);
  await endSession(server.athena, server, start.sessionId, poolSize);
  return { ms: start.ms, answered: start.answered, warm: start.ms <= WARM_THRESHOLD_MS };
}

export async function measureSessionStart(
  options: Partial<SessionStartOptions> = {},
  progress: (line: string) => void = () => {},
): Promise<SessionStartResult> {
  const opts = { ...DEFAULT_SESSION_START_OPTIONS, ...options };
  const getOrCreate: number[] = [];
  const firstCount: number[] = [];
  const cold: SessionSample[] = [];
  const warm: SessionSample[] = [];
  const serverErrors: string[] = [];
  const serverWarnings: string[] = [];

  // Bare PySpark and cold sessions, alternating.
  let server = await startOwletServer({ name: 'Owlet (pool off)', env: { OWLET_WARM_POOL_SIZE: '0' } });
  try {
    for (let i = 0; i < opts.samples; i++) {
      const bare = await startBareSpark();
      await bare.stop();
      getOrCreate.push(bare.times.createdMs);
      firstCount.push(bare.times.countedMs);
      progress(`  bare PySpark ${i + 1}/${opts.samples}: getOrCreate ${ms(bare.times.createdMs)}, first count ${ms(bare.times.countedMs)}`);
      const sample = await sessionSample(server, 0);
      cold.push(sample);
      progress(`  cold session ${i + 1}/${opts.samples}: IDLE after ${ms(sample.ms)} (StartSession answered ${sample.answered})`);
    }
  } finally {
    serverErrors.push(...server.errors);
    serverWarnings.push(...server.warnings);
    await server.stop();
  }

  // Warm sessions: a pool of one.
  const readyPids = new Set<number>();
  server = await startOwletServer({
    name: 'Owlet (pool of 1)',
    env: { OWLET_WARM_POOL_SIZE: '1' },
    onLog: (entry) => {
      if (entry.msg === 'pooled runner ready' && typeof entry.pid === 'number') readyPids.add(entry.pid);
    },
  });
  try {
    for (let i = 0; i < opts.samples; i++) {
      const poolReady = await waitForPool(server, readyPids);
      const sample = { ...(await sessionSample(server, 1)), poolReady };
      warm.push(sample);
      progress(
        `  warm session ${i + 1}/${opts.samples}: IDLE after ${ms(sample.ms)} (StartSession answered ${sample.answered}; ` +
          `${sample.warm ? 'warm' : 'NOT warm'}; pool ready: ${poolReady})`,
      );
    }
  } finally {
    serverErrors.push(...server.errors);
    serverWarnings.push(...server.warnings);
    await server.stop();
  }

  const bareFigures = { getOrCreate: distribution(getOrCreate), firstCount: distribution(firstCount) };
  const coldFigures = distribution(cold.map((s) => s.ms));
  const warmFigures = distribution(warm.map((s) => s.ms));
  const hits = warm.filter((s) => s.warm).length;
  for (const warning of new Set(serverWarnings)) progress(`  the server warned: ${warning}`);
  const baseline = `bare PySpark: getOrCreate p50 ${ms(bareFigures.getOrCreate.p50)}, +range(1).count() ${p50p95(bareFigures.firstCount)}`;
  const rows: Row[] = [
    {
      figure: 'StartSession → IDLE, warm (pool of 1)',
      owlet: `${p50p95(warmFigures)}; ${hits}/${warm.length} warm`,
      baseline,
      target: { text: `p50 < ${TARGET_WARM_P50_MS} ms`, met: warmFigures.p50 < TARGET_WARM_P50_MS },
    },
    { figure: 'StartSession → IDLE, cold (pool off)', owlet: p50p95(coldFigures), baseline },
  ];
  return {
    benchmark: NAME,
    date: new Date().toISOString(),
    machine: machine(),
    options: opts,
    rows,
    bare: bareFigures,
    cold: { figures: coldFigures, samples: cold },
    warm: { figures: warmFigures, samples: warm, hits },
    serverErrors,
    serverWarnings,
  };
}

export async function sessionStart(options: Partial<SessionStartOptions> = {}): Promise<SessionStartResult> {
  console.log(`StartSession → IDLE: ${options.samples ?? DEFAULT_SESSION_START_OPTIONS.samples} samples each of bare PySpark, cold and warm sessions`);
  const result = await measureSessionStart(options, (line) => console.log(line));
  result.file = saveJson(NAME, result);
  return result;
}

/** `--session-samples N`. */
export function parseSessionStartOptions(argv: readonly string[]): Partial<SessionStartOptions> {
  const { values } = parseArgs({ args: [...argv], options: { 'session-samples': { type: 'string' } }, strict: false });
  const value = values['session-samples'];
  if (value === undefined) return {};
  const samples = Number(value);
  if (!Number.isInteger(samples) || samples < 1) throw new Error('--session-samples takes a whole number of at least 1');
  return { samples };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => sessionStart(parseSessionStartOptions(process.argv.slice(2))));
}
