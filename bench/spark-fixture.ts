// What the calculation, cancel and memory benchmarks run on: an Owlet server (warm pool off) with one IDLE
// session, and beside it the baseline, bench/bare_spark.py, PySpark in a plain Python process with Spark up.
// Both are started together (their start is not what these benchmarks time) and kept for the whole run, so
// that Owlet's and the baseline's samples can alternate. `make bench` starts one for all three benchmarks.
import { startSessionToIdle } from './athena.js';
import { type BareSpark, startBareSpark } from './bare-spark.js';
import { type OwletServer, sessionRunnerPid, startOwletServer } from './owlet-server.js';

export interface SparkFixture {
  server: OwletServer;
  sessionId: string;
  /** The session's runner; it leads the process group its JVM is in. */
  runnerPid: number;
  bare: BareSpark;
  dispose(): Promise<void>;
}

export async function startSparkFixture(progress: (line: string) => void = () => {}): Promise<SparkFixture> {
  progress('starting an Owlet session and a bare PySpark process for the session benchmarks');
  const started = performance.now();
  const [server, bare] = await Promise.allSettled([startOwletServer({ name: 'Owlet' }), startBareSpark()]);
  const dispose = async (): Promise<void> => {
    if (bare.status === 'fulfilled') await bare.value.stop();
    if (server.status === 'fulfilled') await server.value.stop();
  };
  try {
    if (server.status === 'rejected') throw server.reason;
    if (bare.status === 'rejected') throw bare.reason;
    const { sessionId } = await startSessionToIdle(server.value.athena);
    const runnerPid = sessionRunnerPid(server.value.dataDir, sessionId);
    if (runnerPid === undefined) throw new Error(`session ${sessionId} has no runner.pid in its directory`);
    progress(`  ready after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return { server: server.value, sessionId, runnerPid, bare: bare.value, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** Runs `work` on the given fixture, or on one of its own that it stops afterwards. */
export async function withSparkFixture<T>(
  fixture: SparkFixture | undefined,
  progress: (line: string) => void,
  work: (fixture: SparkFixture) => Promise<T>,
): Promise<T> {
  if (fixture) return work(fixture);
  const own = await startSparkFixture(progress);
  try {
    return await work(own);
  } finally {
    await own.dispose();
  }
}
