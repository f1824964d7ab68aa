// The HTTP front end: reads a request with a size limit, authenticates it, hands it to the JSON service and
// writes the answer with the headers the real service sends (Content-Type, Content-Length, x-amzn-RequestId).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { signingName } from '../generated/athena-model.js';
import type { RequestContext } from './context.js';
import { RequestTooLargeError, SerializationError, ServiceError, UnknownOperationError } from './errors.js';
import type { JsonService, JsonServiceResponse } from './json-service.js';
import type { S3Api } from './s3-api.js';
import type { SigV4Verifier, VerifiedCaller } from './sigv4.js';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/**
 * The largest request body accepted. The largest legitimate request is an ImportNotebook or UpdateNotebook
 * with a 10 MiB payload (10,485,760 characters), which JSON escaping and UTF-8 can make up to six times
 * larger on the wire in the worst case; 64 MiB leaves room for that.
 */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface HttpServerOptions {
  host: string;
  port: number;
  service: JsonService;
  verifier: SigV4Verifier;
  log: Logger;
  maxBodyBytes?: number;
  now?: () => number;
  /** The S3 API over the result store, for requests that are not Athena calls. */
  s3?: S3Api;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class OwletHttpServer {
  private readonly server: Server;
  private readonly maxBodyBytes: number;
  private readonly now: () => number;

  constructor(private readonly options: HttpServerOptions) {
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.now = options.now ?? Date.now;
    this.server = createServer((req, res) => {
      this.onRequest(req, res).catch((error: unknown) => {
        options.log.error({ err: error }, 'request failed outside the service');
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    // Clients keep connections open between calls; idle ones are closed after a minute.
    this.server.keepAliveTimeout = 60_000;
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // A connection busy at this moment would otherwise keep the server open until its keep-alive timeout.
      setTimeout(() => this.server.closeAllConnections(), 1_000).unref();
    });
  }

  private send(res: ServerResponse, requestId: string, response: JsonServiceResponse, closeConnection = false): void {
    const headers: Record<string, string | number> = {
      'Content-Type': JSON_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(response.body),
      'x-amzn-RequestId': requestId,
    };
    if (closeConnection) headers.Connection = 'close';
    res.writeHead(response.status, headers);
    res.end(response.body);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const receivedAt = this.now();
    const { service, verifier, log } = this.options;
    const anonymous: RequestContext = { requestId, receivedAt, caller: { accessKeyId: '', region: '', service: '' } };
    const fail = (error: ServiceError, closeConnection = false): void =>
      this.send(res, requestId, service.errorResponse(error, undefined, anonymous), closeConnection);

    let body: Buffer;
    try {
      body = await readBody(req, this.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        // The rest of the body is not read, so the connection cannot carry another request.
        fail(new RequestTooLargeError(this.maxBodyBytes), true);
        return;
      }
      throw error;
    }

    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const target = req.headers['x-amz-target'];

    if (target === undefined && req.method !== 'POST' && this.options.s3) {
      await this.options.s3.handle(req, res, requestId, rawPath, rawQuery, body);
      return;
    }
    if (req.method !== 'POST' || target === undefined) {
      fail(new UnknownOperationError(`No operation is served at ${req.method ?? ''} ${rawPath}.`));
      return;
    }

    let caller: VerifiedCaller;
    try {
      caller = await verifier.verify({ method: req.method, rawPath, rawQuery, headers: req.headers, body }, signingName);
    } catch (error) {
      if (error instanceof ServiceError) {
        fail(error);
        return;
      }
      throw error;
    }

    const context: RequestContext = { requestId, receivedAt, caller };
    let operation;
    try {
      operation = service.operationOf(Array.isArray(target) ? target[0] : target);
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (contentType !== JSON_CONTENT_TYPE) {
        throw new SerializationError(`Content-Type '${contentType}' is not supported; send ${JSON_CONTENT_TYPE}.`);
      }
    } catch (error) {
      if (error instanceof ServiceError) {
        fail(error);
        return;
      }
      throw error;
    }

    const response = await service.handle(operation, body, context);
    log.debug({ requestId, operation, status: response.status, errorType: response.errorType }, 'request');
    this.send(res, requestId, response);
  }
}
