// What the benchmarks read about processes from Linux's /proc: CPU time, resident memory, process groups,
// and the session runners a server started under a given data directory.
import { readdirSync, readFileSync } from 'node:fs';

/** /proc counts CPU time in clock ticks of 10 ms (USER_HZ on Linux). */
const TICKS_PER_SECOND = 100;

/** The fields of /proc/<pid>/stat after the command name (which is in parentheses and may hold spaces). */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User plus system CPU time of a process so far, in microseconds (`/proc/<pid>/stat`, in clock ticks of 10 ms). */
export function cpuMicros(pid: number): number {
  const { user, system } = cpuMicrosSplit(pid);
  return user + system;
}

/**
 * A process's CPU time so far in microseconds, user and system (the kernel's work on its behalf: its system
 * calls, and the network processing they run, such as delivering a loopback write to the receiving socket).
 */
export function cpuMicrosSplit(pid: number): { user: number; system: number } {
  const fields = statFields(pid);
  if (!fields) throw new Error(`process ${pid} is gone`);
  return { user: (Number(fields[11]) * 1_000_000) / TICKS_PER_SECOND, system: (Number(fields[12]) * 1_000_000) / TICKS_PER_SECOND };
}

/**
 * CPU time, in microseconds, of the children this process has waited for, and of their own waited-for children
 * (`cutime` and `cstime` in `/proc/self/stat`, proc(5)): the cost of a `cat` or a `curl` run to its end.
 */
export function waitedChildrenCpuMicros(): number {
  const fields = statFields(process.pid);
  if (!fields) throw new Error('cannot read /proc/self/stat');
  return ((Number(fields[13]) + Number(fields[14])) * 1_000_000) / TICKS_PER_SECOND;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** The processes of a process group (a session runner and its Spark JVM and Python workers), alive now. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const pid of allPids()) {
    const fields = statFields(pid);
    // Field 3 of stat, the process group, is the third after the command name (state, ppid, pgrp).
    if (fields && Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(pid);
  }
  return members;
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/**
 * Session runners (`python -m owlet_runner --session-dir <dir>`) a server runs under `dataDir`: its sessions'
 * runners and its warm pool's. A benchmark's data directory is a fresh temporary one, so the match is exact.
 */
export function runnersUnder(dataDir: string): number[] {
  return allPids().filter((pid) => {
    const cmd = commandLine(pid);
    return cmd.includes('owlet_runner') && cmd.includes(dataDir);
  });
}

/** Kills whatever runners a server left running under `dataDir`, with their process groups (their JVMs). */
export function killRunnersUnder(dataDir: string): number {
  const pids = runnersUnder(dataDir);
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
  return pids.length;
}

export interface ProcessMemory {
  pid: number;
  /** The command's name (`python`, `java`). */
  name: string;
  rssKiB: number;
  /** Proportional set size: shared pages divided among the processes sharing them, so sums do not double-count. */
  pssKiB: number;
  /** The highest RSS the process has had. */
  peakRssKiB: number;
}

/** Memory of one process, from /proc/<pid>/status and /proc/<pid>/smaps_rollup; undefined when it is gone. */
export function processMemory(pid: number): ProcessMemory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (text: string, name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    let pssKiB = 0;
    try {
      pssKiB = field(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
    } catch {
      // Older kernels have no smaps_rollup; the PSS is then left at 0.
    }
    return {
      pid,
      name: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?',
      rssKiB: field(status, 'VmRSS'),
      pssKiB,
      peakRssKiB: field(status, 'VmHWM'),
    };
  } catch {
    return undefined;
  }
}

export interface GroupMemory {
  rssKiB: number;
  pssKiB: number;
  processes: ProcessMemory[];
}

/** Memory of every process of a process group, summed. */
export function groupMemory(pgid: number): GroupMemory {
  const processes = groupMembers(pgid)
    .map(processMemory)
    .filter((m): m is ProcessMemory => m !== undefined);
  return {
    rssKiB: processes.reduce((sum, p) => sum + p.rssKiB, 0),
    pssKiB: processes.reduce((sum, p) => sum + p.pssKiB, 0),
    processes,
  };
}

/** CPU time of a whole process group so far, in microseconds (processes that exited meanwhile are not counted). */
export function groupCpuMicros(pgid: number): number {
  let total = 0;
  for (const pid of groupMembers(pgid)) {
    try {
      total += cpuMicros(pid);
    } catch {
      // Exited in between.
    }
  }
  return total;
}
