// SigV4's canonical request (step 1 of https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// written out for a verifier: the method, the canonical URI, the canonical query string, the canonical headers,
// the signed headers and the payload hash, one a line. The rules are the ones the AWS SDKs sign by, kept to
// @smithy/signature-v4 5.x's reading of them wherever the page leaves room (which whitespace a header value loses,
// how a path is normalized), since a client's signature only matches a server that canonicalizes as it did;
// test/sigv4-canonical.test.ts holds the two side by side over many requests, odd ones included.
//
// The library's general path (getCanonicalHeaders, createCanonicalRequest) sorts and copies the headers twice,
// builds a query object, and runs three regular expressions on every header value; a request has done all
// that by the time it is verified, so it is done here once, directly.
import type { IncomingHttpHeaders } from 'node:http';

/** RFC 3986 unreserved characters stay; everything else is %XX in upper case, as SigV4's UriEncode. */
export function uriEncode(text: string): string {
  const encoded = encodeURIComponent(text);
  // encodeURIComponent leaves five characters outside RFC 3986's unreserved set unencoded.
  return /[!'()*]/.test(encoded) ? encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : encoded;
}

/**
 * The canonical URI of the path as sent (still percent-encoded). S3 signs it exactly so; every other service
 * signs it normalized (empty, `.` and `..` segments resolved) and URI-encoded once more, so that an escape such
 * as `%20` is signed as `%2520`: the AWS SDKs' signers encode the request's path, which they have already
 * encoded for the wire.
 */
export function canonicalUri(rawPath: string, service: string): string {
  if (service === 's3') return rawPath;
  // Athena's and Glue's every call: nothing to normalize or encode.
  if (rawPath === '/') return '/';
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `${rawPath.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
  return uriEncode(normalized).replace(/%2F/g, '/');
}

/**
 * The canonical query string of decoded parameters (as URLSearchParams gives them): each name and value
 * URI-encoded, sorted by name and then by value, `X-Amz-Signature` left out (a presigned URL's signature does
 * not sign itself).
 */
export function canonicalQuery(params: Iterable<[string, string]>): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of params) {
    if (name.toLowerCase() === 'x-amz-signature') continue;
    const encodedName = uriEncode(name);
    const pair = `${encodedName}=${uriEncode(value)}`;
    const pairs = byName.get(encodedName);
    if (pairs) pairs.push(pair);
    else byName.set(encodedName, [pair]);
  }
  if (byName.size === 0) return '';
  const names = [...byName.keys()].sort();
  return names.map((name) => byName.get(name)!.sort().join('&')).join('&');
}

/** Line breaks become spaces, runs of spaces and tabs one space, and one space is trimmed from each end. */
const NEEDS_TRIMMING = /[\r\n\t]| {2}|^ | $/;

function canonicalHeaderValue(value: string): string {
  if (!NEEDS_TRIMMING.test(value)) return value;
  return value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

export interface CanonicalHeaders {
  /** `name:value` lines, sorted by name, each ended by a line break. */
  lines: string;
  /** The signed header names, sorted and joined by `;`. */
  names: string;
}

/**
 * The canonical headers of the headers a client says it signed: those present in the request, by their
 * lower-case names (Node's request headers are keyed so), sorted; a header sent twice is one value, joined by
 * commas. A name listed in SignedHeaders but absent from the request is left out, so the signature then
 * cannot match.
 */
export function canonicalHeaders(headers: IncomingHttpHeaders, signedHeaders: readonly string[]): CanonicalHeaders {
  let sorted = signedHeaders;
  for (let i = 1; i < signedHeaders.length; i++) {
    if (signedHeaders[i - 1]! >= signedHeaders[i]!) {
      sorted = [...new Set(signedHeaders)].sort();
      break;
    }
  }
  let lines = '';
  let names = '';
  for (const name of sorted) {
    const raw = headers[name];
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    lines += `${name}:${canonicalHeaderValue(value)}\n`;
    names = names === '' ? name : `${names};${name}`;
  }
  return { lines, names };
}

/** SigV4's canonical request, from its parts. */
export function canonicalRequest(method: string, uri: string, query: string, headers: CanonicalHeaders, payloadHash: string): string {
  return `${method}\n${uri}\n${query}\n${headers.lines}\n${headers.names}\n${payloadHash}`;
}
