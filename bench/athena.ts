// The client side of the session benchmarks, through the AWS SDK for JavaScript as a user's program would:
// starting sessions, running calculations and waiting on them by polling, as a client of Athena must.
import {
  type AthenaClient,
  GetCalculationExecutionStatusCommand,
  GetSessionStatusCommand,
  StartCalculationExecutionCommand,
  StartSessionCommand,
  StopCalculationExecutionCommand,
  TerminateSessionCommand,
} from '@aws-sdk/client-athena';
import { runnersUnder } from './proc.js';
import { sleep } from './report.js';
import { SPARK_WORKGROUP } from './owlet-server.js';

export const FINAL_CALCULATION_STATES = ['COMPLETED', 'FAILED', 'CANCELED'];

/** Polls `check` every `intervalMs` (counted from the start of one poll to the next) until it returns a value. */
export async function poll<T>(
  check: () => Promise<T | undefined>,
  { intervalMs, timeoutMs, what }: { intervalMs: number | ((elapsedMs: number) => number); timeoutMs: number; what: string },
): Promise<T> {
  const started = performance.now();
  for (;;) {
    const pollStarted = performance.now();
    const value = await check();
    if (value !== undefined) return value;
    const elapsed = performance.now() - started;
    if (elapsed > timeoutMs) throw new Error(`${what}: not done after ${Math.round(elapsed)} ms`);
    const interval = typeof intervalMs === 'number' ? intervalMs : intervalMs(elapsed);
    await sleep(Math.max(0, interval - (performance.now() - pollStarted)));
  }
}

/**
 * The session polling interval: every 10 ms for the first 2 s, which is where a warm start lands, then every
 * 50 ms, which resolves a cold start of ~20 s to a quarter of a percent without the polling itself taking
 * CPU from the Spark that is starting on a small machine.
 */
export const sessionPollInterval = (elapsedMs: number): number => (elapsedMs < 2000 ? 10 : 50);

export interface SessionStart {
  sessionId: string;
  /** From sending StartSession to receiving the GetSessionStatus answer that says IDLE. */
  ms: number;
  /** The state StartSession answered with. */
  answered: string;
}

export async function startSessionToIdle(athena: AthenaClient, timeoutMs = 300_000, workGroup = SPARK_WORKGROUP): Promise<SessionStart> {
  const started = performance.now();
  const answer = await athena.send(
    new StartSessionCommand({ WorkGroup: workGroup, EngineConfiguration: { MaxConcurrentDpus: 2 } }),
  );
  const sessionId = answer.SessionId!;
  const answered = answer.State ?? '?';
  if (answered !== 'IDLE') {
    await poll(
      async () => {
        const status = (await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }))).Status;
        if (status?.State === 'IDLE') return true;
        if (status?.State !== 'CREATING' && status?.State !== 'CREATED') {
          throw new Error(`session ${sessionId} is ${status?.State}: ${status?.StateChangeReason ?? ''}`);
        }
        return undefined;
      },
      { intervalMs: sessionPollInterval, timeoutMs, what: `session ${sessionId} to be IDLE` },
    );
  }
  return { sessionId, ms: performance.now() - started, answered };
}

/** Terminates a session and waits until the server runs no more than `keep` runners (the warm pool's). */
export async function terminateSession(athena: AthenaClient, sessionId: string, dataDir: string, keep = 0): Promise<void> {
  await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
  await poll(async () => (runnersUnder(dataDir).length <= keep ? true : undefined), {
    intervalMs: 100,
    timeoutMs: 60_000,
    what: `the runner of session ${sessionId} to exit`,
  });
}

export interface CalculationRun {
  calculationId: string;
  state: string;
  reason?: string;
  /** From sending StartCalculationExecution to receiving the status answer with a final state. */
  ms: number;
}

/** Runs `code` and polls its status every `intervalMs` until it has ended. */
export async function runCalculation(athena: AthenaClient, sessionId: string, code: string, intervalMs = 10, timeoutMs = 120_000): Promise<CalculationRun> {
  const started = performance.now();
  const calculationId = (await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: code })))
    .CalculationExecutionId!;
  const status = await waitCalculation(athena, calculationId, intervalMs, timeoutMs);
  return { calculationId, ms: performance.now() - started, state: status.state, ...(status.reason ? { reason: status.reason } : {}) };
}

export async function waitCalculation(
  athena: AthenaClient,
  calculationId: string,
  intervalMs: number,
  timeoutMs: number,
  states: readonly string[] = FINAL_CALCULATION_STATES,
): Promise<{ state: string; reason?: string; progress?: string }> {
  return poll(
    async () => {
      const answer = await athena.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId: calculationId }));
      const state = answer.Status?.State ?? '?';
      if (!states.includes(state)) {
        if (FINAL_CALCULATION_STATES.includes(state)) {
          throw new Error(`calculation ${calculationId} ended ${state} (${answer.Status?.StateChangeReason ?? ''}) while waiting for ${states.join('/')}`);
        }
        return undefined;
      }
      return {
        state,
        ...(answer.Status?.StateChangeReason ? { reason: answer.Status.StateChangeReason } : {}),
        ...(answer.Statistics?.Progress ? { progress: answer.Statistics.Progress } : {}),
      };
    },
    { intervalMs, timeoutMs, what: `calculation ${calculationId} to be ${states.join('/')}` },
  );
}

/** Starts `code`, waits until it is RUNNING (and, with `untilProgress`, until its Spark job has tasks). */
export async function startRunning(athena: AthenaClient, sessionId: string, code: string, untilProgress: boolean): Promise<string> {
  const calculationId = (await athena.send(new StartCalculationExecutionCommand({ SessionId: sessionId, CodeBlock: code })))
    .CalculationExecutionId!;
  await poll(
    async () => {
      const answer = await athena.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId: calculationId }));
      const state = answer.Status?.State;
      if (state && FINAL_CALCULATION_STATES.includes(state)) throw new Error(`calculation ${calculationId} ended ${state} before it was cancelled`);
      return state === 'RUNNING' && (!untilProgress || /\(\d+\/[1-9]\d* tasks\)/.test(answer.Statistics?.Progress ?? '')) ? true : undefined;
    },
    { intervalMs: 10, timeoutMs: 120_000, what: `calculation ${calculationId} to run` },
  );
  return calculationId;
}

/** Sends StopCalculationExecution; resolves with the time until a status poll every 10 ms says CANCELED. */
export async function stopToCanceled(athena: AthenaClient, calculationId: string): Promise<{ ms: number; state: string }> {
  const started = performance.now();
  await athena.send(new StopCalculationExecutionCommand({ CalculationExecutionId: calculationId }));
  const { state } = await waitCalculation(athena, calculationId, 10, 60_000);
  return { ms: performance.now() - started, state };
}
