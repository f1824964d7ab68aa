import type { VerifiedCaller } from './sigv4.js';

/** What an operation handler knows about the request besides its input. */
export interface RequestContext {
  requestId: string;
  caller: VerifiedCaller;
  /** Milliseconds since the epoch at which the request arrived. */
  receivedAt: number;
  /** The request was sent on by another server node: it is answered here, never sent on again. */
  forwarded?: boolean;
}
