// What the benchmarks share to report: percentiles, the rows of the summary table (each Owlet figure beside
// its baseline, and the issue's target when there is one), the table, and the JSON files in bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { RESULTS_DIR } from './owlet-server.js';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile: the smallest sample with at least p% of the samples at or below it. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Distribution {
  n: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
  /** Every sample, in the order taken. */
  samples: number[];
}

export function distribution(samples: readonly number[]): Distribution {
  return {
    n: samples.length,
    p50: median(samples),
    p95: percentile(samples, 95),
    min: Math.min(...samples),
    max: Math.max(...samples),
    samples: [...samples],
  };
}

/** Milliseconds for people: `0.04 ms`, `12 ms`, `1.23 s`. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${Math.round(value)} ms`;
  if (value >= 1) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

export function p50p95(d: Distribution): string {
  return `p50 ${ms(d.p50)}, p95 ${ms(d.p95)} (n=${d.n})`;
}

export function mib(kib: number): string {
  return `${Math.round(kib / 1024)} MiB`;
}

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export interface Target {
  /** The issue's wording: `p50 < 300 ms`. */
  text: string;
  met: boolean;
  /** Where the profile of a missed target is, printed beside NOT MET: what the time goes to and what it would take. */
  whyMissed?: string;
}

/** One line of the summary table. */
export interface Row {
  figure: string;
  owlet: string;
  baseline: string;
  target?: Target;
}

export function formatTable(rows: readonly Row[]): string {
  const head = ['figure', 'Owlet', 'baseline (same run)', 'target'];
  const cells = rows.map((r) => [r.figure, r.owlet, r.baseline, r.target ? `${r.target.text}: ${r.target.met ? 'met' : `NOT MET${r.target.whyMissed ? ` (why: ${r.target.whyMissed})` : ''}`}` : '']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string => c.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** The machine a result was measured on. */
export function machine(): { node: string; cpus: number; cpuModel: string; memoryGiB: number; loadAverage: number[] } {
  return {
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    // 1, 5 and 15 minutes, when the figures were taken: how busy the (shared) machine was.
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function resultFile(name: string): string {
  return join(RESULTS_DIR, `${name}.json`);
}

export function saveJson(name: string, value: unknown): string {
  const file = resultFile(name);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

/** The result every benchmark module returns: its rows for the summary table and its figures in full. */
export interface BenchResult {
  benchmark: string;
  date: string;
  machine: ReturnType<typeof machine>;
  rows: Row[];
  /** Where the figures were written. */
  file?: string;
}

/** Runs a module's `main`: prints its table and where its JSON went; exits 1 on failure. */
export function runMain(run: () => Promise<BenchResult>): void {
  run().then(
    (result) => {
      console.log(`\n${formatTable(result.rows)}`);
      if (result.file) console.log(`figures written to ${result.file}`);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
