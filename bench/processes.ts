// Servers under test, each in a child process of its own so that none shares an event loop with the load
// generator or with the other, and the Python processes of the Spark baselines. Every child started here is
// stopped by its process id (a child started in a process group of its own, with the group it leads): when
// the benchmark is done, when it fails, and when this process is interrupted or exits.
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  /** The endpoint the server announced on its first line of output. */
  readonly url: string;
  /** Stops the process: SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Matches the server's first line of output; its first group is the endpoint. */
  ready: RegExp;
  /** Whether the child gets a stdin pipe, which it can watch to exit when this process dies. */
  stdinPipe?: boolean;
  timeoutMs?: number;
  /** Every later line of the server's output (its log), as it comes; by default they are dropped. */
  onLine?: (line: string) => void;
  /** How long stop() waits after SIGTERM before SIGKILL (5 s unless set). */
  stopGraceMs?: number;
}

interface Tracked {
  child: ChildProcess;
  /** Started as the leader of a process group of its own: signals go to the whole group. */
  group: boolean;
}

const live = new Set<Tracked>();
const cleanups = new Set<() => void>();
let handlersInstalled = false;

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function signalTracked(tracked: Tracked, signal: NodeJS.Signals): void {
  const pid = tracked.child.pid;
  if (pid === undefined) return;
  // A group leader's group is named by its pid; what it started (a Spark JVM) is in it and may outlive it.
  const targets = tracked.group ? [-pid, pid] : alive(tracked.child) ? [pid] : [];
  for (const target of targets) {
    try {
      process.kill(target, signal);
    } catch {
      // It exited in between.
    }
  }
}

function killAll(signal: NodeJS.Signals): void {
  for (const tracked of live) signalTracked(tracked, signal);
}

function runCleanups(): void {
  for (const cleanup of cleanups) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Best effort: the process is on its way out.
    }
  }
}

/**
 * Registers work (such as removing a temporary directory) to run if the benchmark is interrupted, after its
 * servers have stopped; returns the function that unregisters it once the benchmark has done it itself.
 */
export function onInterrupt(cleanup: () => void): () => void {
  installHandlers();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

async function interrupted(signal: NodeJS.Signals): Promise<never> {
  process.stderr.write(`\nbench: ${signal}, stopping the servers\n`);
  const exits = [...live].map(
    ({ child }) => new Promise((resolve) => (alive(child) ? child.once('exit', resolve) : resolve(null))),
  );
  killAll('SIGTERM');
  await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 3000))]);
  killAll('SIGKILL');
  runCleanups();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // On an uncaught error or process.exit the children would otherwise go on serving.
  process.on('exit', () => {
    killAll('SIGKILL');
    runCleanups();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void interrupted(signal));
}

export interface TrackedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /**
   * Stops the process: `gently` first if given (closing its stdin, say), else SIGTERM; then SIGTERM and at
   * last SIGKILL, to the group too when it leads one, each after `graceMs` without an exit.
   */
  stop(options?: { gently?: () => void; graceMs?: number }): Promise<void>;
}

/**
 * Starts any command as a tracked child. With `group`, the child leads a process group of its own (setsid),
 * so that what it starts (PySpark's JVM) is stopped with it and its memory can be summed over the group.
 */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions & { group?: boolean }): TrackedProcess {
  installHandlers();
  const { group = false, ...spawnOptions } = options;
  const child = spawn(command, args, { ...spawnOptions, detached: group });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const tracked: Tracked = { child, group };
  live.add(tracked);
  const exited = new Promise<void>((resolve) => {
    if (!alive(child)) resolve();
    else child.once('exit', () => resolve());
  });
  void exited.then(() => {
    // A group leader that has exited may leave members behind (a JVM still stopping): they are killed too.
    if (group) signalTracked(tracked, 'SIGKILL');
    live.delete(tracked);
  });
  const stop = async ({ gently, graceMs = 5000 }: { gently?: () => void; graceMs?: number } = {}): Promise<void> => {
    const steps: (() => void)[] = [
      gently ?? (() => signalTracked(tracked, 'SIGTERM')),
      ...(gently ? [() => signalTracked(tracked, 'SIGTERM')] : []),
      () => signalTracked(tracked, 'SIGKILL'),
    ];
    for (const step of steps) {
      if (!alive(child)) break;
      step();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    await exited;
  };
  return { child, pid: child.pid, exited, stop };
}

/** Starts a node script in a child process and waits for the line that says where it serves. */
export async function startServerProcess(options: StartOptions): Promise<ServerProcess> {
  const { child, pid, stop: stopTracked } = spawnTracked(process.execPath, options.args, {
    env: options.env,
    stdio: [options.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });

  // The last few KiB of stderr, to show when the server does not start or dies.
  let stderrTail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-8192);
  });

  const stop = (): Promise<void> => stopTracked({ graceMs: options.stopGraceMs ?? 5000 });

  try {
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      let first = true;
      const timer = setTimeout(
        () => reject(new Error(`${options.name} did not say where it serves within ${options.timeoutMs ?? 20_000} ms`)),
        options.timeoutMs ?? 20_000,
      );
      const onData = (chunk: string): void => {
        stdout += chunk;
        let newline: number;
        while ((newline = stdout.indexOf('\n')) >= 0) {
          const line = stdout.slice(0, newline);
          stdout = stdout.slice(newline + 1);
          if (first) {
            first = false;
            clearTimeout(timer);
            const match = options.ready.exec(line);
            if (match?.[1]) resolve(match[1]);
            else reject(new Error(`${options.name} started with an unexpected line: ${JSON.stringify(line)}`));
            if (!options.onLine) {
              // Whatever the server prints later (its log) is read and dropped, so that a full pipe never stalls it.
              child.stdout!.off('data', onData);
              child.stdout!.resume();
              return;
            }
          } else {
            options.onLine?.(line);
          }
        }
      };
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', onData);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited before it served (code ${code}, signal ${signal})`));
      });
    });
    return { name: options.name, pid, url, stop };
  } catch (error) {
    await stop();
    const detail = stderrTail.trim() ? `\n${options.name} stderr:\n${stderrTail.trim()}` : '';
    throw new Error(`${error instanceof Error ? error.message : String(error)}${detail}`, { cause: error });
  }
}
