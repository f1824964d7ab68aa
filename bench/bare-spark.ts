// The Spark baseline: bench/bare_spark.py, PySpark in a plain Python process of a Spark runtime's virtualenv
// (the default engine's unless told), leading a process group of its own (its Spark JVM is in it, so the group's memory is the baseline's
// memory, and stopping the group stops the JVM).
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PYTHON, ROOT } from './owlet-server.js';
import { type TrackedProcess, spawnTracked } from './processes.js';

const SCRIPT = join(ROOT, 'bench/bare_spark.py');

export interface BareSparkTimes {
  /** From just before the process was started to `getOrCreate()` returning, as seen here. */
  createdMs: number;
  /** From just before the process was started to the first `spark.range(1).count()` finishing. */
  countedMs: number;
}

export interface BareSpark {
  readonly pid: number;
  readonly times: BareSparkTimes;
  /** Sends one request (see bare_spark.py) and resolves with its answer. */
  request<T extends Record<string, unknown>>(request: Record<string, unknown>): Promise<T & { ms: number }>;
  /** Closes its stdin (it stops Spark and exits), then signals the group if it has not gone. */
  stop(): Promise<void>;
}

export async function startBareSpark(timeoutMs = 300_000, python = PYTHON): Promise<BareSpark> {
  const started = performance.now();
  const proc: TrackedProcess = spawnTracked(python, [SCRIPT], {
    group: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OWLET_'))),
      SPARK_LOCAL_IP: '127.0.0.1',
      PYSPARK_PYTHON: python,
      PYTHONUNBUFFERED: '1',
    },
  });
  let stderrTail = '';
  proc.child.stderr!.setEncoding('utf8');
  proc.child.stderr!.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4096);
  });
  const lines = createInterface({ input: proc.child.stdout! });
  const waiting: ((message: Record<string, unknown>) => void)[] = [];
  const queued: Record<string, unknown>[] = [];
  let failure: Error | undefined;
  const rejectors = new Set<(error: Error) => void>();
  lines.on('line', (line) => {
    const arrived = performance.now();
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    message.arrivedMs = arrived - started;
    const next = waiting.shift();
    if (next) next(message);
    else queued.push(message);
  });
  void proc.exited.then(() => {
    failure = new Error(`the bare PySpark process exited (code ${proc.child.exitCode}, signal ${proc.child.signalCode})\n${stderrTail.trim()}`);
    for (const reject of rejectors) reject(failure);
  });
  const next = (deadlineMs: number): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const queuedMessage = queued.shift();
      if (queuedMessage) return resolve(queuedMessage);
      const timer = setTimeout(() => {
        rejectors.delete(reject);
        reject(new Error(`the bare PySpark process did not answer within ${deadlineMs} ms\n${stderrTail.trim()}`));
      }, deadlineMs);
      rejectors.add(reject);
      waiting.push((message) => {
        clearTimeout(timer);
        rejectors.delete(reject);
        resolve(message);
      });
    });
  const stop = (): Promise<void> => proc.stop({ gently: () => proc.child.stdin!.end(), graceMs: 10_000 });
  try {
    const created = await next(timeoutMs);
    const counted = await next(timeoutMs);
    if (created.event !== 'created' || counted.event !== 'counted') throw new Error(`unexpected start: ${JSON.stringify([created, counted])}`);
    const times = { createdMs: Number(created.arrivedMs), countedMs: Number(counted.arrivedMs) };
    return {
      pid: proc.pid,
      times,
      async request<T extends Record<string, unknown>>(request: Record<string, unknown>): Promise<T & { ms: number }> {
        proc.child.stdin!.write(`${JSON.stringify(request)}\n`);
        const answer = await next(120_000);
        if (answer.ok !== true) throw new Error(`bare PySpark failed ${JSON.stringify(request)}: ${String(answer.error)}`);
        return answer as T & { ms: number };
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
