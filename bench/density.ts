// Density: how many IDLE sessions one machine holds, and what `1+1` costs at that density. One Owlet server
// (warm pool off) starts sessions one after the other until the next would not fit, then runs `1+1` on each
// session in turn, several rounds, polling every 10 ms as calculation-round-trip does.
//
//   node dist/bench/density.js [--max-sessions 20] [--min-free-gib 4] [--density-rounds 3]
//
// "Would not fit": the machine's MemAvailable (/proc/meminfo) is under --min-free-gib, or --max-sessions are
// running. On a shared development machine both caps are there so that other people's work keeps room; the
// report says which cap stopped it. The server gets DPU capacity for all of them (2 DPUs a session).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runCalculation, startSessionToIdle } from './athena.js';
import { sessionRunnerPid, startOwletServer } from './owlet-server.js';
import { groupMemory } from './proc.js';
import { type BenchResult, distribution, type Distribution, machine, mib, p50p95, runMain, saveJson } from './report.js';

export const NAME = 'density';

export interface DensityOptions {
  maxSessions: number;
  minFreeGiB: number;
  rounds: number;
}

export const DEFAULT_DENSITY_OPTIONS: DensityOptions = { maxSessions: 20, minFreeGiB: 4, rounds: 3 };

export interface DensityResult extends BenchResult {
  options: DensityOptions;
  machine: ReturnType<typeof machine>;
  sessions: number;
  stoppedBy: string;
  /** StartSession → IDLE of each session, in the order they started. */
  startMs: number[];
  /** RSS of each session's process group (runner and JVM), KiB, once all were started. */
  sessionRssKiB: number[];
  availableGiBAtEnd: number;
  roundTrip: Distribution;
}

function availableGiB(): number {
  const line = readFileSync('/proc/meminfo', 'utf8').split('\n').find((l) => l.startsWith('MemAvailable:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 2 ** 20;
}

export async function density(options: Partial<DensityOptions> = {}): Promise<DensityResult> {
  const opts = { ...DEFAULT_DENSITY_OPTIONS, ...options };
  const server = await startOwletServer({ name: 'Owlet', env: { OWLET_DPU_CAPACITY: String(opts.maxSessions * 2 + 4) } });
  try {
    const sessions: string[] = [];
    const startMs: number[] = [];
    let stoppedBy = `--max-sessions ${opts.maxSessions}`;
    while (sessions.length < opts.maxSessions) {
      const free = availableGiB();
      if (free < opts.minFreeGiB) {
        stoppedBy = `MemAvailable ${free.toFixed(1)} GiB < --min-free-gib ${opts.minFreeGiB}`;
        break;
      }
      const started = await startSessionToIdle(server.athena, 600_000);
      sessions.push(started.sessionId);
      startMs.push(started.ms);
      console.log(`  session ${sessions.length} IDLE after ${(started.ms / 1000).toFixed(1)} s; MemAvailable ${availableGiB().toFixed(1)} GiB`);
    }
    const sessionRssKiB = sessions.map((id) => {
      const pid = sessionRunnerPid(server.dataDir, id);
      return pid === undefined ? 0 : groupMemory(pid).rssKiB;
    });
    const samples: number[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      for (const id of sessions) {
        const run = await runCalculation(server.athena, id, '1+1');
        if (run.state !== 'COMPLETED') throw new Error(`1+1 on session ${id} ended ${run.state}: ${run.reason ?? ''}`);
        samples.push(run.ms);
      }
    }
    const roundTrip = distribution(samples);
    const m = machine();
    const row = {
      figure: `density: IDLE sessions started, then \`1+1\` on each in turn`,
      owlet: `${sessions.length} sessions (stopped by ${stoppedBy}); \`1+1\` ${p50p95(roundTrip)}`,
      baseline: `session RSS p50 ${mib(distribution(sessionRssKiB).p50)}; MemAvailable at the end ${availableGiB().toFixed(1)} GiB of ${m.memoryGiB}`,
    };
    const result: DensityResult = {
      benchmark: NAME,
      date: new Date().toISOString(),
      options: opts,
      machine: m,
      sessions: sessions.length,
      stoppedBy,
      startMs,
      sessionRssKiB,
      availableGiBAtEnd: availableGiB(),
      roundTrip,
      rows: [row],
    };
    result.file = saveJson(NAME, result);
    return result;
  } finally {
    await server.stop();
  }
}

export function parseDensityOptions(argv: readonly string[]): Partial<DensityOptions> {
  const { values } = parseArgs({
    args: [...argv],
    options: { 'max-sessions': { type: 'string' }, 'min-free-gib': { type: 'string' }, 'density-rounds': { type: 'string' } },
    strict: false,
  });
  const options: Partial<DensityOptions> = {};
  if (typeof values['max-sessions'] === 'string') options.maxSessions = Number(values['max-sessions']);
  if (typeof values['min-free-gib'] === 'string') options.minFreeGiB = Number(values['min-free-gib']);
  if (typeof values['density-rounds'] === 'string') options.rounds = Number(values['density-rounds']);
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => density(parseDensityOptions(process.argv.slice(2))));
}
