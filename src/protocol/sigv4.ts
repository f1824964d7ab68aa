// SigV4 verification. The expected signature is computed by @smithy/signature-v4, the signer the AWS SDK for
// JavaScript itself uses, over exactly the headers the client says it signed; Owlet only parses the
// Authorization header, checks the clock and compares. Messages follow the ones AWS's front end sends.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ALGORITHM_IDENTIFIER, createScope, getCanonicalHeaders, getSigningKey, SignatureV4 } from '@smithy/signature-v4';
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

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseAmzDate(value: string): Date | undefined {
  const m = AMZ_DATE.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
  const date = new Date(Date.UTC(year, month, day, hour, minute, second));
  // Date.UTC rolls fields over (month 13 is January of the next year, hour 24 the next day); a time that
  // does not exist is malformed, not another time. Only a field out of its range rolls over into another.
  const exists =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  return exists ? date : undefined;
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
  const params = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((p) => !params.get(p));
  if (missing.length > 0) {
    const detail = missing.map((p) => `Authorization header requires '${p}' parameter.`).join(' ');
    throw new AuthError('IncompleteSignatureException', `${detail} Authorization=${header}`);
  }
  const scope = params.get('Credential')!.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || scope.some((s) => s === '')) {
    throw new AuthError(
      'IncompleteSignatureException',
      `Credential should be scoped to a valid region, not '${scope[2] ?? ''}'. Credential=${params.get('Credential')}`,
    );
  }
  return {
    accessKeyId: scope[0]!,
    date: scope[1]!,
    region: scope[2]!,
    service: scope[3]!,
    signedHeaders: params.get('SignedHeaders')!.split(';'),
    signature: params.get('Signature')!,
  };
}

export class SigV4Verifier {
  private readonly secrets = new Map<string, string>();
  private readonly calculators = new Map<string, SignatureCalculator>();
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
    if (!signingDate) {
      throw new AuthError('IncompleteSignatureException', `Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`);
    }

    const secret = await this.secretOf(parts.accessKeyId);
    if (secret === undefined) {
      throw new AuthError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    }

    const now = this.now();
    if (signingDate.getTime() < now - MAX_CLOCK_SKEW_MS) {
      throw new AuthError(
        'InvalidSignatureException',
        `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - MAX_CLOCK_SKEW_MS)} (${formatAmzDate(now)} - 15 min.)`,
      );
    }
    if (signingDate.getTime() > now + MAX_CLOCK_SKEW_MS) {
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

    const expected = await this.expectedSignature(request, parts, secret, amzDate);
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
      return { ...caller, signing: { signingKey: await this.signingKey(parts, secret), amzDate, scope: createScope(parts.date, parts.region, parts.service), seedSignature: parts.signature } };
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
    if (!signingDate || parts.date !== amzDate.slice(0, 8)) throw new AuthError('IncompleteSignatureException', `X-Amz-Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`);
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGNED_EXPIRES_S) {
      throw new AuthError('IncompleteSignatureException', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
    }
    const secret = await this.secretOf(parts.accessKeyId);
    if (secret === undefined) throw new AuthError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    if (parts.service !== 's3') throw new AuthError('InvalidSignatureException', "Credential should be scoped to correct service: 's3'. ");
    const now = this.now();
    if (now > signingDate.getTime() + expires * 1000) throw new AuthError('MissingAuthenticationTokenException', 'Request has expired');
    if (signingDate.getTime() > now + MAX_CLOCK_SKEW_MS) throw new AuthError('MissingAuthenticationTokenException', 'Request is not valid yet');
    const rest = new URLSearchParams(query);
    rest.delete('X-Amz-Signature');
    // The payload of a presigned request is not signed.
    const expected = await this.expectedSignature({ ...request, rawQuery: rest.toString() }, parts, secret, amzDate, 'UNSIGNED-PAYLOAD');
    if (expected.length !== parts.signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(parts.signature))) {
      throw new AuthError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
    }
    return { accessKeyId: parts.accessKeyId, region: parts.region, service: parts.service };
  }

  /**
   * The calculator for a (service, path style) pair. Signatures are computed per request from the caller's
   * scope, so one calculator serves every access key and region.
   */
  private calculatorFor(service: string): SignatureCalculator {
    let calculator = this.calculators.get(service);
    if (!calculator) {
      // S3 signs the path exactly as sent; every other service signs it URI-encoded once more.
      calculator = new SignatureCalculator(service, service !== 's3');
      this.calculators.set(service, calculator);
    }
    return calculator;
  }

  /** The signing key of (key pair, day, region, service), derived by the library once and kept. */
  private async signingKey(parts: AuthorizationParts, secret: string): Promise<Uint8Array> {
    const id = `${parts.accessKeyId}\0${parts.date}\0${parts.region}\0${parts.service}`;
    let key = this.signingKeys.get(id);
    if (!key) {
      key = await getSigningKey(NodeSha256, { accessKeyId: parts.accessKeyId, secretAccessKey: secret }, parts.date, parts.region, parts.service);
      // Keys of past days are no longer accepted by the clock check; keep the map from growing with time.
      if (this.signingKeys.size >= 256) this.signingKeys.clear();
      this.signingKeys.set(id, key);
    }
    return key;
  }

  private async expectedSignature(request: RequestToVerify, parts: AuthorizationParts, secret: string, amzDate: string, payloadHash?: string): Promise<string> {
    const headers: Record<string, string> = {};
    for (const name of parts.signedHeaders) {
      const v = headerValue(request.headers, name);
      if (v !== undefined) headers[name] = v;
    }
    const query: Record<string, string | string[]> = {};
    if (request.rawQuery !== '') {
      for (const [k, v] of new URLSearchParams(request.rawQuery)) {
        const prior = query[k];
        query[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
      }
    }
    const path = parts.service === 's3' ? request.rawPath : decodeURIComponent(request.rawPath);
    const scope = createScope(parts.date, parts.region, parts.service);
    return this.calculatorFor(parts.service).signature(
      { method: request.method, protocol: 'http:', hostname: headers.host ?? '', path, query, headers, body: request.body },
      new Set(parts.signedHeaders),
      amzDate,
      scope,
      await this.signingKey(parts, secret),
      payloadHash,
    );
  }
}

type SignableRequest = Parameters<typeof getCanonicalHeaders>[0];

/**
 * @smithy/signature-v4's own canonicalization (canonical headers, path, query and payload hash, the canonical
 * request and the string to sign), used to verify rather than to sign. Its `sign()` also clones the request
 * and derives a cache key for the signing key with an extra HMAC on every call, which a verifier that keeps
 * its signing keys does not need.
 */
class SignatureCalculator extends SignatureV4 {
  constructor(service: string, uriEscapePath: boolean) {
    // Credentials and region come with each request's scope, not from here.
    super({ service, region: 'unused', credentials: { accessKeyId: '', secretAccessKey: '' }, sha256: NodeSha256, uriEscapePath, applyChecksum: false });
  }

  /**
   * The string to sign and the signature are SigV4's steps 3 and 4
   * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html), computed here with
   * one-shot hashes: the library's own steps create a Hash or Hmac object per call, which costs more than the
   * hashing itself for requests this small (see node-sha256.ts).
   */
  signature(request: SignableRequest, signedHeaders: ReadonlySet<string>, amzDate: string, scope: string, signingKey: Uint8Array, payloadHash?: string): string {
    const canonicalHeaders = getCanonicalHeaders(request, undefined, signedHeaders as Set<string>);
    // As the library's getPayloadHash: the signed x-amz-content-sha256 header when there is one (the
    // verifier has checked it against the body), else the body's hash.
    payloadHash ??= request.headers['x-amz-content-sha256'] ?? sha256Hex((request.body as Uint8Array | undefined) ?? new Uint8Array(0));
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    const stringToSign = `${ALGORITHM_IDENTIFIER}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    return hmacSha256Hex(signingKey, stringToSign);
  }
}
