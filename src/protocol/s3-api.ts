// The S3 REST API on Owlet's port, over the object store (src/objects/): path-style (`/bucket/key`, what
// Hadoop's S3A and most S3-compatible clients send) and virtual-hosted on `localhost` (`bucket.localhost`).
// This layer turns HTTP into store calls and store answers and errors into S3's XML
// (https://docs.aws.amazon.com/AmazonS3/latest/API/), and nothing else: bodies stream through, never buffered
// whole. Requests are SigV4-signed for service `s3` (headers or presigned URL); anonymous ones are refused.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { parseXML } from '@aws-sdk/xml-builder';
import { DIGEST_BYTES, algorithmOfHeader, headerOfAlgorithm } from '../objects/checksums.js';
import { etagMatches } from '../objects/embedded-object-store.js';
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  type CompletedPart,
  type IncomingBody,
  type ObjectInfo,
  type ObjectMetadata,
  type ObjectStore,
  ObjectStoreError,
  type PartInfo,
  type UploadInfo,
} from '../objects/object-store.js';
import { AwsChunkedDecoder } from './aws-chunked.js';
import { AuthError, ServiceError } from './errors.js';
import { BodyTooLarge, readBody } from './request-body.js';
import { accessDenied, invalidArgument, S3Error, STORE_ERROR_STATUS } from './s3-errors.js';
import type { SigV4Verifier } from './sigv4.js';

const XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n';
const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DEFAULT_MAX_KEYS = 1000;
/** The largest XML body read whole (a CompleteMultipartUpload of 10,000 parts is about 1 MiB). */
const MAX_XML_BODY_BYTES = 4 * 1024 * 1024;
/** S3 deletes up to 1,000 keys per DeleteObjects request. */
const MAX_DELETE_KEYS = 1000;
/** What S3 stores as the Content-Type of an object uploaded without one. */
const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

/** XML text: the five markup characters, and characters XML 1.0 cannot hold as character references S3 sends. */
const escapeXml = (s: string): string =>
  s.replace(/[<>&'"\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) =>
    c.length === 1 && c.charCodeAt(0) < 0x20 ? `&#x${c.charCodeAt(0).toString(16)};` : ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );

/** S3's `encoding-type=url`: keys percent-encoded, slashes kept. */
const urlEncodeKey = (s: string): string => encodeURIComponent(s).replace(/%2F/g, '/');

const isoTime = (ms: number): string => new Date(ms).toISOString();
const httpTime = (ms: number): string => new Date(ms).toUTCString();

/** S3's answers to requests its signature check refuses. */
function s3AuthError(error: AuthError): S3Error {
  switch (error.type) {
    case 'UnrecognizedClientException':
      return new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403);
    case 'InvalidSignatureException':
      if (error.message.startsWith('Signature')) return new S3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', 403);
      if (error.message.includes('x-amz-content-sha256')) return new S3Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", 400);
      return new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', 403);
    case 'MissingAuthenticationTokenException':
      return accessDenied(error.message === 'Missing Authentication Token' ? 'Access Denied' : error.message);
    default:
      return new S3Error('AuthorizationHeaderMalformed', error.message, 400);
  }
}

const storeError = (error: ObjectStoreError): S3Error => new S3Error(error.code, error.message, STORE_ERROR_STATUS[error.code], error.details);

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** The stored headers a PUT, a CopyObject with REPLACE or a CreateMultipartUpload carries. */
function metadataOf(req: IncomingMessage): ObjectMetadata {
  const metadata: ObjectMetadata = { user: {}, contentType: header(req, 'content-type') ?? DEFAULT_CONTENT_TYPE };
  const encoding = header(req, 'content-encoding')
    ?.split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e !== 'aws-chunked')
    .join(',');
  if (encoding) metadata.contentEncoding = encoding;
  const copy = (name: string, set: (v: string) => void): void => {
    const v = header(req, name);
    if (v !== undefined) set(v);
  };
  copy('content-disposition', (v) => (metadata.contentDisposition = v));
  copy('content-language', (v) => (metadata.contentLanguage = v));
  copy('cache-control', (v) => (metadata.cacheControl = v));
  copy('expires', (v) => (metadata.expires = v));
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) metadata.user[name.slice('x-amz-meta-'.length)] = Array.isArray(value) ? value.join(',') : value;
  }
  return metadata;
}

function metadataHeaders(metadata: ObjectMetadata): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Type': metadata.contentType ?? DEFAULT_CONTENT_TYPE };
  if (metadata.contentEncoding) headers['Content-Encoding'] = metadata.contentEncoding;
  if (metadata.contentDisposition) headers['Content-Disposition'] = metadata.contentDisposition;
  if (metadata.contentLanguage) headers['Content-Language'] = metadata.contentLanguage;
  if (metadata.cacheControl) headers['Cache-Control'] = metadata.cacheControl;
  if (metadata.expires) headers.Expires = metadata.expires;
  for (const [name, value] of Object.entries(metadata.user)) headers[`x-amz-meta-${name}`] = value;
  return headers;
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range (S3 serves one range per request); others are ignored, as S3 does. */
export function parseRange(text: string | undefined, size: number): { start: number; end: number } | undefined | 'unsatisfiable' {
  if (!text) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(text.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    if (Number(m[2]) === 0) return 'unsatisfiable';
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

async function readSmallBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readBody(req, limit);
  } catch (error) {
    if (error instanceof BodyTooLarge) throw new S3Error('MaxMessageLengthExceeded', 'Your request was too big.', 400);
    throw error;
  }
}

/** The elements named `name` under `node`, whether the parser made one object or a list of them. */
function elements(node: unknown, name: string): Record<string, unknown>[] {
  if (node === null || typeof node !== 'object') return [];
  const v = (node as Record<string, unknown>)[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((e) => (e !== null && typeof e === 'object' ? (e as Record<string, unknown>) : { '#text': e }));
}

const text = (node: Record<string, unknown>, name: string): string | undefined => {
  const v = node[name];
  return typeof v === 'string' ? v : v === undefined ? undefined : '';
};

const malformedXml = (): S3Error => new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', 400);

function parseXmlBody(body: Buffer, root: string): Record<string, unknown> {
  let doc: Record<string, unknown>;
  try {
    doc = parseXML(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw malformedXml();
  }
  const top = doc[root];
  if (top === undefined || top === null || typeof top !== 'object') throw malformedXml();
  return top as Record<string, unknown>;
}

interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  bucket: string;
  key: string;
  query: URLSearchParams;
  signing?: import('./sigv4.js').StreamSigning;
}

export interface S3ApiOptions {
  /** The region GetBucketLocation and HeadBucket name. */
  region: string;
}

export class S3Api {
  constructor(
    private readonly store: ObjectStore,
    private readonly verifier: SigV4Verifier,
    private readonly options: S3ApiOptions,
  ) {}

  /** Answers one S3 request; the body is still unread (PUT bodies are streamed into the store). */
  async handle(req: IncomingMessage, res: ServerResponse, requestId: string, rawPath: string, rawQuery: string): Promise<void> {
    try {
      const { bucket, key } = this.addressOf(req, rawPath);
      const query = new URLSearchParams(rawQuery);
      const streamed = req.method === 'PUT' && key !== '' && !req.headers['x-amz-copy-source'];
      let small: Buffer = Buffer.alloc(0);
      if (!streamed) small = await readSmallBody(req, MAX_XML_BODY_BYTES);
      // Signature Version 2 (`Authorization: AWS key:sig`, or `AWSAccessKeyId` and `Signature` in a URL) is
      // answered as S3's regions that take only SigV4 answer it.
      if (/^AWS /.test(header(req, 'authorization') ?? '') || (query.has('AWSAccessKeyId') && query.has('Signature'))) {
        throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.', 400);
      }
      let verified;
      try {
        verified = await this.verifier.verify({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers, body: small }, 's3', { streamedBody: streamed });
      } catch (error) {
        if (error instanceof AuthError) throw s3AuthError(error);
        throw error;
      }
      const request: Request = { req, res, requestId, bucket, key, query };
      if (verified.signing) request.signing = verified.signing;
      await this.route(request, small);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof S3Error) return this.sendError(req, res, requestId, error);
      if (error instanceof ObjectStoreError) return this.sendError(req, res, requestId, storeError(error));
      if (error instanceof ServiceError) return this.sendError(req, res, requestId, new S3Error('InvalidRequest', error.message, 400));
      throw error;
    }
  }

  private addressOf(req: IncomingMessage, rawPath: string): { bucket: string; key: string } {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      throw new S3Error('InvalidURI', "Couldn't parse the specified URI.", 400);
    }
    const virtual = /^(.+)\.localhost$/.exec(host);
    if (virtual && !isIP(host)) return { bucket: virtual[1]!, key: path.replace(/^\//, '') };
    const trimmed = path.replace(/^\//, '');
    const slash = trimmed.indexOf('/');
    return slash < 0 ? { bucket: trimmed, key: '' } : { bucket: trimmed.slice(0, slash), key: trimmed.slice(slash + 1) };
  }

  private async route(r: Request, small: Buffer): Promise<void> {
    const { req, query, bucket, key } = r;
    const method = req.method ?? 'GET';
    if (bucket === '') {
      if (method === 'GET') return this.listBuckets(r);
      throw methodNotAllowed();
    }
    if (key === '') {
      switch (method) {
        case 'PUT':
          if (query.size > 0) throw notImplemented();
          await this.store.createBucket(bucket);
          return this.send(r, 200, { Location: `/${bucket}` });
        case 'DELETE':
          await this.store.deleteBucket(bucket);
          return this.send(r, 204, {});
        case 'HEAD':
          if (!(await this.store.headBucket(bucket))) throw noSuchBucket(bucket);
          return this.send(r, 200, { 'x-amz-bucket-region': this.options.region });
        case 'GET':
          if (query.has('location')) return this.getBucketLocation(r);
          if (query.has('uploads')) return this.listUploads(r);
          if (query.has('versioning')) {
            if (!(await this.store.headBucket(bucket))) throw noSuchBucket(bucket);
            return this.sendXml(r, 200, `<VersioningConfiguration xmlns="${S3_NAMESPACE}"/>`);
          }
          if ([...query.keys()].some((k) => !['list-type', 'prefix', 'delimiter', 'max-keys', 'continuation-token', 'start-after', 'marker', 'encoding-type', 'fetch-owner', 'x-id'].includes(k) && !k.startsWith('X-Amz-'))) {
            throw notImplemented();
          }
          return this.listObjects(r);
        case 'POST':
          if (query.has('delete')) return this.deleteObjects(r, small);
          throw methodNotAllowed();
        default:
          throw methodNotAllowed();
      }
    }
    const uploadId = query.get('uploadId');
    switch (method) {
      case 'PUT': {
        if (uploadId !== null) {
          const partNumber = Number(query.get('partNumber'));
          if (req.headers['x-amz-copy-source']) return this.uploadPartCopy(r, uploadId, partNumber);
          return this.uploadPart(r, uploadId, partNumber);
        }
        if (req.headers['x-amz-copy-source']) return this.copyObject(r);
        if (query.has('tagging') || query.has('acl')) throw notImplemented();
        return this.putObject(r);
      }
      case 'GET':
      case 'HEAD':
        if (uploadId !== null && method === 'GET') return this.listParts(r, uploadId);
        if (query.has('tagging') || query.has('acl') || query.has('attributes')) throw notImplemented();
        return this.getObject(r);
      case 'DELETE':
        if (uploadId !== null) {
          await this.store.abortUpload(bucket, key, uploadId);
          return this.send(r, 204, {});
        }
        await this.store.deleteObject(bucket, key);
        return this.send(r, 204, {});
      case 'POST':
        if (query.has('uploads')) return this.createUpload(r);
        if (uploadId !== null) return this.completeUpload(r, uploadId, small);
        throw methodNotAllowed();
      default:
        throw methodNotAllowed();
    }
  }

  // --- Answers ---------------------------------------------------------------------------------------

  private baseHeaders(requestId: string): Record<string, string> {
    return { 'x-amz-request-id': requestId, 'x-amz-id-2': requestId };
  }

  private send(r: Request, status: number, headers: Record<string, string | number>): void {
    const all: Record<string, string | number> = { ...this.baseHeaders(r.requestId), 'Content-Length': 0, ...headers };
    // A body the request did not finish sending cannot be read past: the connection carries no other request.
    if (!r.req.readableEnded) all.Connection = 'close';
    r.res.writeHead(status, all).end();
  }

  private sendXml(r: Request, status: number, xml: string, headers: Record<string, string> = {}): void {
    const body = `${XML_HEADER}${xml}`;
    r.res.writeHead(status, { ...this.baseHeaders(r.requestId), 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body), ...headers }).end(body);
  }

  private sendError(req: IncomingMessage, res: ServerResponse, requestId: string, error: S3Error): void {
    const extra = Object.entries(error.extra).map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join('');
    const xml = `${XML_HEADER}<Error><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message>${extra}<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;
    const headers: Record<string, string | number> = { 'Content-Type': 'application/xml', ...this.baseHeaders(requestId) };
    if (!req.readableEnded) headers.Connection = 'close';
    // HEAD answers and 304 carry no body.
    if (req.method === 'HEAD' || error.status === 304) res.writeHead(error.status, headers).end();
    else res.writeHead(error.status, { ...headers, 'Content-Length': Buffer.byteLength(xml) }).end(xml);
  }

  // --- Buckets ---------------------------------------------------------------------------------------

  private async listBuckets(r: Request): Promise<void> {
    const buckets = await this.store.listBuckets();
    const items = buckets.map((b) => `<Bucket><Name>${escapeXml(b.name)}</Name><CreationDate>${isoTime(b.createdAt)}</CreationDate></Bucket>`).join('');
    this.sendXml(r, 200, `<ListAllMyBucketsResult xmlns="${S3_NAMESPACE}"><Owner><ID>owlet</ID><DisplayName>owlet</DisplayName></Owner><Buckets>${items}</Buckets></ListAllMyBucketsResult>`);
  }

  private async getBucketLocation(r: Request): Promise<void> {
    if (!(await this.store.headBucket(r.bucket))) throw noSuchBucket(r.bucket);
    // S3 answers an empty LocationConstraint for us-east-1.
    const region = this.options.region === 'us-east-1' ? '' : escapeXml(this.options.region);
    this.sendXml(r, 200, `<LocationConstraint xmlns="${S3_NAMESPACE}">${region}</LocationConstraint>`);
  }

  private async listObjects(r: Request): Promise<void> {
    const { query, bucket } = r;
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') ?? '';
    const maxKeysText = query.get('max-keys');
    const maxKeys = maxKeysText === null ? DEFAULT_MAX_KEYS : Number(maxKeysText);
    if (!/^\d+$/.test(maxKeysText ?? '0') || !Number.isSafeInteger(maxKeys)) throw invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', maxKeysText ?? '');
    const encodingType = query.get('encoding-type');
    if (encodingType !== null && encodingType !== 'url') throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', encodingType);
    const urlEncoded = encodingType === 'url';
    const enc = (s: string) => escapeXml(urlEncoded ? urlEncodeKey(s) : s);
    const v2 = query.get('list-type') === '2';
    const continuation = query.get('continuation-token');
    const startAfter = query.get('start-after') ?? '';
    let after = v2 ? startAfter : (query.get('marker') ?? '');
    if (v2 && continuation !== null) {
      after = decodeContinuation(continuation);
    }
    const page = await this.store.listObjects(bucket, { prefix, ...(delimiter ? { delimiter } : {}), after, maxKeys: Math.min(maxKeys, DEFAULT_MAX_KEYS) });
    const fetchOwner = !v2 || query.get('fetch-owner') === 'true';
    const parts = [
      `<Name>${escapeXml(bucket)}</Name>`,
      `<Prefix>${enc(prefix)}</Prefix>`,
      v2 ? '' : `<Marker>${enc(query.get('marker') ?? '')}</Marker>`,
      v2 ? `<KeyCount>${page.objects.length + page.commonPrefixes.length}</KeyCount>` : '',
      `<MaxKeys>${maxKeys}</MaxKeys>`,
      delimiter ? `<Delimiter>${enc(delimiter)}</Delimiter>` : '',
      urlEncoded ? '<EncodingType>url</EncodingType>' : '',
      `<IsTruncated>${page.truncated}</IsTruncated>`,
      v2 && continuation !== null ? `<ContinuationToken>${escapeXml(continuation)}</ContinuationToken>` : '',
      v2 && startAfter ? `<StartAfter>${enc(startAfter)}</StartAfter>` : '',
      v2 && page.truncated && page.last !== undefined ? `<NextContinuationToken>${Buffer.from(page.last).toString('base64url')}</NextContinuationToken>` : '',
      !v2 && page.truncated && delimiter && page.last !== undefined ? `<NextMarker>${enc(page.last)}</NextMarker>` : '',
      ...page.objects.map(
        (o) =>
          `<Contents><Key>${enc(o.key)}</Key><LastModified>${isoTime(o.lastModified)}</LastModified><ETag>${escapeXml(o.etag)}</ETag>${
            o.checksum ? `<ChecksumAlgorithm>${o.checksum.algorithm}</ChecksumAlgorithm><ChecksumType>${o.checksum.type}</ChecksumType>` : ''
          }<Size>${o.size}</Size>${fetchOwner ? '<Owner><ID>owlet</ID><DisplayName>owlet</DisplayName></Owner>' : ''}<StorageClass>STANDARD</StorageClass></Contents>`,
      ),
      ...page.commonPrefixes.map((p) => `<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`),
    ];
    this.sendXml(r, 200, `<ListBucketResult xmlns="${S3_NAMESPACE}">${parts.join('')}</ListBucketResult>`);
  }

  private async deleteObjects(r: Request, body: Buffer): Promise<void> {
    const doc = parseXmlBody(body, 'Delete');
    const objects = elements(doc, 'Object');
    if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw malformedXml();
    const quiet = text(doc, 'Quiet') === 'true';
    if (!(await this.store.headBucket(r.bucket))) throw noSuchBucket(r.bucket);
    const results: string[] = [];
    for (const object of objects) {
      const key = text(object, 'Key');
      if (key === undefined) throw malformedXml();
      try {
        await this.store.deleteObject(r.bucket, key);
        if (!quiet) results.push(`<Deleted><Key>${escapeXml(key)}</Key></Deleted>`);
      } catch (error) {
        if (!(error instanceof ObjectStoreError)) throw error;
        results.push(`<Error><Key>${escapeXml(key)}</Key><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message></Error>`);
      }
    }
    this.sendXml(r, 200, `<DeleteResult xmlns="${S3_NAMESPACE}">${results.join('')}</DeleteResult>`);
  }

  // --- Objects ---------------------------------------------------------------------------------------

  /** The body of a PUT or UploadPart as the store reads it: decoded from aws-chunked, with what to check it against. */
  private incomingBody(r: Request): IncomingBody {
    const { req } = r;
    const declared = header(req, 'x-amz-content-sha256');
    const chunked = (declared?.startsWith('STREAMING-') ?? false) || (header(req, 'content-encoding') ?? '').split(',').some((e) => e.trim() === 'aws-chunked');
    let body: IncomingBody;
    if (chunked) {
      if (r.signing === undefined && declared?.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) throw accessDenied();
      const decoder = new AwsChunkedDecoder(req, r.signing);
      body = { source: decoder.body() };
      const decodedLength = header(req, 'x-amz-decoded-content-length');
      if (decodedLength !== undefined) {
        if (!/^\d+$/.test(decodedLength)) throw invalidArgument('Invalid x-amz-decoded-content-length', 'x-amz-decoded-content-length', decodedLength);
        body.expectedSize = Number(decodedLength);
      }
      const trailer = header(req, 'x-amz-trailer');
      if (trailer !== undefined) {
        const name = trailer.trim().toLowerCase();
        const algorithm = algorithmOfHeader(name);
        if (!algorithm) throw invalidArgument(`The value specified in the x-amz-trailer header is not supported`, 'x-amz-trailer', trailer);
        body.checksum = { algorithm };
        body.trailingChecksum = () => decoder.trailers.get(name);
      }
    } else {
      body = { source: req };
      const length = header(req, 'content-length');
      if (length === undefined) throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.', 411);
      body.expectedSize = Number(length);
      if (declared !== undefined && /^[0-9a-f]{64}$/.test(declared)) body.sha256Hex = declared;
    }
    const md5 = header(req, 'content-md5');
    if (md5 !== undefined) {
      if (Buffer.from(md5, 'base64').length !== 16) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.', 400);
      body.contentMd5 = md5;
    }
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const value = header(req, headerOfAlgorithm(algorithm));
      if (value === undefined) continue;
      if (Buffer.from(value, 'base64').length !== DIGEST_BYTES[algorithm]) {
        throw new S3Error('InvalidRequest', `Value for ${headerOfAlgorithm(algorithm)} header is invalid.`, 400);
      }
      body.checksum = { algorithm, value };
    }
    if (!body.checksum) {
      const named = header(req, 'x-amz-sdk-checksum-algorithm')?.toUpperCase();
      if (named && (CHECKSUM_ALGORITHMS as readonly string[]).includes(named)) body.checksum = { algorithm: named as ChecksumAlgorithm };
    }
    return body;
  }

  private checksumHeaders(checksum: { algorithm: ChecksumAlgorithm; value: string; type?: string } | undefined): Record<string, string> {
    if (!checksum) return {};
    const headers: Record<string, string> = { [headerOfAlgorithm(checksum.algorithm)]: checksum.value };
    if (checksum.type) headers['x-amz-checksum-type'] = checksum.type;
    return headers;
  }

  private async putObject(r: Request): Promise<void> {
    const conditions = writeConditions(r.req);
    const object = await this.store.putObject(r.bucket, r.key, this.incomingBody(r), metadataOf(r.req), conditions);
    this.send(r, 200, { ETag: object.etag, ...this.checksumHeaders(object.checksum) });
  }

  private async getObject(r: Request): Promise<void> {
    const { req, res } = r;
    const head = req.method === 'HEAD';
    const opened = head ? undefined : await this.store.openObject(r.bucket, r.key);
    let streaming = false;
    try {
      const info = opened?.info ?? (await this.store.headObject(r.bucket, r.key));
      const notModified = checkReadConditions(req, info);
      const headers: Record<string, string | number> = {
        ...this.baseHeaders(r.requestId),
        ...metadataHeaders(info.metadata),
        'Last-Modified': httpTime(info.lastModified),
        ETag: info.etag,
        'Accept-Ranges': 'bytes',
      };
      if (notModified) {
        res.writeHead(304, { ...this.baseHeaders(r.requestId), 'Last-Modified': httpTime(info.lastModified), ETag: info.etag }).end();
        return;
      }
      for (const [param, name] of RESPONSE_OVERRIDES) {
        const value = r.query.get(param);
        if (value !== null) headers[name] = value;
      }
      const range = parseRange(header(req, 'range'), info.size);
      if (range === 'unsatisfiable') {
        throw new S3Error('InvalidRange', 'The requested range is not satisfiable', 416, { RangeRequested: String(header(req, 'range')), ActualObjectSize: String(info.size) });
      }
      if (range) {
        headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
        headers['Content-Length'] = range.end - range.start + 1;
      } else {
        headers['Content-Length'] = info.size;
        if (header(req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') Object.assign(headers, this.checksumHeaders(info.checksum));
      }
      if (info.parts) headers['x-amz-mp-parts-count'] = info.parts.length;
      res.writeHead(range ? 206 : 200, headers);
      if (!opened || info.size === 0) {
        res.end();
        return;
      }
      streaming = true;
      await opened.send(res, range ?? undefined);
    } finally {
      if (!streaming) await opened?.close();
    }
  }

  private copySource(r: Request): { bucket: string; key: string } {
    let source = header(r.req, 'x-amz-copy-source') ?? '';
    const q = source.indexOf('?');
    if (q >= 0) source = source.slice(0, q);
    try {
      source = decodeURIComponent(source);
    } catch {
      throw invalidArgument('Invalid copy source encoding', 'x-amz-copy-source', source);
    }
    source = source.replace(/^\//, '');
    const slash = source.indexOf('/');
    if (slash <= 0 || slash === source.length - 1) throw invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 'x-amz-copy-source', source);
    return { bucket: source.slice(0, slash), key: source.slice(slash + 1) };
  }

  /** CopyObject's and UploadPartCopy's `x-amz-copy-source-if-*` conditions on the source. */
  private async checkCopyConditions(r: Request, from: { bucket: string; key: string }): Promise<void> {
    const ifMatch = header(r.req, 'x-amz-copy-source-if-match');
    const ifNoneMatch = header(r.req, 'x-amz-copy-source-if-none-match');
    if (ifMatch === undefined && ifNoneMatch === undefined) return;
    const source = await this.store.headObject(from.bucket, from.key);
    if ((ifMatch !== undefined && !etagMatches(ifMatch, source.etag)) || (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, source.etag))) {
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, { Condition: ifMatch !== undefined ? 'x-amz-copy-source-If-Match' : 'x-amz-copy-source-If-None-Match' });
    }
  }

  private async copyObject(r: Request): Promise<void> {
    const from = this.copySource(r);
    const directive = (header(r.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
    if (directive !== 'COPY' && directive !== 'REPLACE') throw invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
    await this.checkCopyConditions(r, from);
    const object = await this.store.copyObject(from, { bucket: r.bucket, key: r.key }, directive === 'COPY' ? 'COPY' : metadataOf(r.req));
    const checksum = object.checksum ? `<Checksum${object.checksum.algorithm}>${object.checksum.value}</Checksum${object.checksum.algorithm}>` : '';
    this.sendXml(r, 200, `<CopyObjectResult><LastModified>${isoTime(object.lastModified)}</LastModified><ETag>${escapeXml(object.etag)}</ETag>${checksum}</CopyObjectResult>`);
  }

  // --- Multipart ---------------------------------------------------------------------------------------

  private async createUpload(r: Request): Promise<void> {
    const named = header(r.req, 'x-amz-checksum-algorithm')?.toUpperCase();
    if (named !== undefined && !(CHECKSUM_ALGORITHMS as readonly string[]).includes(named)) throw invalidArgument('Checksum algorithm provided is unsupported.', 'x-amz-checksum-algorithm', named);
    const upload = await this.store.createUpload(r.bucket, r.key, metadataOf(r.req), named as ChecksumAlgorithm | undefined);
    this.sendXml(
      r,
      200,
      `<InitiateMultipartUploadResult xmlns="${S3_NAMESPACE}"><Bucket>${escapeXml(r.bucket)}</Bucket><Key>${escapeXml(r.key)}</Key><UploadId>${upload.uploadId}</UploadId></InitiateMultipartUploadResult>`,
      upload.checksumAlgorithm ? { 'x-amz-checksum-algorithm': upload.checksumAlgorithm } : {},
    );
  }

  private async uploadPart(r: Request, uploadId: string, partNumber: number): Promise<void> {
    const part = await this.store.uploadPart(r.bucket, r.key, uploadId, partNumber, this.incomingBody(r));
    this.send(r, 200, { ETag: part.etag, ...this.checksumHeaders(part.checksum) });
  }

  private async uploadPartCopy(r: Request, uploadId: string, partNumber: number): Promise<void> {
    const source = this.copySource(r);
    const rangeText = header(r.req, 'x-amz-copy-source-range');
    let range: { start: number; end: number } | undefined;
    if (rangeText !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(rangeText.trim());
      if (!m || Number(m[1]) > Number(m[2])) throw invalidArgument('The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', 'x-amz-copy-source-range', rangeText);
      range = { start: Number(m[1]), end: Number(m[2]) };
    }
    await this.checkCopyConditions(r, source);
    const part = await this.store.uploadPartCopy(r.bucket, r.key, uploadId, partNumber, { ...source, ...(range ? { range } : {}) });
    this.sendXml(r, 200, `<CopyPartResult><LastModified>${isoTime(part.lastModified)}</LastModified><ETag>${escapeXml(part.etag)}</ETag></CopyPartResult>`);
  }

  private async completeUpload(r: Request, uploadId: string, body: Buffer): Promise<void> {
    const doc = parseXmlBody(body, 'CompleteMultipartUpload');
    const parts: CompletedPart[] = elements(doc, 'Part').map((p) => {
      const partNumber = Number(text(p, 'PartNumber'));
      const etag = text(p, 'ETag');
      if (!Number.isInteger(partNumber) || etag === undefined) throw malformedXml();
      const part: CompletedPart = { partNumber, etag };
      for (const algorithm of CHECKSUM_ALGORITHMS) {
        const value = text(p, `Checksum${algorithm}`);
        if (value !== undefined) part.checksum = value;
      }
      return part;
    });
    const object = await this.store.completeUpload(r.bucket, r.key, uploadId, parts, writeConditions(r.req));
    const checksum = object.checksum ? `<Checksum${object.checksum.algorithm}>${object.checksum.value}</Checksum${object.checksum.algorithm}><ChecksumType>${object.checksum.type}</ChecksumType>` : '';
    this.sendXml(
      r,
      200,
      `<CompleteMultipartUploadResult xmlns="${S3_NAMESPACE}"><Location>/${escapeXml(r.bucket)}/${escapeXml(r.key)}</Location><Bucket>${escapeXml(r.bucket)}</Bucket><Key>${escapeXml(r.key)}</Key><ETag>${escapeXml(object.etag)}</ETag>${checksum}</CompleteMultipartUploadResult>`,
    );
  }

  private async listParts(r: Request, uploadId: string): Promise<void> {
    const maxParts = numberParam(r.query, 'max-parts', 1000);
    const after = numberParam(r.query, 'part-number-marker', 0);
    const { upload, parts, truncated } = await this.store.listParts(r.bucket, r.key, uploadId, after, Math.min(maxParts, 1000));
    const items = parts.map(partXml).join('');
    this.sendXml(
      r,
      200,
      `<ListPartsResult xmlns="${S3_NAMESPACE}"><Bucket>${escapeXml(r.bucket)}</Bucket><Key>${escapeXml(r.key)}</Key><UploadId>${uploadId}</UploadId>${ownerXml('Initiator')}${ownerXml('Owner')}<StorageClass>STANDARD</StorageClass><PartNumberMarker>${after}</PartNumberMarker><NextPartNumberMarker>${parts.at(-1)?.partNumber ?? 0}</NextPartNumberMarker><MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated>${
        upload.checksumAlgorithm ? `<ChecksumAlgorithm>${upload.checksumAlgorithm}</ChecksumAlgorithm>` : ''
      }${items}</ListPartsResult>`,
    );
  }

  private async listUploads(r: Request): Promise<void> {
    const { query } = r;
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') ?? '';
    const maxUploads = numberParam(query, 'max-uploads', 1000);
    const keyMarker = query.get('key-marker') ?? '';
    const uploadIdMarker = query.get('upload-id-marker') ?? '';
    const urlEncoded = query.get('encoding-type') === 'url';
    const enc = (s: string) => escapeXml(urlEncoded ? urlEncodeKey(s) : s);
    const page = await this.store.listUploads(r.bucket, {
      prefix,
      ...(delimiter ? { delimiter } : {}),
      ...(keyMarker ? { keyMarker, uploadIdMarker } : {}),
      maxUploads: Math.min(maxUploads, 1000),
    });
    const last: UploadInfo | undefined = page.uploads.at(-1);
    const items = page.uploads
      .map((u) => `<Upload><Key>${enc(u.key)}</Key><UploadId>${u.uploadId}</UploadId>${ownerXml('Initiator')}${ownerXml('Owner')}<StorageClass>STANDARD</StorageClass><Initiated>${isoTime(u.initiated)}</Initiated></Upload>`)
      .join('');
    this.sendXml(
      r,
      200,
      `<ListMultipartUploadsResult xmlns="${S3_NAMESPACE}"><Bucket>${escapeXml(r.bucket)}</Bucket><KeyMarker>${enc(keyMarker)}</KeyMarker><UploadIdMarker>${escapeXml(uploadIdMarker)}</UploadIdMarker><NextKeyMarker>${
        last ? enc(last.key) : ''
      }</NextKeyMarker><NextUploadIdMarker>${last?.uploadId ?? ''}</NextUploadIdMarker>${delimiter ? `<Delimiter>${enc(delimiter)}</Delimiter>` : ''}<Prefix>${enc(prefix)}</Prefix>${
        urlEncoded ? '<EncodingType>url</EncodingType>' : ''
      }<MaxUploads>${maxUploads}</MaxUploads><IsTruncated>${page.truncated}</IsTruncated>${items}${page.commonPrefixes.map((p) => `<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`).join('')}</ListMultipartUploadsResult>`,
    );
  }
}

/** GetObject's `response-*` parameters, which set the answer's headers (presigned download links use them). */
const RESPONSE_OVERRIDES: readonly [string, string][] = [
  ['response-content-type', 'Content-Type'],
  ['response-content-language', 'Content-Language'],
  ['response-expires', 'Expires'],
  ['response-cache-control', 'Cache-Control'],
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
];

const ownerXml = (element: string): string => `<${element}><ID>owlet</ID><DisplayName>owlet</DisplayName></${element}>`;

function partXml(p: PartInfo): string {
  const checksum = p.checksum ? `<Checksum${p.checksum.algorithm}>${p.checksum.value}</Checksum${p.checksum.algorithm}>` : '';
  return `<Part><PartNumber>${p.partNumber}</PartNumber><LastModified>${isoTime(p.lastModified)}</LastModified><ETag>${escapeXml(p.etag)}</ETag>${checksum}<Size>${p.size}</Size></Part>`;
}

function numberParam(query: URLSearchParams, name: string, fallback: number): number {
  const v = query.get(name);
  if (v === null) return fallback;
  if (!/^\d+$/.test(v)) throw invalidArgument(`Provided ${name} not an integer or within integer range`, name, v);
  return Number(v);
}

function decodeContinuation(token: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(token)) throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
  return Buffer.from(token, 'base64url').toString('utf8');
}

function writeConditions(req: IncomingMessage): { ifMatch?: string; ifNoneMatch?: string } {
  const conditions: { ifMatch?: string; ifNoneMatch?: string } = {};
  const ifMatch = header(req, 'if-match');
  const ifNoneMatch = header(req, 'if-none-match');
  if (ifMatch !== undefined) conditions.ifMatch = ifMatch;
  if (ifNoneMatch !== undefined) {
    // S3's conditional writes take only `*` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
    if (ifNoneMatch.trim() !== '*') throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', 501, { Header: 'If-None-Match' });
    conditions.ifNoneMatch = '*';
  }
  return conditions;
}

/**
 * GET and HEAD conditions as S3 applies them (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
 * RFC 7232): If-Match false → 412, else If-Unmodified-Since false → 412; If-None-Match true → 304, else
 * If-Modified-Since not modified → 304. Returns true for 304.
 */
function checkReadConditions(req: IncomingMessage, info: ObjectInfo): boolean {
  const ifMatch = header(req, 'if-match');
  const ifNoneMatch = header(req, 'if-none-match');
  const ifModifiedSince = dateHeader(req, 'if-modified-since');
  const ifUnmodifiedSince = dateHeader(req, 'if-unmodified-since');
  // HTTP dates have whole seconds.
  const modified = Math.floor(info.lastModified / 1000) * 1000;
  const failed = (condition: string) => new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, { Condition: condition });
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, info.etag)) throw failed('If-Match');
  } else if (ifUnmodifiedSince !== undefined && modified > ifUnmodifiedSince) {
    throw failed('If-Unmodified-Since');
  }
  if (ifNoneMatch !== undefined) return etagMatches(ifNoneMatch, info.etag);
  return ifModifiedSince !== undefined && modified <= ifModifiedSince;
}

function dateHeader(req: IncomingMessage, name: string): number | undefined {
  const v = header(req, name);
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

const noSuchBucket = (bucket: string) => new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: bucket });
const methodNotAllowed = () => new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405);
const notImplemented = () => new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', 501);
