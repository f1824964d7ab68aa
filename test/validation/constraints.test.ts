// Input validation on the wire, for every operation of the model, with cases derived from its constraint table
// (model-cases.ts): required members, string lengths (in code points), patterns (whole value), enums, numeric
// ranges, list lengths, map keys and values, and JSON type errors. Each refusal is checked byte for byte.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateWorkGroupCommand,
  GetSessionCommand,
  type GetSessionCommandInput,
  GetWorkGroupCommand,
  InvalidRequestException,
  ListWorkGroupsCommand,
  TagResourceCommand,
} from '@aws-sdk/client-athena';
import { type OperationName, operations, shapes } from '../../src/generated/athena-model.js';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from '../harness.js';
import {
  ABSENT,
  allCases,
  buildInput,
  CONSTRAINT_KINDS,
  type ConstraintKind,
  enumConstraint,
  type InvalidCase,
  lengthMax,
  lengthMin,
  MUST_NOT_BE_NULL,
  patternConstraint,
  reachablePatternShapes,
  shapeOf,
  stringConstraints,
  topMember,
  typeMessage,
  validationBody,
  validationMessage,
  valueMax,
  valueMin,
  type Violation,
} from './model-cases.js';
import { ASTRAL, PATTERN_SAMPLES } from './samples.js';
import { type RawResponse, SignedHttpClient } from '../wire.js';

const OPERATIONS = Object.keys(operations) as OperationName[];
const CASES = allCases();

let owlet: TestOwlet;
let http: SignedHttpClient;

function assertAwsHeaders(r: RawResponse): void {
  assert.ok(r.headers['x-amzn-requestid'], 'x-amzn-RequestId is on every response');
  assert.equal(r.headers['content-type'], 'application/x-amz-json-1.1');
}

/** Sends `body` and checks the exact InvalidRequestException the violations make. */
async function expectViolations(operation: OperationName, body: string | Uint8Array, violations: readonly Violation[]): Promise<void> {
  const r = await http.call(operation, body);
  assert.equal(r.status, 400, `${operation} answered ${r.status} ${r.text}`);
  assertAwsHeaders(r);
  // Parsed first, for a readable difference; then as text, for the key order.
  const expected = validationBody(violations);
  assert.deepEqual(JSON.parse(r.text), JSON.parse(expected));
  assert.equal(r.text, expected);
}

/** Sends `body` and checks the exact SerializationException. */
async function expectSerializationError(operation: OperationName, body: string | Uint8Array, message: string): Promise<void> {
  const r = await http.call(operation, body);
  assert.equal(r.status, 400, `${operation} answered ${r.status} ${r.text}`);
  assertAwsHeaders(r);
  assert.equal(r.text, JSON.stringify({ __type: 'SerializationException', Message: message }), `${operation}`);
}

const VALIDATION_MESSAGE = /^\d+ validation errors? detected: /;

/** Sends `body` and checks it got past validation: a success, or a refusal that is not about the input's form. */
async function expectPassesValidation(operation: OperationName, body: string): Promise<RawResponse> {
  const r = await http.call(operation, body);
  assertAwsHeaders(r);
  if (r.status === 200) return r;
  assert.equal(r.status, 400, `${operation} ${body.slice(0, 200)} answered ${r.status} ${r.text}`);
  const error = JSON.parse(r.text) as { __type?: string; Message?: string };
  assert.notEqual(error.__type, 'SerializationException', `${operation} ${body.slice(0, 200)}: ${r.text}`);
  assert.doesNotMatch(error.Message ?? '', VALIDATION_MESSAGE, `${operation} ${body.slice(0, 200)}`);
  return r;
}

const bodyOf = (c: { operation: OperationName; edits: InvalidCase['edits'] }): string => JSON.stringify(buildInput(c.operation, c.edits));

before(async () => {
  owlet = await startTestOwlet();
  http = new SignedHttpClient(owlet.endpoint, TEST_CREDENTIALS);
});

after(async () => {
  http.close();
  await owlet.stop();
});

describe('the derived cases', () => {
  it('cover every operation and every constraint kind', (t) => {
    assert.equal(OPERATIONS.length, 75);
    assert.deepEqual(
      CASES.map((c) => c.operation),
      OPERATIONS,
    );
    const perKind = new Map<ConstraintKind, number>(CONSTRAINT_KINDS.map((k) => [k, 0]));
    for (const { operation, invalid, type } of CASES) {
      assert.ok(invalid.length + type.length > 0, `${operation} has no invalid case`);
      for (const c of [...invalid, ...type]) perKind.set(c.kind, (perKind.get(c.kind) ?? 0) + 1);
    }
    for (const [kind, count] of perKind) {
      assert.ok(count > 0, `no case of kind ${kind}`);
      t.diagnostic(`${kind}: ${count} cases`);
    }
    const single = CASES.flatMap((c) => c.invalid).filter((c) => c.violations.length === 1).length;
    t.diagnostic(`${single} of ${CASES.flatMap((c) => c.invalid).length} constraint cases break exactly one constraint`);
    t.diagnostic(`${CASES.flatMap((c) => c.valid).length} values at limits or from the sample table`);
  });

  it('each break the constraint they are named for', () => {
    const expected: Partial<Record<ConstraintKind, RegExp>> = {
      required: /^Member must not be null$/,
      'length-min': /^Member must have length greater than or equal to \d+$/,
      'length-max': /^Member must have length less than or equal to \d+$/,
      'list-length-min': /^Member must have length greater than or equal to \d+$/,
      'list-length-max': /^Member must have length less than or equal to \d+$/,
      pattern: /^Member must satisfy regular expression pattern: /,
      enum: /^Member must satisfy enum value set: \[/,
      'range-min': /^Member must have value greater than or equal to -?\d+$/,
      'range-max': /^Member must have value less than or equal to -?\d+$/,
      'map-key': /^Map keys must satisfy constraint: \[/,
      'map-value': /^Map value must satisfy constraint: \[/,
    };
    for (const c of CASES.flatMap((o) => o.invalid)) {
      const pattern = expected[c.kind];
      assert.ok(pattern, c.kind);
      assert.ok(
        c.violations.some((v) => v.path === c.path && pattern.test(v.constraint)),
        `${c.operation} ${c.title}: ${JSON.stringify(c.violations)}`,
      );
    }
  });

  it('have a sample for every patterned shape an input can reach', () => {
    for (const name of reachablePatternShapes()) assert.ok(PATTERN_SAMPLES[name], `no sample for ${name}`);
  });

  it('use samples that satisfy the model, and bad samples that break only the pattern', () => {
    for (const [name, sample] of Object.entries(PATTERN_SAMPLES)) {
      const shape = shapeOf(name);
      assert.equal(shape.type, 'string', name);
      if (shape.type !== 'string' || shape.pattern === undefined) continue;
      assert.deepEqual(stringConstraints(shape, sample.valid), [], `${name} sample ${sample.valid}`);
      for (const bad of sample.invalid) {
        assert.deepEqual(stringConstraints(shape, bad), [patternConstraint(shape.pattern)], `${name} bad sample ${JSON.stringify(bad)}`);
      }
      for (const n of [1, 2, 20, 36, 64, shape.max ?? 300]) {
        const value = sample.ofLength?.(n);
        if (value === undefined) continue;
        assert.equal([...value].length, n, `${name} ofLength(${n})`);
        assert.equal(new RegExp(`^(?:${shape.pattern})$`, 'u').test(value), true, `${name} ofLength(${n})`);
      }
    }
  });
});

describe('every operation', () => {
  for (const { operation, invalid, type, valid } of CASES) {
    describe(operation, () => {
      it('passes a minimal valid input', async () => {
        await expectPassesValidation(operation, bodyOf({ operation, edits: [] }));
      });

      for (const c of valid) {
        it(c.title, async () => {
          await expectPassesValidation(operation, bodyOf(c));
        });
      }

      for (const c of invalid) {
        it(c.title, async () => {
          await expectViolations(operation, bodyOf(c), c.violations);
        });
      }

      for (const c of type) {
        it(c.title, async () => {
          await expectSerializationError(operation, bodyOf(c), c.message);
        });
      }

      // The first one-violation case of each top-level member, all in one request: the service reports them
      // all, in the model's member order.
      const combined: InvalidCase[] = [];
      for (const c of invalid) {
        if (c.violations.length === 1 && !combined.some((d) => topMember(d) === topMember(c))) combined.push(c);
      }
      if (combined.length >= 2) {
        it(`reports ${combined.length} violations at once`, async () => {
          const edits = combined.flatMap((c) => c.edits);
          const violations = combined.flatMap((c) => c.violations);
          await expectViolations(operation, JSON.stringify(buildInput(operation, edits)), violations);
        });
      }
    });
  }
});

describe('request bodies', () => {
  /** The violations of `{}`: one per required top-level member, in the model's order. */
  const emptyInputViolations = (operation: OperationName): Violation[] => {
    const input = shapeOf(operations[operation].input);
    if (input.type !== 'structure') return [];
    return (input.required ?? []).map((m) => ({ path: m.charAt(0).toLowerCase() + m.slice(1), constraint: MUST_NOT_BE_NULL }));
  };

  it('an empty body is read as {}, on every operation', async () => {
    for (const operation of OPERATIONS) {
      const violations = emptyInputViolations(operation);
      if (violations.length === 0) await expectPassesValidation(operation, '');
      else await expectViolations(operation, '', violations);
      // The same as sending {}.
      if (violations.length > 0) await expectViolations(operation, '{}', violations);
    }
  });

  it('an empty body on an operation with two required members reports both', async () => {
    await expectViolations('GetPreparedStatement', '', [
      { path: 'statementName', constraint: MUST_NOT_BE_NULL },
      { path: 'workGroup', constraint: MUST_NOT_BE_NULL },
    ]);
  });

  for (const [title, body] of [
    ['an unterminated object', '{'],
    ['a missing value', '{"WorkGroup":}'],
    ['single quotes', "{'WorkGroup':'primary'}"],
    ['a trailing comma', '{"WorkGroup":"primary",}'],
    ['two objects', '{} {}'],
    ['plain text', 'WorkGroup=primary'],
  ] as const) {
    it(`malformed JSON (${title}) is a SerializationException, on every operation`, async () => {
      for (const operation of OPERATIONS) await expectSerializationError(operation, body, 'The request body is not valid JSON.');
    });
  }

  for (const [body, token] of [
    ['[]', 'START_ARRAY'],
    ['[{"WorkGroup":"primary"}]', 'START_ARRAY'],
    ['"primary"', 'STRING_VALUE'],
    ['42', 'NUMBER_VALUE'],
    ['true', 'BOOLEAN_VALUE'],
  ] as const) {
    it(`a body that is not an object (${body}) is a SerializationException, on every operation`, async () => {
      for (const operation of OPERATIONS) await expectSerializationError(operation, body, typeMessage(token, 'Structure', ''));
    });
  }

  it('a body of null is a SerializationException', async () => {
    const r = await http.call('ListWorkGroups', 'null');
    assert.equal(r.status, 400);
    assert.equal((JSON.parse(r.text) as { __type: string }).__type, 'SerializationException');
  });

  it('a body of null is named VALUE_NULL, not START_OBJECT', async () => {
    await expectSerializationError('ListWorkGroups', 'null', typeMessage('VALUE_NULL', 'Structure', ''));
  });

  for (const [title, bytes] of [
    ['a stray continuation byte', [0x7b, 0x80, 0x7d]],
    ['an invalid byte', [0x7b, 0x22, 0x57, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]],
    ['an overlong encoding', [0x7b, 0xc0, 0xaf, 0x7d]],
    ['an encoded surrogate', [0x7b, 0xed, 0xa0, 0x80, 0x7d]],
    ['a truncated sequence', [0x7b, 0x22, 0xe2, 0x82, 0x22, 0x7d]],
  ] as const) {
    it(`invalid UTF-8 (${title}) is a SerializationException, on every operation`, async () => {
      for (const operation of OPERATIONS) {
        await expectSerializationError(operation, new Uint8Array(bytes), 'The request body is not valid UTF-8.');
      }
    });
  }

  it('a wrong type anywhere stops the request before any constraint is checked', async () => {
    // MaxResults as text, beside a NextToken that is too short: only the type error is reported.
    await expectSerializationError('ListWorkGroups', '{"NextToken":"","MaxResults":"10"}', typeMessage('STRING_VALUE', 'Integer', 'maxResults'));
  });

  it('a fractional number for an integer member is a type error', async () => {
    await expectSerializationError('ListWorkGroups', '{"MaxResults":1.5}', typeMessage('NUMBER_VALUE', 'Integer', 'maxResults'));
  });

  it('an integer member outside Java int range is a type error, as Coral cannot convert it', async () => {
    await expectSerializationError('ListTagsForResource', '{"ResourceARN":"arn:aws:athena:us-east-1:123456789012:workgroup/primary","MaxResults":2147483648}', typeMessage('NUMBER_VALUE', 'Integer', 'maxResults'));
    await expectPassesValidation('ListTagsForResource', '{"ResourceARN":"arn:aws:athena:us-east-1:123456789012:workgroup/primary","MaxResults":2147483647}');
  });

  it('members the model does not know are ignored', async () => {
    await expectPassesValidation('ListWorkGroups', '{"MaxResults":5,"Unknown":{"deep":[1,2,3]},"maxResults":"ignored"}');
  });
});

describe('constraint details', () => {
  it('lengths count code points, not UTF-16 units', async () => {
    // 1,024 owls are 2,048 UTF-16 units: at the limit of DescriptionString, not over it.
    await expectPassesValidation('CreateWorkGroup', JSON.stringify({ Name: 'owlet-codepoints', Description: ASTRAL.repeat(1024) }));
    await expectViolations('CreateWorkGroup', JSON.stringify({ Name: 'owlet-codepoints-2', Description: ASTRAL.repeat(1025) }), [
      { path: 'description', constraint: lengthMax(1024) },
    ]);
    // 31 owls are 62 units, still under the 32 code points an idempotency token needs.
    await expectViolations('StartSession', JSON.stringify({ WorkGroup: 'spark', EngineConfiguration: {}, ClientRequestToken: ASTRAL.repeat(31) }), [
      { path: 'clientRequestToken', constraint: lengthMin(32) },
    ]);
  });

  it('an unpaired low surrogate counts as one code point', async () => {
    // JSON can carry an unpaired surrogate as an escape; Java counts it as one code point, so only the
    // pattern fails here.
    const pattern = (shapes.CatalogNameString as { pattern: string }).pattern;
    await expectViolations('GetDataCatalog', '{"Name":"\\udc00"}', [{ path: 'name', constraint: patternConstraint(pattern) }]);
  });

  it('patterns must match the whole value', async () => {
    const pattern = (shapes.WorkGroupName as { pattern: string }).pattern;
    for (const name of ['bad name!', ' primary', 'primary ', 'w'.repeat(129)]) {
      await expectViolations('GetWorkGroup', JSON.stringify({ WorkGroup: name }), [{ path: 'workGroup', constraint: patternConstraint(pattern) }]);
    }
  });

  it('enum values match exactly', async () => {
    const values = ['ENABLED', 'DISABLED'];
    for (const state of ['enabled', 'ENABLED ', '']) {
      await expectViolations('UpdateWorkGroup', JSON.stringify({ WorkGroup: 'primary', State: state }), [{ path: 'state', constraint: enumConstraint(values) }]);
    }
  });

  it('list items are named <list>.<n>.member, counted from 1', async () => {
    await expectViolations('BatchGetNamedQuery', JSON.stringify({ NamedQueryIds: ['ok-1', 'ok-2', 'has space', null] }), [
      { path: 'namedQueryIds.3.member', constraint: patternConstraint('\\S+') },
      { path: 'namedQueryIds.4.member', constraint: MUST_NOT_BE_NULL },
    ]);
    await expectViolations('TagResource', JSON.stringify({ ResourceARN: 'arn', Tags: [{ Key: 'a' }, { Key: 'b' }, { Key: '' }] }), [
      { path: 'tags.3.member.key', constraint: lengthMin(1) },
    ]);
  });

  it('nested members are reported by their full path, in the model order, with a count', async () => {
    const body = {
      Name: 'owlet-nested',
      Configuration: {
        ResultConfiguration: { OutputLocation: 's3://b/', EncryptionConfiguration: {}, ExpectedBucketOwner: '12' },
        BytesScannedCutoffPerQuery: 1,
        EngineConfiguration: { CoordinatorDpuSize: 2, MaxConcurrentDpus: 1 },
      },
      Tags: [{ Key: 'k', Value: 'v'.repeat(257) }],
    };
    await expectViolations('CreateWorkGroup', JSON.stringify(body), [
      { path: 'configuration.resultConfiguration.encryptionConfiguration.encryptionOption', constraint: MUST_NOT_BE_NULL },
      { path: 'configuration.resultConfiguration.expectedBucketOwner', constraint: lengthMin(12) },
      { path: 'configuration.bytesScannedCutoffPerQuery', constraint: valueMin(10000000) },
      { path: 'configuration.engineConfiguration.coordinatorDpuSize', constraint: valueMax(1) },
      { path: 'configuration.engineConfiguration.maxConcurrentDpus', constraint: valueMin(2) },
      { path: 'tags.1.member.value', constraint: lengthMax(256) },
    ]);
  });

  it('one value can break several constraints, listed length first, then pattern', async () => {
    const pattern = (shapes.StatementName as { pattern: string }).pattern;
    await expectViolations('GetPreparedStatement', JSON.stringify({ StatementName: '', WorkGroup: 'primary' }), [
      { path: 'statementName', constraint: lengthMin(1) },
      { path: 'statementName', constraint: patternConstraint(pattern) },
    ]);
  });

  it('map keys and values are checked as a whole, at the map', async () => {
    const keyPattern = (shapes.KeyString as { pattern: string }).pattern;
    await expectViolations(
      'CreateDataCatalog',
      JSON.stringify({ Name: 'cat', Type: 'GLUE', Parameters: { '': 'x', 'bell\u0007': 'y', [ASTRAL.repeat(256)]: 'z', also: null } }),
      [
        { path: 'parameters', constraint: `Map keys must satisfy constraint: [${lengthMin(1)}, ${patternConstraint(keyPattern)}, ${lengthMax(255)}]` },
        { path: 'parameters', constraint: `Map value must satisfy constraint: [${MUST_NOT_BE_NULL}]` },
      ],
    );
  });

  it('absent and null are the same for optional members', async () => {
    await expectPassesValidation('ListWorkGroups', '{"NextToken":null,"MaxResults":null}');
  });

  it('a required member that is absent is reported even when another member is invalid', async () => {
    const input = buildInput('CreateNamedQuery', [{ steps: [{ member: 'Database', shape: 'DatabaseString' }], value: ABSENT }]);
    await expectViolations('CreateNamedQuery', JSON.stringify({ ...input, Description: '' }), [
      { path: 'description', constraint: lengthMin(1) },
      { path: 'database', constraint: MUST_NOT_BE_NULL },
    ]);
  });
});

describe('through @aws-sdk/client-athena', () => {
  async function sdkRefusal(send: () => Promise<unknown>, message: string): Promise<void> {
    await assert.rejects(send, (error: unknown) => {
      assert.ok(error instanceof InvalidRequestException, String(error));
      assert.equal(error.name, 'InvalidRequestException');
      assert.equal(error.$metadata.httpStatusCode, 400);
      assert.ok(error.$metadata.requestId, 'the SDK reads x-amzn-RequestId');
      assert.equal(error.$fault, 'client');
      assert.equal(error.message, message);
      assert.equal(error.AthenaErrorCode, 'INVALID_INPUT');
      return true;
    });
  }

  it('surfaces a pattern violation', async () => {
    const client = owlet.client();
    const pattern = (shapes.WorkGroupName as { pattern: string }).pattern;
    await sdkRefusal(() => client.send(new GetWorkGroupCommand({ WorkGroup: 'bad name!' })), validationMessage([{ path: 'workGroup', constraint: patternConstraint(pattern) }]));
  });

  it('surfaces range violations, two at once', async () => {
    const client = owlet.client();
    await sdkRefusal(() => client.send(new ListWorkGroupsCommand({ MaxResults: 0 })), validationMessage([{ path: 'maxResults', constraint: valueMin(1) }]));
    await sdkRefusal(
      () => client.send(new ListWorkGroupsCommand({ MaxResults: 51, NextToken: '' })),
      validationMessage([
        { path: 'nextToken', constraint: lengthMin(1) },
        { path: 'maxResults', constraint: valueMax(50) },
      ]),
    );
  });

  it('surfaces a missing required member on an operation that is not available yet', async () => {
    const client = owlet.client();
    await sdkRefusal(() => client.send(new GetSessionCommand({} as GetSessionCommandInput)), validationMessage([{ path: 'sessionId', constraint: MUST_NOT_BE_NULL }]));
  });

  it('surfaces a length violation counted in code points, and a nested list path', async () => {
    const client = owlet.client();
    await sdkRefusal(
      () => client.send(new CreateWorkGroupCommand({ Name: 'owlet-sdk', Description: ASTRAL.repeat(1025) })),
      validationMessage([{ path: 'description', constraint: lengthMax(1024) }]),
    );
    await sdkRefusal(
      () => client.send(new TagResourceCommand({ ResourceARN: 'arn:aws:athena:us-east-1:123456789012:workgroup/primary', Tags: [{ Key: 'ok' }, { Key: 'k'.repeat(129) }] })),
      validationMessage([{ path: 'tags.2.member.key', constraint: lengthMax(128) }]),
    );
  });
});
