// Every benchmark, one after the other (`make bench`, i.e. `node dist/bench/run.js`), then one table of every
// figure beside its baseline and the targets, also written to bench/results/summary.json (each
// benchmark writes its own full figures beside it).
//
//   node dist/bench/run.js [--only <name>[,<name>...]] [options]
//
// --only (repeatable) runs only the named benchmarks: getworkgroup-throughput, status-throughput,
// session-start, memory, calculation-round-trip, cancel-latency, jupyter-cell, restart, load, object-store,
// s3a-scan, catalog-partitions, density. Options reach the benchmarks that take them: --connections, --duration,
// --rounds, --warmup, --cpu-prof, --no-moto (throughput); --session-samples, --session-runtimes; --calc-samples,
// --calc-warmup, --calc-poll-ms; --cancel-samples; --calculations, --restart-rounds; --load-clients, --load-seconds;
// --jupyter-samples; --object-mib, --object-rounds, --keys; --scan-gib, --scan-rounds; --catalog-partitions,
// --catalog-rounds; --max-sessions, --min-free-gib, --density-rounds.
//
// The Spark benchmarks that need a running session (memory, calculation-round-trip, cancel-latency) share one
// Owlet session and one bare PySpark process, started once.
import { parseArgs } from 'node:util';
import { calculationRoundTrip, parseRoundTripOptions } from './calculation-round-trip.js';
import { catalogPartitions, parseCatalogPartitionsOptions } from './catalog-partitions.js';
import { cancelLatency, parseCancelOptions } from './cancel-latency.js';
import { density, parseDensityOptions } from './density.js';
import { getWorkGroupThroughput } from './getworkgroup-throughput.js';
import { jupyterCell, parseJupyterCellOptions } from './jupyter-cell.js';
import { load, parseLoadOptions } from './load.js';
import { memory } from './memory.js';
import { objectStore, parseObjectStoreOptions } from './object-store.js';
import { type BenchResult, formatTable, machine, type Row, saveJson } from './report.js';
import { parseRestartOptions, restart } from './restart.js';
import { parseScanOptions, s3aScan } from './s3a-scan.js';
import { parseSessionStartOptions, sessionStart } from './session-start.js';
import { type SparkFixture, startSparkFixture } from './spark-fixture.js';
import { statusThroughput } from './status-throughput.js';
import { parseOptions as parseThroughputOptions } from './throughput.js';

const argv = process.argv.slice(2);
let values: { only?: string[] };
try {
  ({ values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', multiple: true },
      connections: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'session-samples': { type: 'string' },
      'session-runtimes': { type: 'string' },
      'calc-samples': { type: 'string' },
      'calc-warmup': { type: 'string' },
      'calc-poll-ms': { type: 'string' },
      'cancel-samples': { type: 'string' },
      calculations: { type: 'string' },
      'restart-rounds': { type: 'string' },
      'load-clients': { type: 'string' },
      'load-seconds': { type: 'string' },
      'object-mib': { type: 'string' },
      'object-rounds': { type: 'string' },
      keys: { type: 'string' },
      'jupyter-samples': { type: 'string' },
      'scan-gib': { type: 'string' },
      'scan-rounds': { type: 'string' },
      'catalog-partitions': { type: 'string' },
      'catalog-rounds': { type: 'string' },
      'no-moto': { type: 'boolean' },
      'max-sessions': { type: 'string' },
      'min-free-gib': { type: 'string' },
      'density-rounds': { type: 'string' },
    },
  }));
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)} (see the top of bench/run.ts for the options)`);
  process.exit(2);
}

type Bench = (fixture: () => Promise<SparkFixture>) => Promise<BenchResult>;

const throughputOptions = parseThroughputOptions(argv);
const BENCHMARKS: Record<string, Bench> = {
  'getworkgroup-throughput': () => getWorkGroupThroughput(throughputOptions),
  'status-throughput': () => statusThroughput(throughputOptions),
  'session-start': () => sessionStart(parseSessionStartOptions(argv)),
  // First of the three on the shared session, so that the session is measured idle as it started.
  memory: async (fixture) => memory({}, await fixture()),
  'calculation-round-trip': async (fixture) => calculationRoundTrip(parseRoundTripOptions(argv), await fixture()),
  'cancel-latency': async (fixture) => cancelLatency(parseCancelOptions(argv), await fixture()),
  'jupyter-cell': async (fixture) => jupyterCell(parseJupyterCellOptions(argv), await fixture()),
  restart: () => restart(parseRestartOptions(argv)),
  load: () => load(parseLoadOptions(argv)),
  'object-store': () => objectStore(parseObjectStoreOptions(argv)),
  's3a-scan': () => s3aScan(parseScanOptions(argv)),
  'catalog-partitions': () => catalogPartitions(parseCatalogPartitionsOptions(argv)),
  // Only with --only density: it fills the machine with sessions.
  density: () => density(parseDensityOptions(argv)),
};

const only = (values.only ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
for (const name of only) {
  if (!(name in BENCHMARKS)) {
    console.error(`bench: no benchmark named ${name}; there are ${Object.keys(BENCHMARKS).join(', ')}`);
    process.exit(2);
  }
}
// Density fills the machine with sessions for many minutes: it runs only when named.
const OPT_IN = new Set(['density']);
const selected = Object.keys(BENCHMARKS).filter((name) => (only.length === 0 ? !OPT_IN.has(name) : only.includes(name)));

let fixture: Promise<SparkFixture> | undefined;
const sharedFixture = (): Promise<SparkFixture> => (fixture ??= startSparkFixture((line) => console.log(line)));

const started = performance.now();
const rows: Row[] = [];
const results: { name: string; file?: string; seconds: number; error?: string }[] = [];
let failed = false;
try {
  for (const name of selected) {
    console.log(`\n=== ${name} ===`);
    const benchStarted = performance.now();
    try {
      const result = await BENCHMARKS[name]!(sharedFixture);
      rows.push(...result.rows);
      results.push({ name, ...(result.file ? { file: result.file } : {}), seconds: (performance.now() - benchStarted) / 1000 });
      console.log(`\n${formatTable(result.rows)}`);
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(`bench: ${name} failed: ${message}`);
      results.push({ name, seconds: (performance.now() - benchStarted) / 1000, error: message });
    }
  }
} finally {
  if (fixture) await (await fixture.catch(() => undefined))?.dispose();
}

const seconds = (performance.now() - started) / 1000;
console.log(`\n=== summary (${selected.length} benchmarks, ${Math.round(seconds)} s, ${machine().cpus} CPUs) ===\n`);
console.log(formatTable(rows));
const file = saveJson('summary', { date: new Date().toISOString(), machine: machine(), seconds, benchmarks: results, rows });
console.log(`\nfigures written to ${file} and beside it, one file a benchmark`);
process.exit(failed ? 1 : 0);
