// An Owlet server for a benchmark: `node dist/src/cli/main.js server` in a child process, on 127.0.0.1 and a
// free port, on a fresh temporary data directory of its own, with a known key pair; and an AWS SDK client
// of it. Stopping it also stops any session runner it left behind (found under its data directory) and
// removes the directory, including when the benchmark is interrupted.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AthenaClient, type AthenaClientConfig } from '@aws-sdk/client-athena';
import { killRunnersUnder, runnersUnder } from './proc.js';
import { onInterrupt, type ServerProcess, startServerProcess } from './processes.js';
import { DEFAULT_SPARK_RUNTIME } from '../src/engine/runtimes.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const OWLET_MAIN = join(ROOT, 'dist/src/cli/main.js');
// The default engine's PySpark (src/engine/runtimes.ts), for the bare-Spark baseline.
export const PYTHON = join(ROOT, '.runtimes', DEFAULT_SPARK_RUNTIME.id, 'venv/bin/python');
export const RESULTS_DIR = join(ROOT, 'bench/results');

export const CREDENTIALS = { accessKeyId: 'AKIDOWLETBENCH000001', secretAccessKey: 'owlet-bench-secret-key-000000000000000000' };
export const REGION = 'us-east-1';
export const SPARK_WORKGROUP = 'spark';

/**
 * The environment of a benchmark's child processes: this one's, without any OWLET_* setting of the
 * developer's (which could move the server off 127.0.0.1 or change its log level), with the key pair.
 */
export function owletEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OWLET_')));
  return { ...env, OWLET_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, OWLET_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, ...extra };
}

/** A fresh temporary data directory, removed when the benchmark is interrupted; call the result to remove it. */
export function temporaryDataDir(): { dataDir: string; remove: () => void } {
  const dataDir = mkdtempSync(join(tmpdir(), 'owlet-bench-'));
  const removeNow = (): void => {
    killRunnersUnder(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const forget = onInterrupt(removeNow);
  return {
    dataDir,
    remove: () => {
      forget();
      removeNow();
    },
  };
}

export interface OwletServer {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly athena: AthenaClient;
  /** Lines the server logged at level error or fatal, to report. */
  readonly errors: string[];
  /** What the server logged at level warn, shortened to its message and error (`msg: err.message`). */
  readonly warnings: string[];
  /** Stops the server (which ends its sessions), then any runner left under its data directory. */
  stop(): Promise<void>;
}

export interface OwletServerOptions {
  name?: string;
  /**
   * Settings for the server, e.g. `OWLET_WARM_POOL_SIZE`. Unless given, the warm pool is off
   * (`OWLET_WARM_POOL_SIZE=0`): a pooled runner starting a JVM in the background would weigh on whatever
   * the benchmark measures.
   */
  env?: Record<string, string>;
  /** A data directory prepared beforehand (seeded); otherwise a fresh one. Removed by stop() either way. */
  dataDir?: { dataDir: string; remove: () => void };
  /** Every line the server logs (pino JSON, one object a line). */
  onLog?: (entry: Record<string, unknown>, line: string) => void;
  /** node options such as `--cpu-prof`, before the script. */
  nodeArgs?: readonly string[];
}

/** An Athena client of `url` with the benchmark's key pair, trying each call once; `config` adds SDK options. */
export function athenaClient(url: string, config: Partial<AthenaClientConfig> = {}): AthenaClient {
  return new AthenaClient({ endpoint: url, region: REGION, credentials: CREDENTIALS, maxAttempts: 1, ...config });
}

export async function startOwletServer(options: OwletServerOptions = {}): Promise<OwletServer> {
  const name = options.name ?? 'Owlet';
  const dir = options.dataDir ?? temporaryDataDir();
  const errors: string[] = [];
  const warnings: string[] = [];
  let server: ServerProcess;
  try {
    server = await startServerProcess({
      name,
      args: [...(options.nodeArgs ?? []), OWLET_MAIN, 'server', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir.dataDir],
      env: owletEnvironment({ OWLET_WARM_POOL_SIZE: '0', OWLET_TERMINATE_SESSIONS_ON_EXIT: 'true', ...options.env }),
      ready: /^Owlet is serving the Athena API at (http:\/\/127\.0\.0\.1:\d+)$/,
      // Sessions stop with the server; a runner gets up to 10 s to stop Spark before it is killed.
      stopGraceMs: 20_000,
      onLine: (line) => {
        if (!line.startsWith('{')) return;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (typeof entry.level === 'number' && entry.level >= 50) errors.push(line);
        else if (entry.level === 40) {
          const err = entry.err as { message?: unknown } | undefined;
          warnings.push(`${String(entry.msg)}${err?.message ? `: ${String(err.message)}` : ''}`);
        }
        options.onLog?.(entry, line);
      },
    });
  } catch (error) {
    dir.remove();
    throw error;
  }
  const athena = athenaClient(server.url);
  return {
    name,
    url: server.url,
    pid: server.pid,
    dataDir: dir.dataDir,
    athena,
    errors,
    warnings,
    async stop() {
      athena.destroy();
      try {
        await server.stop();
      } finally {
        if (runnersUnder(dir.dataDir).length > 0) {
          // The server stops its runners as it stops; one still here is stuck, or the server was killed.
          killRunnersUnder(dir.dataDir);
        }
        dir.remove();
      }
    },
  };
}

/**
 * The pid of a session's runner: `<data dir>/sessions/<session id>/runner.pid`, which the runner writes (a
 * session given a pooled runner has that path as a link to the pooled runner's directory).
 */
export function sessionRunnerPid(dataDir: string, sessionId: string): number | undefined {
  const file = join(dataDir, 'sessions', sessionId, 'runner.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
