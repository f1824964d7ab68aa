// A load test on the fake engine, bounded in time and on loopback only: many concurrent clients of the AWS SDK
// start sessions, run calculations, poll, cancel and terminate (bench/athena-load.ts). Nothing may go wrong
// beyond the refusals the load provokes on purpose, no session or calculation may be left in a state that is
// not final, and the heap, measured after a full garbage collection, must not grow from the first third of
// the run to the last.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadSummary, runLoad } from '../bench/athena-load.js';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { FINAL_CALCULATION_STATES, FINAL_SESSION_STATES } from '../src/sessions/states.js';
import type { RecordKind } from '../src/store/state-store.js';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from './harness.js';

const CLIENTS = 48;
const DURATION_MS = 20_000;
// A few DPUs fewer than clients: StartSession is refused now and then, as a full server refuses it.
const DPU_CAPACITY = 44;
const RSS_EVERY_MS = 250;
/**
 * How much the heap's objects (V8's old and new spaces after a full collection) may grow from the end of the
 * first third of the run to the end of the last, both measured with every client between two sessions and
 * nothing under way. Nothing the server keeps per request or per session belongs there (records are in SQLite);
 * measured so, the figure varies by tens of kilobytes here. A leak of one small object per request (a Map
 * entry, a closure: 60 bytes and more) over the thousands of requests of the last two thirds exceeds it; the
 * summary line says from what size on.
 */
const ALLOWED_OBJECT_GROWTH = 128 * 2 ** 10;
/**
 * Large objects (buffers of 128 KiB and more) come and go with the sockets. One retained per request would be
 * hundreds of megabytes.
 */
const ALLOWED_LARGE_OBJECT_GROWTH = 8 * 2 ** 20;
// After the last request of a third, what the server does on its own (a fake runner's outcome, a terminated
// session's last change) settles before the heap is measured.
const SETTLE_MS = 50;
/**
 * How long a client waits for a state before it calls the session or calculation stuck. The fake engine answers
 * at once, but on a loaded machine 48 clients polling every 10 ms can starve one of them for many seconds; only
 * a state that never comes may fail the test.
 */
const STUCK_AFTER_MS = 180_000;

// The test runner starts node without --expose-gc; a context created after the flag is set has `gc`.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

interface HeapFigures {
  requests: number;
  /** Used bytes of V8's old and new spaces: the program's objects, without compiled code and large buffers. */
  objects: number;
  largeObjects: number;
  heapUsed: number;
}

function heapFigures(requests: number): HeapFigures {
  collectGarbage();
  const spaces = new Map(getHeapSpaceStatistics().map((space) => [space.space_name, space.space_used_size]));
  return {
    requests,
    objects: (spaces.get('old_space') ?? 0) + (spaces.get('new_space') ?? 0),
    largeObjects: (spaces.get('large_object_space') ?? 0) + (spaces.get('new_large_object_space') ?? 0),
    heapUsed: process.memoryUsage().heapUsed,
  };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

describe('load on the fake engine', () => {
  const engine = new FakeEngine();
  let owlet: TestOwlet;

  before(async () => {
    owlet = await startTestOwlet({ engine, config: { dpuCapacity: DPU_CAPACITY } });
  });
  after(() => owlet?.stop());

  async function notFinal(kind: RecordKind, final: readonly string[]): Promise<string[]> {
    const left: string[] = [];
    let after: string | undefined;
    do {
      const page = await owlet.store.list<{ Status: { State: string } }>({ kind, order: 'id', limit: 500, ...(after ? { after } : {}) });
      for (const r of page.records) if (!final.includes(r.body.Status.State)) left.push(`${kind} ${r.id} ${r.body.Status.State}`);
      after = page.cursor;
    } while (after);
    return left;
  }

  it(`${CLIENTS} clients for ${DURATION_MS / 1000} s: no unexpected error, nothing stuck, a flat heap`, async () => {
    const thirds: HeapFigures[] = [];
    let peakRss = 0;
    const rssSampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), RSS_EVERY_MS);
    let requests = 0;
    let result;
    try {
      result = await runLoad({
        endpoint: owlet.endpoint,
        credentials: TEST_CREDENTIALS,
        clients: CLIENTS,
        durationMs: DURATION_MS,
        rounds: 3,
        stuckAfterMs: STUCK_AFTER_MS,
        onSessionEnded: () => engine.forgetStopped(),
        async afterRound() {
          await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
          // Every session of the third has ended: nothing is left live or unfinished.
          assert.deepEqual(await notFinal('session', FINAL_SESSION_STATES), []);
          assert.deepEqual(await notFinal('calculation', FINAL_CALCULATION_STATES), []);
          thirds.push(heapFigures(requests));
        },
        onRequest: () => requests++,
      });
    } finally {
      clearInterval(rssSampler);
    }
    const [first, , last] = thirds as [HeapFigures, HeapFigures, HeapFigures];
    const growth = last.objects - first.objects;
    const requestsBetween = last.requests - first.requests;
    console.log(loadSummary(result));
    console.log(
      `memory of this process (server and clients): peak RSS ${mib(peakRss)}; after a full GC at the end of each third: ` +
        `heap used ${thirds.map((t) => mib(t.heapUsed)).join(', ')}; objects ${thirds.map((t) => mib(t.objects)).join(', ')} ` +
        `(growth ${Math.round(growth / 1024)} KiB from the first third to the last, allowed ${Math.round(ALLOWED_OBJECT_GROWTH / 1024)} KiB: ` +
        `a leak of ${Math.ceil(ALLOWED_OBJECT_GROWTH / requestsBetween)} bytes or more a request over the ${requestsBetween} requests between would fail this)`,
    );

    assert.deepEqual(result.unexpectedSamples, [], `${result.unexpectedErrors} unexpected errors`);
    assert.equal(result.unexpectedErrors, 0);
    assert.ok(result.sessions > CLIENTS, `only ${result.sessions} sessions ran`);
    assert.ok(result.calculations.CANCELED > 0 && result.calculations.FAILED > 0, JSON.stringify(result.calculations));
    assert.ok(growth <= ALLOWED_OBJECT_GROWTH, `the heap's objects grew by ${Math.round(growth / 1024)} KiB`);
    assert.ok(last.largeObjects - first.largeObjects <= ALLOWED_LARGE_OBJECT_GROWTH, `large objects grew by ${mib(last.largeObjects - first.largeObjects)}`);
  });
});
