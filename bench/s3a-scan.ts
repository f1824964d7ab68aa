// A Spark aggregation over about 1 GiB of parquet through `s3://` (S3A on Owlet's own store) against the same
// files through `file://`, in the same session and the same run (issue 13, part 4; target: within 1.25x).
// The session writes the files to a local folder once; the benchmark uploads them to the store with the
// JavaScript SDK; then the two scans alternate, each timed inside the calculation (Spark's work only, not the
// calculation's round trip), and each figure is the median of --scan-rounds.
//
//   node dist/bench/s3a-scan.js [--scan-gib N] [--scan-rounds N]
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GetCalculationExecutionCommand } from '@aws-sdk/client-athena';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runCalculation, startSessionToIdle } from './athena.js';
import { CREDENTIALS, REGION, startOwletServer } from './owlet-server.js';
import { type BenchResult, machine, median, type Row, runMain, saveJson } from './report.js';

export const NAME = 's3a-scan';

export interface ScanOptions {
  gib: number;
  rounds: number;
}

export function parseScanOptions(argv: readonly string[]): ScanOptions {
  const { values } = parseArgs({ args: [...argv], options: { 'scan-gib': { type: 'string' }, 'scan-rounds': { type: 'string' } }, strict: false });
  const number = (v: unknown, fallback: number): number => (typeof v === 'string' && Number(v) > 0 ? Number(v) : fallback);
  return { gib: number(values['scan-gib'], 1), rounds: Math.floor(number(values['scan-rounds'], 3)) };
}

const BUCKET = 'bench-scan';
// A row is an int key, a double and a 128-character hex digest (which parquet's encodings barely shrink):
// about 140 bytes on disk.
const ROWS_PER_GIB = 7_500_000;
/** Writing and uploading a GiB on a loaded 2-core machine takes minutes; a deadline, not a measure. */
const CALCULATION_TIMEOUT_MS = 30 * 60_000;

/** The aggregation timed, over `path`: every byte of the digest column is read. */
function scanCode(path: string): string {
  return [
    'import time, json',
    'from pyspark.sql import functions as F',
    'started = time.perf_counter()',
    `rows = spark.read.parquet(${JSON.stringify(path)}).groupBy("k").agg(F.count("*").alias("n"), F.sum("v").alias("v"), F.sum(F.length("digest")).alias("chars")).collect()`,
    'print(json.dumps({"seconds": time.perf_counter() - started, "rows": sum(r.n for r in rows)}))',
  ].join('\n');
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f));
}

export async function s3aScan(options: ScanOptions): Promise<BenchResult> {
  const server = await startOwletServer({ name: 'Owlet' });
  const s3 = new S3Client({ endpoint: server.url, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  const local = join(server.dataDir, 'bench-scan-files');
  try {
    const { sessionId } = await startSessionToIdle(server.athena);
    const stdout = async (calculationId: string): Promise<string> => {
      const calc = await server.athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: calculationId }));
      const [, bucket, key] = /^s3:\/\/([^/]+)\/(.*)$/.exec(calc.Result!.StdOutS3Uri!)!;
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await out.Body!.transformToString()).trim();
    };
    const run = async (code: string): Promise<string> => {
      const result = await runCalculation(server.athena, sessionId, code, 200, CALCULATION_TIMEOUT_MS);
      if (result.state !== 'COMPLETED') throw new Error(`the calculation ended ${result.state}: ${result.reason ?? ''}`);
      return stdout(result.calculationId);
    };
    const rows = Math.round(options.gib * ROWS_PER_GIB);
    console.log(`writing ${rows.toLocaleString('en-US')} rows of parquet to a local folder`);
    await run(
      `spark.range(0, ${rows}, numPartitions=8).selectExpr("cast(id % 100 as int) AS k", "rand(7) AS v", "sha2(cast(id as string), 512) AS digest").write.mode("overwrite").parquet(${JSON.stringify(`file://${local}`)})`,
    );
    const files = await filesUnder(local);
    let bytes = 0;
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    console.log(`uploading ${files.length} files to s3://${BUCKET}/table/`);
    for (const file of files) {
      bytes += (await stat(file)).size;
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `table/${file.split('/').at(-1)}`, Body: await readFile(file) }));
    }
    const samples: { file: number[]; s3: number[] } = { file: [], s3: [] };
    // One unmeasured scan of each warms the JVM's classes (S3A's and the SDK's load on first use).
    for (let round = -1; round < options.rounds; round++) {
      for (const [name, path] of [['file', `file://${local}`], ['s3', `s3://${BUCKET}/table`]] as const) {
        const measured = JSON.parse((await run(scanCode(path))).split('\n').at(-1)!) as { seconds: number; rows: number };
        if (measured.rows !== rows) throw new Error(`the ${name} scan counted ${measured.rows} rows, not ${rows}`);
        if (round >= 0) samples[name].push(measured.seconds);
        console.log(`  ${round < 0 ? 'warm-up' : `round ${round + 1}`}: ${name}:// ${measured.seconds.toFixed(2)} s`);
      }
    }
    const fileSeconds = median(samples.file);
    const s3Seconds = median(samples.s3);
    const ratio = s3Seconds / fileSeconds;
    const gib = bytes / 2 ** 30;
    const rowsOut: Row[] = [
      {
        figure: `Spark aggregation over ${gib.toFixed(2)} GiB of parquet (${files.length} files), s3:// vs file://`,
        owlet: `${s3Seconds.toFixed(2)} s (${(gib / s3Seconds * 1024).toFixed(0)} MiB/s), ${ratio.toFixed(2)}x`,
        baseline: `${fileSeconds.toFixed(2)} s (${(gib / fileSeconds * 1024).toFixed(0)} MiB/s)`,
        target: { text: 's3:// within 1.25x of file://', met: ratio <= 1.25 },
      },
    ];
    const result = { benchmark: NAME, date: new Date().toISOString(), machine: machine(), rows: rowsOut };
    const file = saveJson(NAME, { ...result, options, bytes, files: files.length, samples });
    return { ...result, file };
  } finally {
    s3.destroy();
    await rm(local, { recursive: true, force: true });
    await server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runMain(() => s3aScan(parseScanOptions(process.argv.slice(2))));
