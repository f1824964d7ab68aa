// saveAsTable of a table with 1,000 partitions, then SHOW PARTITIONS on it: in a session on Owlet's catalog
// (Spark's Hive client over Owlet's Hive Metastore service and catalog store) beside a session of the same
// server with Spark's in-memory catalog (`spark.sql.catalogImplementation=in-memory`, which keeps the table in
// the session alone). Both run at once in the same server, so the machine's load weighs on both alike; each
// operation is timed inside the session, so the figure is the catalog's cost, not the API's.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCalculationExecutionCommand, GetSessionStatusCommand, StartSessionCommand } from '@aws-sdk/client-athena';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { poll, runCalculation, sessionPollInterval } from './athena.js';
import { type BenchResult, distribution, type Distribution, machine, p50p95, runMain, saveJson } from './report.js';
import { CREDENTIALS, REGION, SPARK_WORKGROUP, startOwletServer, type OwletServer } from './owlet-server.js';

export const NAME = 'catalog-partitions';

export interface CatalogPartitionsOptions {
  partitions: number;
  rounds: number;
}

export const DEFAULT_CATALOG_PARTITIONS_OPTIONS: CatalogPartitionsOptions = { partitions: 1000, rounds: 2 };

export function parseCatalogPartitionsOptions(argv: string[]): Partial<CatalogPartitionsOptions> {
  const { values } = parseArgs({ args: argv, strict: false, options: { 'catalog-partitions': { type: 'string' }, 'catalog-rounds': { type: 'string' } } });
  const options: Partial<CatalogPartitionsOptions> = {};
  if (typeof values['catalog-partitions'] === 'string') options.partitions = Number(values['catalog-partitions']);
  if (typeof values['catalog-rounds'] === 'string') options.rounds = Number(values['catalog-rounds']);
  return options;
}

const ROUND = (partitions: number, round: number) => `
import json, time
spark.sql("DROP TABLE IF EXISTS bench_parts_${round}")
df = spark.range(${partitions}).selectExpr("id", "id AS p")
t = time.perf_counter()
df.write.partitionBy("p").saveAsTable("bench_parts_${round}")
write = time.perf_counter() - t
t = time.perf_counter()
shown = spark.sql("SHOW PARTITIONS bench_parts_${round}").count()
show = time.perf_counter() - t
spark.sql("DROP TABLE bench_parts_${round}")
print(json.dumps({"write_ms": write * 1000, "show_ms": show * 1000, "shown": shown}))
`;

async function startSession(server: OwletServer, sparkProperties: Record<string, string>): Promise<string> {
  const sessionId = (await server.athena.send(
    new StartSessionCommand({ WorkGroup: SPARK_WORKGROUP, EngineConfiguration: { MaxConcurrentDpus: 2, SparkProperties: sparkProperties } }),
  )).SessionId!;
  await poll(
    async () => {
      const state = (await server.athena.send(new GetSessionStatusCommand({ SessionId: sessionId }))).Status?.State;
      if (state === 'IDLE') return true;
      if (state !== 'CREATING' && state !== 'CREATED') throw new Error(`session ${sessionId} is ${state}`);
      return undefined;
    },
    { intervalMs: sessionPollInterval, timeoutMs: 900_000, what: `session ${sessionId} to be IDLE` },
  );
  return sessionId;
}

async function timedRound(server: OwletServer, s3: S3Client, sessionId: string, code: string): Promise<{ write_ms: number; show_ms: number; shown: number }> {
  const run = await runCalculation(server.athena, sessionId, code, 100, 1_800_000);
  if (run.state !== 'COMPLETED') throw new Error(`the round ended ${run.state}: ${run.reason ?? ''}`);
  const calc = await server.athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: run.calculationId }));
  const uri = new URL(calc.Result!.StdOutS3Uri!);
  const object = await s3.send(new GetObjectCommand({ Bucket: uri.hostname, Key: uri.pathname.slice(1) }));
  const lines = (await object.Body!.transformToString()).trim().split('\n');
  return JSON.parse(lines.at(-1)!) as { write_ms: number; show_ms: number; shown: number };
}

export interface CatalogPartitionsResult extends BenchResult {
  options: CatalogPartitionsOptions;
  owlet: { write: Distribution; show: Distribution };
  inMemory: { write: Distribution; show: Distribution };
}

export async function catalogPartitions(options: Partial<CatalogPartitionsOptions> = {}): Promise<CatalogPartitionsResult> {
  const opts = { ...DEFAULT_CATALOG_PARTITIONS_OPTIONS, ...options };
  const server = await startOwletServer({ name: 'Owlet' });
  const s3 = new S3Client({ endpoint: server.url, region: REGION, credentials: CREDENTIALS, forcePathStyle: true, maxAttempts: 1 });
  try {
    const [owletSession, memorySession] = await Promise.all([
      startSession(server, {}),
      // Its tables go to the server's warehouse on the local disk, where `default`'s tables of the catalog session
      // go (docs/catalog.md), not to the workgroup's output location in the object store.
      startSession(server, { 'spark.sql.catalogImplementation': 'in-memory', 'spark.sql.warehouse.dir': `file:${join(server.dataDir, 'warehouse')}` }),
    ]);
    const figures = { owlet: { write: [] as number[], show: [] as number[] }, inMemory: { write: [] as number[], show: [] as number[] } };
    for (let round = 0; round < opts.rounds; round++) {
      // One after the other, alternating which goes first, so neither always runs on a warmer machine.
      const order = round % 2 === 0 ? (['owlet', 'inMemory'] as const) : (['inMemory', 'owlet'] as const);
      for (const which of order) {
        const got = await timedRound(server, s3, which === 'owlet' ? owletSession : memorySession, ROUND(opts.partitions, round));
        if (got.shown !== opts.partitions) throw new Error(`SHOW PARTITIONS listed ${got.shown} of ${opts.partitions}`);
        figures[which].write.push(got.write_ms);
        figures[which].show.push(got.show_ms);
      }
    }
    const owlet = { write: distribution(figures.owlet.write), show: distribution(figures.owlet.show) };
    const inMemory = { write: distribution(figures.inMemory.write), show: distribution(figures.inMemory.show) };
    const ratio = (a: Distribution, b: Distribution): string => `${(a.p50 / b.p50).toFixed(2)}×`;
    const result: CatalogPartitionsResult = {
      benchmark: NAME,
      date: new Date().toISOString(),
      machine: machine(),
      options: opts,
      owlet,
      inMemory,
      rows: [
        {
          figure: `saveAsTable, ${opts.partitions} partitions (Owlet's catalog vs in-memory)`,
          owlet: `${p50p95(owlet.write)}; ${ratio(owlet.write, inMemory.write)}`,
          baseline: p50p95(inMemory.write),
        },
        {
          figure: `SHOW PARTITIONS, ${opts.partitions} partitions (Owlet's catalog vs in-memory)`,
          owlet: `${p50p95(owlet.show)}; ${ratio(owlet.show, inMemory.show)}`,
          baseline: p50p95(inMemory.show),
        },
      ],
    };
    result.file = saveJson(NAME, result);
    return result;
  } finally {
    s3.destroy();
    await server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runMain(() => catalogPartitions(parseCatalogPartitionsOptions(process.argv.slice(2))));
}


