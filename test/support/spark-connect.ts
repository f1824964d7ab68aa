// A stand-in for a session driver's Spark Connect server, and gRPC-shaped calls through Owlet's Spark Connect
// proxy, for the suites about GetSessionEndpoint (test/session-endpoints.test.ts, test/connect-tls.test.ts).
import {
  connect as connectHttp2,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type SecureClientSessionOptions,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';

export const DRIVER_TOKEN = 'the-driver-token-only-the-proxy-knows';

/** A stand-in for a driver's Spark Connect server: echoes a call's body, and records what reached it. */
export class FakeConnectServer {
  readonly server: Http2Server = createServer();
  readonly calls: IncomingHttpHeaders[] = [];
  /** Set when a `/Hang` call was reset by the proxy (its client went away). */
  hungCallClosed = false;

  constructor() {
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    this.calls.push(headers);
    if (headers.authorization !== `Bearer ${DRIVER_TOKEN}`) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'wrong driver token' }, { endStream: true });
      return;
    }
    if (headers[':path'] === '/Fail') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '3', 'grpc-message': 'bad plan' }, { endStream: true });
      return;
    }
    if (headers[':path'] === '/Hang') {
      stream.on('close', () => (this.hungCallClosed = true));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(Buffer.from('started'));
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-echo': 'yes' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-trailer': 'done' }));
      // Large enough to need several flow-control windows.
      stream.end(Buffer.concat([Buffer.concat(chunks), Buffer.alloc(3 * 1024 * 1024, 7)]));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface CallResult {
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders;
  /** The gRPC status: from the trailers, or from the headers of a trailers-only answer. */
  status: string | undefined;
  message: string | undefined;
}

/**
 * One gRPC-shaped call through the proxy at `endpoint`: `sc://host:port` in cleartext, or over TLS with `tls`
 * (then `https://host:port`, or `sc://host:port` as a client with `use_ssl=true` dials it).
 */
export async function call(endpoint: string, path: string, extra: OutgoingHttpHeaders, body = Buffer.from('hello'), tls?: SecureClientSessionOptions): Promise<CallResult> {
  const session = connectHttp2(endpoint.replace(/^sc:/, tls ? 'https:' : 'http:'), tls ?? {});
  try {
    return await new Promise<CallResult>((resolve, reject) => {
      session.on('error', reject);
      const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...extra });
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t) => (trailers = t));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('end', () => {
        const status = (trailers['grpc-status'] ?? headers['grpc-status']) as string | undefined;
        const raw = (trailers['grpc-message'] ?? headers['grpc-message']) as string | undefined;
        resolve({ headers, body: Buffer.concat(chunks), trailers, status, message: raw === undefined ? undefined : decodeURIComponent(raw) });
      });
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

