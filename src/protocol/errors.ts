// The errors a request can end in, each rendered once, at the HTTP boundary, in the real service's envelope:
// `{"__type": "<Shape>", "Message": "..."}` plus the shape's own members, HTTP 400 for a client fault and 500
// for a server fault (spec/athena-api.md §2). Errors raised by AWS's request front end (authentication,
// unknown operations, unreadable bodies) spell the key `message` in lower case, as real responses do.

export type Fault = 'client' | 'server';

export class ServiceError extends Error {
  constructor(
    /** The `__type`: the bare shape name. */
    readonly type: string,
    message: string,
    readonly status: number,
    /** Members carried beside the message, in the order they are written. */
    readonly members: Readonly<Record<string, string>> = {},
    readonly messageKey: 'Message' | 'message' = 'Message',
  ) {
    super(message);
    this.name = type;
  }

  get fault(): Fault {
    return this.status >= 500 ? 'server' : 'client';
  }

  body(): Record<string, unknown> {
    return { __type: this.type, ...this.members, [this.messageKey]: this.message };
  }
}

/** Athena's `AthenaErrorCode` values seen on the real service (spec/athena-api.md §2.2). */
export type AthenaErrorCode =
  | 'INVALID_INPUT'
  | 'IDEMPOTENT_PARAMETER_MISMATCH'
  | 'INVALID_QUERY_EXECUTION_STATE'
  | 'MALFORMED_QUERY';

/**
 * `InvalidRequestException`. Real bodies carry the code twice, as the modelled `AthenaErrorCode` and an
 * unmodelled `ErrorCode` (spec/athena-api.md §2.2), before the message.
 */
export class InvalidRequestError extends ServiceError {
  constructor(message: string, code: AthenaErrorCode = 'INVALID_INPUT') {
    super('InvalidRequestException', message, 400, { AthenaErrorCode: code, ErrorCode: code });
  }
}

export class ResourceNotFoundError extends ServiceError {
  constructor(message: string, resourceName?: string) {
    super('ResourceNotFoundException', message, 400, resourceName === undefined ? {} : { ResourceName: resourceName });
  }
}

export class InternalServerError extends ServiceError {
  constructor(message = 'An internal error occurred. Try the request again later.') {
    super('InternalServerException', message, 500);
  }
}

/**
 * Not an answer: the request is about a session another server node runs, and is sent on to `endpoint` as it
 * came, signature and all; that node's answer is the answer. Without an endpoint (the node cannot be reached)
 * the client gets InternalServerException with `message`, and may try again.
 */
export class ForwardToNode extends Error {
  constructor(
    readonly node: string,
    readonly endpoint: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

// --- Front-end errors (not in the model; the shapes every AWS JSON service answers with) -----------------

export class SerializationError extends ServiceError {
  constructor(message: string) {
    super('SerializationException', message, 400, {}, 'Message');
  }
}

export class UnknownOperationError extends ServiceError {
  constructor(message: string) {
    super('UnknownOperationException', message, 400, {}, 'message');
  }
}

export class RequestTooLargeError extends ServiceError {
  constructor(limit: number) {
    super('RequestEntityTooLargeException', `Request body is larger than the limit of ${limit} bytes.`, 413, {}, 'message');
  }
}

export class AuthError extends ServiceError {
  constructor(
    type:
      | 'MissingAuthenticationTokenException'
      | 'IncompleteSignatureException'
      | 'InvalidSignatureException'
      | 'UnrecognizedClientException',
    message: string,
  ) {
    // AWS JSON services answer these with 400 (observed for InvalidSignatureException and
    // UnrecognizedClientException in SDK error reports: "status code: 400").
    super(type, message, 400, {}, 'message');
  }
}
