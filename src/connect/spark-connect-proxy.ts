// The Spark Connect endpoint of GetSessionEndpoint: one HTTP/2 port for all sessions (cleartext h2c, or TLS
// with a certificate from the settings or Owlet's own authority: docs/spark-connect.md), in front of the Spark
// Connect servers the sessions' drivers run on 127.0.0.1. Spark's own authentication is a single static token
// that cannot expire, so the drivers require a token only this proxy knows, and clients present one of the
// session tokens GetSessionEndpoint hands out, which expire and are renewed by calling it again. The token
// carries the session: the proxy forwards each gRPC call, stream for stream, to the driver of the session
// whose token it carries.
import { createHash, randomBytes } from 'node:crypto';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as connectHttp2,
  constants,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SparkConnectServer } from '../engine/engine.js';
import type { TlsIdentity } from './tls-identity.js';

/** The gRPC metadata header Athena's Spark Connect clients carry the AuthToken in. */
export const TOKEN_HEADER = 'x-aws-proxy-auth';
/**
 * Metadata the SageMaker Unified Studio client adds for Athena's own proxy (docs/spark-connect.md): accepted and
 * not passed on, since Owlet's proxy knows where each session's driver is.
 */
const ATHENA_PROXY_HEADERS = ['x-aws-proxy-port', 'x-aws-force-h2'];

/** Valid tokens a session may have at once; past that, issuing one retires the oldest. */
const MAX_TOKENS_PER_SESSION = 100;
/** An expired token is remembered this long, so that a client is told it expired rather than that it is unknown. */
const EXPIRED_TOKEN_MEMORY_MS = 60 * 60_000;
/** An upstream connection without traffic for this long is closed (gracefully: its streams finish first). */
const UPSTREAM_IDLE_MS = 60_000;
/** How long stopping waits for calls under way before cutting them. */
const CLOSE_GRACE_MS = 2_000;
/**
 * HTTP/2 flow-control windows: Spark Connect answers with Arrow batches of up to 4 MiB, which Node's default
 * 64 KiB windows would trickle through one round trip at a time.
 */
const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
const CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;

// gRPC status codes (grpc/doc/statuscodes.md).
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_UNAVAILABLE = 14;
const GRPC_UNAUTHENTICATED = 16;
const GRPC_INTERNAL = 13;

export interface SparkConnectProxyOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  log: Logger;
  now: () => number;
  tokenLifetimeMs: number;
  /** The Spark Connect server of a session whose driver runs; undefined once the session is ending or ended. */
  upstreamOf: (sessionId: string) => SparkConnectServer | undefined;
  /** Serve TLS with this certificate and key; cleartext HTTP/2 without. */
  tls?: TlsIdentity;
  /** The EndpointUrl clients are given, when they reach this proxy by another address (`https://host` or `sc://host:port`). */
  publicUrl?: string;
}

/** The settings of the proxy a server's environment gives (docs/compatibility.md, "Spark Connect"). */
export interface IssuedToken {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

interface TokenEntry {
  sessionId: string;
  expiresAt: number;
}

/** Tokens are kept as SHA-256 digests: the table never holds anything a client could present. */
const digest = (token: string): string => createHash('sha256').update(token).digest('hex');

/** grpc-message is percent-encoded: bytes outside printable ASCII, and `%` itself (the gRPC HTTP/2 spec). */
function grpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Headers without HTTP/2 pseudo-headers (`:status`, `:path`, ...), which each hop sets for itself. */
function ordinaryHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(':') && value !== undefined) out[name] = value;
  }
  return out;
}

export class SparkConnectProxy {
  private readonly server: Http2Server | Http2SecureServer;
  private readonly tokens = new Map<string, TokenEntry>();
  /** Upstream connections by driver (port and token: a port may be reused by a later driver). */
  private readonly upstreams = new Map<string, ClientHttp2Session>();
  private readonly clients = new Set<Http2Session>();
  /** Calls under way and the time of the last one, by session (a session in use is not idle). */
  private readonly activities = new Map<string, { calls: number; lastAt: number }>();
  private address: AddressInfo | undefined;
  private closing = false;

  constructor(private readonly o: SparkConnectProxyOptions) {
    const settings = { maxSessionMemory: 64, settings: { initialWindowSize: STREAM_WINDOW_BYTES } };
    if (o.tls) {
      let secure: Http2SecureServer;
      try {
        secure = createSecureServer({ ...settings, cert: o.tls.cert, key: o.tls.key, allowHTTP1: false });
      } catch (error) {
        throw new Error(`the certificate and key of Spark Connect over TLS cannot be used together: ${error instanceof Error ? error.message : String(error)}`);
      }
      // Most often a client that does not trust the certificate's authority: it closes the handshake.
      secure.on('tlsClientError', (error) => this.o.log.info({ err: error }, 'a Spark Connect client could not complete the TLS handshake'));
      this.server = secure;
    } else {
      this.server = createServer(settings);
    }
    this.server.on('session', (session: Http2Session) => {
      this.clients.add(session);
      session.once('close', () => this.clients.delete(session));
      session.on('error', (error) => this.o.log.debug({ err: error }, 'Spark Connect client connection error'));
      // The connection-level window starts at 64 KiB whatever the settings say; widen it like the streams'.
      session.once('localSettings', () => {
        try {
          session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
        } catch {
          // The connection closed meanwhile.
        }
      });
    });
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.address = this.server.address() as AddressInfo;
    // Debug: the server's first line of output is its banner, which whoever started it waits for.
    this.o.log.debug({ port: this.address.port }, 'Spark Connect endpoint listening');
    return this.address;
  }

  /**
   * The EndpointUrl of GetSessionEndpoint: the public URL when set, else a Spark Connect connection string a
   * client completes with the token (`sc://127.0.0.1:15002/;x-aws-proxy-auth=TOKEN`). A wildcard listening
   * address is named by the loopback address, the one address sure to reach it.
   */
  get endpointUrl(): string {
    if (this.o.publicUrl !== undefined) return this.o.publicUrl;
    if (!this.address) throw new Error('the Spark Connect proxy is not listening');
    let host = this.address.address;
    if (host === '0.0.0.0') host = '127.0.0.1';
    else if (host === '::') host = '[::1]';
    else if (host.includes(':')) host = `[${host}]`;
    return `sc://${host}:${this.address.port}`;
  }

  /** The connection string a client makes of the EndpointUrl and a token. */
  private get connectionStringExample(): string {
    const url = this.endpointUrl;
    const auth = `${TOKEN_HEADER}=<AuthToken>`;
    // Athena's clients turn https://host into sc://host:443/;use_ssl=true (docs/spark-connect.md).
    if (url.startsWith('https://')) return `${url.replace('https://', 'sc://')}:443/;use_ssl=true;${auth}`;
    return `${url}/;${this.o.tls ? 'use_ssl=true;' : ''}${auth}`;
  }

  /** A new token for `sessionId`, valid beside the session's earlier ones until it expires. */
  issueToken(sessionId: string): IssuedToken {
    const now = this.o.now();
    this.forgetOldTokens(now);
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + this.o.tokenLifetimeMs;
    const valid = [...this.tokens].filter(([, e]) => e.sessionId === sessionId && e.expiresAt > now);
    // Map iteration follows insertion: the first are the oldest.
    for (const [key] of valid.slice(0, Math.max(0, valid.length - MAX_TOKENS_PER_SESSION + 1))) this.tokens.delete(key);
    this.tokens.set(digest(token), { sessionId, expiresAt });
    return { token, expiresAt };
  }

  private forgetOldTokens(now: number): void {
    for (const [key, entry] of this.tokens) {
      if (entry.expiresAt + EXPIRED_TOKEN_MEMORY_MS <= now || this.o.upstreamOf(entry.sessionId) === undefined) this.tokens.delete(key);
    }
    for (const [sessionId, activity] of this.activities) {
      if (activity.calls === 0 && this.o.upstreamOf(sessionId) === undefined) this.activities.delete(sessionId);
    }
  }

  /** The token a call carries: Athena's header, or a bearer token (`sc://localhost:PORT/;token=...`). */
  private static presentedToken(headers: IncomingHttpHeaders): string | undefined {
    const header = headers[TOKEN_HEADER];
    if (typeof header === 'string' && header !== '') return header;
    const authorization = headers.authorization;
    if (typeof authorization === 'string' && authorization.startsWith('Bearer ')) return authorization.slice('Bearer '.length);
    return undefined;
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', (error) => this.o.log.debug({ err: error }, 'Spark Connect client stream error'));
    const token = SparkConnectProxy.presentedToken(headers);
    if (token === undefined) {
      this.refuse(
        stream,
        GRPC_UNAUTHENTICATED,
        `This Spark Connect endpoint needs the AuthToken of GetSessionEndpoint in the ${TOKEN_HEADER} header: connect to ${this.connectionStringExample}.`,
      );
      return;
    }
    const entry = this.tokens.get(digest(token));
    if (!entry) {
      this.refuse(stream, GRPC_UNAUTHENTICATED, 'The Spark Connect token is not valid. Call GetSessionEndpoint for a new one.');
      return;
    }
    if (entry.expiresAt <= this.o.now()) {
      this.refuse(stream, GRPC_UNAUTHENTICATED, 'The Spark Connect token has expired. Call GetSessionEndpoint for a new one.');
      return;
    }
    const upstream = this.o.upstreamOf(entry.sessionId);
    if (!upstream) {
      this.refuse(stream, GRPC_FAILED_PRECONDITION, `Session ${entry.sessionId} has ended; its Spark Connect endpoint ended with it.`);
      return;
    }
    this.forward(stream, headers, upstream);
    const activity = this.activities.get(entry.sessionId) ?? { calls: 0, lastAt: 0 };
    this.activities.set(entry.sessionId, activity);
    activity.calls += 1;
    activity.lastAt = this.o.now();
    stream.once('close', () => {
      activity.calls -= 1;
      activity.lastAt = this.o.now();
    });
  }

  /** The session's Spark Connect calls: how many are under way, and when the last one started or ended. */
  activity(sessionId: string): { calls: number; lastAt: number } | undefined {
    return this.activities.get(sessionId);
  }

  /** Answers a call with a gRPC status and nothing else (a "trailers-only" response). */
  private refuse(stream: ServerHttp2Stream, code: number, message: string): void {
    // The client may still be sending its request; it is read and dropped.
    stream.resume();
    if (stream.destroyed || stream.headersSent) return;
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': grpcMessage(message) },
      { endStream: true },
    );
  }

  private upstreamSession(upstream: SparkConnectServer): ClientHttp2Session {
    const key = `${upstream.port}/${digest(upstream.token)}`;
    const known = this.upstreams.get(key);
    if (known && !known.closed && !known.destroyed) return known;
    const session = connectHttp2(`http://127.0.0.1:${upstream.port}`, { settings: { initialWindowSize: STREAM_WINDOW_BYTES } });
    this.upstreams.set(key, session);
    const forget = (): void => {
      if (this.upstreams.get(key) === session) this.upstreams.delete(key);
    };
    session.on('error', (error) => {
      forget();
      this.o.log.debug({ err: error, port: upstream.port }, 'Spark Connect upstream connection error');
    });
    session.once('close', forget);
    session.once('localSettings', () => {
      try {
        session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
      } catch {
        // Closed meanwhile.
      }
    });
    session.setTimeout(UPSTREAM_IDLE_MS, () => {
      forget();
      session.close();
    });
    // An idle upstream connection does not keep the server's process alive.
    session.unref();
    return session;
  }

  /** Forwards one gRPC call to the driver: the client's headers with the driver's token, the bodies both ways, the trailers. */
  private forward(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, upstream: SparkConnectServer): void {
    const outgoing = ordinaryHeaders(headers);
    delete outgoing[TOKEN_HEADER];
    for (const name of ATHENA_PROXY_HEADERS) delete outgoing[name];
    outgoing.authorization = `Bearer ${upstream.token}`;
    outgoing[':method'] = headers[':method'] ?? 'POST';
    outgoing[':path'] = headers[':path'] ?? '/';
    outgoing[':scheme'] = 'http';
    outgoing[':authority'] = `127.0.0.1:${upstream.port}`;
    let call: ClientHttp2Stream;
    try {
      call = this.upstreamSession(upstream).request(outgoing);
    } catch (error) {
      this.o.log.warn({ err: error, port: upstream.port }, 'cannot open a call to the session\'s Spark Connect server');
      this.refuse(stream, GRPC_UNAVAILABLE, 'The session\'s Spark Connect server cannot be reached.');
      return;
    }
    let trailers: OutgoingHttpHeaders | undefined;
    call.on('response', (responseHeaders) => {
      if (stream.destroyed) return;
      const status = responseHeaders[':status'] ?? 200;
      const rest = ordinaryHeaders(responseHeaders);
      // A gRPC status among the headers is a trailers-only answer (an error before any message).
      if (rest['grpc-status'] !== undefined) {
        stream.respond({ ':status': status, ...rest }, { endStream: true });
        return;
      }
      stream.respond({ ':status': status, ...rest }, { waitForTrailers: true });
      call.pipe(stream);
    });
    call.on('trailers', (received) => {
      trailers = ordinaryHeaders(received);
    });
    stream.on('wantTrailers', () => {
      stream.sendTrailers(trailers ?? { 'grpc-status': String(GRPC_INTERNAL), 'grpc-message': grpcMessage('The Spark Connect server ended the call without a status.') });
    });
    call.on('error', (error) => {
      this.o.log.debug({ err: error, port: upstream.port }, 'Spark Connect upstream call error');
      if (!stream.headersSent) this.refuse(stream, GRPC_UNAVAILABLE, `The session's Spark Connect server cannot be reached: ${error.message}`);
      else if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    });
    call.on('close', () => {
      // The driver reset the call: the client's call is reset the same way.
      if (call.rstCode !== undefined && call.rstCode !== constants.NGHTTP2_NO_ERROR && !stream.destroyed && !stream.closed) {
        if (!stream.headersSent) this.refuse(stream, GRPC_UNAVAILABLE, 'The session\'s Spark Connect server reset the call.');
        else stream.close(call.rstCode);
      }
    });
    stream.on('close', () => {
      // The client cancelled (or went away): so is the call to the driver.
      if (!call.closed && !call.destroyed) call.close(constants.NGHTTP2_CANCEL);
    });
    stream.pipe(call);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.clients) session.close();
    const cut = setTimeout(() => {
      for (const session of this.clients) session.destroy();
    }, CLOSE_GRACE_MS);
    cut.unref();
    await closed;
    clearTimeout(cut);
    for (const session of this.upstreams.values()) session.destroy();
    this.upstreams.clear();
    this.tokens.clear();
  }
}
