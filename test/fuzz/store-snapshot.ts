// Read-only views of a server's StateStore, to show that a batch of refused requests changed nothing: every
// record of every kind with its version, state and body, read through the store's own `list`.
import type { RecordKind, StateStore } from '../../src/store/state-store.js';

// Written as a record so that a kind added to RecordKind fails to compile here until it is decided on too.
// Node records change on their own (the node's heartbeat), whatever the requests: they are left out. So are a
// session's S3 key pairs (src/sessions/session-keys.ts): the server adds one as a session gets its runner, under
// an id no answer names; the session record beside it is what the checks follow.
const KINDS: Record<RecordKind, boolean> = { workgroup: true, session: true, calculation: true, notebook: true, lock: true, node: false, 'session-key': false };
export const RECORD_KINDS = (Object.keys(KINDS) as RecordKind[]).filter((kind) => KINDS[kind]);

/** `kind/id` → the record as JSON. */
export type StoreSnapshot = Map<string, string>;

export async function snapshotStore(store: StateStore): Promise<StoreSnapshot> {
  const snapshot: StoreSnapshot = new Map();
  for (const kind of RECORD_KINDS) {
    let after: string | undefined;
    do {
      const page = await store.list({ kind, order: 'id', limit: 500, ...(after === undefined ? {} : { after }) });
      for (const r of page.records) snapshot.set(`${kind}/${r.id}`, JSON.stringify([r.version, r.state, r.parent, r.createdAt, r.body]));
      after = page.cursor;
    } while (after !== undefined);
  }
  return snapshot;
}

/** The records added, removed or changed from `before` to `after`, described; empty when none. */
export function snapshotDifferences(before: StoreSnapshot, after: StoreSnapshot): string[] {
  const out: string[] = [];
  for (const [key, value] of after) {
    const was = before.get(key);
    if (was === undefined) out.push(`added ${key}: ${value.slice(0, 300)}`);
    else if (was !== value) out.push(`changed ${key}: ${was.slice(0, 300)} → ${value.slice(0, 300)}`);
  }
  for (const key of before.keys()) if (!after.has(key)) out.push(`removed ${key}`);
  return out;
}

/**
 * States a record leaves by itself, soon (the fake engine's runners answer at once). A calculation RUNNING
 * code that waits (`wait`, `stubborn`: the fake engine's words) stays RUNNING until it is stopped.
 */
const PASSING_STATES: Record<string, ReadonlySet<string>> = {
  session: new Set(['CREATING', 'CREATED', 'TERMINATING']),
  calculation: new Set(['CREATING', 'CREATED', 'QUEUED', 'CANCELING']),
};

function passing(key: string, json: string): boolean {
  const kind = key.slice(0, key.indexOf('/'));
  const [, state, , , body] = JSON.parse(json) as [number, string | undefined, string | undefined, number, { CodeBlock?: string }];
  if (state === undefined) return false;
  if (PASSING_STATES[kind]?.has(state)) return true;
  return kind === 'calculation' && state === 'RUNNING' && body.CodeBlock !== 'wait' && body.CodeBlock !== 'stubborn';
}

/**
 * Waits until the store stops changing by itself (sessions starting, calculations finishing in the
 * background after the requests that began them were answered) and returns the settled snapshot: no record
 * in a passing state, and the same snapshot twice, `quietMs` apart.
 */
export async function settledSnapshot(store: StateStore, quietMs = 30, timeoutMs = 120_000): Promise<StoreSnapshot> {
  const deadline = Date.now() + timeoutMs;
  let previous = await snapshotStore(store);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const current = await snapshotStore(store);
    const moving = [...current].filter(([key, json]) => passing(key, json)).map(([key]) => key);
    if (moving.length === 0 && snapshotDifferences(previous, current).length === 0) return current;
    if (Date.now() > deadline) {
      const stuck = moving.slice(0, 5).map((key) => `${key} ${current.get(key)!.slice(0, 400)}`);
      throw new Error(`the store did not settle within ${timeoutMs} ms: ${[...stuck, ...snapshotDifferences(previous, current).slice(0, 3)].join('; ')}`);
    }
    previous = current;
  }
}
