// The read side of the S3 REST API over the local result store: ListBuckets, GetObject, HeadObject and
// ListObjectsV2, path-style (`/bucket/key`) and virtual-hosted on `localhost` (`bucket.localhost`). Clients
// that read calculation results with an S3 client pointed at Owlet's endpoint (PyAthena does) work without a
// real S3. Requests are SigV4-signed for service `s3`; errors are S3's XML documents.
import { readdir, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { LocalResultStore } from '../results/local-result-store.js';
import type { ObjectInfo } from '../results/result-store.js';
import { AuthError, ServiceError } from './errors.js';
import type { SigV4Verifier } from './sigv4.js';

const XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n';
const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DEFAULT_MAX_KEYS = 1000;

const escapeXml = (s: string): string =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

const noSuchBucket = (bucket: string) => new S3Error('NoSuchBucket', 'The specified bucket does not exist.', 404, { BucketName: bucket });
const noSuchKey = (key: string) => new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: key });

/** S3's answers to requests its signature check refuses. */
function s3AuthError(error: AuthError): S3Error {
  switch (error.type) {
    case 'UnrecognizedClientException':
      return new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403);
    case 'InvalidSignatureException':
      return new S3Error(
        error.message.startsWith('Signature') ? 'RequestTimeTooSkewed' : 'SignatureDoesNotMatch',
        error.message.startsWith('Signature')
          ? 'The difference between the request time and the current time is too large.'
          : 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        403,
      );
    case 'MissingAuthenticationTokenException':
      return new S3Error('AccessDenied', 'Access Denied', 403);
    default:
      return new S3Error('AuthorizationHeaderMalformed', error.message, 400);
  }
}

function contentTypeOf(key: string): string {
  if (key.endsWith('.json')) return 'application/json';
  if (key.endsWith('.txt') || key.endsWith('.log')) return 'text/plain; charset=utf-8';
  if (key.endsWith('.ipynb')) return 'application/x-ipynb+json';
  return 'application/octet-stream';
}

/** S3's `encoding-type=url`: keys percent-encoded, slashes kept. */
const urlEncodeKey = (s: string): string => encodeURIComponent(s).replace(/%2F/g, '/');

export class S3Api {
  constructor(
    private readonly store: LocalResultStore,
    private readonly verifier: SigV4Verifier,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, requestId: string, rawPath: string, rawQuery: string, body: Uint8Array): Promise<void> {
    try {
      try {
        await this.verifier.verify({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers, body }, 's3');
      } catch (error) {
        if (error instanceof AuthError) throw s3AuthError(error);
        throw error;
      }
      const { bucket, key } = this.addressOf(req, rawPath);
      const query = new URLSearchParams(rawQuery);
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405);
      }
      if (bucket === '') return await this.listBuckets(res, requestId);
      if (key === '') {
        if (req.method === 'HEAD') {
          if (!(await this.store.bucketExists(bucket))) throw noSuchBucket(bucket);
          res.writeHead(200, { 'x-amz-request-id': requestId, 'Content-Length': 0 }).end();
          return;
        }
        return await this.listObjects(res, requestId, bucket, query);
      }
      return await this.getObject(req, res, requestId, bucket, key);
    } catch (error) {
      if (error instanceof S3Error) return this.sendError(req, res, requestId, error);
      if (error instanceof ServiceError) return this.sendError(req, res, requestId, new S3Error('InvalidRequest', error.message, 400));
      throw error;
    }
  }

  private addressOf(req: IncomingMessage, rawPath: string): { bucket: string; key: string } {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const path = decodeURIComponent(rawPath);
    const virtual = /^(.+)\.localhost$/.exec(host);
    if (virtual && !isIP(host)) return { bucket: virtual[1]!, key: path.replace(/^\//, '') };
    const trimmed = path.replace(/^\//, '');
    const slash = trimmed.indexOf('/');
    return slash < 0 ? { bucket: trimmed, key: '' } : { bucket: trimmed.slice(0, slash), key: trimmed.slice(slash + 1) };
  }

  private sendError(req: IncomingMessage, res: ServerResponse, requestId: string, error: S3Error): void {
    const extra = Object.entries(error.extra).map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join('');
    const xml = `${XML_HEADER}<Error><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message>${extra}<RequestId>${requestId}</RequestId></Error>`;
    const headers = { 'Content-Type': 'application/xml', 'x-amz-request-id': requestId };
    // HEAD answers carry no body.
    if (req.method === 'HEAD') res.writeHead(error.status, headers).end();
    else res.writeHead(error.status, { ...headers, 'Content-Length': Buffer.byteLength(xml) }).end(xml);
  }

  private async listBuckets(res: ServerResponse, requestId: string): Promise<void> {
    let names: string[] = [];
    try {
      names = (await readdir(this.store.root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch {
      // No bucket yet.
    }
    const buckets = await Promise.all(
      names.map(async (name) => `<Bucket><Name>${escapeXml(name)}</Name><CreationDate>${(await stat(`${this.store.root}/${name}`)).birthtime.toISOString()}</CreationDate></Bucket>`),
    );
    const xml = `${XML_HEADER}<ListAllMyBucketsResult xmlns="${S3_NAMESPACE}"><Owner><ID>owlet</ID><DisplayName>owlet</DisplayName></Owner><Buckets>${buckets.join('')}</Buckets></ListAllMyBucketsResult>`;
    res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml), 'x-amz-request-id': requestId }).end(xml);
  }

  private async getObject(req: IncomingMessage, res: ServerResponse, requestId: string, bucket: string, key: string): Promise<void> {
    const info = await this.store.head(bucket, key);
    if (!info) {
      if (!(await this.store.bucketExists(bucket))) throw noSuchBucket(bucket);
      throw noSuchKey(key);
    }
    const headers: Record<string, string | number> = {
      'Content-Type': contentTypeOf(key),
      'Last-Modified': info.lastModified.toUTCString(),
      ETag: info.etag,
      'Accept-Ranges': 'bytes',
      'x-amz-request-id': requestId,
    };
    const range = parseRange(req.headers.range, info.size);
    if (range === 'unsatisfiable') {
      throw new S3Error('InvalidRange', 'The requested range is not satisfiable', 416, { RangeRequested: String(req.headers.range) });
    }
    if (range) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
      headers['Content-Length'] = range.end - range.start + 1;
    } else {
      headers['Content-Length'] = info.size;
    }
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD' || info.size === 0) {
      res.end();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const stream = this.store.open(bucket, key, range ?? undefined);
      stream.on('error', reject);
      res.on('close', resolve);
      stream.pipe(res);
    });
  }

  private async listObjects(res: ServerResponse, requestId: string, bucket: string, query: URLSearchParams): Promise<void> {
    if (!(await this.store.bucketExists(bucket))) throw noSuchBucket(bucket);
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') ?? '';
    const maxKeysText = query.get('max-keys');
    const maxKeys = maxKeysText === null ? DEFAULT_MAX_KEYS : Number(maxKeysText);
    if (!Number.isInteger(maxKeys) || maxKeys < 0) throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', 400);
    const v2 = query.get('list-type') === '2';
    const continuation = query.get('continuation-token');
    let startAfter = v2 ? (query.get('start-after') ?? '') : (query.get('marker') ?? '');
    if (continuation) startAfter = Buffer.from(continuation, 'base64url').toString('utf8');
    const urlEncoded = query.get('encoding-type') === 'url';
    const enc = (s: string) => escapeXml(urlEncoded ? urlEncodeKey(s) : s);

    const objects = await this.store.list(bucket, prefix);
    const contents: ObjectInfo[] = [];
    const prefixes: string[] = [];
    let truncated = false;
    let last = '';
    for (const object of objects) {
      if (startAfter && Buffer.compare(Buffer.from(object.key), Buffer.from(startAfter)) <= 0) continue;
      let common: string | undefined;
      if (delimiter) {
        const at = object.key.indexOf(delimiter, prefix.length);
        if (at >= 0) common = object.key.slice(0, at + delimiter.length);
      }
      if (common !== undefined && prefixes.at(-1) === common) continue;
      if (contents.length + prefixes.length >= maxKeys) {
        truncated = true;
        break;
      }
      if (common !== undefined) {
        prefixes.push(common);
        // Continue after every key under this common prefix.
        last = `${common}\u{10FFFF}`;
      } else {
        contents.push(object);
        last = object.key;
      }
    }
    const parts = [
      `<Name>${escapeXml(bucket)}</Name>`,
      `<Prefix>${enc(prefix)}</Prefix>`,
      v2 ? `<KeyCount>${contents.length + prefixes.length}</KeyCount>` : `<Marker>${enc(startAfter)}</Marker>`,
      `<MaxKeys>${maxKeys}</MaxKeys>`,
      delimiter ? `<Delimiter>${enc(delimiter)}</Delimiter>` : '',
      urlEncoded ? '<EncodingType>url</EncodingType>' : '',
      `<IsTruncated>${truncated}</IsTruncated>`,
      v2 && continuation ? `<ContinuationToken>${escapeXml(continuation)}</ContinuationToken>` : '',
      v2 && query.get('start-after') ? `<StartAfter>${enc(query.get('start-after')!)}</StartAfter>` : '',
      v2 && truncated ? `<NextContinuationToken>${Buffer.from(last).toString('base64url')}</NextContinuationToken>` : '',
      !v2 && truncated && delimiter ? `<NextMarker>${enc(last)}</NextMarker>` : '',
      ...contents.map(
        (o) =>
          `<Contents><Key>${enc(o.key)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${escapeXml(o.etag)}</ETag><Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      ),
      ...prefixes.map((p) => `<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`),
    ];
    const xml = `${XML_HEADER}<ListBucketResult xmlns="${S3_NAMESPACE}">${parts.join('')}</ListBucketResult>`;
    res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml), 'x-amz-request-id': requestId }).end(xml);
  }
}

/** One `bytes=a-b` range (S3 serves one range per request). */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | 'unsatisfiable' {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}
