// The HTTP front end: reads a request with a size limit, authenticates it, hands it to the JSON service and
// writes the answer with the headers the real service sends (Content-Type, Content-Length, x-amzn-RequestId).
import { randomUUID } from 'node:crypto';
import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ConsoleFiles } from '../console/console-files.js';
import type { RequestContext } from './context.js';
import { InternalServerError, RequestTooLargeError, SerializationError, ServiceError, UnknownOperationError } from './errors.js';
import type { JupyterServer } from '../jupyter/jupyter-server.js';
import type { JsonService, JsonServiceResponse, OperationTypeTable } from './json-service.js';
import type { S3Api } from './s3-api.js';
import { BodyTooLarge, closeLingering, readBody } from './request-body.js';
import type { SigV4Verifier, VerifiedCaller } from './sigv4.js';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** Marks a request another server node sent on (its value names that node); such a request is answered, never sent on. */
export const FORWARDED_BY_HEADER = 'x-owlet-forwarded-by';
/** How long a node waits for the node it sent a request on to. */
const FORWARD_TIMEOUT_MS = 30_000;
/** The answer headers passed back from the node that answered a forwarded request. */
const FORWARDED_ANSWER_HEADERS = ['content-type', 'content-length', 'x-amzn-requestid'] as const;

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
  /** The S3 API over the object store, for requests that are not Athena calls. */
  s3?: S3Api;
  /** This server node's id, named in the requests it sends on to other nodes. */
  nodeId?: string;
  /** The Jupyter Server protocol (/api/..., the kernel websockets, /console/), when served. */
  jupyter?: JupyterServer;
  /** The console's files, served at /console/. */
  console?: ConsoleFiles;
  /**
   * Further AWS JSON services on the same endpoint (Glue), chosen by their `X-Amz-Target` prefix, each with the
   * verifier of the key pairs it takes.
   */
  services?: readonly { api: JsonApi; verifier: SigV4Verifier }[];
}

/** What the front end needs of a JSON service, whichever model it serves. */
export interface JsonApi {
  readonly targetPrefix: string;
  readonly signingName: string;
  operationOf(target: string | undefined): string;
  handle(operation: string, body: Uint8Array, context: RequestContext): Promise<JsonServiceResponse>;
  errorResponse(error: unknown, operation: string | undefined, context: RequestContext): JsonServiceResponse;
}

/** A JSON service of any generated model, as the front end routes to it. */
export const asJsonApi = <T extends OperationTypeTable<T>>(service: JsonService<T>): JsonApi => service as unknown as JsonApi;

export class OwletHttpServer {
  private readonly server: Server;
  private readonly maxBodyBytes: number;
  private readonly now: () => number;
  /** Connections to the other server nodes, kept open between forwarded requests. */
  private readonly nodes = new Agent({ keepAlive: true });
  /** The further JSON services by the `X-Amz-Target` prefix they answer (`AWSGlue.`), prepared once. */
  private readonly otherServices: readonly { prefix: string; api: JsonApi; verifier: SigV4Verifier }[];

  constructor(private readonly options: HttpServerOptions) {
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.now = options.now ?? Date.now;
    this.otherServices = (options.services ?? []).map((s) => ({ prefix: `${s.api.targetPrefix}.`, ...s }));
    this.server = createServer((req, res) => {
      this.onRequest(req, res).catch((error: unknown) => {
        options.log.error({ err: error }, 'request failed outside the service');
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    // Clients keep connections open between calls; idle ones are closed after a minute.
    this.server.keepAliveTimeout = 60_000;
    // The only websockets served are the Jupyter kernels'.
    this.server.on('upgrade', (req, socket, head) => {
      if (options.jupyter) options.jupyter.upgrade(req, socket, head);
      else socket.destroy();
    });
    // Node ends any request not received whole within 5 minutes by default; an S3 upload of up to 5 GiB may
    // take longer. Headers must still arrive within headersTimeout.
    this.server.requestTimeout = 0;
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
    await this.options.jupyter?.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // A connection busy at this moment would otherwise keep the server open until its keep-alive timeout.
      setTimeout(() => this.server.closeAllConnections(), 1_000).unref();
    });
    this.nodes.destroy();
  }

  /**
   * Sends the request on, as it came (its signature covers the Host header and the body, which are kept), to
   * the node that runs the session it is about, and passes that node's answer back.
   */
  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer, endpoint: string, requestId: string, context: RequestContext): Promise<void> {
    const { service, log } = this.options;
    const headers = { ...req.headers, [FORWARDED_BY_HEADER]: this.options.nodeId ?? 'unknown' };
    delete headers.connection;
    return new Promise<void>((resolve) => {
      const upstream = request(new URL(req.url ?? '/', endpoint), { method: req.method, headers, agent: this.nodes, timeout: FORWARD_TIMEOUT_MS }, (answer) => {
        const passed: Record<string, string> = {};
        for (const name of FORWARDED_ANSWER_HEADERS) {
          const value = answer.headers[name];
          if (typeof value === 'string') passed[name] = value;
        }
        res.writeHead(answer.statusCode ?? 500, passed);
        answer.pipe(res);
        answer.on('end', resolve);
        answer.on('error', () => {
          res.destroy();
          resolve();
        });
      });
      upstream.on('timeout', () => upstream.destroy(new Error(`no answer within ${FORWARD_TIMEOUT_MS / 1000} seconds`)));
      upstream.on('error', (error) => {
        log.warn({ err: error, endpoint, requestId }, 'could not send a request on to the node that runs its session');
        if (!res.headersSent) {
          const failure = new InternalServerError(`The Owlet server node that runs this session cannot be reached: ${error.message}`);
          this.send(res, requestId, service.errorResponse(failure, undefined, context));
        } else {
          res.destroy();
        }
        resolve();
      });
      upstream.end(body);
    });
  }

  private send(res: ServerResponse, requestId: string, response: JsonServiceResponse): void {
    const headers: Record<string, string | number> = {
      'Content-Type': JSON_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(response.body),
      'x-amzn-RequestId': requestId,
    };
    res.writeHead(response.status, headers);
    res.end(response.body);
  }

  /** The whole body, or undefined once a body over the limit has been answered with 413. */
  private async readOrRefuse(req: IncomingMessage, res: ServerResponse, fail: (error: ServiceError) => void): Promise<Buffer | undefined> {
    try {
      return await readBody(req, this.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        // The rest of the body is not read, so the connection cannot carry another request: it closes once
        // the client has had the answer. Node closes at once after an answer that says `Connection: close`,
        // so the answer does not say it; the closing follows it.
        closeLingering(req, res, this.maxBodyBytes);
        fail(new RequestTooLargeError(this.maxBodyBytes));
        return undefined;
      }
      throw error;
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const receivedAt = this.now();
    const { service, verifier, log } = this.options;
    const anonymous: RequestContext = { requestId, receivedAt, caller: { accessKeyId: '', region: '', service: '' } };
    const fail = (error: ServiceError): void => this.send(res, requestId, service.errorResponse(error, undefined, anonymous));

    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const target = req.headers['x-amz-target'];

    // Signed S3 requests (an AWS4 Authorization header, or a presigned URL's query) go to the object store
    // whatever their path, so that buckets named like a Jupyter route (`api`, `lab`, ...) stay reachable; the
    // console and Jupyter clients never sign that way.
    const signedForS3 =
      target === undefined &&
      (String(req.headers.authorization ?? '').startsWith('AWS4-') || /(^|&)X-Amz-Signature=/.test(rawQuery));
    // A console link's token goes to the Jupyter server, which swaps it for its cookie; the rest is the page's.
    if (!signedForS3 && this.options.console && ConsoleFiles.serves(rawPath) && !new URLSearchParams(rawQuery).has('token')) {
      await this.options.console.handle(req, res, rawPath);
      return;
    }
    if (!signedForS3 && target === undefined && this.options.jupyter?.serves(rawPath)) {
      const jupyterBody = await this.readOrRefuse(req, res, fail);
      if (jupyterBody) await this.options.jupyter.handle(req, res, rawPath, rawQuery, jupyterBody);
      return;
    }
    // S3 requests carry no X-Amz-Target; every Athena call is a POST to `/` with one. S3 bodies (objects up to
    // 5 GiB) are streamed by the S3 API, never read here.
    if (target === undefined && this.options.s3 && (req.method !== 'POST' || rawPath !== '/')) {
      await this.options.s3.handle(req, res, requestId, rawPath, rawQuery);
      return;
    }

    const body = await this.readOrRefuse(req, res, fail);
    if (!body) return;

    if (req.method !== 'POST' || target === undefined) {
      fail(new UnknownOperationError(`No operation is served at ${req.method ?? ''} ${rawPath}.`));
      return;
    }

    const targetName = Array.isArray(target) ? target[0] : target;
    const other = targetName === undefined ? undefined : this.otherServices.find((s) => targetName.startsWith(s.prefix));
    const api: JsonApi = other?.api ?? asJsonApi(service);
    let caller: VerifiedCaller;
    try {
      caller = await (other?.verifier ?? verifier).verify({ method: req.method, rawPath, rawQuery, headers: req.headers, body }, api.signingName);
    } catch (error) {
      if (error instanceof ServiceError) {
        fail(error);
        return;
      }
      throw error;
    }

    const context: RequestContext = { requestId, receivedAt, caller, forwarded: req.headers[FORWARDED_BY_HEADER] !== undefined };
    let operation;
    try {
      operation = api.operationOf(targetName);
      const sent = req.headers['content-type'];
      const contentType = sent === JSON_CONTENT_TYPE ? sent : (sent ?? '').split(';')[0]!.trim().toLowerCase();
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

    const response = await api.handle(operation, body, context);
    // The log object is built only when it is written: at the default level (info), never.
    const debug = log.isLevelEnabled('debug');
    if (response.forwardTo !== undefined) {
      if (debug) log.debug({ requestId, operation, to: response.forwardTo }, 'request sent on to the node that runs its session');
      await this.forward(req, res, body, response.forwardTo, requestId, context);
      return;
    }
    if (debug) log.debug({ requestId, operation, status: response.status, errorType: response.errorType }, 'request');
    this.send(res, requestId, response);
  }
}
