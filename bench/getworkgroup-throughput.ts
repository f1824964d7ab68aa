// GetWorkGroup throughput: Owlet beside a bare node:http server that answers the same JSON body, both
// loaded in the same run by the same load generator (autocannon) with the same connections and duration,
// in alternating rounds so that a noisy machine weighs on both alike (throughput.ts).
import { pathToFileURL } from 'node:url';
import { GetWorkGroupCommand } from '@aws-sdk/client-athena';
import { SPARK_WORKGROUP } from './owlet-server.js';
import { type BenchResult, resultFile, runMain, saveJson } from './report.js';
import {
  type Answer,
  DEFAULT_OPTIONS,
  formatReport,
  measureThroughput,
  motoRow,
  parseOptions,
  type ThroughputOptions,
  type ThroughputResult,
  type ThroughputSpec,
  throughputRow,
} from './throughput.js';

export { DEFAULT_OPTIONS, formatReport, parseOptions, type ThroughputOptions, type ThroughputResult };

export const NAME = 'getworkgroup-throughput';
export const RESULT_FILE = resultFile(NAME);

/** Fails loudly unless the answer is Owlet's GetWorkGroup output for the ready Spark workgroup. */
function checkGetWorkGroupAnswer(answer: Answer): void {
  const fail = (why: string): never => {
    throw new Error(`Owlet did not answer GetWorkGroup as expected (${why}): HTTP ${answer.status} ${answer.body}`);
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
  if (wg?.Name !== SPARK_WORKGROUP || wg.State !== 'ENABLED') fail('not the ENABLED spark workgroup');
  if (!String(wg?.Configuration?.EngineVersion?.SelectedEngineVersion ?? '').startsWith('PySpark')) fail('not a Spark workgroup');
}

export const GET_WORKGROUP: ThroughputSpec = {
  benchmark: NAME,
  operation: 'GetWorkGroup',
  send: (client) => client.send(new GetWorkGroupCommand({ WorkGroup: SPARK_WORKGROUP })),
  expectedBody: JSON.stringify({ WorkGroup: SPARK_WORKGROUP }),
  check: checkGetWorkGroupAnswer,
  cpuTargetMicros: 30,
  checkMoto: (answer) => {
    const name = answer.status === 200 ? (JSON.parse(answer.body) as { WorkGroup?: { Name?: unknown } }).WorkGroup?.Name : undefined;
    if (name !== SPARK_WORKGROUP) throw new Error(`moto_server did not answer GetWorkGroup as expected: HTTP ${answer.status} ${answer.body}`);
  },
};

export function measureGetWorkGroupThroughput(
  options: Partial<ThroughputOptions> = {},
  progress: (line: string) => void = () => {},
): Promise<ThroughputResult> {
  return measureThroughput(GET_WORKGROUP, options, progress);
}

export function saveResult(result: ThroughputResult): string {
  return saveJson(NAME, result);
}

/** Measures, prints the table and the ratio, and writes the figures to bench/results/. */
export async function getWorkGroupThroughput(options: Partial<ThroughputOptions> = {}): Promise<ThroughputResult & BenchResult> {
  const result = await measureGetWorkGroupThroughput(options, (line) => console.log(line));
  console.log(`\n${formatReport(result)}`);
  const peer = motoRow(result);
  const full: ThroughputResult & BenchResult = { ...result, rows: [throughputRow(result), ...(peer ? [peer] : [])] };
  full.file = saveResult(full);
  return full;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => getWorkGroupThroughput(parseOptions(process.argv.slice(2))));
}
