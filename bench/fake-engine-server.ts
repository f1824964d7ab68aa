// An Owlet server on the fake engine (src/engine/fake-engine.ts), in a process of its own, for the load
// benchmark: the whole server (protocol, sessions, state store, result files) without Spark, so that its
// memory under many clients is the server's own. Settings come from the environment as for `owlet server`.
//
//   node dist/bench/fake-engine-server.js --data-dir DIR
//
// Prints `Owlet (fake engine) is serving the Athena API at http://127.0.0.1:PORT`, and stops on SIGTERM or
// when its standard input closes.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config.js';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { startOwlet } from '../src/server.js';

const { values } = parseArgs({ options: { 'data-dir': { type: 'string' } } });
if (!values['data-dir']) {
  console.error('fake-engine-server: --data-dir is needed');
  process.exit(2);
}
const engine = new FakeEngine();
const owlet = await startOwlet(loadConfig({ host: '127.0.0.1', port: 0, dataDir: values['data-dir'] }), { engine });
// The fake engine keeps every runner it started for tests to inspect; here only the live ones matter.
setInterval(() => engine.forgetStopped(), 1_000).unref();
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  owlet.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
console.log(`Owlet (fake engine) is serving the Athena API at ${owlet.endpoint}`);
