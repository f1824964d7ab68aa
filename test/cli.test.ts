// `bin/owlet` as a user runs it: a real process, stopped by its process id.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AthenaClient, ListWorkGroupsCommand } from '@aws-sdk/client-athena';
import { projectRoot } from '../src/config/paths.js';

const owletBin = join(projectRoot, 'bin', 'owlet');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'owlet-cli-'));
  dirs.push(d);
  return d;
}

interface Started {
  child: ChildProcess;
  output: string;
  endpoint: string;
}

/** Starts `owlet server` and waits for its banner. */
async function startServer(dir: string, env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const child = spawn(owletBin, ['server', '--port', '0', '--data-dir', dir], {
    // No runner ahead of time: these tests are about the command, not sessions.
    env: { ...process.env, OWLET_ACCESS_KEY_ID: '', OWLET_SECRET_ACCESS_KEY: '', OWLET_WARM_POOL_SIZE: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const endpoint = await new Promise<string>((resolve, reject) => {
    // A deadline for a stuck start, generous for a machine loaded by other suites.
    const timer = setTimeout(() => reject(new Error(`no banner in time: ${output}`)), 180_000);
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /serving the Athena API at (http:\/\/\S+)/.exec(output);
      if (m && output.includes('Try it:')) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`owlet exited with ${code}: ${output}`));
    });
  });
  return { child, output, endpoint };
}

/** Sends `signal` to the server by its pid and waits for it to exit; SIGKILL if it does not. */
async function stopServer(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  process.kill(child.pid!, signal);
  const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

const credentialOf = (output: string, label: string): string => new RegExp(`${label}:\\s+(\\S+)`).exec(output)?.[1] ?? '';

describe('bin/owlet', () => {
  it('prints help for every command', async () => {
    const run = promisify(execFile);
    const top = await run(owletBin, ['--help']);
    assert.match(top.stdout, /server/);
    const server = await run(owletBin, ['server', '--help']);
    for (const option of ['--host', '--port', '--data-dir', 'OWLET_ACCESS_KEY_ID']) assert.match(server.stdout, new RegExp(option));
  });

  it('refuses a bad option with a clear message', async () => {
    const error = await promisify(execFile)(owletBin, ['server', '--port', 'lots']).catch((e: { code: number; stderr: string }) => e);
    assert.ok('code' in error && error.code !== 0);
    assert.match(String(error.stderr), /port is a whole number/);
  });

  it('refuses a setting from the environment that is not a number, naming it', async () => {
    const error = await promisify(execFile)(owletBin, ['server', '--port', '0', '--data-dir', dataDir()], {
      env: { ...process.env, OWLET_DPU_CAPACITY: 'lots' },
    }).catch((e: { code: number; stderr: string }) => e);
    assert.ok('code' in error && error.code !== 0);
    assert.match(String(error.stderr), /OWLET_DPU_CAPACITY must be a whole number from 1 to \d+, not 'lots'/);
  });

  it('generates a key pair for a fresh data directory, keeps it, and stops on SIGTERM and SIGINT', async () => {
    const dir = dataDir();
    const first = await startServer(dir);
    const id = credentialOf(first.output, 'access key id');
    const secret = credentialOf(first.output, 'secret access key');
    assert.match(id, /^[A-Z0-9]{20}$/);
    assert.equal(secret.length, 40);
    assert.equal(statSync(join(dir, 'credentials.json')).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')), { accessKeyId: id, secretAccessKey: secret });

    const client = new AthenaClient({ endpoint: first.endpoint, region: 'eu-west-1', credentials: { accessKeyId: id, secretAccessKey: secret } });
    const names = (await client.send(new ListWorkGroupsCommand({}))).WorkGroups?.map((w) => w.Name);
    assert.deepEqual(names, ['primary', 'spark']);
    client.destroy();
    assert.equal(await stopServer(first.child, 'SIGTERM'), 0);

    const second = await startServer(dir);
    assert.equal(credentialOf(second.output, 'access key id'), id, 'the same pair after a restart');
    assert.equal(await stopServer(second.child, 'SIGINT'), 0);
  });

  it('accepts the key pair from OWLET_ACCESS_KEY_ID and OWLET_SECRET_ACCESS_KEY', async () => {
    const started = await startServer(dataDir(), { OWLET_ACCESS_KEY_ID: 'AKIDFROMENVIRONMENT1', OWLET_SECRET_ACCESS_KEY: 'env-secret' });
    try {
      assert.equal(credentialOf(started.output, 'access key id'), 'AKIDFROMENVIRONMENT1');
      const client = new AthenaClient({
        endpoint: started.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKIDFROMENVIRONMENT1', secretAccessKey: 'env-secret' },
      });
      assert.ok((await client.send(new ListWorkGroupsCommand({}))).WorkGroups);
      client.destroy();
    } finally {
      await stopServer(started.child);
    }
  });
});
