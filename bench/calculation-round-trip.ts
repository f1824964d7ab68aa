// Round trip of a calculation: from sending StartCalculationExecution to the GetCalculationExecutionStatus
// answer that says COMPLETED, by a client polling every 10 ms, for `1+1` and for a small DataFrame count
// (`spark.range(1000).count()`). Beside each, the baseline: the same code run directly in a Python process
// with Spark already up (bare_spark.py; `eval` of the compiled `1+1`, and the count), timed inside Python.
// Owlet's and the baseline's samples alternate; a few of each are run first and not counted, so that the
// JVM's and Python's first-time costs are out of the figures.
//
// For each Owlet sample the benchmark also reads, after it is timed, what the server recorded: the time
// from submission to completion (SubmissionDateTime to CompletionDateTime, to the millisecond) and
// DpuExecutionInMillis, which is the runner's own time for the code when that is 1 ms or more (the server
// stores its submission-to-completion time instead when the runner reports 0 ms, as it does for `1+1`).
// The gaps between those and the round trip say where the time goes: around the code in the runner and
// server, or in the client's polling.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GetCalculationExecutionCommand } from '@aws-sdk/client-athena';
import { runCalculation } from './athena.js';
import { type BenchResult, type Distribution, distribution, machine, median, ms, p50p95, type Row, runMain, saveJson } from './report.js';
import { type SparkFixture, withSparkFixture } from './spark-fixture.js';

export const NAME = 'calculation-round-trip';
export const TARGET_ONE_PLUS_ONE_P50_MS = 50;
/** Issue 16: the count's round trip at most this many times the same count in a Python process with Spark up. */
const TARGET_COUNT_RATIO = 1.15;
export const POLL_INTERVAL_MS = 10;

export interface RoundTripOptions {
  samples: number;
  /** Runs of each before the measured ones, not counted. */
  warmup: number;
  /**
   * How often the client asks for the calculation's status. On 2 cores a 10 ms poller's own work (the SDK's
   * signing and HTTP, the server's answers) takes CPU from the Spark job it waits for: a longer interval shows
   * the job without that competition, at the price of a coarser round trip (docs/performance.md).
   */
  pollIntervalMs: number;
}

export const DEFAULT_ROUND_TRIP_OPTIONS: RoundTripOptions = { samples: 30, warmup: 3, pollIntervalMs: POLL_INTERVAL_MS };

const CASES = [
  { key: 'onePlusOne', label: '`1+1`', code: '1+1', bare: { op: 'eval', code: '1+1' } },
  { key: 'count', label: '`spark.range(1000).count()`', code: 'spark.range(1000).count()', bare: { op: 'count', n: 1000 } },
] as const;

export interface CaseFigures {
  code: string;
  /** Client-observed round trip through Owlet. */
  owlet: Distribution;
  /** SubmissionDateTime to CompletionDateTime as the server recorded them. */
  serverRecorded: Distribution;
  /**
   * DpuExecutionInMillis: the runner's time for the code, or, when the runner reported 0 ms, the server's
   * submission-to-completion time.
   */
  runnerReported: Distribution;
  /** The same code in a Python process with Spark up. */
  bare: Distribution;
}

export interface RoundTripResult extends BenchResult {
  options: RoundTripOptions;
  onePlusOne: CaseFigures;
  count: CaseFigures;
}

export async function measureRoundTrip(
  options: Partial<RoundTripOptions> = {},
  fixture?: SparkFixture,
  progress: (line: string) => void = () => {},
): Promise<RoundTripResult> {
  const opts = { ...DEFAULT_ROUND_TRIP_OPTIONS, ...options };
  return withSparkFixture(fixture, progress, async ({ server, sessionId, bare }) => {
    const figures: Partial<Record<(typeof CASES)[number]['key'], CaseFigures>> = {};
    for (const c of CASES) {
      const owlet: number[] = [];
      const serverRecorded: number[] = [];
      const runnerReported: number[] = [];
      const bareTimes: number[] = [];
      // Per sample: the client's polling and HTTP (round trip − server-recorded), and Owlet's steps around the
      // code in the runner and the server (server-recorded − DpuExecutionInMillis).
      const polling: number[] = [];
      const aroundCode: number[] = [];
      for (let i = -opts.warmup; i < opts.samples; i++) {
        const run = await runCalculation(server.athena, sessionId, c.code, opts.pollIntervalMs);
        if (run.state !== 'COMPLETED') throw new Error(`${c.code} ended ${run.state}: ${run.reason ?? ''}`);
        const b = await bare.request(c.bare);
        if (i < 0) continue;
        const detail = await server.athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: run.calculationId }));
        owlet.push(run.ms);
        bareTimes.push(b.ms);
        const submitted = detail.Status?.SubmissionDateTime?.getTime();
        const completed = detail.Status?.CompletionDateTime?.getTime();
        const dpu = detail.Statistics?.DpuExecutionInMillis;
        if (submitted !== undefined && completed !== undefined) {
          serverRecorded.push(completed - submitted);
          polling.push(run.ms - (completed - submitted));
          if (dpu !== undefined) aroundCode.push(completed - submitted - dpu);
        }
        if (dpu !== undefined) runnerReported.push(dpu);
      }
      figures[c.key] = {
        code: c.code,
        owlet: distribution(owlet),
        serverRecorded: distribution(serverRecorded),
        runnerReported: distribution(runnerReported),
        bare: distribution(bareTimes),
      };
      const f = figures[c.key]!;
      progress(
        `  ${c.code}: Owlet ${p50p95(f.owlet)} (server recorded p50 ${ms(f.serverRecorded.p50)}, DpuExecutionInMillis p50 ${ms(f.runnerReported.p50)}); ` +
          `bare ${p50p95(f.bare)}`,
      );
      if (c.key === 'count' && polling.length > 0 && aroundCode.length > 0) {
        progress(
          `    the split (p50s): the code ${ms(f.runnerReported.p50)} in the runner against ${ms(f.bare.p50)} bare; ` +
            `Owlet's steps around it in the runner and the server ${ms(median(aroundCode))}; the client's polling and HTTP ${ms(median(polling))}`,
        );
      }
    }
    const onePlusOne = figures.onePlusOne!;
    const count = figures.count!;
    const row = (label: string, f: CaseFigures, baseline: string): Row => ({
      figure: `${label} round trip (poll ${opts.pollIntervalMs} ms)`,
      owlet: `${p50p95(f.owlet)}; server-side p50 ${ms(f.serverRecorded.p50)}`,
      baseline,
    });
    const rows: Row[] = [
      {
        ...row('`1+1`', onePlusOne, `eval in Python with Spark up: p50 ${ms(onePlusOne.bare.p50)}`),
        target: { text: `p50 < ${TARGET_ONE_PLUS_ONE_P50_MS} ms`, met: onePlusOne.owlet.p50 < TARGET_ONE_PLUS_ONE_P50_MS },
      },
      {
        ...row('range(1000).count()', count, `same count in Python with Spark up: ${p50p95(count.bare)}`),
        target: {
          text: `p50 ≤ ${TARGET_COUNT_RATIO}x the bare count's (${(count.owlet.p50 / count.bare.p50).toFixed(2)}x)`,
          met: count.owlet.p50 <= TARGET_COUNT_RATIO * count.bare.p50,
          whyMissed: 'the split above; docs/performance.md, "The count, step by step"',
        },
      },
    ];
    return {
      benchmark: NAME,
      date: new Date().toISOString(),
      machine: machine(),
      options: opts,
      rows,
      onePlusOne,
      count,
    };
  });
}

export async function calculationRoundTrip(options: Partial<RoundTripOptions> = {}, fixture?: SparkFixture): Promise<RoundTripResult> {
  const opts = { ...DEFAULT_ROUND_TRIP_OPTIONS, ...options };
  console.log(`Calculation round trip: ${opts.samples} samples (after ${opts.warmup} not counted) each of \`1+1\` and a count, Owlet and bare`);
  const result = await measureRoundTrip(opts, fixture, (line) => console.log(line));
  result.file = saveJson(NAME, result);
  return result;
}

/** `--calc-samples N`, `--calc-warmup N`, `--calc-poll-ms N`. */
export function parseRoundTripOptions(argv: readonly string[]): Partial<RoundTripOptions> {
  const { values } = parseArgs({
    args: [...argv],
    options: { 'calc-samples': { type: 'string' }, 'calc-warmup': { type: 'string' }, 'calc-poll-ms': { type: 'string' } },
    strict: false,
  });
  const options: Partial<RoundTripOptions> = {};
  if (values['calc-poll-ms'] !== undefined) options.pollIntervalMs = wholeNumber('calc-poll-ms', values['calc-poll-ms'], 1);
  if (values['calc-samples'] !== undefined) options.samples = wholeNumber('calc-samples', values['calc-samples'], 1);
  if (values['calc-warmup'] !== undefined) options.warmup = wholeNumber('calc-warmup', values['calc-warmup'], 0);
  return options;
}

export function wholeNumber(name: string, value: string | boolean, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes a whole number of at least ${min}`);
  return n;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => calculationRoundTrip(parseRoundTripOptions(process.argv.slice(2))));
}
