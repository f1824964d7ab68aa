// How long a server takes to start on a data directory holding a long history: 100,000 COMPLETED
// calculations (of 1,000 TERMINATED sessions), written into the state file before the server starts with the
// server's own store code (seed-state.ts), against the same server on an empty data directory, alternating,
// in the same run. Timed from spawning `owlet server` to its ready line; RSS read when it is ready. A
// restarted server reads only the sessions the store calls live, so the two should be alike.
//
//   node dist/bench/restart.js [--calculations N] [--restart-rounds N]
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startOwletServer, temporaryDataDir } from './owlet-server.js';
import { processMemory } from './proc.js';
import { type BenchResult, count, distribution, machine, mib, ms, type Row, runMain, saveJson } from './report.js';
import { seedState } from './seed-state.js';

export const NAME = 'restart';

export interface RestartOptions {
  calculations: number;
  /** Over how many sessions the calculations are spread. */
  sessions: number;
  rounds: number;
}

export const DEFAULT_RESTART_OPTIONS: RestartOptions = { calculations: 100_000, sessions: 1_000, rounds: 3 };

export function parseRestartOptions(argv: readonly string[]): RestartOptions {
  const { values } = parseArgs({ args: [...argv], options: { calculations: { type: 'string' }, 'restart-rounds': { type: 'string' } }, strict: false });
  const number = (v: unknown, fallback: number): number => (typeof v === 'string' && Number(v) > 0 ? Math.floor(Number(v)) : fallback);
  return {
    ...DEFAULT_RESTART_OPTIONS,
    calculations: number(values.calculations, DEFAULT_RESTART_OPTIONS.calculations),
    rounds: number(values['restart-rounds'], DEFAULT_RESTART_OPTIONS.rounds),
  };
}

interface Start {
  ms: number;
  rssKiB: number;
}

async function timedStart(calculations: number, sessions: number, progress: (line: string) => void): Promise<Start> {
  const dir = temporaryDataDir();
  try {
    let seeded = 0;
    const perSession = Math.ceil(calculations / sessions);
    while (seeded < calculations) {
      const n = Math.min(perSession, calculations - seeded);
      await seedState(dir.dataDir, n);
      seeded += n;
    }
  } catch (error) {
    dir.remove();
    throw error;
  }
  const started = performance.now();
  const server = await startOwletServer({ name: `Owlet (${calculations} calculations)`, dataDir: dir });
  const elapsed = performance.now() - started;
  try {
    const rssKiB = processMemory(server.pid)?.rssKiB ?? 0;
    progress(`  ${count(calculations)} calculations stored: ready in ${ms(elapsed)}, RSS ${mib(rssKiB)}`);
    return { ms: elapsed, rssKiB };
  } finally {
    await server.stop();
  }
}

export async function restart(options: RestartOptions = DEFAULT_RESTART_OPTIONS, progress: (line: string) => void = console.log): Promise<BenchResult> {
  const full: Start[] = [];
  const empty: Start[] = [];
  for (let round = 0; round < options.rounds; round++) {
    empty.push(await timedStart(0, 1, progress));
    full.push(await timedStart(options.calculations, options.sessions, progress));
  }
  const fullMs = distribution(full.map((s) => s.ms));
  const emptyMs = distribution(empty.map((s) => s.ms));
  const fullRss = Math.max(...full.map((s) => s.rssKiB));
  const emptyRss = Math.max(...empty.map((s) => s.rssKiB));
  const rows: Row[] = [
    {
      figure: `start to ready with ${count(options.calculations)} stored calculations (median of ${options.rounds})`,
      owlet: `${ms(fullMs.p50)} (${(fullMs.p50 / emptyMs.p50).toFixed(2)}x the empty start)`,
      baseline: `${ms(emptyMs.p50)} on an empty data directory`,
    },
    { figure: 'server RSS when ready, with that history', owlet: mib(fullRss), baseline: `${mib(emptyRss)} empty` },
  ];
  const result = { benchmark: NAME, date: new Date().toISOString(), machine: machine(), options, full, empty, rows };
  return { ...result, file: saveJson(NAME, result) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runMain(() => restart(parseRestartOptions(process.argv.slice(2))));
}
