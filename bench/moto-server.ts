// moto's standalone server (`moto_server`, from moto[server] in requirements.in), the Athena mock a user would
// otherwise pick, as a peer in the throughput benchmarks: the same signed requests, the same load generator.
// moto 5.2.5 serves Athena's workgroup and query operations but none of the Spark session and calculation
// ones (moto/athena/responses.py), so it takes part where the operation exists (GetWorkGroup).
//
// moto accepts any signature without verifying it unless its IAM authentication is switched on
// (INITIAL_NO_AUTH_ACTION_COUNT, http://docs.getmoto.org/en/latest/docs/iam.html); it runs as it starts by
// default, as a user would run it, so it does less per request than Owlet, which verifies every signature.
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CreateWorkGroupCommand } from '@aws-sdk/client-athena';
import { athenaClient, ROOT, SPARK_WORKGROUP } from './owlet-server.js';
import { spawnTracked } from './processes.js';

export const MOTO = 'moto_server';
const MOTO_SERVER = join(ROOT, '.venv/bin/moto_server');
/** moto starts in a second or two; a loaded machine gets a minute. */
const START_TIMEOUT_MS = 60_000;

export interface MotoServer {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** A port free at this moment on 127.0.0.1 (moto_server takes a port number, not 0). */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Starts moto_server on 127.0.0.1 and creates the Spark workgroup the benchmarks ask for in it. */
export async function startMotoServer(): Promise<MotoServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const tracked = spawnTracked(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const stop = (): Promise<void> => tracked.stop({ graceMs: 5_000 });
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await answers(url))) {
      if (tracked.child.exitCode !== null) throw new Error(`${MOTO} exited with code ${tracked.child.exitCode} before it served`);
      if (Date.now() > deadline) throw new Error(`${MOTO} did not answer at ${url} within ${START_TIMEOUT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const client = athenaClient(url);
    try {
      await client.send(
        new CreateWorkGroupCommand({ Name: SPARK_WORKGROUP, Configuration: { EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3' } } }),
      );
    } finally {
      client.destroy();
    }
    return { url, pid: tracked.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
