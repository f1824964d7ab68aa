// ClientRequestToken: the same token with the same parameters answers the first response and creates
// nothing; the same token with other parameters is refused (spec/athena-api.md §3.3, with the message and
// code Athena uses for StartQueryExecution).
import { createHash } from 'node:crypto';
import { InvalidRequestError } from '../protocol/errors.js';
import type { StateStore } from '../store/state-store.js';

/** Stable JSON: object keys sorted, so that equal parameters give equal digests. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.getTime());
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export class IdempotentRequests {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly store: StateStore) {}

  /**
   * Runs `work` once per (operation, token). A request with a token waits for an earlier one with the same
   * token, then answers what it answered.
   */
  async run<I extends { ClientRequestToken?: string }, O>(operation: string, input: I, work: () => Promise<O>): Promise<O> {
    const token = input.ClientRequestToken;
    if (token === undefined) return work();
    const { ClientRequestToken: _token, ...parameters } = input;
    const digest = createHash('sha256').update(canonical(parameters)).digest('hex');
    const key = `${operation}\0${token}`;
    const prior = this.inFlight.get(key) ?? Promise.resolve();
    const next = prior.catch(() => undefined).then(async () => {
      const seen = await this.store.recallIdempotent(operation, token);
      if (seen) {
        if (seen.requestDigest !== digest) {
          throw new InvalidRequestError('Idempotent parameters do not match', 'IDEMPOTENT_PARAMETER_MISMATCH');
        }
        return JSON.parse(seen.response) as O;
      }
      const output = await work();
      await this.store.rememberIdempotent(operation, token, { requestDigest: digest, response: JSON.stringify(output) });
      return output;
    });
    this.inFlight.set(key, next);
    try {
      return await next;
    } finally {
      if (this.inFlight.get(key) === next) this.inFlight.delete(key);
    }
  }
}
