// Reads a V8 CPU profile (`node --cpu-prof`, as the throughput benchmarks write with `--cpu-prof`) and prints
// where the busy time went: self time summed by source file and by function, in microseconds per request
// when the number of requests the profile covers is given.
//
//   node dist/bench/cpu-profile-summary.js <file.cpuprofile> [requests] [--top N]
//
// The format (nodes with a callFrame and a hitCount, `samples` and `timeDeltas` in microseconds) is the
// Chrome DevTools protocol's Profiler.Profile: https://chromedevtools.github.io/devtools-protocol/tot/Profiler/#type-Profile
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMicros: number;
  idleMicros: number;
  byFile: [string, number][];
  byFunction: [string, number][];
  /** Time with a frame of the file anywhere on the stack: what the file's code costs, callees included. */
  inclusiveByFile: [string, number][];
}

/** Where a frame's code lives, shortened to what a reader recognises: a package name or a file of Owlet's. */
function place(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  const dist = /\/dist\/(.*)$/.exec(url);
  return dist ? dist[1]! : basename(url);
}

export function summarize(profile: Profile): ProfileSummary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id);
  const inclusive = new Map<string, number>();
  const byFile = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = nodes.get(profile.samples[i]!);
    // A sample's time is the delta to the next one.
    const micros = profile.timeDeltas[i + 1] ?? 0;
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += micros;
      continue;
    }
    total += micros;
    const file = place(url, functionName);
    byFile.set(file, (byFile.get(file) ?? 0) + micros);
    const fn = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + micros);
    const onStack = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parents.get(id)) {
      const frame = nodes.get(id)!.callFrame;
      onStack.add(place(frame.url, frame.functionName));
    }
    for (const name of onStack) inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
  }
  const sorted = (m: Map<string, number>): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { totalMicros: total, idleMicros: idle, byFile: sorted(byFile), byFunction: sorted(byFunction), inclusiveByFile: sorted(inclusive) };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' } } });
  const file = positionals[0];
  if (!file) {
    console.error('usage: cpu-profile-summary <file.cpuprofile> [requests] [--top N]');
    process.exit(2);
  }
  const requests = Number(positionals[1] ?? '0');
  const top = Number(values.top ?? '25');
  const summary = summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const per = (micros: number): string =>
    requests > 0 ? `${(micros / requests).toFixed(1).padStart(7)} µs/req` : `${(micros / 1000).toFixed(0).padStart(7)} ms`;
  console.log(`busy ${per(summary.totalMicros)}, idle ${(summary.idleMicros / 1e6).toFixed(1)} s`);
  console.log('\nself time by file:');
  for (const [name, micros] of summary.byFile.slice(0, top)) console.log(`  ${per(micros)}  ${name}`);
  console.log('\ntime by file, callees included:');
  for (const [name, micros] of summary.inclusiveByFile.slice(0, top)) console.log(`  ${per(micros)}  ${name}`);
  console.log('\nself time by function:');
  for (const [name, micros] of summary.byFunction.slice(0, top)) console.log(`  ${per(micros)}  ${name}`);
}

main();
