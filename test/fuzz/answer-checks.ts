// What every answer of the server must be, whatever it was sent: a valid response of the operation (HTTP 200,
// a body that reads as the operation's output shape, nothing the model does not have), or an AWS error (HTTP
// 400, or 413 for a body over the limit) in the JSON envelope, of a type the operation's model lists or one
// the front end documents (docs/compatibility.md). Every answer carries x-amzn-RequestId and the JSON
// content type. HTTP 5xx fails the check, InternalServerException included: the model lists it, but Owlet
// raises it only for a failure nobody anticipated, so the fuzzer reporting one has found a bug.
import { type OperationName, operations, shapes } from '../../src/generated/athena-model.js';
import { JSON_CONTENT_TYPE } from '../../src/protocol/http-server.js';
import { isOperationName } from '../../src/protocol/json-service.js';
import { InputDecoder, type Shape } from '../../src/protocol/shapes.js';
import type { RawResponse } from '../wire.js';

/** The errors of the request front end (src/protocol/errors.ts), which any request can get. */
export const FRONT_END_ERRORS: ReadonlySet<string> = new Set([
  'UnknownOperationException',
  'SerializationException',
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'InvalidSignatureException',
  'UnrecognizedClientException',
  'RequestEntityTooLargeException',
]);

/** What the fuzzer expects of one answer beyond the checks every answer passes. */
export type Expectation =
  /** A valid request: any well-formed answer. */
  | { refused: false }
  /** The request must be refused: with one of `types` when given, and with exactly `body` when given. */
  | { refused: true; types?: readonly string[]; body?: string };

export interface CheckedAnswer {
  /** The `__type` of an error, `ok` for a success. */
  outcome: string;
  /** The parsed body, when it is a JSON object. */
  json?: Record<string, unknown>;
  problems: string[];
}

const decoder = new InputDecoder(shapes);

/** Members of `value` the model's shape `name` does not have, recursively, as paths. */
function unknownMembers(name: string, value: unknown, path: string, out: string[]): void {
  const shape: Shape | undefined = shapes[name];
  if (!shape || value === null || typeof value !== 'object') return;
  if (shape.type === 'structure') {
    for (const [key, v] of Object.entries(value)) {
      const target = shape.members[key];
      if (target === undefined) out.push(`${path}${key}`);
      else unknownMembers(target, v, `${path}${key}.`, out);
    }
  } else if (shape.type === 'list' && Array.isArray(value)) {
    value.forEach((item, i) => unknownMembers(shape.member, item, `${path}${i}.`, out));
  } else if (shape.type === 'map') {
    for (const [key, v] of Object.entries(value)) unknownMembers(shape.value, v, `${path}${key}.`, out);
  }
}

/** Problems of `value` read as the shape `name`: wrong types, broken constraints, unknown members. */
function shapeProblems(name: string, value: unknown): string[] {
  const problems: string[] = [];
  try {
    const { violations } = decoder.decode(name, value);
    for (const v of violations) problems.push(`${name}: '${v.path}' ${v.constraint}`);
  } catch (error) {
    problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const unknown: string[] = [];
  unknownMembers(name, value, '', unknown);
  if (unknown.length > 0) problems.push(`${name}: members the model does not have: ${unknown.join(', ')}`);
  return problems;
}

/** Checks `response`, the answer to a request for `operation` (a name from X-Amz-Target, maybe not one of the model's). */
export function checkAnswer(operation: string, expect: Expectation, response: RawResponse): CheckedAnswer {
  const problems: string[] = [];
  if (!response.headers['x-amzn-requestid']) problems.push('no x-amzn-RequestId header');
  if (response.headers['content-type'] !== JSON_CONTENT_TYPE) problems.push(`Content-Type ${String(response.headers['content-type'])}`);
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(response.text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  if (!json) {
    problems.push(`the body is not a JSON object: ${JSON.stringify(response.text.slice(0, 200))}`);
    return { outcome: `HTTP ${response.status}`, problems };
  }
  const known = isOperationName(operation) ? (operation as OperationName) : undefined;

  if (response.status === 200) {
    if (expect.refused) problems.push('accepted a request that must be refused');
    if (!known) problems.push(`HTTP 200 for ${JSON.stringify(operation)}, which the model does not have`);
    else {
      const output = operations[known].output;
      if (output === null) {
        if (Object.keys(json).length > 0) problems.push('a body for an operation without output');
      } else problems.push(...shapeProblems(output, json));
    }
    return { outcome: 'ok', json, problems };
  }

  const type = json.__type;
  if (typeof type !== 'string') {
    problems.push(`HTTP ${response.status} without a __type`);
    return { outcome: `HTTP ${response.status}`, json, problems };
  }
  const modelled: readonly string[] = known ? operations[known].errors : [];
  if (!FRONT_END_ERRORS.has(type) && !modelled.includes(type)) problems.push(`${type} is neither an error of ${operation} nor a front-end error`);
  const expectedStatus = type === 'RequestEntityTooLargeException' ? 413 : shapes[type]?.type === 'structure' && (shapes[type] as { error?: string }).error === 'server' ? 500 : 400;
  if (response.status !== expectedStatus) problems.push(`${type} with HTTP ${response.status}, not ${expectedStatus}`);
  if (response.status >= 500) problems.push(`HTTP ${response.status}: the server failed (${JSON.stringify(json).slice(0, 300)})`);

  const { __type: _type, ...members } = json;
  const messages = ['Message', 'message'].filter((key) => key in members);
  if (messages.length !== 1 || typeof members[messages[0]!] !== 'string') problems.push(`${type} needs one string Message or message`);
  if (FRONT_END_ERRORS.has(type)) {
    const extra = Object.keys(members).filter((key) => key !== 'Message' && key !== 'message');
    if (extra.length > 0) problems.push(`${type} carries ${extra.join(', ')}`);
  } else {
    // The unmodelled ErrorCode beside AthenaErrorCode is what Athena sends (spec/athena-api.md §2.2).
    const { ErrorCode: errorCode, ...modelledMembers } = members;
    if (errorCode !== undefined && (type !== 'InvalidRequestException' || errorCode !== members.AthenaErrorCode)) {
      problems.push(`ErrorCode ${JSON.stringify(errorCode)} beside AthenaErrorCode ${JSON.stringify(members.AthenaErrorCode)}`);
    }
    problems.push(...shapeProblems(type, modelledMembers));
  }

  if (expect.refused) {
    if (expect.types && !expect.types.includes(type)) problems.push(`${type}, expected ${expect.types.join(' or ')}`);
    if (expect.body !== undefined && response.text !== expect.body) problems.push(`expected exactly ${expect.body.slice(0, 400)}`);
  }
  return { outcome: type, json, problems };
}
