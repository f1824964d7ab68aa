// Records written into a server's state file before the server starts, with the store the server itself
// uses (src/store/sqlite-state-store.ts), so that a benchmark can have a server hold 10,000 calculations
// without running 10,000 calculations on Spark. The records have the shape the session manager writes for
// a terminated session and its completed calculations (src/sessions/records.ts).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { CalculationRecord, SessionRecord } from '../src/sessions/records.js';
import { SqliteStateStore } from '../src/store/sqlite-state-store.js';
import { SPARK_WORKGROUP } from './owlet-server.js';

export interface SeededState {
  sessionId: string;
  /** Oldest first. */
  calculationIds: string[];
  /** How long writing them took. */
  ms: number;
}

const OUTPUT = 's3://owlet-results/spark/';

/**
 * A TERMINATED session (so that the server, recovering live sessions at start, leaves it be) with
 * `calculations` COMPLETED calculations, each created a millisecond after the one before.
 */
export async function seedState(dataDir: string, calculations: number, code = 'spark.range(1000).count()'): Promise<SeededState> {
  const started = performance.now();
  const store = new SqliteStateStore({ path: join(dataDir, 'state.sqlite') });
  try {
    const sessionId = randomUUID();
    const base = Date.now() - calculations - 60_000;
    const session: SessionRecord = {
      SessionId: sessionId,
      WorkGroup: SPARK_WORKGROUP,
      EngineVersion: 'PySpark engine version 3',
      EngineConfiguration: { MaxConcurrentDpus: 2 },
      ExecutionRole: 'arn:aws:iam::000000000000:role/OwletSparkExecutionRole',
      WorkingDirectory: `${OUTPUT}${sessionId}/`,
      IdleTimeoutMinutes: 20,
      Dpus: 1,
      Status: {
        State: 'TERMINATED',
        StateChangeReason: 'Session was terminated per request.',
        StartDateTime: base - 30_000,
        LastModifiedDateTime: base + calculations + 1000,
        EndDateTime: base + calculations + 1000,
      },
      DpuExecutionInMillis: calculations * 40,
    };
    await store.create<SessionRecord>({ kind: 'session', id: sessionId, parent: SPARK_WORKGROUP, state: 'TERMINATED', createdAt: base - 30_000, body: session });
    const calculationIds: string[] = [];
    for (let i = 0; i < calculations; i++) {
      const id = randomUUID();
      const folder = `${session.WorkingDirectory}${id}/`;
      const submitted = base + i;
      const body: CalculationRecord = {
        CalculationExecutionId: id,
        SessionId: sessionId,
        CodeBlock: code,
        WorkingDirectory: folder,
        Status: { State: 'COMPLETED', SubmissionDateTime: submitted, CompletionDateTime: submitted + 40 },
        DpuExecutionInMillis: 38,
        Progress: '100% (2/2 tasks)',
        Result: {
          StdOutS3Uri: `${folder}stdout.txt`,
          StdErrorS3Uri: `${folder}stderr.txt`,
          ResultS3Uri: `${folder}result.json`,
          ResultType: 'application/vnd.aws.athena.v1+json',
        },
      };
      await store.create<CalculationRecord>({ kind: 'calculation', id, parent: sessionId, state: 'COMPLETED', createdAt: submitted, body });
      calculationIds.push(id);
    }
    return { sessionId, calculationIds, ms: performance.now() - started };
  } finally {
    await store.close();
  }
}
