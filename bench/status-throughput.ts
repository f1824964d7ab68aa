// GetCalculationExecutionStatus throughput: what a client polling its calculations costs the server. Owlet
// beside a bare node:http server answering the same JSON body, as for GetWorkGroup (throughput.ts). The
// calculation polled is a COMPLETED one written into the state file before the server starts
// (seed-state.ts): the operation reads the record by id whatever wrote it, and no Spark has to start.
import { pathToFileURL } from 'node:url';
import { GetCalculationExecutionStatusCommand } from '@aws-sdk/client-athena';
import { type BenchResult, runMain, saveJson } from './report.js';
import { seedState } from './seed-state.js';
import {
  type Answer,
  formatReport,
  measureThroughput,
  parseOptions,
  type ThroughputOptions,
  type ThroughputResult,
  throughputRow,
} from './throughput.js';

export const NAME = 'status-throughput';

export async function measureStatusThroughput(
  options: Partial<ThroughputOptions> = {},
  progress: (line: string) => void = () => {},
): Promise<ThroughputResult> {
  let calculationId = '';
  return measureThroughput(
    {
      benchmark: NAME,
      operation: 'GetCalculationExecutionStatus',
      async prepare(dataDir) {
        calculationId = (await seedState(dataDir, 1)).calculationIds[0]!;
      },
      send: (client) => client.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId: calculationId })),
      get expectedBody() {
        return JSON.stringify({ CalculationExecutionId: calculationId });
      },
      check(answer: Answer) {
        let state: unknown;
        try {
          state = (JSON.parse(answer.body) as { Status?: { State?: unknown } }).Status?.State;
        } catch {
          state = undefined;
        }
        if (answer.status !== 200 || state !== 'COMPLETED') {
          throw new Error(`Owlet did not answer GetCalculationExecutionStatus with a COMPLETED calculation: HTTP ${answer.status} ${answer.body}`);
        }
      },
    },
    options,
    progress,
  );
}

export async function statusThroughput(options: Partial<ThroughputOptions> = {}): Promise<ThroughputResult & BenchResult> {
  const result = await measureStatusThroughput(options, (line) => console.log(line));
  console.log(`\n${formatReport(result)}`);
  const full: ThroughputResult & BenchResult = { ...result, rows: [throughputRow(result)] };
  full.file = saveJson(NAME, full);
  return full;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => statusThroughput(parseOptions(process.argv.slice(2))));
}
