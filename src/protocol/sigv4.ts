// SigV4 verification: parses the Authorization header, checks the clock, recomputes the signature over exactly
// the headers the client says it signed (canonical-request.ts, held to @smithy/signature-v4, the signer of the
// AWS SDK for JavaScript, by test/sigv4-canonical.test.ts) and compares. Signing keys are derived by that
// library once per key pair, day, region and service. Messages follow the ones AWS's front end sends.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { getSigningKey } from '@smithy/signature-v4';
import { canonicalHeaders, canonicalQuery, canonicalRequest, canonicalUri } from './canonical-request.js';
import { AuthError } from './errors.js';
import { hmacSha256Hex, NodeSha256, sha256Hex } from './node-sha256.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RequestToVerify {
  method: string;
  /** The path as the client sent it, still percent-encoded. */
  rawPath: string;
  /** The query string without `?`, still percent-encoded. */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

export interface VerifiedCaller {
  accessKeyId: string;
  region: string;
  service: string;
}

/** What checking the chunks of a signed streaming body (aws-chunked) needs from the request's signature. */
export interface StreamSigning {
  signingKey: Uint8Array;
  amzDate: string;
  scope: string;
  seedSignature: string;
}

export interface VerifyOptions {
  /**
   * The body is not in `request.body` but streamed afterwards; the caller checks it against the declared
   * `x-amz-content-sha256` (a hash, or a STREAMING-* chunk signature chain) as it reads it.
   */
  streamedBody?: boolean;
}

/** The longest a presigned URL may be valid: seven days (X-Amz-Expires, in seconds). */
const MAX_PRESIGNED_EXPIRES_S = 604_800;

/** AWS accepts requests signed up to 15 minutes before or after its own clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** The digits of `value` from `start` to `end` as a number, or NaN if any is not a digit. */
function digits(value: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/** An ISO 8601 basic-format time, `YYYYMMDDTHHMMSSZ`, in milliseconds since the epoch; undefined if malformed. */
function parseAmzDate(value: string): number | undefined {
  if (value.length !== 16 || value.charCodeAt(8) !== 84 /* T */ || value.charCodeAt(15) !== 90 /* Z */) return undefined;
  const year = digits(value, 0, 4);
  const month = digits(value, 4, 6) - 1;
  const day = digits(value, 6, 8);
  const hour = digits(value, 9, 11);
  const minute = digits(value, 11, 13);
  const second = digits(value, 13, 15);
  // A time that does not exist (month 13, hour 24, February 30) is malformed, not another time as Date.UTC
  // would roll it over to; nor is a two-digit year, which Date.UTC takes as 19xx.
  if (!(year >= 100 && month >= 0 && month <= 11 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59)) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  if (day > 28 && new Date(ms).getUTCDate() !== day) return undefined;
  return ms;
}

function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

interface AuthorizationParts {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(header: string): AuthorizationParts {
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== 'AWS4-HMAC-SHA256') {
    throw new AuthError('IncompleteSignatureException', `Unsupported AWS 'algorithm': '${algorithm}'.`);
  }
  // `Credential=..., SignedHeaders=..., Signature=...`: the last of a parameter given twice counts, others are ignored.
  let credential = '';
  let signedHeaders = '';
  let signature = '';
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === 'Credential') credential = part.slice(eq + 1).trim();
    else if (name === 'SignedHeaders') signedHeaders = part.slice(eq + 1).trim();
    else if (name === 'Signature') signature = part.slice(eq + 1).trim();
  }
  if (credential === '' || signature === '' || signedHeaders === '') {
    const missing = (
      [
        ['Credential', credential],
        ['Signature', signature],
        ['SignedHeaders', signedHeaders],
      ] as const
    ).filter(([, value]) => value === '');
    const detail = missing.map(([p]) => `Authorization header requires '${p}' parameter.`).join(' ');
    throw new AuthError('IncompleteSignatureException', `${detail} Authorization=${header}`);
  }
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || scope.some((s) => s === '')) {
    throw new AuthError(
      'IncompleteSignatureException',
      `Credential should be scoped to a valid region, not '${scope[2] ?? ''}'. Credential=${credential}`,
    );
  }
  return {
    accessKeyId: scope[0]!,
    date: scope[1]!,
    region: scope[2]!,
    service: scope[3]!,
    signedHeaders: signedHeaders.split(';'),
    signature,
  };
}

export class SigV4Verifier {
  private readonly secrets = new Map<string, string>();
  private readonly signingKeys = new Map<string, Uint8Array>();

  /**
   * `otherKeys` finds the secret of a key pair that is not one of `credentials`: the S3 API also accepts the
   * key pairs the server issues to sessions (src/sessions/session-keys.ts) while those sessions live.
   */
  constructor(
    credentials: readonly Credentials[],
    private readonly now: () => number = Date.now,
    private readonly otherKeys?: (accessKeyId: string) => Promise<string | undefined>,
  ) {
    for (const c of credentials) this.secrets.set(c.accessKeyId, c.secretAccessKey);
  }

  private async secretOf(accessKeyId: string): Promise<string | undefined> {
    return this.secrets.get(accessKeyId) ?? (await this.otherKeys?.(accessKeyId));
  }

  async verify(request: RequestToVerify, expectedService: string, options: VerifyOptions = {}): Promise<VerifiedCaller & { signing?: StreamSigning }> {
    const authorization = headerValue(request.headers, 'authorization');
    if (!authorization) {
      const query = new URLSearchParams(request.rawQuery);
      if (expectedService === 's3' && query.has('X-Amz-Algorithm')) return this.verifyPresigned(request, query);
      throw new AuthError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const parts = parseAuthorization(authorization);

    const amzDate = headerValue(request.headers, 'x-amz-date');
    if (!amzDate) {
      throw new AuthError(
        'IncompleteSignatureException',
        `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${authorization}`,
      );
    }
    const signingDate = parseAmzDate(amzDate);
    if (signingDate === undefined) {
      throw new AuthError('IncompleteSignatureException', `Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`);
    }

    // The server's own key pairs without a turn of the event loop.
    const secret = this.secrets.get(parts.accessKeyId) ?? (await this.secretOf(parts.accessKeyId));
    if (secret === undefined) {
      throw new AuthError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    }

    const now = this.now();
    if (signingDate < now - MAX_CLOCK_SKEW_MS) {
      throw new AuthError(
        'InvalidSignatureException',
        `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - MAX_CLOCK_SKEW_MS)} (${formatAmzDate(now)} - 15 min.)`,
      );
    }
    if (signingDate > now + MAX_CLOCK_SKEW_MS) {
      throw new AuthError(
        'InvalidSignatureException',
        `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + MAX_CLOCK_SKEW_MS)} (${formatAmzDate(now)} + 15 min.)`,
      );
    }
    if (parts.date !== amzDate.slice(0, 8)) {
      throw new AuthError(
        'InvalidSignatureException',
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${parts.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
      );
    }
    if (parts.service !== expectedService) {
      throw new AuthError(
        'InvalidSignatureException',
        `Credential should be scoped to correct service: '${expectedService}'. `,
      );
    }
    if (!parts.signedHeaders.includes('host')) {
      throw new AuthError('InvalidSignatureException', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    }

    // The signer takes a client's x-amz-content-sha256 header as the payload hash without hashing the body,
    // so the header must be checked against the body here, or a body could be swapped under a valid signature.
    const declaredHash = headerValue(request.headers, 'x-amz-content-sha256');
    if (declaredHash !== undefined && !options.streamedBody && !(parts.service === 's3' && declaredHash === 'UNSIGNED-PAYLOAD')) {
      const actual = sha256Hex(request.body);
      if (declaredHash !== actual) {
        throw new AuthError(
          'InvalidSignatureException',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
      }
    }

    const expected = this.expectedSignature(request, parts, this.signingKeys.get(signingKeyId(parts)) ?? (await this.signingKey(parts, secret)), amzDate);
    const given = Buffer.from(parts.signature);
    const wanted = Buffer.from(expected);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      throw new AuthError(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    const caller = { accessKeyId: parts.accessKeyId, region: parts.region, service: parts.service };
    if (options.streamedBody && declaredHash?.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) {
      return { ...caller, signing: { signingKey: await this.signingKey(parts, secret), amzDate, scope: scopeOf(parts), seedSignature: parts.signature } };
    }
    return caller;
  }

  /**
   * A presigned URL (query-string authentication,
   * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html): the X-Amz-* parameters in
   * place of the Authorization header, the payload unsigned, valid for X-Amz-Expires seconds from X-Amz-Date.
   * S3 answers a URL past its time with AccessDenied "Request has expired".
   */
  private async verifyPresigned(request: RequestToVerify, query: URLSearchParams): Promise<VerifiedCaller> {
    const missing = ['X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'].filter((p) => !query.get(p));
    if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || missing.length > 0) {
      throw new AuthError('IncompleteSignatureException', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
    }
    const parts = parseAuthorization(
      `AWS4-HMAC-SHA256 Credential=${query.get('X-Amz-Credential')}, SignedHeaders=${query.get('X-Amz-SignedHeaders')}, Signature=${query.get('X-Amz-Signature')}`,
    );
    const amzDate = query.get('X-Amz-Date')!;
    const signingDate = parseAmzDate(amzDate);
    const expires = Number(query.get('X-Amz-Expires') ?? '');
    if (signingDate === undefined || parts.date !== amzDate.slice(0, 8)) throw new AuthError('IncompleteSignatureException', `X-Amz-Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`);
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGNED_EXPIRES_S) {
      throw new AuthError('IncompleteSignatureException', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
    }
    const secret = await this.secretOf(parts.accessKeyId);
    if (secret === undefined) throw new AuthError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    if (parts.service !== 's3') throw new AuthError('InvalidSignatureException', "Credential should be scoped to correct service: 's3'. ");
    const now = this.now();
    if (now > signingDate + expires * 1000) throw new AuthError('MissingAuthenticationTokenException', 'Request has expired');
    if (signingDate > now + MAX_CLOCK_SKEW_MS) throw new AuthError('MissingAuthenticationTokenException', 'Request is not valid yet');
    const rest = new URLSearchParams(query);
    rest.delete('X-Amz-Signature');
    // The payload of a presigned request is not signed.
    const expected = this.expectedSignature({ ...request, rawQuery: rest.toString() }, parts, await this.signingKey(parts, secret), amzDate, 'UNSIGNED-PAYLOAD');
    if (expected.length !== parts.signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(parts.signature))) {
      throw new AuthError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
    }
    return { accessKeyId: parts.accessKeyId, region: parts.region, service: parts.service };
  }

  /** The signing key of (key pair, day, region, service), derived by the library once and kept. */
  private async signingKey(parts: AuthorizationParts, secret: string): Promise<Uint8Array> {
    const id = signingKeyId(parts);
    let key = this.signingKeys.get(id);
    if (!key) {
      key = await getSigningKey(NodeSha256, { accessKeyId: parts.accessKeyId, secretAccessKey: secret }, parts.date, parts.region, parts.service);
      // Keys of past days are no longer accepted by the clock check; keep the map from growing with time.
      if (this.signingKeys.size >= 256) this.signingKeys.clear();
      this.signingKeys.set(id, key);
    }
    return key;
  }

  /**
   * The signature the client should have sent: SigV4's canonical request (canonical-request.ts), string to sign
   * and signature (steps 1, 3 and 4 of https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
   * the hashes one-shot (node-sha256.ts).
   */
  private expectedSignature(request: RequestToVerify, parts: AuthorizationParts, signingKey: Uint8Array, amzDate: string, payloadHash?: string): string {
    const headers = canonicalHeaders(request.headers, parts.signedHeaders);
    // The x-amz-content-sha256 header when it is signed (the verifier has checked it against the body), else
    // the body's hash.
    const declared = parts.signedHeaders.includes('x-amz-content-sha256') ? headerValue(request.headers, 'x-amz-content-sha256') : undefined;
    payloadHash ??= declared ?? sha256Hex(request.body);
    const query = request.rawQuery === '' ? '' : canonicalQuery(new URLSearchParams(request.rawQuery));
    const canonical = canonicalRequest(request.method, canonicalUri(request.rawPath, parts.service), query, headers, payloadHash);
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scopeOf(parts)}\n${sha256Hex(canonical)}`;
    return hmacSha256Hex(signingKey, stringToSign);
  }
}

/** Which signing key a request's scope takes: one per key pair, day, region and service. */
function signingKeyId(parts: AuthorizationParts): string {
  return `${parts.accessKeyId}\0${parts.date}\0${parts.region}\0${parts.service}`;
}

/** The credential scope: date, region, service and the terminator, as in the Authorization header. */
function scopeOf(parts: AuthorizationParts): string {
  return `${parts.date}/${parts.region}/${parts.service}/aws4_request`;
}
