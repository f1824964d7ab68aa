// A throwaway PostgreSQL server for a test: a new cluster (initdb) in a temporary directory, listening on a
// free loopback port with its socket in that directory, trusting local connections, tuned for speed over
// durability. `make test` installs the server from Debian's packages (scripts/install-postgres.sh).
//
// PostgreSQL refuses to run as root, and CI runs the tests as root: then the cluster belongs to the `postgres`
// user the Debian package creates, and the programs run as that user through setpriv. setpriv changes user and
// execs in place (runuser and su stay in between as a parent), so the process we spawn is the postmaster itself
// and stopping it by its pid reaches it. setpriv also sets a parent-death signal: should the test process die
// without stopping the server, the server gets SIGINT and shuts down rather than outliving it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);

const INSTALL_HINT = 'run `bash scripts/install-postgres.sh` as root (`make test` does) to install it from Debian\'s packages';
const DEBIAN_ROOT = '/usr/lib/postgresql';
/** The superuser initdb creates; every database of the throwaway server is reached as this role. */
const ROLE = 'owlet';

/** The directory of the newest PostgreSQL in Debian's layout, /usr/lib/postgresql/<major>/bin. */
function serverBinaries(): string {
  const majors = existsSync(DEBIAN_ROOT) ? readdirSync(DEBIAN_ROOT).filter((name) => /^\d+$/.test(name)) : [];
  majors.sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = join(DEBIAN_ROOT, major, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
  }
  throw new Error(`PostgreSQL is not installed (no initdb and postgres under ${DEBIAN_ROOT}/*/bin): ${INSTALL_HINT}`);
}

/** The command prefix that runs a server program as a user PostgreSQL accepts, and the owner its files need. */
async function serverUser(): Promise<{ prefix: string[]; owner?: { uid: number; gid: number } }> {
  const deathSignal = '--pdeathsig=SIGINT';
  if (process.getuid?.() !== 0) return { prefix: ['setpriv', deathSignal, '--'] };
  let uid: number;
  let gid: number;
  try {
    uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  } catch {
    throw new Error(`running as root, the tests start PostgreSQL as the postgres user, and there is none: ${INSTALL_HINT}`);
  }
  return { prefix: ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', deathSignal, '--'], owner: { uid, gid } };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, 'close');
  return port;
}

/** Output kept for error messages: the end of what the server wrote, not all of it. */
const KEEP_OUTPUT = 16_384;

export class ThrowawayPostgres {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly dir: string,
    private readonly server: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<ThrowawayPostgres> {
    const bin = serverBinaries();
    const { prefix, owner } = await serverUser();
    const dir = mkdtempSync(join(tmpdir(), 'owlet-pg-'));
    try {
      if (owner) chownSync(dir, owner.uid, owner.gid);
      const data = join(dir, 'data');
      const initdb = [join(bin, 'initdb'), '-D', data, '--auth=trust', `--username=${ROLE}`, '--encoding=UTF8', '--locale=C', '--no-sync'];
      try {
        // The working directory is the cluster's: the server user may not be allowed into the test's.
        await run(prefix[0]!, [...prefix.slice(1), ...initdb], { cwd: dir });
      } catch (error) {
        throw new Error(`initdb failed: ${(error as { stderr?: string }).stderr || String(error)}`);
      }
      // Another process can take the free port between the probe and the server's bind; a new port then.
      for (let attempt = 1; ; attempt++) {
        const port = await freePort();
        try {
          return await ThrowawayPostgres.launch(prefix, bin, dir, data, port);
        } catch (error) {
          if (attempt === 3 || !(error instanceof PortTakenError)) throw error;
        }
      }
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  private static async launch(prefix: string[], bin: string, dir: string, data: string, port: number): Promise<ThrowawayPostgres> {
    const settings = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dir,
      // A test's data need not survive a crash of the machine.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
    };
    const args = ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
    const server = spawn(prefix[0]!, [...prefix.slice(1), join(bin, 'postgres'), ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    // Read to the end, not only until ready: a server whose log pipe is full stops to wait for it.
    server.stderr!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-KEEP_OUTPUT);
    });
    const instance = new ThrowawayPostgres(dir, server, port);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`PostgreSQL was not ready within 30 s:\n${output}`));
      }, 30_000);
      const onData = () => {
        // initdb --locale=C makes the server's messages English, so this line can be waited for.
        if (output.includes('database system is ready to accept connections')) {
          clearTimeout(timer);
          server.stderr!.off('data', onData);
          server.off('close', onExit);
          resolve();
        }
      };
      // `close`, not `exit`: it comes once the log pipe is read to its end, so the message has the reason.
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(timer);
        server.stderr!.off('data', onData);
        const message = `PostgreSQL exited with ${signal ?? code} before it was ready:\n${output}`;
        reject(/could not bind .*Address already in use/.test(output) ? new PortTakenError(message) : new Error(message));
      };
      server.stderr!.on('data', onData);
      server.once('close', onExit);
    }).catch(async (error: unknown) => {
      await instance.stopServer();
      throw error;
    });
    return instance;
  }

  /** A URL for `database` on this server, as the store takes it; with `schema`, for that schema in it. */
  url(database: string, schema?: string): string {
    const url = `postgres://${ROLE}@127.0.0.1:${this.port}/${database}`;
    return schema === undefined ? url : `${url}?options=${encodeURIComponent(`-c search_path=${plainName(schema)}`)}`;
  }

  /** Creates an empty database and returns its URL. */
  async createDatabase(name: string, settings = ''): Promise<string> {
    await this.query(this.url('postgres'), `CREATE DATABASE ${plainName(name)} ${settings}`);
    return this.url(name);
  }

  /**
   * Creates an empty schema in `database` and returns the URL of a connection that works in it. A schema is what
   * a test case gets to itself: a schema takes milliseconds to create, a database hundreds of them.
   */
  async createSchema(database: string, name: string): Promise<string> {
    await this.query(this.url(database), `CREATE SCHEMA ${plainName(name)}`);
    return this.url(database, name);
  }

  /** Runs one statement at `url` over a connection of its own, past any store. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** Stops the server and removes its directory. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.stopServer().finally(() => rmSync(this.dir, { recursive: true, force: true }));
    return this.stopping;
  }

  private async stopServer(): Promise<void> {
    const { server } = this;
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = once(server, 'exit');
    // SIGINT is PostgreSQL's fast shutdown: it ends open connections rather than waiting for their clients, so
    // a store a failed test left open cannot hold the server up.
    signal(server.pid!, 'SIGINT');
    const timer = setTimeout(() => signal(server.pid!, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

class PortTakenError extends Error {}

/** An identifier cannot be a query parameter; the tests' names are plain words, and this makes sure of it. */
function plainName(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain name: ${name}`);
  return name;
}

/** Sends a signal to a process that may have exited meanwhile. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
