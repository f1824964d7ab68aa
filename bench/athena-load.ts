// Many concurrent Athena clients on one server, through the AWS SDK for JavaScript, as users' programs make
// their requests: each client starts a session (a full server refuses with TooManyRequestsException, and the
// client tries again a moment later), polls it to IDLE, runs calculations and polls each to its end, now and
// then has a second calculation refused while one runs and stops the running one, and terminates its session.
// The calculations are the fake engine's code words (src/engine/fake-engine.ts): `wait` runs until it is
// cancelled, `raise ...` fails, anything else completes. test/load.test.ts runs this on a server in its own
// process, bench/load.ts on a server process of its own.
import {
  AthenaClient,
  type AthenaServiceException,
  GetCalculationExecutionCommand,
  GetCalculationExecutionStatusCommand,
  GetSessionStatusCommand,
  ListCalculationExecutionsCommand,
  ListSessionsCommand,
  StartCalculationExecutionCommand,
  StartSessionCommand,
  StopCalculationExecutionCommand,
  TerminateSessionCommand,
} from '@aws-sdk/client-athena';

export interface LoadOptions {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  clients: number;
  durationMs: number;
  /**
   * The run in this many parts of equal length: at the end of each, every client finishes what it is doing
   * (its session ended) and `afterRound` is awaited before the next part starts, so that the server can be
   * measured with nothing under way.
   */
  rounds?: number;
  afterRound?: (round: number) => Promise<void> | void;
  /** The pause between two polls of the same thing. */
  pollMs?: number;
  /** How long a session or calculation may take to reach the state a client waits for before it counts as stuck. */
  stuckAfterMs?: number;
  /** Called whenever a client's session has ended. */
  onSessionEnded?: () => void;
  /** Called as each request is answered. */
  onRequest?: () => void;
}

export interface LoadResult {
  clients: number;
  durationMs: number;
  /** Requests answered, whatever the answer. */
  requests: number;
  byOperation: Record<string, number>;
  /** Refusals the workload provokes on purpose, by error and operation. */
  expectedErrors: Record<string, number>;
  /** Everything else that went wrong: errors, wrong answers, sessions or calculations stuck. */
  unexpectedErrors: number;
  /** The first few of them, described. */
  unexpectedSamples: string[];
  sessions: number;
  calculations: Record<'COMPLETED' | 'FAILED' | 'CANCELED', number>;
}

/** Athena's refusal of a calculation on a busy session (dbt-athena matches this text). */
const BUSY_MESSAGE = 'Session is in the BUSY state; needs to be IDLE to accept Calculations.';
const SAMPLES_KEPT = 20;

/** A small seeded generator (mulberry32): each client makes the same choices in every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class Unexpected extends Error {}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const pollMs = options.pollMs ?? 10;
  const stuckAfterMs = options.stuckAfterMs ?? 10_000;
  const result: LoadResult = {
    clients: options.clients,
    durationMs: 0,
    requests: 0,
    byOperation: {},
    expectedErrors: {},
    unexpectedErrors: 0,
    unexpectedSamples: [],
    sessions: 0,
    calculations: { COMPLETED: 0, FAILED: 0, CANCELED: 0 },
  };
  const unexpected = (what: string): void => {
    result.unexpectedErrors++;
    if (result.unexpectedSamples.length < SAMPLES_KEPT) result.unexpectedSamples.push(what);
  };
  const expected = (what: string): void => {
    result.expectedErrors[what] = (result.expectedErrors[what] ?? 0) + 1;
  };
  const started = performance.now();
  let end = started;

  async function client(index: number, round: number): Promise<void> {
    const athena = new AthenaClient({ endpoint: options.endpoint, region: 'us-east-1', credentials: options.credentials, maxAttempts: 1 });
    const chance = random(round * options.clients + index + 1);
    // Every request goes through here, so that each is counted once, answered or not.
    const send = async <T>(operation: string, request: () => Promise<T>): Promise<T> => {
      try {
        return await request();
      } finally {
        result.requests++;
        options.onRequest?.();
        result.byOperation[operation] = (result.byOperation[operation] ?? 0) + 1;
      }
    };
    const until = async <T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> => {
      const deadline = performance.now() + stuckAfterMs;
      for (;;) {
        const value = await probe();
        if (done(value)) return value;
        if (performance.now() > deadline) throw new Unexpected(`stuck: ${what} after ${stuckAfterMs} ms, last ${JSON.stringify(value)}`);
        await sleep(pollMs);
      }
    };
    const sessionState = (SessionId: string) => send('GetSessionStatus', async () => (await athena.send(new GetSessionStatusCommand({ SessionId }))).Status);
    const calculationState = (CalculationExecutionId: string) =>
      send('GetCalculationExecutionStatus', async () => (await athena.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId }))).Status);

    /** Runs one calculation of a kind picked at random to its end, and checks how it ended. */
    async function calculation(SessionId: string, n: number): Promise<void> {
      const pick = chance();
      const kind = pick < 0.2 ? 'cancel' : pick < 0.3 ? 'fail' : 'complete';
      const code = kind === 'cancel' ? 'wait' : kind === 'fail' ? `raise load ${index}.${n}` : `load ${index}.${n}`;
      const { CalculationExecutionId } = await send('StartCalculationExecution', () =>
        athena.send(new StartCalculationExecutionCommand({ SessionId, CodeBlock: code })),
      );
      const id = CalculationExecutionId!;
      if (kind === 'cancel') {
        await until(`calculation ${id} to run`, () => calculationState(id), (s) => s?.State === 'RUNNING');
        try {
          await send('StartCalculationExecution', () => athena.send(new StartCalculationExecutionCommand({ SessionId, CodeBlock: 'refused' })));
          throw new Unexpected(`a second calculation was accepted while ${id} ran`);
        } catch (error) {
          const e = error as AthenaServiceException;
          if (e.name !== 'InvalidRequestException' || e.message !== BUSY_MESSAGE) throw error;
          expected('InvalidRequestException (StartCalculationExecution on a BUSY session)');
        }
        await send('StopCalculationExecution', () => athena.send(new StopCalculationExecutionCommand({ CalculationExecutionId: id })));
      }
      const want = kind === 'cancel' ? 'CANCELED' : kind === 'fail' ? 'FAILED' : 'COMPLETED';
      await until(`calculation ${id} to end`, () => calculationState(id), (s) => ['COMPLETED', 'FAILED', 'CANCELED'].includes(s?.State ?? ''));
      const calc = await send('GetCalculationExecution', () => athena.send(new GetCalculationExecutionCommand({ CalculationExecutionId: id })));
      const state = calc.Status?.State;
      if (state !== want) throw new Unexpected(`calculation ${id} (${code}) ended ${state}, not ${want}: ${calc.Status?.StateChangeReason ?? ''}`);
      if (kind === 'fail' && calc.Status?.StateChangeReason !== `RuntimeError: load ${index}.${n}`) {
        throw new Unexpected(`calculation ${id} failed with ${calc.Status?.StateChangeReason}`);
      }
      if (kind !== 'cancel' && !calc.Result?.StdOutS3Uri?.endsWith(`${id}/stdout.txt`)) throw new Unexpected(`calculation ${id} has no Result`);
      result.calculations[want]++;
    }

    while (performance.now() < end) {
      let SessionId: string | undefined;
      try {
        try {
          SessionId = (await send('StartSession', () => athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} })))).SessionId!;
        } catch (error) {
          if ((error as AthenaServiceException).name !== 'TooManyRequestsException') throw error;
          expected('TooManyRequestsException (StartSession on a full server)');
          await sleep(20 + chance() * 30);
          continue;
        }
        const id = SessionId;
        await until(`session ${id} to be IDLE`, () => sessionState(id), (s) => s?.State === 'IDLE');
        const calculations = 1 + Math.floor(chance() * 3);
        for (let n = 0; n < calculations; n++) await calculation(id, n);
        if (chance() < 0.2) await send('ListCalculationExecutions', () => athena.send(new ListCalculationExecutionsCommand({ SessionId: id })));
        if (chance() < 0.1) await send('ListSessions', () => athena.send(new ListSessionsCommand({ WorkGroup: 'spark', MaxResults: 10 })));
      } catch (error) {
        unexpected(error instanceof Unexpected ? error.message : `${(error as Error).name}: ${(error as Error).message}`);
      } finally {
        if (SessionId !== undefined) {
          const id = SessionId;
          try {
            await send('TerminateSession', () => athena.send(new TerminateSessionCommand({ SessionId: id })));
            await until(`session ${id} to end`, () => sessionState(id), (s) => s?.State === 'TERMINATED');
            result.sessions++;
          } catch (error) {
            unexpected(error instanceof Unexpected ? error.message : `${(error as Error).name}: ${(error as Error).message}`);
          }
          options.onSessionEnded?.();
        }
      }
    }
    athena.destroy();
  }

  const rounds = options.rounds ?? 1;
  for (let round = 1; round <= rounds; round++) {
    end = performance.now() + options.durationMs / rounds;
    await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i, round)));
    await options.afterRound?.(round);
  }
  result.durationMs = performance.now() - started;
  return result;
}

/** One line for people: requests, errors expected and not, sessions and calculations. */
export function loadSummary(r: LoadResult): string {
  const expected = Object.entries(r.expectedErrors).map(([what, n]) => `${n} ${what}`).join(', ') || 'none';
  return (
    `${r.clients} clients, ${(r.durationMs / 1000).toFixed(1)} s: ${r.requests} requests (${Math.round(r.requests / (r.durationMs / 1000))}/s), ` +
    `${r.sessions} sessions, calculations ${r.calculations.COMPLETED} COMPLETED / ${r.calculations.FAILED} FAILED / ${r.calculations.CANCELED} CANCELED; ` +
    `expected errors: ${expected}; unexpected errors: ${r.unexpectedErrors}`
  );
}
