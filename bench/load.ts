// Many concurrent clients on one server (bench/athena-load.ts): StartSession (refused now and then by a full
// server), polling to IDLE, calculations polled to their end, cancels, refusals of a busy session, and
// TerminateSession. The server runs on the fake engine in a process of its own (fake-engine-server.ts), so
// that its memory is measured alone: its RSS when idle after starting, its peak under the load (sampled every
// 100 ms, and the kernel's high-water mark), and once the load has ended.
//
//   node dist/bench/load.js [--load-clients N] [--load-seconds N]
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type LoadResult, loadSummary, runLoad } from './athena-load.js';
import { CREDENTIALS, owletEnvironment, temporaryDataDir } from './owlet-server.js';
import { processMemory } from './proc.js';
import { startServerProcess } from './processes.js';
import { type BenchResult, count, machine, mib, type Row, runMain, saveJson, sleep } from './report.js';

export const NAME = 'load';
const FAKE_ENGINE_SERVER = fileURLToPath(new URL('./fake-engine-server.js', import.meta.url));

export interface LoadBenchOptions {
  clients: number;
  seconds: number;
  /** DPUs of the server: a few fewer than clients, so that StartSession is refused now and then. */
  dpuCapacity: number;
}

export const DEFAULT_LOAD_OPTIONS: LoadBenchOptions = { clients: 48, seconds: 30, dpuCapacity: 44 };

export function parseLoadOptions(argv: readonly string[]): LoadBenchOptions {
  const { values } = parseArgs({ args: [...argv], options: { 'load-clients': { type: 'string' }, 'load-seconds': { type: 'string' } }, strict: false });
  const number = (v: unknown, fallback: number): number => (typeof v === 'string' && Number(v) > 0 ? Math.floor(Number(v)) : fallback);
  const clients = number(values['load-clients'], DEFAULT_LOAD_OPTIONS.clients);
  return { clients, seconds: number(values['load-seconds'], DEFAULT_LOAD_OPTIONS.seconds), dpuCapacity: Math.max(1, clients - 4) };
}

export interface LoadBenchResult extends BenchResult {
  options: LoadBenchOptions;
  load: LoadResult;
  serverRssKiB: { idle: number; peakSampled: number; highWaterMark: number; after: number };
}

export async function load(options: LoadBenchOptions = DEFAULT_LOAD_OPTIONS, progress: (line: string) => void = console.log): Promise<LoadBenchResult> {
  progress(`${options.clients} clients for ${options.seconds} s on a server on the fake engine (${options.dpuCapacity} DPUs)`);
  const dir = temporaryDataDir();
  const server = await startServerProcess({
    name: 'Owlet (fake engine)',
    args: [FAKE_ENGINE_SERVER, '--data-dir', dir.dataDir],
    env: owletEnvironment({ OWLET_DPU_CAPACITY: String(options.dpuCapacity), OWLET_WARM_POOL_SIZE: '0', OWLET_LOG_LEVEL: 'warn' }),
    ready: /^Owlet \(fake engine\) is serving the Athena API at (http:\/\/127\.0\.0\.1:\d+)$/,
    stdinPipe: true,
  }).catch((error: unknown) => {
    dir.remove();
    throw error;
  });
  try {
    const rss = (): number => {
      const m = processMemory(server.pid);
      if (!m) throw new Error('the server exited');
      return m.rssKiB;
    };
    await sleep(1000);
    const idle = rss();
    let peakSampled = idle;
    const sampler = setInterval(() => {
      peakSampled = Math.max(peakSampled, processMemory(server.pid)?.rssKiB ?? 0);
    }, 100);
    let result: LoadResult;
    try {
      result = await runLoad({ endpoint: server.url, credentials: CREDENTIALS, clients: options.clients, durationMs: options.seconds * 1000 });
    } finally {
      clearInterval(sampler);
    }
    await sleep(1000);
    const after = rss();
    const highWaterMark = processMemory(server.pid)?.peakRssKiB ?? 0;
    progress(`  ${loadSummary(result)}`);
    progress(`  server RSS: idle ${mib(idle)}, peak under load ${mib(Math.max(peakSampled, highWaterMark))}, 1 s after ${mib(after)}`);
    if (result.unexpectedSamples.length > 0) progress(`  unexpected: ${result.unexpectedSamples.join('; ')}`);
    const expected = Object.entries(result.expectedErrors).map(([what, n]) => `${count(n)} ${what}`).join(', ');
    const rows: Row[] = [
      {
        figure: `load: ${options.clients} clients, ${options.seconds} s (fake engine)`,
        owlet: `${count(result.requests)} requests (${count(result.requests / (result.durationMs / 1000))}/s), ${result.unexpectedErrors} unexpected errors`,
        baseline: `expected refusals: ${expected || 'none'}`,
      },
      {
        figure: 'server RSS under that load, peak',
        owlet: `${mib(Math.max(peakSampled, highWaterMark))} (1 s after: ${mib(after)})`,
        baseline: `${mib(idle)} idle, same server before the load`,
      },
    ];
    const full: LoadBenchResult = {
      benchmark: NAME,
      date: new Date().toISOString(),
      machine: machine(),
      options,
      load: result,
      serverRssKiB: { idle, peakSampled, highWaterMark, after },
      rows,
    };
    full.file = saveJson(NAME, full);
    return full;
  } finally {
    await server.stop();
    dir.remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => load(parseLoadOptions(process.argv.slice(2))));
}
