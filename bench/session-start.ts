// StartSession → IDLE, cold and warm, per engine, beside PySpark of the same runtime started bare in a fresh
// Python process. Each engine is measured on its own servers, one after the other (src/engine/runtimes.ts: one
// engine version per runtime, `PySpark engine version 3` for spark-3.5 in the ready `spark` workgroup,
// `Apache Spark version 4.1` for spark-4.1 in a workgroup the benchmark creates).
//
// - Bare PySpark (the baseline): bench/bare_spark.py in a new process of the runtime's Python, timed from just
//   before it is started to `SparkSession.builder.master("local[2]").getOrCreate()` returning, and to a first
//   `spark.range(1).count()` finishing (Owlet's runner runs that one small job before it reports ready, so
//   the second time is the one a session compares with, and the ratios are against it).
// - Cold: an Owlet server with every warm pool off (OWLET_WARM_POOL_SIZE=0). From sending StartSession to the
//   GetSessionStatus answer that says IDLE. Bare and cold samples alternate, so that the machine's load
//   weighs on both alike.
// - Warm: a second Owlet server with a pool of one for that engine's runtime only (OWLET_WARM_POOL_SIZE=1 for
//   the default runtime; OWLET_WARM_POOL_SIZE=0 and OWLET_WARM_POOL_SIZES=<runtime>=1 for another), timed the
//   same way. Before each sample the benchmark waits for the pool to hold a ready runner (see waitForPool); a
//   sample that was IDLE within 1 s counts as a warm hit. Every sample of this server is in the warm figures,
//   hits or not: a pool that was not ready shows cold times there, and the hit count says so.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { type AthenaClient, CreateWorkGroupCommand, TerminateSessionCommand } from '@aws-sdk/client-athena';
import { poll, startSessionToIdle } from './athena.js';
import { startBareSpark } from './bare-spark.js';
import { type OwletServer, ROOT, SPARK_WORKGROUP, sessionRunnerPid, startOwletServer } from './owlet-server.js';
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
import { DEFAULT_SPARK_RUNTIME, runtimeInstallation, SPARK_ENGINE_VERSIONS, SPARK_RUNTIMES } from '../src/engine/runtimes.js';

export const NAME = 'session-start';
/** A StartSession that is IDLE within this long was handed a pooled runner. */
export const WARM_THRESHOLD_MS = 1000;
export const TARGET_WARM_P50_MS = 300;

export interface SessionStartOptions {
  /** Samples of each, per engine: bare PySpark, cold sessions, warm sessions. */
  samples: number;
  /** The runtimes to measure (src/engine/runtimes.ts ids), each through an engine version that runs it. */
  runtimes: string[];
}

export const DEFAULT_SESSION_START_OPTIONS: SessionStartOptions = { samples: 3, runtimes: SPARK_RUNTIMES.map((r) => r.id) };

/** The engine version a runtime is measured through, and the workgroup its sessions start in. */
export interface EngineUnderTest {
  runtime: string;
  engineVersion: string;
  /** The ready `spark` workgroup for the default runtime; one the benchmark creates for another. */
  workGroup: string;
}

export function engineUnderTest(runtime: string): EngineUnderTest {
  const engineVersion = Object.keys(SPARK_ENGINE_VERSIONS).find((v) => SPARK_ENGINE_VERSIONS[v]!.id === runtime);
  if (engineVersion === undefined) throw new Error(`no engine version runs the runtime ${runtime}`);
  const workGroup = runtime === DEFAULT_SPARK_RUNTIME.id ? SPARK_WORKGROUP : `bench-${runtime.replace('.', '-')}`;
  return { runtime, engineVersion, workGroup };
}

/** The settings of a server whose only warm pool is one runner of `runtime`. */
function poolOfOne(runtime: string): Record<string, string> {
  if (runtime === DEFAULT_SPARK_RUNTIME.id) return { OWLET_WARM_POOL_SIZE: '1' };
  return { OWLET_WARM_POOL_SIZE: '0', OWLET_WARM_POOL_SIZES: `${runtime}=1` };
}

async function prepareWorkGroup(server: OwletServer, engine: EngineUnderTest): Promise<void> {
  if (engine.workGroup === SPARK_WORKGROUP) return;
  await server.athena.send(
    new CreateWorkGroupCommand({
      Name: engine.workGroup,
      Configuration: {
        EngineVersion: { SelectedEngineVersion: engine.engineVersion },
        ExecutionRole: 'arn:aws:iam::123456789012:role/OwletBenchRole',
      },
    }),
  );
}

export interface SessionSample {
  ms: number;
  /** What StartSession answered (IDLE when the server handed over a pooled runner at once). */
  answered: string;
  /** IDLE within WARM_THRESHOLD_MS. */
  warm: boolean;
  /** How the benchmark decided the pool was ready before this sample (warm run only). */
  poolReady?: string;
}

export interface EngineSessionStart extends EngineUnderTest {
  bare: { getOrCreate: Distribution; firstCount: Distribution };
  cold: { figures: Distribution; samples: SessionSample[]; ratioToBare: number };
  warm: { figures: Distribution; samples: SessionSample[]; hits: number; ratioToBare: number };
}

export interface SessionStartResult extends BenchResult {
  options: SessionStartOptions;
  engines: EngineSessionStart[];
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

async function sessionSample(server: OwletServer, poolSize: number, workGroup: string): Promise<SessionSample> {
  const start = await startSessionToIdle(server.athena, 300_000, workGroup);
  await endSession(server.athena, server, start.sessionId, poolSize);
  return { ms: start.ms, answered: start.answered, warm: start.ms <= WARM_THRESHOLD_MS };
}

/** One engine's figures: bare PySpark of its runtime and cold sessions alternating, then warm sessions. */
async function measureEngine(
  engine: EngineUnderTest,
  samples: number,
  progress: (line: string) => void,
  serverErrors: string[],
  serverWarnings: string[],
): Promise<EngineSessionStart> {
  const runtime = SPARK_RUNTIMES.find((r) => r.id === engine.runtime)!;
  const python = runtimeInstallation(ROOT, runtime, {}).python;
  const getOrCreate: number[] = [];
  const firstCount: number[] = [];
  const cold: SessionSample[] = [];
  const warm: SessionSample[] = [];
  const tag = `${engine.runtime} (${engine.engineVersion})`;

  let server = await startOwletServer({ name: `Owlet (pools off, ${engine.runtime})`, env: { OWLET_WARM_POOL_SIZE: '0' } });
  try {
    await prepareWorkGroup(server, engine);
    for (let i = 0; i < samples; i++) {
      const bare = await startBareSpark(300_000, python);
      await bare.stop();
      getOrCreate.push(bare.times.createdMs);
      firstCount.push(bare.times.countedMs);
      progress(`  ${tag} bare PySpark ${i + 1}/${samples}: getOrCreate ${ms(bare.times.createdMs)}, first count ${ms(bare.times.countedMs)}`);
      const sample = await sessionSample(server, 0, engine.workGroup);
      cold.push(sample);
      progress(`  ${tag} cold session ${i + 1}/${samples}: IDLE after ${ms(sample.ms)} (StartSession answered ${sample.answered})`);
    }
  } finally {
    serverErrors.push(...server.errors);
    serverWarnings.push(...server.warnings);
    await server.stop();
  }

  const readyPids = new Set<number>();
  server = await startOwletServer({
    name: `Owlet (pool of 1, ${engine.runtime})`,
    env: poolOfOne(engine.runtime),
    onLog: (entry) => {
      if (entry.msg === 'pooled runner ready' && typeof entry.pid === 'number') readyPids.add(entry.pid);
    },
  });
  try {
    await prepareWorkGroup(server, engine);
    for (let i = 0; i < samples; i++) {
      const poolReady = await waitForPool(server, readyPids);
      const sample = { ...(await sessionSample(server, 1, engine.workGroup)), poolReady };
      warm.push(sample);
      progress(
        `  ${tag} warm session ${i + 1}/${samples}: IDLE after ${ms(sample.ms)} (StartSession answered ${sample.answered}; ` +
          `${sample.warm ? 'warm' : 'NOT warm'}; pool ready: ${poolReady})`,
      );
    }
  } finally {
    serverErrors.push(...server.errors);
    serverWarnings.push(...server.warnings);
    await server.stop();
  }

  const bare = { getOrCreate: distribution(getOrCreate), firstCount: distribution(firstCount) };
  const coldFigures = distribution(cold.map((s) => s.ms));
  const warmFigures = distribution(warm.map((s) => s.ms));
  return {
    ...engine,
    bare,
    cold: { figures: coldFigures, samples: cold, ratioToBare: coldFigures.p50 / bare.firstCount.p50 },
    warm: {
      figures: warmFigures,
      samples: warm,
      hits: warm.filter((s) => s.warm).length,
      ratioToBare: warmFigures.p50 / bare.firstCount.p50,
    },
  };
}

function engineRows(e: EngineSessionStart): Row[] {
  const baseline = `bare PySpark ${e.runtime}: getOrCreate p50 ${ms(e.bare.getOrCreate.p50)}, +range(1).count() ${p50p95(e.bare.firstCount)}`;
  // Two significant digits for a warm start's small share of a bare one, two decimals otherwise.
  const ratio = (r: number): string => `${r < 0.1 ? r.toPrecision(2) : r.toFixed(2)}× bare`;
  return [
    {
      figure: `StartSession → IDLE, warm (pool of 1), ${e.runtime}`,
      owlet: `${p50p95(e.warm.figures)}, ${ratio(e.warm.ratioToBare)}; ${e.warm.hits}/${e.warm.samples.length} warm`,
      baseline,
      target: { text: `p50 < ${TARGET_WARM_P50_MS} ms`, met: e.warm.figures.p50 < TARGET_WARM_P50_MS },
    },
    { figure: `StartSession → IDLE, cold (pool off), ${e.runtime}`, owlet: `${p50p95(e.cold.figures)}, ${ratio(e.cold.ratioToBare)}`, baseline },
  ];
}

export async function measureSessionStart(
  options: Partial<SessionStartOptions> = {},
  progress: (line: string) => void = () => {},
): Promise<SessionStartResult> {
  const opts = { ...DEFAULT_SESSION_START_OPTIONS, ...options };
  const serverErrors: string[] = [];
  const serverWarnings: string[] = [];
  const engines: EngineSessionStart[] = [];
  for (const runtime of opts.runtimes) {
    engines.push(await measureEngine(engineUnderTest(runtime), opts.samples, progress, serverErrors, serverWarnings));
  }
  for (const warning of new Set(serverWarnings)) progress(`  the server warned: ${warning}`);
  return {
    benchmark: NAME,
    date: new Date().toISOString(),
    machine: machine(),
    options: opts,
    rows: engines.flatMap(engineRows),
    engines,
    serverErrors,
    serverWarnings,
  };
}

export async function sessionStart(options: Partial<SessionStartOptions> = {}): Promise<SessionStartResult> {
  const runtimes = options.runtimes ?? DEFAULT_SESSION_START_OPTIONS.runtimes;
  const samples = options.samples ?? DEFAULT_SESSION_START_OPTIONS.samples;
  console.log(`StartSession → IDLE on ${runtimes.join(', ')}: ${samples} samples each of bare PySpark, cold and warm sessions`);
  const result = await measureSessionStart(options, (line) => console.log(line));
  result.file = saveJson(NAME, result);
  return result;
}

/** `--session-samples N`, `--session-runtimes spark-3.5,spark-4.1`. */
export function parseSessionStartOptions(argv: readonly string[]): Partial<SessionStartOptions> {
  const { values } = parseArgs({
    args: [...argv],
    options: { 'session-samples': { type: 'string' }, 'session-runtimes': { type: 'string' } },
    strict: false,
  });
  const options: Partial<SessionStartOptions> = {};
  const value = values['session-samples'];
  if (typeof value === 'string') {
    const samples = Number(value);
    if (!Number.isInteger(samples) || samples < 1) throw new Error('--session-samples takes a whole number of at least 1');
    options.samples = samples;
  }
  const runtimes = values['session-runtimes'];
  if (typeof runtimes === 'string') {
    options.runtimes = runtimes.split(',').map((r) => r.trim()).filter(Boolean);
    for (const runtime of options.runtimes) engineUnderTest(runtime);
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => sessionStart(parseSessionStartOptions(process.argv.slice(2))));
}
