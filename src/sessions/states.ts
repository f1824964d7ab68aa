// The session and calculation state machines: Athena's states (the model's enums), the moves between them,
// and one check that every change goes through. A refused move names the current state.
import type { CalculationExecutionState, SessionState } from '../generated/athena-model.js';

/**
 * Session: CREATING → CREATED → IDLE ⇄ BUSY → TERMINATING → TERMINATED, with DEGRADED (the runner is not
 * answering) and FAILED (it is gone). TERMINATED and FAILED are final: a late event cannot revive a session.
 */
export const SESSION_TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  CREATING: ['CREATED', 'IDLE', 'TERMINATING', 'FAILED'],
  CREATED: ['IDLE', 'TERMINATING', 'FAILED'],
  IDLE: ['BUSY', 'DEGRADED', 'TERMINATING', 'FAILED'],
  BUSY: ['IDLE', 'DEGRADED', 'TERMINATING', 'FAILED'],
  DEGRADED: ['IDLE', 'BUSY', 'TERMINATING', 'FAILED'],
  TERMINATING: ['TERMINATED', 'FAILED'],
  TERMINATED: [],
  FAILED: [],
};

/** The states ListSessions shows without a filter (the model: "an active state like CREATING, CREATED, IDLE, or BUSY"). */
export const ACTIVE_SESSION_STATES: readonly SessionState[] = ['CREATING', 'CREATED', 'IDLE', 'BUSY'];

/** The states a session ends in. */
export const FINAL_SESSION_STATES: readonly SessionState[] = ['TERMINATED', 'FAILED'];

/** States in which a session still has a runner that Owlet looks after. */
export const LIVE_SESSION_STATES: readonly SessionState[] = ['CREATING', 'CREATED', 'IDLE', 'BUSY', 'DEGRADED', 'TERMINATING'];

/**
 * Calculation: CREATING → CREATED → QUEUED → RUNNING → COMPLETED | FAILED; any state before the end can move to
 * CANCELING and then CANCELED, or still finish COMPLETED or FAILED when the work ended before the cancel took.
 */
export const CALCULATION_TRANSITIONS: Readonly<Record<CalculationExecutionState, readonly CalculationExecutionState[]>> = {
  CREATING: ['CREATED', 'QUEUED', 'RUNNING', 'CANCELING', 'CANCELED', 'FAILED'],
  CREATED: ['QUEUED', 'RUNNING', 'CANCELING', 'CANCELED', 'FAILED'],
  QUEUED: ['RUNNING', 'CANCELING', 'CANCELED', 'COMPLETED', 'FAILED'],
  RUNNING: ['COMPLETED', 'FAILED', 'CANCELING', 'CANCELED'],
  CANCELING: ['CANCELED', 'COMPLETED', 'FAILED'],
  CANCELED: [],
  COMPLETED: [],
  FAILED: [],
};

export const FINAL_CALCULATION_STATES: readonly CalculationExecutionState[] = ['CANCELED', 'COMPLETED', 'FAILED'];

export class IllegalTransitionError extends Error {
  constructor(
    readonly kind: 'session' | 'calculation',
    readonly id: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`${kind} ${id} cannot move from ${from} to ${to}`);
  }
}

export function canMove<S extends string>(table: Readonly<Record<S, readonly S[]>>, from: S, to: S): boolean {
  return table[from].includes(to);
}

export function checkMove<S extends string>(kind: 'session' | 'calculation', id: string, table: Readonly<Record<S, readonly S[]>>, from: S, to: S): void {
  if (!canMove(table, from, to)) throw new IllegalTransitionError(kind, id, from, to);
}
