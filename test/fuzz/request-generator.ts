// The fuzzer's requests. Each comes with what its answer must be: requests a server must refuse (a broken
// constraint, a wrong JSON type, a body that is not JSON or not UTF-8, a wrong header, a bad signature, a
// resource that is not there) and requests it may accept (valid inputs, with unknown members, nulls, values at
// their limits, header variants). The constraint and type mutations are the validation suite's cases
// (test/validation/model-cases.ts), applied to random valid inputs rather than to the minimal one, so the
// exact answer of each is known.
import { unavailableOperation } from '../../src/api/unavailable.js';
import { type OperationName, operations } from '../../src/generated/athena-model.js';
import type { Shape } from '../../src/protocol/shapes.js';
import {
  ABSENT,
  allCases,
  applyEdits,
  type Edit,
  inputNodes,
  type InvalidCase,
  JAVA_TYPE,
  MUST_NOT_BE_NULL,
  shapeOf,
  topMember,
  type TypeCase,
  typeMessage,
  type ValidCase,
  validationBody,
  type Violation,
} from '../validation/model-cases.js';
import { TEST_CREDENTIALS } from '../harness.js';
import { type RawRequest, type SigningOptions, signedHeaders } from '../wire.js';
import type { Expectation } from './answer-checks.js';
import type { Random } from './random.js';
import { type KnownResources, ValidInputs, workGroupArn } from './valid-inputs.js';

export interface FuzzRequest {
  category: string;
  /** The operation X-Amz-Target names; a name the model does not have for the unknown-target requests. */
  operation: string;
  raw: RawRequest;
  expect: Expectation;
  /** The input sent, when it is a JSON object: an accepted request teaches the generator identifiers. */
  input?: Record<string, unknown>;
  /** Sent a second time, byte for byte, once the first answer is in (FuzzTraffic.sendTwice checks the pair). */
  replay?: boolean;
}

type InputNode = ReturnType<typeof inputNodes>[number];

/** A piece of JSON text put into a body as it is: numbers JSON.stringify cannot write, deep nesting. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON text of `value`, with RawJson pieces in place and map keys such as `__proto__` kept. */
export function jsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      // Free text never contains `~~`, so the marker cannot collide with a value.
      return `~~raw${raws.length - 1}~~`;
    }
    return v;
  });
  return raws.length === 0 ? text : text.replace(/"~~raw(\d+)~~"/g, (_m, i: string) => raws[Number(i)]!);
}

const SERIALIZATION = 'SerializationException';
const serializationBody = (message: string): string => JSON.stringify({ __type: SERIALIZATION, Message: message });
const NOT_UTF8 = serializationBody('The request body is not valid UTF-8.');
const NOT_JSON = serializationBody('The request body is not valid JSON.');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Byte sequences that are not UTF-8: a lone continuation byte, 0xFF, overlong, surrogate, truncated, above U+10FFFF. */
const INVALID_UTF8: readonly (readonly number[])[] = [[0x80], [0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc3]];

const UNKNOWN_TARGETS = [
  'AmazonAthena.DescribeTable',
  'AmazonAthena.',
  'AmazonAthena.getWorkGroup',
  'AmazonAthena.__proto__',
  'AmazonAthena.constructor',
  'AmazonAthena.hasOwnProperty',
  'AmazonAthena.GetWorkGroup.Extra',
  'AmazonAthenaGetWorkGroup',
  'Athena.GetWorkGroup',
  'DynamoDB_20120810.GetItem',
  'amazonathena.GetWorkGroup',
];
const WRONG_CONTENT_TYPES = ['application/json', 'text/plain', '', 'application/x-amz-json-1.0', 'application/x-amz-json-1.10', 'multipart/form-data', 'application/x-amz-cbor-1.1'];
const UNKNOWN_MEMBER_NAMES = ['FuzzExtra', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', 'x'.repeat(300)];

/** The members that name the resource an operation acts on. */
const IDENTIFYING_MEMBERS = ['WorkGroup', 'SessionId', 'CalculationExecutionId', 'NotebookId', 'ResourceARN'];

const MINUTE = 60_000;

/** A request body's JSON and the bytes it becomes. */
function encode(value: unknown): Buffer {
  return Buffer.from(jsonText(value), 'utf8');
}

/** The Java token Coral names for a JSON value in a type error. */
function tokenOf(value: unknown): string {
  if (value instanceof RawJson) return value.text.startsWith('[') ? 'START_ARRAY' : value.text.startsWith('{') ? 'START_OBJECT' : 'NUMBER_VALUE';
  if (typeof value === 'string') return 'STRING_VALUE';
  if (typeof value === 'number') return 'NUMBER_VALUE';
  if (typeof value === 'boolean') return 'BOOLEAN_VALUE';
  return Array.isArray(value) ? 'START_ARRAY' : 'START_OBJECT';
}

/** JSON values a member of the shape cannot take, each a type error (null is not one: it means absent). */
function wrongValues(shape: Shape): unknown[] {
  switch (shape.type) {
    case 'string':
      return [42, -1.5, true, [], ['x'], {}, { S: 'x' }];
    case 'integer':
      // Outside Java's int, fractional, or beyond a double: none converts to Integer.
      return ['1', true, [], {}, 1.5, 2 ** 31, -(2 ** 31) - 1, 1e20, new RawJson('1e400'), new RawJson('-1e400')];
    case 'long':
      // 2^53 + 2 is past what a double holds exactly, Owlet's limit for a long (src/protocol/shapes.ts).
      return ['1', false, [], {}, 0.5, 2 ** 53 + 2, new RawJson('1e400')];
    case 'boolean':
      return ['true', 1, 0, [], {}];
    case 'list':
      return ['x', 1, true, {}, { member: [] }];
    case 'structure':
    case 'map':
      return ['x', 1, false, [], [{}]];
    // No input of the model has these today; a model that adds one gets type errors for it too.
    case 'timestamp':
      return ['2026-01-01T00:00:00Z', true, [], {}];
    case 'double':
    case 'float':
      return ['1.5', false, [], {}];
    case 'blob':
      return [7, true, [], {}];
  }
}

export interface GeneratorOptions {
  random: Random;
  endpoint: string;
  known: KnownResources;
  /** Operations without a handler: their valid requests are refused. */
  unavailable: ReadonlySet<OperationName>;
}

/** Cases whose body would be larger than this are sent only in the few large-body requests. */
const LARGE_CASE_CHARS = 100_000;

interface OperationMaterial {
  nodes: InputNode[];
  invalid: InvalidCase[];
  type: TypeCase[];
  valid: ValidCase[];
  large: (InvalidCase | TypeCase)[];
}

export class RequestGenerator {
  private readonly random: Random;
  private readonly url: URL;
  private readonly inputs: ValidInputs;
  private readonly operations = Object.keys(operations) as OperationName[];
  private readonly handled: OperationName[];
  private readonly material = new Map<OperationName, OperationMaterial>();
  private readonly withRequired: OperationName[];
  private readonly withoutRequired: OperationName[];
  /** Operations whose input has a required member naming a resource. */
  private readonly identified: OperationName[];
  private readonly withInvalidCases: OperationName[];
  private readonly withTypeCases: OperationName[];
  private readonly withValidCases: OperationName[];
  private readonly withMembers: OperationName[];
  /** Operations with constraint cases on two top-level members or more. */
  private readonly withSeveralMembers: OperationName[];

  constructor(private readonly options: GeneratorOptions) {
    this.random = options.random;
    this.url = new URL(options.endpoint);
    this.inputs = new ValidInputs(options.random, options.known);
    this.handled = this.operations.filter((op) => !options.unavailable.has(op));
    const size = (c: { edits: readonly Edit[] }): number => c.edits.reduce((n, e) => n + (typeof e.value === 'string' ? e.value.length : JSON.stringify(e.value ?? null)?.length ?? 0), 0);
    for (const { operation, invalid, type, valid } of allCases()) {
      const small = <T extends { edits: readonly Edit[] }>(cases: T[]): T[] => cases.filter((c) => size(c) <= LARGE_CASE_CHARS);
      this.material.set(operation, {
        nodes: inputNodes(operation),
        invalid: small(invalid),
        type: small(type),
        valid: small(valid),
        large: [...invalid, ...type].filter((c) => size(c) > LARGE_CASE_CHARS),
      });
    }
    const required = (op: OperationName): readonly string[] => {
      const input = operations[op].input;
      const shape = input === null ? undefined : shapeOf(input);
      return shape?.type === 'structure' ? (shape.required ?? []) : [];
    };
    this.withRequired = this.operations.filter((op) => required(op).length > 0);
    this.withoutRequired = this.operations.filter((op) => required(op).length === 0);
    // DeleteWorkGroup of a workgroup that is not there succeeds: the model marks it idempotent.
    this.identified = this.handled.filter((op) => op !== 'DeleteWorkGroup' && required(op).some((m) => IDENTIFYING_MEMBERS.includes(m)));
    this.withInvalidCases = this.operations.filter((op) => this.materialOf(op).invalid.length > 0);
    this.withTypeCases = this.operations.filter((op) => this.materialOf(op).type.length > 0);
    this.withValidCases = this.operations.filter((op) => this.materialOf(op).valid.length > 0);
    this.withMembers = this.operations.filter((op) => this.materialOf(op).nodes.length > 0);
    this.withSeveralMembers = this.operations.filter((op) => new Set(this.materialOf(op).invalid.map(topMember)).size >= 2);
  }

  private materialOf(op: OperationName): OperationMaterial {
    return this.material.get(op)!;
  }

  /** Every large-body case of the model: strings at the longest limits plus one. */
  get largeCases(): (InvalidCase | TypeCase)[] {
    return this.operations.flatMap((op) => this.materialOf(op).large);
  }

  // --- Signing ------------------------------------------------------------------------------------------------

  private async signed(
    operation: string,
    body: Uint8Array,
    options: SigningOptions & { headers?: Record<string, string | undefined> } = {},
  ): Promise<RawRequest> {
    const headers = await signedHeaders(this.url, operation, body, options);
    return { headers: { ...headers, 'content-length': String(body.length) }, body };
  }

  /** A request for `operation` carrying `body`, signed with the test key pair. */
  signedFor(operation: string, body: Uint8Array): Promise<RawRequest> {
    return this.signed(operation, body);
  }

  private request(category: string, operation: string, raw: RawRequest, expect: Expectation, input?: Record<string, unknown>): FuzzRequest {
    return { category, operation, raw, expect, ...(input ? { input } : {}) };
  }

  /** A random operation of the model with a random valid input. */
  private validInput(): { operation: OperationName; input: Record<string, unknown> } {
    const operation = this.random.pick(this.operations);
    return { operation, input: this.inputs.input(operation) };
  }

  /**
   * The kinds of request of each phase, with their weights: `refused` ones the server must refuse,
   * `acceptable` ones carry a valid input, which the server may accept or refuse with a modelled error.
   */
  private readonly kinds: Record<'refused' | 'acceptable', readonly (readonly [number, () => Promise<FuzzRequest>])[]> = {
    refused: [
      [30, () => this.constraintCase()],
      [8, () => this.typeCase()],
      [10, () => this.wrongType()],
      [6, () => this.severalViolations()],
      [10, () => this.refusedByHandler()],
      [2, () => this.emptyBodyMissingRequired()],
      [2, () => this.notAnObject()],
      [5, () => this.truncated()],
      [5, () => this.invalidUtf8()],
      [2, () => this.deepNesting()],
      [3, () => this.wrongContentType()],
      [3, () => this.unknownTarget()],
      [12, () => this.badSignature()],
      [3, () => this.replayOfRefused()],
    ],
    acceptable: [
      [55, () => this.valid()],
      [10, () => this.withUnknownMembers()],
      [8, () => this.withNulls()],
      [12, () => this.atLimits()],
      [3, () => this.emptyBodyAllowed()],
      [12, () => this.headerVariant()],
    ],
  };

  next(kind: 'refused' | 'acceptable'): Promise<FuzzRequest> {
    return this.random.weighted(this.kinds[kind])();
  }

  // --- Requests that must be refused ----------------------------------------------------------------------

  private async constraintCase(): Promise<FuzzRequest> {
    const op = this.random.pick(this.withInvalidCases);
    const c = this.random.pick(this.materialOf(op).invalid);
    const input = applyEdits(this.inputs.input(op), cloneEdits(c.edits));
    return this.request('constraint', op, await this.signed(op, encode(input)), { refused: true, body: validationBody(c.violations) }, input);
  }

  private async typeCase(): Promise<FuzzRequest> {
    const op = this.random.pick(this.withTypeCases);
    const c = this.random.pick(this.materialOf(op).type);
    const input = applyEdits(this.inputs.input(op), cloneEdits(c.edits));
    return this.request('type', op, await this.signed(op, encode(input)), { refused: true, body: serializationBody(c.message) }, input);
  }

  /** A random wrong JSON value at a random member. */
  private async wrongType(): Promise<FuzzRequest> {
    const op = this.random.pick(this.withMembers);
    const node = this.random.pick(this.materialOf(op).nodes);
    const value = this.random.pick(wrongValues(node.shape));
    const input = applyEdits(this.inputs.input(op), [{ steps: node.steps, value }]);
    const message = typeMessage(tokenOf(value), JAVA_TYPE[node.shape.type], node.path);
    return this.request('wrong-type', op, await this.signed(op, encode(input)), { refused: true, body: serializationBody(message) }, input);
  }

  /** Two to four constraint cases on different top-level members: all are reported, in the model's order. */
  private async severalViolations(): Promise<FuzzRequest> {
    const op = this.random.pick(this.withSeveralMembers);
    const all = this.materialOf(op).invalid;
    const chosen: InvalidCase[] = [];
    const want = this.random.int(2, 4);
    for (let i = 0; i < want * 4 && chosen.length < want; i++) {
      const c = this.random.pick(all);
      if (!chosen.some((d) => topMember(d) === topMember(c))) chosen.push(c);
    }
    chosen.sort((a, b) => all.indexOf(a) - all.indexOf(b));
    const input = applyEdits(this.inputs.input(op), chosen.flatMap((c) => cloneEdits(c.edits)));
    const violations: Violation[] = chosen.flatMap((c) => c.violations);
    return this.request('several-violations', op, await this.signed(op, encode(input)), { refused: true, body: validationBody(violations) }, input);
  }

  /**
   * A valid input the handler must refuse: an operation Owlet does not serve, a resource that is not there,
   * or a workgroup name that is taken. `workGroups` are the workgroups the store holds.
   */
  async refusedByHandler(workGroups: readonly string[] = ['primary']): Promise<FuzzRequest> {
    const r = this.random;
    if (r.chance(0.3) && this.options.unavailable.size > 0) {
      const op = r.pick([...this.options.unavailable]);
      const input = this.inputs.input(op);
      const body = JSON.stringify(unavailableOperation(op).body());
      return this.request('unavailable-operation', op, await this.signed(op, encode(input)), { refused: true, body }, input);
    }
    if (r.chance(0.15)) {
      const input = { ...this.inputs.input('CreateWorkGroup'), Name: r.pick(workGroups) };
      return this.request('name-taken', 'CreateWorkGroup', await this.signed('CreateWorkGroup', encode(input)), { refused: true }, input);
    }
    const op = r.pick(this.identified);
    const input = this.inputs.input(op);
    const missing = this.inputs.freshWorkGroupName('fuzz-missing');
    const absent: Record<string, string> = {
      WorkGroup: missing,
      SessionId: r.uuid(),
      CalculationExecutionId: r.uuid(),
      NotebookId: r.uuid(),
      ResourceARN: r.chance(0.5) ? workGroupArn(missing) : `arn:aws:athena:us-east-1:999999999999:workgroup/${r.pick(workGroups)}`,
    };
    for (const member of IDENTIFYING_MEMBERS) if (member in input) input[member] = absent[member];
    return this.request('resource-not-there', op, await this.signed(op, encode(input)), { refused: true }, input);
  }

  private async emptyBodyMissingRequired(): Promise<FuzzRequest> {
    const op = this.random.pick(this.withRequired);
    const shape = shapeOf(operations[op].input) as Extract<Shape, { type: 'structure' }>;
    const violations = (shape.required ?? []).map((m) => ({ path: m.charAt(0).toLowerCase() + m.slice(1), constraint: MUST_NOT_BE_NULL }));
    const body = this.random.pick(['', '{}', ' \n\t', '{ }']);
    return this.request('empty-body', op, await this.signed(op, Buffer.from(body)), { refused: true, body: validationBody(violations) });
  }

  private async notAnObject(): Promise<FuzzRequest> {
    const op = this.random.pick(this.operations);
    const depth = this.random.int(1, 5000);
    const text = this.random.pick(['[]', '[{}]', '"x"', '""', '42', '-1.5', '1e400', 'true', 'false', 'null', ' \n[1]', `${'['.repeat(depth)}${']'.repeat(depth)}`]);
    const token = { '[': 'START_ARRAY', '"': 'STRING_VALUE', t: 'BOOLEAN_VALUE', f: 'BOOLEAN_VALUE', n: 'VALUE_NULL' }[text.trim()[0]!] ?? 'NUMBER_VALUE';
    return this.request('not-an-object', op, await this.signed(op, Buffer.from(text)), { refused: true, body: serializationBody(typeMessage(token, 'Structure', '')) });
  }

  /** A body of a valid request cut short. Every proper prefix of an object's JSON text is not JSON. */
  private async truncated(): Promise<FuzzRequest> {
    const { operation, input } = this.validInput();
    const full = encode(input);
    if (full.length < 2) return this.notAnObject();
    const bytes = full.subarray(0, this.random.int(1, full.length - 1));
    let body = NOT_JSON;
    try {
      strictUtf8.decode(bytes);
    } catch {
      // Cut inside a character: the body is not UTF-8 before it is not JSON.
      body = NOT_UTF8;
    }
    return this.request('truncated-json', operation, await this.signed(operation, bytes), { refused: true, body });
  }

  private async invalidUtf8(): Promise<FuzzRequest> {
    const { operation, input } = this.validInput();
    const full = encode(input);
    for (;;) {
      const at = this.random.int(0, full.length);
      const bytes = Buffer.concat([full.subarray(0, at), Buffer.from(this.random.pick(INVALID_UTF8)), full.subarray(at)]);
      try {
        strictUtf8.decode(bytes);
      } catch {
        return this.request('invalid-utf8', operation, await this.signed(operation, bytes), { refused: true, body: NOT_UTF8 });
      }
    }
  }

  /** Thousands of nested arrays (objects, for a list) where a member's value goes. */
  private async deepNesting(): Promise<FuzzRequest> {
    const op = this.random.pick(this.withMembers);
    const node = this.random.pick(this.materialOf(op).nodes);
    // Mostly a few thousand levels; now and then a hundred thousand (V8 parses JSON without recursion, but
    // each such body costs the server tens of milliseconds).
    const depth = this.random.chance(0.02) ? 100_000 : this.random.int(100, 5_000);
    const value =
      node.shape.type === 'list' ? new RawJson(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`) : new RawJson(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    const input = applyEdits(this.inputs.input(op), [{ steps: node.steps, value }]);
    const message = typeMessage(tokenOf(value), JAVA_TYPE[node.shape.type], node.path);
    return this.request('deep-nesting', op, await this.signed(op, encode(input)), { refused: true, body: serializationBody(message) });
  }

  private async wrongContentType(): Promise<FuzzRequest> {
    const { operation, input } = this.validInput();
    const contentType = this.random.chance(0.2) ? undefined : this.random.pick(WRONG_CONTENT_TYPES);
    const raw = await this.signed(operation, encode(input), { headers: { 'content-type': contentType } });
    return this.request('content-type', operation, raw, { refused: true, types: [SERIALIZATION] }, input);
  }

  private async unknownTarget(): Promise<FuzzRequest> {
    const r = this.random;
    const { operation, input } = this.validInput();
    const body = encode(input);
    const expect: Expectation = { refused: true, types: ['UnknownOperationException'] };
    switch (r.int(0, 2)) {
      case 0: {
        const target = r.pick([...UNKNOWN_TARGETS, `AmazonAthena.${operation.toLowerCase()}`]);
        const raw = await this.signed(operation, body, { headers: { 'x-amz-target': target } });
        return this.request('unknown-target', target.replace(/^AmazonAthena\./, ''), raw, expect);
      }
      case 1:
        return this.request('missing-target', '', await this.signed(operation, body, { headers: { 'x-amz-target': undefined } }), expect);
      default: {
        const raw = await this.signed(operation, body);
        return this.request('wrong-method', operation, { ...raw, method: r.pick(['PUT', 'DELETE', 'PATCH', 'GET']) }, expect, input);
      }
    }
  }

  /** A valid request whose signature is missing, malformed, wrong, for another scope or out of date. */
  private async badSignature(): Promise<FuzzRequest> {
    const r = this.random;
    const { operation, input } = this.validInput();
    const body = encode(input);
    const refusedAs = (type: string, raw: RawRequest, category: string): FuzzRequest =>
      this.request(`signature-${category}`, operation, raw, { refused: true, types: [type] }, input);
    const edit = (raw: RawRequest, change: (authorization: string) => string): RawRequest => ({
      ...raw,
      headers: { ...raw.headers, authorization: change(raw.headers.authorization!) },
    });
    const noContentHash = r.chance(0.5);
    switch (r.int(0, 15)) {
      case 0: {
        const { authorization: _a, ...headers } = (await this.signed(operation, body)).headers;
        return refusedAs('MissingAuthenticationTokenException', { headers, body }, 'missing');
      }
      case 1:
        return refusedAs(
          'UnrecognizedClientException',
          await this.signed(operation, body, { credentials: { accessKeyId: `AKIDFUZZ${r.int(0, 9999)}`, secretAccessKey: 'fuzz' } }),
          'unknown-key',
        );
      case 2:
        return refusedAs(
          'InvalidSignatureException',
          await this.signed(operation, body, { credentials: { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: `${TEST_CREDENTIALS.secretAccessKey}x` } }),
          'wrong-secret',
        );
      case 3: {
        // The body changed after signing, with and without x-amz-content-sha256: a space, or another body.
        const raw = await this.signed(operation, body, { noContentHash });
        const other = r.chance(0.5) ? Buffer.concat([body, Buffer.from(' ')]) : encode(this.inputs.input(operation));
        if (other.equals(body)) return this.badSignature();
        return refusedAs('InvalidSignatureException', { headers: { ...raw.headers, 'content-length': String(other.length) }, body: other }, 'body-changed');
      }
      case 4: {
        // A signed header changed after signing: the operation, or the content type (still a valid one).
        const raw = await this.signed(operation, body, { noContentHash });
        const other = r.pick(this.operations.filter((o) => o !== operation));
        const headers = r.chance(0.5)
          ? { ...raw.headers, 'x-amz-target': `AmazonAthena.${other}` }
          : { ...raw.headers, 'content-type': 'application/x-amz-json-1.1; charset=utf-8' };
        return refusedAs('InvalidSignatureException', { headers, body }, 'header-changed');
      }
      case 5: {
        const minutes = r.int(16, 60 * 24 * 8);
        return refusedAs('InvalidSignatureException', await this.signed(operation, body, { signingDate: new Date(Date.now() - minutes * MINUTE) }), 'expired');
      }
      case 6: {
        const minutes = r.int(16, 60 * 24 * 8);
        return refusedAs('InvalidSignatureException', await this.signed(operation, body, { signingDate: new Date(Date.now() + minutes * MINUTE) }), 'not-yet-current');
      }
      case 7:
        return refusedAs('InvalidSignatureException', await this.signed(operation, body, { service: r.pick(['s3', 'dynamodb', 'Athena', 'athenax']) }), 'wrong-service');
      case 8:
        // The day in the scope differs from X-Amz-Date's.
        return refusedAs('InvalidSignatureException', edit(await this.signed(operation, body), (a) => a.replace(/\/(\d{8})\//, '/19990101/')), 'scope-date');
      case 9:
        return refusedAs(
          'IncompleteSignatureException',
          edit(await this.signed(operation, body), (a) => a.replace('AWS4-HMAC-SHA256', r.pick(['AWS4-HMAC-SHA512', 'AWS3', 'aws4-hmac-sha256', 'Bearer']))),
          'algorithm',
        );
      case 10: {
        const part = r.pick(['Credential', 'SignedHeaders', 'Signature']);
        return refusedAs('IncompleteSignatureException', edit(await this.signed(operation, body), (a) => a.replace(new RegExp(`${part}=[^,]*`), '')), 'part-missing');
      }
      case 11:
        return refusedAs(
          'IncompleteSignatureException',
          edit(await this.signed(operation, body), (a) => a.replace('/aws4_request', r.pick(['', '/aws4_request/extra', '/aws5_request']))),
          'scope-malformed',
        );
      case 12: {
        const raw = await this.signed(operation, body);
        const { 'x-amz-date': date, ...headers } = raw.headers;
        // Malformed: not the basic format, a time that does not exist (month 13, 30 February, hour 24), or
        // empty, which is the same as none.
        const malformed = [`${date!.slice(0, 4)}-${date!.slice(4)}`, 'yesterday', `${date!.slice(0, 4)}1301T000000Z`, '20260230T120000Z', `${date!.slice(0, 8)}T240000Z`, '00000101T000000Z', ''];
        const changed = r.chance(0.3) ? headers : { ...headers, 'x-amz-date': r.pick(malformed) };
        return refusedAs('IncompleteSignatureException', { headers: changed, body }, 'date-missing');
      }
      case 13:
        return refusedAs('InvalidSignatureException', edit(await this.signed(operation, body), (a) => a.replace(/host;?/, '')), 'host-unsigned');
      case 14:
        return refusedAs(
          'InvalidSignatureException',
          edit(await this.signed(operation, body), (a) =>
            a.replace(/Signature=([0-9a-f]+)/, (_m, sig: string) =>
              `Signature=${r.pick([sig.toUpperCase(), sig.slice(0, -1), `${sig}0`, sig.replace(/^./, (c) => (c === '0' ? '1' : '0'))])}`,
            ),
          ),
          'signature-altered',
        );
      default: {
        const raw = await this.signed(operation, body);
        return refusedAs('InvalidSignatureException', { headers: { ...raw.headers, 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }, body }, 'content-hash');
      }
    }
  }

  private async replayOfRefused(): Promise<FuzzRequest> {
    const pick = this.random.weighted<() => Promise<FuzzRequest>>([
      [3, () => this.badSignature()],
      [3, () => this.constraintCase()],
      [1, () => this.refusedByHandler()],
    ]);
    const request = await pick();
    return { ...request, category: `replay-refused`, replay: true };
  }

  /** A request over a limit of its operation by millions of characters: one of the model's large-body cases. */
  async largeCase(): Promise<FuzzRequest> {
    const c = this.random.pick(this.largeCases);
    const input = applyEdits(this.inputs.input(c.operation), cloneEdits(c.edits));
    const body = 'violations' in c ? validationBody(c.violations) : serializationBody(c.message);
    return this.request('large-body', c.operation, await this.signed(c.operation, encode(input)), { refused: true, body });
  }

  // --- Requests the server may accept ---------------------------------------------------------------------

  /** An operation for a valid request: mostly one Owlet serves, where valid requests do something. */
  private servedOperation(): OperationName {
    return this.random.chance(0.85) ? this.random.pick(this.handled) : this.random.pick(this.operations);
  }

  private async valid(): Promise<FuzzRequest> {
    const operation = this.servedOperation();
    const input = this.inputs.input(operation);
    return this.request('valid', operation, await this.signed(operation, encode(input)), { refused: false }, input);
  }

  /** Members the model does not have, in the input and in the structures inside it: ignored by the server. */
  private async withUnknownMembers(): Promise<FuzzRequest> {
    const r = this.random;
    const op = this.servedOperation();
    const input = this.inputs.input(op);
    const structures: Record<string, unknown>[] = [input];
    collectStructures(operations[op].input, input, structures);
    for (let i = r.int(1, 3); i > 0; i--) {
      const target = r.pick(structures);
      const names = [...UNKNOWN_MEMBER_NAMES, ...Object.keys(target).map((k) => k.toLowerCase())];
      const name = r.pick(names);
      if (Object.hasOwn(target, name)) continue;
      const depth = r.int(1, 5_000);
      const value = r.pick<unknown>([
        null,
        1e300,
        'text',
        [1, 'two', { three: [3] }],
        { Name: 'not a member here', WorkGroup: 42 },
        new RawJson(`${'['.repeat(depth)}${']'.repeat(depth)}`),
        new RawJson('1e400'),
        this.inputs.text(r.int(0, 200)),
      ]);
      Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
    }
    return this.request('unknown-members', op, await this.signed(op, encode(input)), { refused: false }, input);
  }

  /** Optional members sent as null, which means absent. */
  private async withNulls(): Promise<FuzzRequest> {
    const op = this.servedOperation();
    const input = this.inputs.input(op);
    const optional = this.materialOf(op).nodes.filter((n) => !n.required && !n.listItem && n.steps.every((s) => 'member' in s));
    const edits: Edit[] = [];
    for (const node of optional) if (this.random.chance(0.3)) edits.push({ steps: node.steps, value: null });
    // A null inside a structure that is itself absent would create it; only nulls where the parent is there.
    const present = edits.filter((e) => hasParent(input, e.steps.map((s) => ('member' in s ? s.member : ''))));
    applyEdits(input, present);
    return this.request('null-members', op, await this.signed(op, encode(input)), { refused: false }, input);
  }

  /** A member at a limit of its constraints (the validation suite's valid cases). */
  private async atLimits(): Promise<FuzzRequest> {
    const op = this.random.pick(this.withValidCases);
    const c = this.random.pick(this.materialOf(op).valid);
    const input = applyEdits(this.inputs.input(op), cloneEdits(c.edits));
    return this.request('at-limits', op, await this.signed(op, encode(input)), { refused: false }, input);
  }

  private async emptyBodyAllowed(): Promise<FuzzRequest> {
    const op = this.random.pick(this.withoutRequired);
    const body = this.random.pick(['', '{}', ' ', '\n']);
    return this.request('empty-body-allowed', op, await this.signed(op, Buffer.from(body)), { refused: false }, {});
  }

  /** A valid request that differs in a way clients differ: headers, encoding, signing. */
  private async headerVariant(): Promise<FuzzRequest> {
    const r = this.random;
    const op = this.servedOperation();
    const input = this.inputs.input(op);
    const body = encode(input);
    const accept = (raw: RawRequest, variant: string): FuzzRequest => this.request(`variant-${variant}`, op, raw, { refused: false }, input);
    switch (r.int(0, 6)) {
      case 0:
        return accept(await this.signed(op, body, { headers: { 'content-type': r.pick(['application/x-amz-json-1.1; charset=utf-8', 'APPLICATION/X-AMZ-JSON-1.1', 'application/x-amz-json-1.1 ']) } }), 'content-type');
      case 1:
        // botocore signs Athena requests without x-amz-content-sha256.
        return accept(await this.signed(op, body, { noContentHash: true }), 'no-content-hash');
      case 2:
        return accept(await this.signed(op, body, { signingDate: new Date(Date.now() - r.int(1, 13) * MINUTE) }), 'clock-behind');
      case 3:
        // Owlet serves every region from one endpoint.
        return accept(await this.signed(op, body, { region: r.pick(['eu-west-1', 'ap-southeast-2', 'us-gov-west-1']) }), 'region');
      case 4: {
        const raw = await this.signed(op, body);
        const { 'content-length': _length, ...headers } = raw.headers;
        return accept({ headers: { ...headers, 'transfer-encoding': 'chunked' }, body }, 'chunked');
      }
      case 5: {
        // A byte-order mark before the JSON: the UTF-8 decoder drops it.
        const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
        return accept(await this.signed(op, withBom), 'byte-order-mark');
      }
      default:
        return accept(await this.signed(op, body, { headers: { 'x-amz-user-agent': 'fuzz/1.0', 'user-agent': this.inputs.text(20).replace(/[^\x20-\x7e]/g, '?'), 'amz-sdk-invocation-id': r.uuid() } }), 'extra-headers');
    }
  }

  /**
   * A state-changing request sent twice. The first answer decides what the second must be (FuzzTraffic):
   * a workgroup created by the first is "already created" for the second; a request with a
   * ClientRequestToken answers the second exactly as the first and creates nothing more.
   */
  async replayOfChange(): Promise<FuzzRequest> {
    const r = this.random;
    const op = r.pick<OperationName>(['CreateWorkGroup', 'StartSession', 'StartCalculationExecution', 'CreateNotebook', 'ImportNotebook', 'UpdateNotebook', 'UpdateNotebookMetadata']);
    const input = this.inputs.input(op);
    if (op === 'CreateWorkGroup') input.Name = this.inputs.freshWorkGroupName();
    else input.ClientRequestToken = r.uuid();
    return { ...this.request('replay-change', op, await this.signed(op, encode(input)), { refused: false }, input), replay: true };
  }
}

/** Copies the values of edits, so that a case applied to one input never changes another through shared objects. */
function cloneEdits(edits: readonly Edit[]): Edit[] {
  return edits.map((e) => ({ steps: e.steps, value: e.value === ABSENT || typeof e.value !== 'object' || e.value === null ? e.value : structuredClone(e.value) }));
}

/** The structures inside `value` (of shape `name`), for unknown members to go into. */
function collectStructures(name: string | null, value: unknown, out: Record<string, unknown>[]): void {
  if (name === null || value === null || typeof value !== 'object') return;
  const shape = shapeOf(name);
  if (shape.type === 'structure') {
    if (!out.includes(value as Record<string, unknown>)) out.push(value as Record<string, unknown>);
    for (const [member, target] of Object.entries(shape.members)) collectStructures(target, (value as Record<string, unknown>)[member], out);
  } else if (shape.type === 'list' && Array.isArray(value)) {
    for (const item of value) collectStructures(shape.member, item, out);
  }
}

/** Whether the structure holding the member at `path` (member names) is in `input`. */
function hasParent(input: Record<string, unknown>, path: readonly string[]): boolean {
  let at: unknown = input;
  for (const member of path.slice(0, -1)) {
    if (at === null || typeof at !== 'object') return false;
    at = (at as Record<string, unknown>)[member];
  }
  return at !== null && typeof at === 'object';
}
