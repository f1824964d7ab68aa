// Servers under test, each in a child process of its own so that none shares an event loop with the load
// generator or with the other. Every child started here is stopped by its process id: when the benchmark
// is done, when it fails, and when this process is interrupted or exits.
import { type ChildProcess, spawn } from 'node:child_process';

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
}

const live = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
let handlersInstalled = false;

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function killAll(signal: NodeJS.Signals): void {
  for (const child of live) {
    if (child.pid !== undefined && alive(child)) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // It exited in between.
      }
    }
  }
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
  const exits = [...live].map((child) => new Promise((resolve) => (alive(child) ? child.once('exit', resolve) : resolve(null))));
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

/** Starts a node script in a child process and waits for the line that says where it serves. */
export async function startServerProcess(options: StartOptions): Promise<ServerProcess> {
  installHandlers();
  const child = spawn(process.execPath, options.args, {
    env: options.env,
    stdio: [options.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));

  // The last few KiB of stderr, to show when the server does not start or dies.
  let stderrTail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-8192);
  });

  const stop = async (): Promise<void> => {
    if (child.pid === undefined || !alive(child)) return;
    process.kill(child.pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (child.pid !== undefined && alive(child)) process.kill(child.pid, 'SIGKILL');
        resolve();
      }, 5000);
    });
    await Promise.race([exited, killed]);
    clearTimeout(timer);
    await exited;
  };

  try {
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(
        () => reject(new Error(`${options.name} did not say where it serves within ${options.timeoutMs ?? 20_000} ms`)),
        options.timeoutMs ?? 20_000,
      );
      const onData = (chunk: string): void => {
        stdout += chunk;
        const newline = stdout.indexOf('\n');
        if (newline < 0) return;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        const line = stdout.slice(0, newline);
        const match = options.ready.exec(line);
        if (match?.[1]) resolve(match[1]);
        else reject(new Error(`${options.name} started with an unexpected line: ${JSON.stringify(line)}`));
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
    // Whatever the server prints later (its log) is read and dropped, so that a full pipe never stalls it.
    child.stdout!.resume();
    return { name: options.name, pid: child.pid!, url, stop };
  } catch (error) {
    await stop();
    const detail = stderrTail.trim() ? `\n${options.name} stderr:\n${stderrTail.trim()}` : '';
    throw new Error(`${error instanceof Error ? error.message : String(error)}${detail}`, { cause: error });
  }
}
