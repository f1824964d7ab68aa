// The system calls a server makes per request under load, counted by `strace -c` attached to all of its
// threads (`-f -p`) while a load generator runs: how many socket writes each response takes (one `write` or
// `writev` when the headers and the body leave together), and how many reads and event-loop waits go with it.
// strace slows the traced process down many times over, so these runs count calls and measure nothing else.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SyscallCounts {
  requests: number;
  /** Calls of each system call over the whole run. */
  calls: Record<string, number>;
}

/** The calls that write to a socket, in any of the forms Node's libuv may use. */
export const WRITE_CALLS = ['write', 'writev', 'sendto', 'sendmsg', 'sendmmsg'] as const;
/** The calls that read from a socket. */
export const READ_CALLS = ['read', 'readv', 'recvfrom', 'recvmsg'] as const;

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * `strace -c` prints a table, one row a system call: `% time  seconds  usecs/call  calls  [errors]  syscall`
 * (https://man7.org/linux/man-pages/man1/strace.1.html); the errors column is empty where there were none.
 */
export function parseStraceSummary(text: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const cells = line.trim().split(/\s+/);
    if (cells.length < 5 || !/^\d+(\.\d+)?$/.test(cells[0]!)) continue;
    const name = cells[cells.length - 1]!;
    if (name === 'total') continue;
    calls[name] = Number(cells[3]);
  }
  return calls;
}

/** Attaches strace to every thread of `pid`, runs `load` (which resolves with the requests it made), and counts. */
export async function countSyscalls(pid: number, load: () => Promise<number>): Promise<SyscallCounts> {
  const output = join(tmpdir(), `owlet-strace-${process.pid}-${pid}.txt`);
  const strace = spawn('strace', ['-f', '-c', '-o', output, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  strace.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    // strace says so on stderr once it has attached to each thread.
    const deadline = Date.now() + 60_000;
    while (!/attached/i.test(stderr)) {
      if (strace.exitCode !== null) throw new Error(`strace could not attach to ${pid}: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`strace did not attach to ${pid} within a minute: ${stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const requests = await load();
    strace.kill('SIGINT');
    await exited(strace);
    return { requests, calls: parseStraceSummary(readFileSync(output, 'utf8')) };
  } finally {
    if (strace.exitCode === null && strace.signalCode === null) {
      strace.kill('SIGKILL');
      await exited(strace);
    }
    rmSync(output, { force: true });
  }
}

/** Calls of the named kinds per request. */
export function perRequest(counts: SyscallCounts, names: readonly string[]): number {
  return names.reduce((sum, name) => sum + (counts.calls[name] ?? 0), 0) / counts.requests;
}
