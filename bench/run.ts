// Every benchmark, one after the other (`make bench`). Options given here reach each benchmark that takes
// them, e.g. `node dist/bench/run.js --duration 10`.
import { getWorkGroupThroughput, parseOptions } from './getworkgroup-throughput.js';

try {
  await getWorkGroupThroughput(parseOptions(process.argv.slice(2)));
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
}
