// The worker thread the fuzzer's traffic runs in (traffic.ts). It answers each command of the test's thread
// with `{ id, result }`, or `{ id, error }` when the command failed.
import { parentPort, workerData } from 'node:worker_threads';
import { FuzzTraffic, type TrafficCommand } from './traffic.js';

const { endpoint, seed } = workerData as { endpoint: string; seed: number };
const traffic = new FuzzTraffic(endpoint, seed);
const port = parentPort!;

port.on('message', ({ id, command }: { id: number; command: TrafficCommand }) => {
  traffic.run(command).then(
    (result) => port.postMessage({ id, result }),
    (error: unknown) => port.postMessage({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
