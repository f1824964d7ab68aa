// The HTTP front end and SigV4: what a request that is not a well-formed, well-signed Athena call gets.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from './harness.js';
import { callWire } from './wire.js';
import { JsonService } from '../src/protocol/json-service.js';
import { InvalidRequestError } from '../src/protocol/errors.js';

const MINUTE = 60_000;

function assertAwsError(response: { status: number; headers: Headers; json: Record<string, unknown> }, status: number, type: string): void {
  assert.equal(response.status, status);
  assert.equal(response.json.__type, type);
  assert.equal(response.headers.get('content-type'), 'application/x-amz-json-1.1');
  assert.ok(response.headers.get('x-amzn-requestid'), 'x-amzn-RequestId on every response');
  assert.equal(response.headers.get('x-amzn-errortype'), null, 'the real service sends no X-Amzn-ErrorType');
}

describe('SigV4', () => {
  let owlet: TestOwlet;
  before(async () => {
    owlet = await startTestOwlet();
  });
  after(() => owlet.stop());
  const get = '{"WorkGroup":"spark"}';

  it('accepts a request signed with the configured key pair', async () => {
    const r = await callWire(owlet.endpoint, 'GetWorkGroup', get);
    assert.equal(r.status, 200);
    assert.equal((r.json.WorkGroup as { Name: string }).Name, 'spark');
    assert.deepEqual([...r.headers.keys()].sort(), ['connection', 'content-length', 'content-type', 'date', 'keep-alive', 'x-amzn-requestid']);
  });

  it('refuses a request without a signature', async () => {
    const r = await callWire(owlet.endpoint, 'GetWorkGroup', get, { unsigned: true });
    assertAwsError(r, 400, 'MissingAuthenticationTokenException');
    assert.equal(r.json.message, 'Missing Authentication Token');
  });

  it('refuses an Authorization header that lacks parts', async () => {
    const r = await callWire(owlet.endpoint, 'GetWorkGroup', get, {
      unsigned: true,
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/athena/aws4_request', 'x-amz-date': '20260101T000000Z' },
    });
    assertAwsError(r, 400, 'IncompleteSignatureException');
    assert.match(String(r.json.message), /^Authorization header requires 'Signature' parameter\. Authorization header requires 'SignedHeaders' parameter\./);
  });

  it('refuses an X-Amz-Date that names no real time, rather than reading it as another time', async () => {
    // Found by the fuzzer: month 13 was read as January of the next year and hour 24 as the next day.
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    for (const date of [`${today.slice(0, 4)}1301T000000Z`, `${today}T240000Z`, '20260230T120000Z', '00000101T000000Z']) {
      const r = await callWire(owlet.endpoint, 'GetWorkGroup', get, {
        unsigned: true,
        headers: {
          authorization: `AWS4-HMAC-SHA256 Credential=${TEST_CREDENTIALS.accessKeyId}/${date.slice(0, 8)}/us-east-1/athena/aws4_request, SignedHeaders=host;x-amz-date, Signature=00`,
          'x-amz-date': date,
        },
      });
      assertAwsError(r, 400, 'IncompleteSignatureException');
      assert.equal(r.json.message, `Date must be in ISO-8601 'basic format'. Got '${date}'.`);
    }
  });

  it('refuses an unknown access key', async () => {
    const r = await callWire(owlet.endpoint, 'GetWorkGroup', get, { credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } });
    assertAwsError(r, 400, 'UnrecognizedClientException');
    assert.equal(r.json.message, 'The security token included in the request is invalid.');
  });

  it('refuses a wrong secret and a body changed after signing', async () => {
    const wrong = await callWire(owlet.endpoint, 'GetWorkGroup', get, {
      credentials: { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    assertAwsError(wrong, 400, 'InvalidSignatureException');
    assert.equal(
      wrong.json.message,
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
    const swap = () => new TextEncoder().encode('{"WorkGroup":"primary"}');
    for (const noContentHash of [false, true]) {
      const tampered = await callWire(owlet.endpoint, 'GetWorkGroup', get, { tamper: swap, noContentHash });
      assertAwsError(tampered, 400, 'InvalidSignatureException');
    }
    const botocoreStyle = await callWire(owlet.endpoint, 'GetWorkGroup', get, { noContentHash: true });
    assert.equal(botocoreStyle.status, 200);
  });

  it('refuses signatures more than 15 minutes off the clock, and accepts them within', async () => {
    const old = await callWire(owlet.endpoint, 'GetWorkGroup', get, { signingDate: new Date(Date.now() - 16 * MINUTE) });
    assertAwsError(old, 400, 'InvalidSignatureException');
    assert.match(String(old.json.message), /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
    const future = await callWire(owlet.endpoint, 'GetWorkGroup', get, { signingDate: new Date(Date.now() + 16 * MINUTE) });
    assertAwsError(future, 400, 'InvalidSignatureException');
    assert.match(String(future.json.message), /^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 15 min\.\)$/);
    const skewed = await callWire(owlet.endpoint, 'GetWorkGroup', get, { signingDate: new Date(Date.now() - 14 * MINUTE) });
    assert.equal(skewed.status, 200);
  });

  it('refuses a signature scoped to another service', async () => {
    const r = await callWire(owlet.endpoint, 'GetWorkGroup', get, { service: 'dynamodb' });
    assertAwsError(r, 400, 'InvalidSignatureException');
    assert.match(String(r.json.message), /scoped to correct service: 'athena'/);
  });
});

describe('AWS JSON 1.1 front end', () => {
  let owlet: TestOwlet;
  before(async () => {
    owlet = await startTestOwlet();
  });
  after(() => owlet.stop());

  it('answers an unknown operation with UnknownOperationException', async () => {
    const r = await callWire(owlet.endpoint, 'DescribeTable', '{}');
    assertAwsError(r, 400, 'UnknownOperationException');
    const untargeted = await fetch(owlet.endpoint, { method: 'POST', body: '{}' });
    assert.equal(untargeted.status, 400);
    assert.equal(((await untargeted.json()) as { __type: string }).__type, 'UnknownOperationException');
    // Other methods are S3 requests: unsigned, S3 refuses them in its own XML.
    const unsignedGet = await fetch(owlet.endpoint, { method: 'GET' });
    assert.equal(unsignedGet.status, 403);
    assert.match(await unsignedGet.text(), /<Code>AccessDenied<\/Code>/);
  });

  it('refuses a content type other than application/x-amz-json-1.1', async () => {
    const r = await callWire(owlet.endpoint, 'GetWorkGroup', '{"WorkGroup":"spark"}', { headers: { 'content-type': 'application/json' } });
    assertAwsError(r, 400, 'SerializationException');
  });

  it('answers malformed JSON, a non-object body and invalid UTF-8 with SerializationException', async () => {
    for (const body of ['{"WorkGroup":', '[1,2]', '"spark"', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])]) {
      const r = await callWire(owlet.endpoint, 'GetWorkGroup', body);
      assertAwsError(r, 400, 'SerializationException');
    }
  });

  it('reads an empty body as an input with no members', async () => {
    const r = await callWire(owlet.endpoint, 'ListWorkGroups', '');
    assert.equal(r.status, 200);
    assert.ok(Array.isArray(r.json.WorkGroups));
  });

  it('ignores members the model does not know, as AWS services do', async () => {
    const r = await callWire(owlet.endpoint, 'GetWorkGroup', '{"WorkGroup":"spark","Extra":{"x":[1]}}');
    assert.equal(r.status, 200);
  });

  it('refuses a body over the size limit without reading it, and stays up', async () => {
    const url = new URL(owlet.endpoint);
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AmazonAthena.ListWorkGroups\r\n' +
            'Content-Length: 1000000000\r\n\r\n{',
        );
      });
      let data = '';
      socket.on('data', (d) => {
        data += d.toString();
      });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(head, /^HTTP\/1\.1 413 /);
    assert.match(head, /"__type":"RequestEntityTooLargeException"/);
    const r = await callWire(owlet.endpoint, 'ListWorkGroups', '{}');
    assert.equal(r.status, 200);
  });

  for (const connection of ['', 'Connection: close\r\n']) {
    it(`lets a client that goes on sending a refused body read the answer, and closes without a reset${connection ? ' (Connection: close)' : ''}`, async () => {
      // A client that writes its whole body before it reads (as most do) is still writing when the 413 goes out.
      // A server that closed at once would leave those bytes unread, and the kernel would answer them with a
      // reset: the client's next write fails with EPIPE, before or instead of the answer.
      const url = new URL(owlet.endpoint);
      const outcome = await new Promise<{ answer: string; error?: Error }>((resolve) => {
        let answer = '';
        let error: Error | undefined;
        let sentMore = false;
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(
            'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AmazonAthena.ListWorkGroups\r\n' +
              `${connection}Content-Length: 1000000000\r\n\r\n{`,
          );
        });
        socket.on('data', (d) => {
          answer += d.toString();
          // The whole answer is here: only now does the body go on, so that the server has closed by then if it
          // does not linger.
          if (!sentMore && answer.includes('RequestEntityTooLargeException')) {
            sentMore = true;
            socket.write(Buffer.alloc(4 * 1024 * 1024, 0x20), () => socket.end());
          }
        });
        socket.on('error', (e) => {
          error = e;
        });
        socket.on('close', () => resolve({ answer, ...(error ? { error } : {}) }));
      });
      assert.match(outcome.answer, /^HTTP\/1\.1 413 /);
      assert.equal(outcome.error, undefined, `the connection was reset: ${String(outcome.error)}`);
      const r = await callWire(owlet.endpoint, 'ListWorkGroups', '{}');
      assert.equal(r.status, 200);
    });
  }

  it('keeps a map key named __proto__ as data, in and out', async () => {
    const create = await callWire(
      owlet.endpoint,
      'CreateWorkGroup',
      '{"Name":"proto-keys","Configuration":{"EngineConfiguration":{"SparkProperties":{"__proto__":"x","a":"b"}}}}',
    );
    assert.equal(create.status, 200, create.text);
    const got = await callWire(owlet.endpoint, 'GetWorkGroup', '{"WorkGroup":"proto-keys"}');
    assert.match(got.text, /"SparkProperties":\{"__proto__":"x","a":"b"\}/);
  });

  it('writes a validation error exactly as Athena does', async () => {
    const r = await callWire(owlet.endpoint, 'GetWorkGroup', '{"WorkGroup":"bad name!"}');
    assert.equal(r.status, 400);
    assert.equal(
      r.text,
      '{"__type":"InvalidRequestException","AthenaErrorCode":"INVALID_INPUT","ErrorCode":"INVALID_INPUT","Message":"1 validation error detected: Value at \'workGroup\' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}"}',
    );
  });
});

describe('JsonService', () => {
  const context = { requestId: 'r', receivedAt: 0, caller: { accessKeyId: 'a', region: 'us-east-1', service: 'athena' } };

  it('turns an unexpected handler failure into InternalServerException without details', async () => {
    const service = new JsonService(
      {
        async GetWorkGroup() {
          throw new TypeError('secret internals');
        },
      },
      () => new InvalidRequestError('unhandled'),
      pino({ level: 'silent' }),
    );
    const r = await service.handle('GetWorkGroup', new TextEncoder().encode('{"WorkGroup":"x"}'), context);
    assert.equal(r.status, 500);
    assert.deepEqual(JSON.parse(r.body), { __type: 'InternalServerException', Message: 'An internal error occurred. Try the request again later.' });
  });

  it('writes only modelled members, omits unset ones, and writes timestamps as epoch seconds', async () => {
    const service = new JsonService(
      {
        async GetWorkGroup() {
          return {
            WorkGroup: { Name: 'x', CreationTime: new Date(1_700_000_000_123), Description: undefined, Internal: 'hidden' } as never,
          };
        },
      },
      () => new InvalidRequestError('unhandled'),
      pino({ level: 'silent' }),
    );
    const r = await service.handle('GetWorkGroup', new TextEncoder().encode('{"WorkGroup":"x"}'), context);
    assert.equal(r.body, '{"WorkGroup":{"Name":"x","CreationTime":1700000000.123}}');
  });
});
