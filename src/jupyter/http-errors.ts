// Jupyter's REST errors: an HTTP status with `{"message": ..., "reason": ...}` (jupyter_server's APIHandler
// write_error), and how Athena's errors from the operation handlers read in those terms.
import { ServiceError } from '../protocol/errors.js';

export class JupyterHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The status an Athena error becomes: a missing thing 404, a conflict 409, throttling 429, others 400 or 500. */
export function jupyterStatusOf(error: ServiceError): number {
  if (error.type === 'ResourceNotFoundException' || / is not found\.?$/.test(error.message)) return 404;
  if (error.type === 'SessionAlreadyExistsException' || /active session/.test(error.message) || /already exists/.test(error.message)) return 409;
  if (error.type === 'TooManyRequestsException') return 429;
  return error.status >= 500 ? 500 : 400;
}
