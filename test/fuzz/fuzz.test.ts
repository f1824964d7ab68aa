// The model-driven fuzzer: at least 100,000 generated requests across every operation of the model, seeded
// and bounded, against an in-process server on the fake engine. Every answer must be a valid response of its
// operation or a well-formed AWS error (answer-checks.ts); requests that must be refused must be refused; a
// batch of refused requests must leave the store exactly as it was; the server must still answer at the end.
// The requests are made, sent and checked in a worker thread (traffic.ts); this thread runs the server and
// checks its store.
//
// Rounds alternate three phases, so that the state checks are sound without a snapshot per request:
//   1. requests with valid inputs, which may change state;
//   2. state-changing requests sent twice (replays): the records added must be exactly the ones the answers
//      name, so nothing is created twice;
//   3. once the store has settled (sessions started and calculations finished in the background), a batch
//      of requests that must all be refused, between two snapshots of the whole store that must be equal,
//      and two looks at the idempotency tokens the batch carried, which must not have been remembered.
//
// What "replayed" means here: the same bytes with the same signature sent again. SigV4 has no nonce; AWS
// accepts a replay within the 15-minute window as a new request, and what a repeat does is the operation's
// business. So a replay of a refused request must be refused alike; a workgroup created by the first send is
// "already created" for the second; a request with a ClientRequestToken gets the first answer again and
// creates nothing more. A replay after the window is the expired-signature case (a request signed more than
// 15 minutes before it arrives), which must be refused.
//
// OWLET_FUZZ_SEED and OWLET_FUZZ_REQUESTS repeat a run or change its size; the seed is printed. With 16
// requests in flight answers arrive in varying order and the server makes its identifiers at random, so a
// seed repeats the kinds and contents of the requests but not every identifier they name.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import { GetWorkGroupCommand } from '@aws-sdk/client-athena';
import { FakeEngine } from '../../src/engine/fake-engine.js';
import { operations } from '../../src/generated/athena-model.js';
import { type TestOwlet, startTestOwlet } from '../harness.js';
import { seedFrom } from './random.js';
import { settledSnapshot, snapshotDifferences, snapshotStore, type StoreSnapshot } from './store-snapshot.js';
import type { Problem, Tally, TrafficCommand, TrafficReport } from './traffic.js';

const SEED = seedFrom(process.env);
const TOTAL = requestCount(process.env.OWLET_FUZZ_REQUESTS);
/** Requests a round sends: a fifth valid, a few replays, the rest refused. */
const ROUND = 2_500;
const VALID_SHARE = 0.2;
const REPLAYS_PER_ROUND = 12;
/** Bodies over the 64 MiB limit: cheap when the length is declared, a 65 MiB upload when streamed. */
const OVERSIZED_DECLARED = 16;
const OVERSIZED_STREAMED = 2;
/** Bodies of about 10 MB, at the longest limits of the model plus one. */
const LARGE_CASES = 6;

function requestCount(given: string | undefined): number {
  if (given === undefined || given === '') return 100_000;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 1) throw new Error(`OWLET_FUZZ_REQUESTS must be a positive integer; got ${given}`);
  return n;
}

/** The traffic worker, asked one command at a time. */
class TrafficWorker {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(endpoint: string, seed: number) {
    this.worker = new Worker(new URL('./traffic-worker.js', import.meta.url), { workerData: { endpoint, seed } });
    this.worker.on('message', ({ id, result, error }: { id: number; result?: unknown; error?: string }) => {
      const waiter = this.waiting.get(id);
      this.waiting.delete(id);
      if (error !== undefined) waiter?.reject(new Error(`the traffic worker failed: ${error}`));
      else waiter?.resolve(result);
    });
    const failAll = (error: Error): void => {
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    };
    this.worker.on('error', failAll);
    this.worker.on('exit', (code) => failAll(new Error(`the traffic worker exited with code ${code}`)));
  }

  ask<T>(command: TrafficCommand): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, command });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** `count` round numbers out of `rounds`, spread evenly: where the expensive requests go. */
function spread(count: number, rounds: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const round = Math.floor((i * rounds) / count);
    out.set(round, (out.get(round) ?? 0) + 1);
  }
  return out;
}

function tallyLines(tally: Tally): string[] {
  return Object.entries(tally.categories)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([category, outcomes]) => {
      const total = Object.values(outcomes).reduce((a, b) => a + b, 0);
      const parts = Object.entries(outcomes)
        .sort(([, a], [, b]) => b - a)
        .map(([o, n]) => `${o} ×${n}`);
      return `${category}: ${total} → ${parts.join(', ')}`;
    });
}

describe('model-driven fuzzer', () => {
  let owlet: TestOwlet;
  let traffic: TrafficWorker;

  before(async () => {
    owlet = await startTestOwlet({
      engine: new FakeEngine(),
      config: {
        // Room for some sessions, so that StartSession is sometimes admitted and sometimes refused.
        dpuCapacity: 24,
        // No session goes idle long enough to be reaped during a run: the store changes only by request.
        idleMinuteMs: 3_600_000,
        // A stubborn calculation's session fails soon after a stop, before the store is snapshotted.
        cancelDeadlineMs: 50,
      },
    });
    traffic = new TrafficWorker(owlet.endpoint, SEED);
  });

  after(async () => {
    await traffic.close();
    await owlet.stop();
  });

  it(`answers ${TOTAL.toLocaleString('en')} generated requests well, and refused ones change nothing`, async (t: TestContext) => {
    t.diagnostic(`seed ${SEED} (OWLET_FUZZ_SEED=${SEED} repeats this run), ${TOTAL} requests`);
    const started = performance.now();
    const cpuAtStart = process.cpuUsage();
    const stateProblems: Problem[] = [];
    const stateProblem = (detail: string): void => {
      stateProblems.push({ category: 'store', operation: '', detail });
    };

    await traffic.ask<string[]>({ kind: 'probe' });
    // The probe sent one request per operation.
    let sent = Object.keys(operations).length;
    const rounds = Math.max(1, Math.ceil((TOTAL - sent) / ROUND));
    const declared = spread(OVERSIZED_DECLARED, rounds);
    const streamed = spread(OVERSIZED_STREAMED, rounds);
    const large = spread(LARGE_CASES, rounds);

    for (let round = 0; sent < TOTAL; round++) {
      const size = Math.min(ROUND, TOTAL - sent);
      const validCount = Math.round(size * VALID_SHARE);
      const replayCount = Math.min(REPLAYS_PER_ROUND, Math.floor((size - validCount) / 10));
      const refusedCount = size - validCount - replayCount * 2;

      // 1. Valid inputs.
      await traffic.ask({ kind: 'valid', count: validCount });

      // 2. Replays. Records are created and deleted only while a request is answered (what runs on in the
      // background changes states), so the keys are stable between the phases.
      const keysBefore = new Set((await snapshotStore(owlet.store)).keys());
      const named = new Set(await traffic.ask<string[]>({ kind: 'replays', count: replayCount }));
      const settled: StoreSnapshot = await settledSnapshot(owlet.store);
      const added = [...settled.keys()].filter((k) => !keysBefore.has(k) && !named.has(k));
      const removed = [...keysBefore].filter((k) => !settled.has(k));
      const lost = [...named].filter((k) => !settled.has(k));
      if (added.length > 0) stateProblem(`round ${round}: replays added records no answer names (created twice?): ${added.join(', ')}`);
      if (removed.length > 0) stateProblem(`round ${round}: replays removed records: ${removed.join(', ')}`);
      if (lost.length > 0) stateProblem(`round ${round}: answers named records the store does not have: ${lost.join(', ')}`);

      // 3. Requests that must be refused, between two snapshots.
      const workGroups = [...settled.keys()].filter((k) => k.startsWith('workgroup/')).map((k) => k.slice('workgroup/'.length));
      const oversized = [...Array<'declared'>(declared.get(round) ?? 0).fill('declared'), ...Array<'streamed'>(streamed.get(round) ?? 0).fill('streamed')];
      const tokens = await traffic.ask<[string, string][]>({ kind: 'prepare-refused', count: refusedCount, workGroups, large: large.get(round) ?? 0, oversized });
      const recall = (): Promise<string[]> =>
        Promise.all(tokens.map(async ([op, token]) => JSON.stringify((await owlet.store.recallIdempotent(op, token)) ?? null)));
      const tokensBefore = await recall();
      sent = await traffic.ask<number>({ kind: 'send-refused' });
      const changes = snapshotDifferences(settled, await snapshotStore(owlet.store));
      if (changes.length > 0) stateProblem(`round ${round}: refused requests changed the store: ${changes.slice(0, 10).join('; ')}`);
      const tokensAfter = await recall();
      tokens.forEach(([op, token], i) => {
        if (tokensAfter[i] !== tokensBefore[i]) stateProblem(`round ${round}: a refused ${op} left its ClientRequestToken ${token} remembered: ${tokensAfter[i]}`);
      });
    }

    // The server is still up and serving.
    let health = 'ok';
    try {
      const answer = await owlet.client().send(new GetWorkGroupCommand({ WorkGroup: 'primary' }));
      if (answer.WorkGroup?.Name !== 'primary') health = `GetWorkGroup answered ${JSON.stringify(answer.WorkGroup)}`;
    } catch (error) {
      health = String(error);
    }
    if (health !== 'ok') stateProblem(`the server does not answer after the run: ${health}`);

    const report = await traffic.ask<TrafficReport>({ kind: 'report' });
    const seconds = (performance.now() - started) / 1000;
    // Both threads' CPU time: the server's here and the traffic's in the worker.
    const cpu = process.cpuUsage(cpuAtStart);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    for (const line of tallyLines(report.tally)) t.diagnostic(line);
    const statuses = Object.entries(report.tally.statuses)
      .map(([status, n]) => `${status} ×${n}`)
      .join(', ');
    const problemCount = report.problemCount + stateProblems.length;
    t.diagnostic(
      `fuzz: seed ${SEED}, ${report.tally.sent.toLocaleString('en')} requests in ${seconds.toFixed(1)} s (${Math.round(report.tally.sent / seconds)}/s, ` +
        `${cpuSeconds.toFixed(1)} s of CPU); ` +
        `HTTP ${statuses}; ${problemCount} problems`,
    );
    assert.ok(report.tally.sent >= TOTAL, `sent ${report.tally.sent} of ${TOTAL} requests`);
    const details = [...stateProblems, ...report.problems]
      .slice(0, 25)
      .map((p) => `- [${p.category}] ${p.operation}: ${p.detail}${p.request ? `\n    request: ${p.request}` : ''}${p.answer ? `\n    answer: ${p.answer}` : ''}`)
      .join('\n');
    assert.equal(problemCount, 0, `seed ${SEED} (OWLET_FUZZ_SEED=${SEED} repeats the run): ${problemCount} problems; the first ones:\n${details}`);
  });
});
