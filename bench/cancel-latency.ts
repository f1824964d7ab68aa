// StopCalculationExecution → CANCELED: from sending StopCalculationExecution to the status answer that says
// CANCELED (polled every 10 ms), for a running Spark job and for a Python loop. Each calculation is stopped
// 1 s after it is running (for the Spark job: after its tasks are running, which its progress shows).
// Beside each, the baseline in a Python process with Spark up (bare_spark.py): the same Spark job cancelled
// with SparkContext.cancelJobGroup from another thread, timed to the job's call raising; the same loop
// interrupted with SIGINT sent to the main thread, timed to the KeyboardInterrupt. That is the least any
// cancel can cost; Owlet's runner does both of these, plus the messages between client, server and runner.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GetSessionStatusCommand } from '@aws-sdk/client-athena';
import { poll, startRunning, stopToCanceled } from './athena.js';
import { type BenchResult, type Distribution, distribution, machine, ms, p50p95, type Row, runMain, saveJson, sleep } from './report.js';
import { type SparkFixture, withSparkFixture } from './spark-fixture.js';

export const NAME = 'cancel-latency';
export const TARGET_CANCEL_MS = 1000;
/** How long a calculation runs before it is stopped. */
export const RUN_BEFORE_CANCEL_MS = 1000;

export interface CancelOptions {
  samples: number;
}

export const DEFAULT_CANCEL_OPTIONS: CancelOptions = { samples: 3 };

const CASES = [
  {
    key: 'sparkJob',
    label: 'a running Spark job',
    code: 'import time\nspark.range(0, 200, 1, 8).rdd.map(lambda x: time.sleep(30) or x).count()',
    untilProgress: true,
    bare: { op: 'cancel-spark', after: RUN_BEFORE_CANCEL_MS / 1000 },
  },
  {
    key: 'pythonLoop',
    label: 'a Python loop',
    code: 'n = 0\nwhile True:\n    n += 1',
    untilProgress: false,
    bare: { op: 'cancel-loop', after: RUN_BEFORE_CANCEL_MS / 1000 },
  },
] as const;

export interface CancelFigures {
  code: string;
  owlet: Distribution;
  bare: Distribution;
}

export interface CancelResult extends BenchResult {
  options: CancelOptions & { runBeforeCancelMs: number };
  sparkJob: CancelFigures;
  pythonLoop: CancelFigures;
}

export async function measureCancel(
  options: Partial<CancelOptions> = {},
  fixture?: SparkFixture,
  progress: (line: string) => void = () => {},
): Promise<CancelResult> {
  const opts = { ...DEFAULT_CANCEL_OPTIONS, ...options };
  return withSparkFixture(fixture, progress, async ({ server, sessionId, bare }) => {
    const figures: Partial<Record<(typeof CASES)[number]['key'], CancelFigures>> = {};
    for (const c of CASES) {
      const owlet: number[] = [];
      const bareTimes: number[] = [];
      for (let i = 0; i < opts.samples; i++) {
        const calculationId = await startRunning(server.athena, sessionId, c.code, c.untilProgress);
        await sleep(RUN_BEFORE_CANCEL_MS);
        const stopped = await stopToCanceled(server.athena, calculationId);
        if (stopped.state !== 'CANCELED') throw new Error(`${c.label} ended ${stopped.state} when stopped`);
        owlet.push(stopped.ms);
        // The session is IDLE again before the next calculation.
        await poll(
          async () => {
            const state = (await server.athena.send(new GetSessionStatusCommand({ SessionId: sessionId }))).Status?.State;
            if (state === 'IDLE') return true;
            if (state !== 'BUSY') throw new Error(`the session is ${state} after a cancel`);
            return undefined;
          },
          { intervalMs: 10, timeoutMs: 30_000, what: 'the session to be IDLE after a cancel' },
        );
        const b = await bare.request<{ outcome: string }>(c.bare);
        if (b.outcome !== 'cancelled') throw new Error(`the bare ${c.label} was not cancelled: ${b.outcome}`);
        bareTimes.push(b.ms);
        progress(`  ${c.label} ${i + 1}/${opts.samples}: Owlet ${ms(stopped.ms)}, bare ${ms(b.ms)}`);
      }
      figures[c.key] = { code: c.code, owlet: distribution(owlet), bare: distribution(bareTimes) };
    }
    const sparkJob = figures.sparkJob!;
    const pythonLoop = figures.pythonLoop!;
    const rows: Row[] = [
      {
        figure: 'StopCalculationExecution → CANCELED, Spark job',
        owlet: p50p95(sparkJob.owlet),
        baseline: `cancelJobGroup in Python: ${p50p95(sparkJob.bare)}`,
        target: { text: `p50 < ${ms(TARGET_CANCEL_MS)}`, met: sparkJob.owlet.p50 < TARGET_CANCEL_MS },
      },
      {
        figure: 'StopCalculationExecution → CANCELED, Python loop',
        owlet: p50p95(pythonLoop.owlet),
        baseline: `SIGINT to the main thread: ${p50p95(pythonLoop.bare)}`,
        target: { text: `p50 < ${ms(TARGET_CANCEL_MS)}`, met: pythonLoop.owlet.p50 < TARGET_CANCEL_MS },
      },
    ];
    return {
      benchmark: NAME,
      date: new Date().toISOString(),
      machine: machine(),
      options: { ...opts, runBeforeCancelMs: RUN_BEFORE_CANCEL_MS },
      rows,
      sparkJob,
      pythonLoop,
    };
  });
}

export async function cancelLatency(options: Partial<CancelOptions> = {}, fixture?: SparkFixture): Promise<CancelResult> {
  const opts = { ...DEFAULT_CANCEL_OPTIONS, ...options };
  console.log(`StopCalculationExecution → CANCELED: ${opts.samples} samples each of a Spark job and a Python loop, Owlet and bare`);
  const result = await measureCancel(opts, fixture, (line) => console.log(line));
  result.file = saveJson(NAME, result);
  return result;
}

/** `--cancel-samples N`. */
export function parseCancelOptions(argv: readonly string[]): Partial<CancelOptions> {
  const { values } = parseArgs({ args: [...argv], options: { 'cancel-samples': { type: 'string' } }, strict: false });
  if (values['cancel-samples'] === undefined) return {};
  const samples = Number(values['cancel-samples']);
  if (!Number.isInteger(samples) || samples < 1) throw new Error('--cancel-samples takes a whole number of at least 1');
  return { samples };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => cancelLatency(parseCancelOptions(process.argv.slice(2))));
}
