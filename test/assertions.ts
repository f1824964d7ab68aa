// Assertions the test suites share.
import assert from 'node:assert/strict';

/**
 * Polls `probe` every 10 ms until `accept` takes its value; fails after `timeoutMs` naming `what`. The default
 * deadline is generous because the whole suite runs on machines loaded by other work: it bounds a wait, it does
 * not measure speed.
 */
export async function eventually<T>(probe: () => Promise<T> | T, accept: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last saw ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * How long a test waits for a session on real PySpark to start: a deadline, not a measure of speed. A cold Spark
 * start takes tens of seconds on a quiet 2-core machine and more than three minutes has been seen while other
 * suites load it.
 */
export const SPARK_START_DEADLINE_MS = 600_000;

/** Expects `promise` to reject with an error of `type` whose message is `message` (or matches it). */
export async function rejectsWith(promise: Promise<unknown>, type: new (...args: never[]) => Error, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}
