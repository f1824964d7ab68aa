// A cell through the Jupyter protocol: from sending `execute_request` for `1+1` over the kernel websocket
// (@jupyterlab/services, as JupyterLab and VS Code send it) to the `execute_result` arriving, on an IDLE session
// (every session is a kernel: the shared fixture's is connected to by its id). Beside it, the baseline: the same
// cell through the Athena API (StartCalculationExecution, then GetCalculationExecutionStatus every 10 ms until
// COMPLETED), which is what the Jupyter server does inside.
//
//   node dist/bench/jupyter-cell.js [--jupyter-samples N]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { KernelManager, type KernelMessage, ServerConnection } from '@jupyterlab/services';
import { WebSocket } from 'ws';
import { runCalculation } from './athena.js';
import { CREDENTIALS, SPARK_WORKGROUP } from './owlet-server.js';
import { type BenchResult, distribution, machine, p50p95, type Row, runMain, saveJson } from './report.js';
import { type SparkFixture, withSparkFixture } from './spark-fixture.js';

export const NAME = 'jupyter-cell';
const WARMUP = 3;

export async function jupyterCell(options: { samples?: number } = {}, fixture?: SparkFixture): Promise<BenchResult> {
  const samples = options.samples ?? 30;
  console.log(`A Jupyter cell: ${samples} samples (after ${WARMUP} not counted) of \`1+1\` over the kernel websocket, and through the Athena API`);
  return withSparkFixture(fixture, (line) => console.log(line), async ({ server, sessionId }) => {
    const settings = ServerConnection.makeSettings({
      baseUrl: `${server.url}/`,
      wsUrl: `${server.url.replace(/^http/, 'ws')}/`,
      token: CREDENTIALS.secretAccessKey,
      appendToken: true,
      WebSocket: WebSocket as unknown as ServerConnection.ISettings['WebSocket'],
    });
    const kernels = new KernelManager({ serverSettings: settings });
    const kernel = kernels.connectTo({ model: { id: sessionId, name: SPARK_WORKGROUP } });
    const jupyter: number[] = [];
    const api: number[] = [];
    try {
      await kernel.info;
      for (let i = -WARMUP; i < samples; i++) {
        const started = performance.now();
        let shown: number | undefined;
        const future = kernel.requestExecute({ code: '1+1' });
        future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
          if (msg.header.msg_type === 'execute_result') shown ??= performance.now() - started;
        };
        await future.done;
        const viaApi = await runCalculation(server.athena, sessionId, '1+1', 10);
        if (i < 0) continue;
        if (shown === undefined) throw new Error('1+1 showed no execute_result');
        jupyter.push(shown);
        api.push(viaApi.ms);
      }
    } finally {
      kernel.dispose();
      kernels.dispose();
    }
    const cell = distribution(jupyter);
    const baseline = distribution(api);
    console.log(`  1+1: execute_request to execute_result ${p50p95(cell)}; Athena API round trip ${p50p95(baseline)}`);
    const rows: Row[] = [{ figure: '`1+1` as a Jupyter cell: execute_request to execute_result', owlet: p50p95(cell), baseline: `Athena API round trip (poll 10 ms): ${p50p95(baseline)}` }];
    const result: BenchResult = { benchmark: NAME, date: new Date().toISOString(), machine: machine(), rows };
    result.file = saveJson(NAME, { ...result, jupyter: cell, api: baseline });
    return result;
  });
}

export function parseJupyterCellOptions(argv: readonly string[]): { samples?: number } {
  const { values } = parseArgs({ args: [...argv], options: { 'jupyter-samples': { type: 'string' } }, strict: false });
  const samples = Number(values['jupyter-samples']);
  return values['jupyter-samples'] === undefined ? {} : { samples: Number.isInteger(samples) && samples > 0 ? samples : 30 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => jupyterCell(parseJupyterCellOptions(process.argv.slice(2))));
}
