// The verifier's own SigV4 canonical request (src/protocol/canonical-request.ts) against @smithy/signature-v4,
// the signer of the AWS SDK for JavaScript: over thousands of generated requests, odd ones included (escapes,
// dot segments, repeated and empty query parameters, `+`, non-ASCII, header values with runs of spaces and
// tabs, SignedHeaders out of order or repeated), the two build the same canonical request, and a request the
// library signs is accepted by the verifier while the same request changed in any signed part is refused.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { getCanonicalHeaders, SignatureV4 } from '@smithy/signature-v4';
import { canonicalHeaders, canonicalQuery, canonicalRequest, canonicalUri } from '../src/protocol/canonical-request.js';
import { NodeSha256 } from '../src/protocol/node-sha256.js';
import { AuthError } from '../src/protocol/errors.js';
import { SigV4Verifier } from '../src/protocol/sigv4.js';

const CREDENTIALS = { accessKeyId: 'AKIDCANONICAL', secretAccessKey: 'canonical-secret' };
const REGION = 'us-east-1';
const NOW = Date.UTC(2026, 11, 6, 23, 30, 0);

/** A small seeded generator (mulberry32), so that a failing case can be found again by its seed. */
function randomSource(seed: number): { int: (n: number) => number; pick: <T>(items: readonly T[]) => T } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { int, pick: (items) => items[int(items.length)]! };
}

type Random = ReturnType<typeof randomSource>;

const PIECES = ['a', 'Z', '0', '-', '_', '.', '~', ' ', '+', '*', "'", '(', ')', '!', '=', '&', ';', ':', '@', '$', ',', 'é', '✓', '😀', '%', '/', '?', '#'];

function text(r: Random, max: number): string {
  let s = '';
  for (let i = r.int(max + 1); i > 0; i--) s += r.pick(PIECES);
  return s;
}

/** A path as a client sends it: segments percent-encoded by the client, dot and empty segments left in. */
function wirePath(r: Random): string {
  if (r.int(4) === 0) return '/';
  const segments: string[] = [];
  for (let i = r.int(5); i >= 0; i--) {
    segments.push(r.pick(['', '.', '..', encodeURIComponent(text(r, 6)), 'plain', 'a%20b', '%2F', '%7E']));
  }
  return `/${segments.join('/')}${r.int(3) === 0 ? '/' : ''}`;
}

/** Query parameters as decoded (URLSearchParams), and one of the ways a client may write them on the wire. */
function query(r: Random): { params: [string, string][]; raw: string } {
  const params: [string, string][] = [];
  for (let i = r.int(5); i > 0; i--) {
    const name = r.int(4) === 0 && params.length > 0 ? params[r.int(params.length)]![0] : r.pick(['list-type', 'prefix', 'X-Amz-Signature', 'x-id', text(r, 5) || 'k']);
    params.push([name, r.int(5) === 0 ? '' : text(r, 8)]);
  }
  const encode = (s: string): string => {
    const e = encodeURIComponent(s);
    // Clients differ: some write a space as `+`, some escapes in lower case.
    return r.int(2) === 0 ? e.replace(/%20/g, '+') : e.replace(/%[0-9A-F]{2}/g, (m) => (r.int(2) === 0 ? m.toLowerCase() : m));
  };
  return { params, raw: params.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&') };
}

/** Header values as Node hands them over: ends trimmed, inner runs of spaces and tabs kept. */
function headerValue(r: Random): string {
  const inner = r.pick(['application/x-amz-json-1.1', 'a  b', 'a\tb', 'a \t b', 'x', '  spaced   out  ', 'é', '1,2', 'a, b']);
  return inner.replace(/^[ \t]+|[ \t]+$/g, '');
}

interface WireRequest {
  method: string;
  rawPath: string;
  rawQuery: string;
  params: [string, string][];
  headers: IncomingHttpHeaders;
  signedHeaders: string[];
}

function wireRequest(r: Random): WireRequest {
  const headers: IncomingHttpHeaders = { host: r.pick(['127.0.0.1:8080', 'athena.us-east-1.amazonaws.com', 'localhost']), 'x-amz-date': '20261206T233000Z' };
  for (let i = r.int(4); i > 0; i--) headers[r.pick(['content-type', 'x-amz-target', 'x-custom', 'x-amz-meta-a', 'user-agent', 'range'])] = headerValue(r);
  if (r.int(6) === 0) headers['x-amz-meta-list'] = ['one', 'two  three'].join(', ');
  const present = Object.keys(headers);
  let signedHeaders = present.filter(() => r.int(4) !== 0);
  if (!signedHeaders.includes('host')) signedHeaders.push('host');
  // Clients list them sorted; a careless one may not, or may repeat one, or list one it did not send.
  if (r.int(5) === 0) signedHeaders.reverse();
  if (r.int(8) === 0) signedHeaders.push('host');
  if (r.int(8) === 0) signedHeaders.push('x-not-sent');
  if (r.int(5) !== 0) signedHeaders.sort();
  const q = query(r);
  return { method: r.pick(['POST', 'GET', 'PUT', 'DELETE', 'HEAD']), rawPath: wirePath(r), rawQuery: q.raw, params: q.params, headers, signedHeaders };
}

/** The library's general path, as the verifier used it before: a headers record, a query object, createCanonicalRequest. */
class LibraryCanonicalRequest extends SignatureV4 {
  constructor(service: string) {
    super({ service, region: REGION, credentials: CREDENTIALS, sha256: NodeSha256, uriEscapePath: service !== 's3', applyChecksum: false });
  }

  of(request: WireRequest, payloadHash: string): string {
    const headers: Record<string, string> = {};
    for (const name of request.signedHeaders) {
      const v = request.headers[name];
      if (v !== undefined) headers[name] = Array.isArray(v) ? v.join(',') : v;
    }
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of new URLSearchParams(request.rawQuery)) {
      const prior = query[k];
      query[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
    }
    const httpRequest = { method: request.method, protocol: 'http:', hostname: 'h', path: request.rawPath, query, headers };
    const canonical = getCanonicalHeaders(httpRequest, undefined, new Set(request.signedHeaders));
    return this.createCanonicalRequest(httpRequest, canonical, payloadHash);
  }
}

test('the canonical request is the one @smithy/signature-v4 builds, over thousands of odd requests', () => {
  const payloadHash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  for (const service of ['athena', 'glue', 's3']) {
    const library = new LibraryCanonicalRequest(service);
    for (let seed = 1; seed <= 3000; seed++) {
      const request = wireRequest(randomSource(seed));
      const ours = canonicalRequest(
        request.method,
        canonicalUri(request.rawPath, service),
        canonicalQuery(new URLSearchParams(request.rawQuery)),
        canonicalHeaders(request.headers, request.signedHeaders),
        payloadHash,
      );
      assert.equal(ours, library.of(request, payloadHash), `${service}, seed ${seed}: ${JSON.stringify(request)}`);
    }
  }
});

test('the canonical query string decodes what the client wrote and sorts by name, then value', () => {
  assert.equal(canonicalQuery(new URLSearchParams('b=2&a=3&a=1&a=%41&c&X-Amz-Signature=x')), 'a=1&a=3&a=A&b=2&c=');
  assert.equal(canonicalQuery(new URLSearchParams("q=a+b&r=a%20b&s=*'()!~")), 'q=a%20b&r=a%20b&s=%2A%27%28%29%21~');
  assert.equal(canonicalQuery(new URLSearchParams('')), '');
});

test('header values lose line breaks, runs of spaces and tabs, and their ends; names are sorted and unique', () => {
  const headers: IncomingHttpHeaders = { host: 'h', 'x-b': ' a \t\t b ', 'x-a': 'one\r\ntwo', 'x-c': ['1', '2'] as unknown as string };
  assert.deepEqual(canonicalHeaders(headers, ['x-c', 'x-b', 'host', 'x-a', 'host', 'x-gone']), {
    lines: 'host:h\nx-a:one two\nx-b:a b\nx-c:1,2\n',
    names: 'host;x-a;x-b;x-c',
  });
});

/** Signs a wire request with the library's signer, as the SDK does, and hands back the headers it would send. */
async function signedBySdk(request: WireRequest, service: string, body: string): Promise<IncomingHttpHeaders> {
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of request.params) {
    if (k.toLowerCase() === 'x-amz-signature') continue;
    const prior = query[k];
    query[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) if (k !== 'x-amz-date' && typeof v === 'string') headers[k] = v;
  const signer = new SignatureV4({ service, region: REGION, credentials: CREDENTIALS, sha256: NodeSha256, uriEscapePath: service !== 's3' });
  const signed = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: String(request.headers.host), path: request.rawPath, query, headers, body },
    { signingDate: new Date(NOW) },
  );
  return Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
}

test('requests signed by @smithy/signature-v4 are accepted, and refused once any signed part changes', async () => {
  const verifier = new SigV4Verifier([CREDENTIALS], () => NOW);
  let accepted = 0;
  for (const service of ['athena', 's3']) {
    for (let seed = 1; seed <= 400; seed++) {
      const r = randomSource(seed);
      const request = wireRequest(r);
      // The signer's own query string leaves X-Amz-Signature out, as a client's would never send it.
      request.params = request.params.filter(([k]) => k.toLowerCase() !== 'x-amz-signature');
      request.rawQuery = new URLSearchParams(request.params).toString();
      const body = r.int(2) === 0 ? '' : '{"WorkGroup":"spark"}';
      const headers = await signedBySdk(request, service, body);
      const wire = { method: request.method, rawPath: request.rawPath, rawQuery: request.rawQuery, headers, body: Buffer.from(body) };
      const caller = await verifier.verify(wire, service);
      assert.equal(caller.accessKeyId, CREDENTIALS.accessKeyId, `${service}, seed ${seed}`);
      accepted++;

      const changes = [
        { ...wire, method: wire.method === 'POST' ? 'PUT' : 'POST' },
        { ...wire, rawPath: `${wire.rawPath}x` },
        { ...wire, rawQuery: wire.rawQuery === '' ? 'a=1' : `${wire.rawQuery}&a=1` },
        { ...wire, headers: { ...headers, host: `${String(headers.host)}.other` } },
        { ...wire, body: Buffer.from(`${body} `) },
      ];
      for (const [i, changed] of changes.entries()) {
        await assert.rejects(verifier.verify(changed, service), AuthError, `${service}, seed ${seed}, change ${i}`);
      }
    }
  }
  assert.equal(accepted, 800);
});

test('an X-Amz-Date that is not a real time in basic format is malformed, whatever Date.UTC would make of it', async () => {
  const verifier = new SigV4Verifier([CREDENTIALS], () => NOW);
  const authorization = `AWS4-HMAC-SHA256 Credential=${CREDENTIALS.accessKeyId}/20261206/${REGION}/athena/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;
  for (const date of ['20260230T000000Z', '20261306T000000Z', '20261206T240000Z', '20261206T236000Z', '20261206T233060Z', '00991206T233000Z', '2026126T233000Z', '20261206 233000Z', '20261206T23300Z', '2026-12-06T23:30:00Z', '20261206T233000', '2026120aT233000Z']) {
    await assert.rejects(
      verifier.verify({ method: 'POST', rawPath: '/', rawQuery: '', headers: { host: 'h', 'x-amz-date': date, authorization }, body: Buffer.alloc(0) }, 'athena'),
      { name: 'IncompleteSignatureException', message: `Date must be in ISO-8601 'basic format'. Got '${date}'.` },
      date,
    );
  }
  // 29 February of a leap year exists: it passes the format check and is refused by the clock, two years ahead.
  await assert.rejects(
    verifier.verify({ method: 'POST', rawPath: '/', rawQuery: '', headers: { host: 'h', 'x-amz-date': '20280229T000000Z', authorization }, body: Buffer.alloc(0) }, 'athena'),
    { name: 'InvalidSignatureException', message: /^Signature not yet current: 20280229T000000Z is still later than/ },
  );
});
