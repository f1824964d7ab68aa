// The Jupyter Server protocol on Owlet's port: the REST API of jupyter_server (services/api/api.yaml) under
// /api/, the kernel websocket /api/kernels/<id>/channels, the probes VS Code makes of an existing server
// (/tree, /hub/api, /login), the console's login and the landing of CreatePresignedNotebookUrl's links.
// Everything it does to Athena's objects goes through the operation handlers (athena-access.ts).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { ServiceError } from '../protocol/errors.js';
import type { AthenaAccess } from './athena-access.js';
import { NotebookContents, type JsonObject } from './contents.js';
import { JupyterHttpError, jupyterStatusOf } from './http-errors.js';
import type { KernelClient } from './kernel.js';
import {
  BadMessageError,
  decodeJsonFrame,
  decodeV1Frame,
  encodeJsonFrame,
  encodeV1Frame,
  type KernelMessage,
  V1_SUBPROTOCOL,
} from './kernel-messages.js';
import { defaultKernelName, KernelRegistry } from './kernel-registry.js';
import { consolePlaceholderPage, linkProblemPage, loginPage, treePage } from './pages.js';
import { clearedTokenCookie, type JupyterTokens, presentedToken, type TokenCheck, tokenCookie } from './tokens.js';

/** jupyter_server's version that Owlet's REST API follows (the `/api` answer; api.yaml "Jupyter Server API"). */
const SERVER_VERSION = '2.21.1';
/** How long a console login (access key pair, or a presigned link swapped for a cookie) lasts. */
export const CONSOLE_COOKIE_LIFETIME_MS = 12 * 3_600_000;
/** How long CreatePresignedNotebookUrl's token lasts: Athena asks clients to refresh it every 10 minutes. */
export const PRESIGNED_TOKEN_LIFETIME_MS = 15 * 60_000;
/**
 * How often an open kernel websocket is pinged. A cell can wait minutes for a session's Spark to start without
 * a message; clients that time out a quiet socket (the gateway client's websocket-client, after
 * KERNEL_LAUNCH_TIMEOUT, 40 s by default) see the pings as activity. jupyter_server pings every 30 s.
 */
const PING_INTERVAL_MS = 15_000;
const KERNEL_ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** The Jupyter server as the HTTP front end sees it: paths it owns, requests, websocket upgrades. */
export interface JupyterServer {
  serves(path: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: string, body: Buffer): Promise<void>;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

export interface JupyterServerOptions {
  athena: AthenaAccess;
  tokens: JupyterTokens;
  log: Logger;
}

interface JupyterSession {
  id: string;
  path: string;
  name: string;
  type: string;
  kernelId: string;
}

class Answer {
  constructor(
    readonly status: number,
    readonly body: string | Buffer | undefined,
    readonly headers: Record<string, string | string[]> = {},
  ) {}
  static json(status: number, value: unknown, headers: Record<string, string | string[]> = {}): Answer {
    return new Answer(status, JSON.stringify(value), { 'Content-Type': 'application/json', ...headers });
  }
  static html(status: number, page: string, headers: Record<string, string | string[]> = {}): Answer {
    return new Answer(status, page, { 'Content-Type': 'text/html; charset=utf-8', ...headers });
  }
  static redirect(location: string, headers: Record<string, string | string[]> = {}): Answer {
    return new Answer(302, undefined, { Location: location, ...headers });
  }
}

/** Same-origin: the Origin header names the host the request was sent to (browsers send it on websockets). */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Only paths on this server are followed after a login, never another site. */
function localTarget(next: string | null | undefined, fallback: string): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.includes('\\') ? next : fallback;
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

export class OwletJupyterServer implements JupyterServer {
  private readonly contents: NotebookContents;
  private readonly kernels: KernelRegistry;
  private readonly sessions = new Map<string, JupyterSession>();
  private readonly sockets = new WebSocketServer({
    noServer: true,
    // The binary protocol when the client offers it (JupyterLab does), the default JSON one otherwise.
    handleProtocols: (offered) => (offered.has(V1_SUBPROTOCOL) ? V1_SUBPROTOCOL : false),
    maxPayload: 64 * 1024 * 1024,
  });
  private readonly started = new Date();

  constructor(private readonly o: JupyterServerOptions) {
    this.contents = new NotebookContents(o.athena);
    this.kernels = new KernelRegistry(o.athena, this.contents, o.log);
  }

  serves(path: string): boolean {
    return /^\/(api|kernelspecs|console|login|logout|tree|hub|lab)(\/|$)/.test(path);
  }

  async close(): Promise<void> {
    for (const client of this.sockets.clients) client.terminate();
    await new Promise<void>((resolve) => this.sockets.close(() => resolve()));
  }

  private authenticate(req: IncomingMessage, query: URLSearchParams): TokenCheck & { from?: string } {
    const presented = presentedToken(req.headers, query);
    const check = this.o.tokens.check(presented?.token);
    return { ...check, ...(presented ? { from: presented.from } : {}) };
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string, body: Buffer): Promise<void> {
    const query = new URLSearchParams(rawQuery);
    let answer: Answer;
    try {
      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        throw new JupyterHttpError(400, 'The path is not valid percent-encoded UTF-8.');
      }
      answer = await this.route(req, decoded, query, body);
    } catch (error) {
      if (error instanceof JupyterHttpError) {
        answer = Answer.json(error.status, { message: error.message, reason: null });
      } else if (error instanceof ServiceError) {
        answer = Answer.json(jupyterStatusOf(error), { message: error.message, reason: error.type });
      } else {
        this.o.log.error({ err: error, path }, 'a Jupyter request failed');
        answer = Answer.json(500, { message: 'Internal server error', reason: null });
      }
    }
    const headers: Record<string, string | string[] | number> = { ...answer.headers };
    if (answer.body !== undefined) headers['Content-Length'] = Buffer.byteLength(answer.body);
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  }

  private async route(req: IncomingMessage, path: string, query: URLSearchParams, body: Buffer): Promise<Answer> {
    const method = req.method ?? 'GET';
    // Pages anyone may open: they show nothing of the account.
    if (path === '/api' || path === '/api/') return Answer.json(200, { version: SERVER_VERSION });
    if (path === '/tree' || path.startsWith('/tree/') || path === '/lab' || path.startsWith('/lab/')) return Answer.html(200, treePage());
    if (path.startsWith('/hub/')) return Answer.json(404, { message: 'Owlet is not a JupyterHub', reason: null });
    if (path === '/login') return this.login(req, method, query, body);
    if (path === '/logout') return Answer.redirect('/login', { 'Set-Cookie': clearedTokenCookie() });
    if (path === '/console' || path.startsWith('/console/')) return this.console(req, path, query);

    const auth = this.authenticate(req, query);
    if (!auth.ok) {
      return Answer.json(auth.reason === 'expired' ? 401 : 403, {
        message: auth.reason === 'missing' ? 'A token is needed: Authorization: token <token>, ?token=, or a console login.' : `The token is ${auth.reason}.`,
        reason: null,
      });
    }
    // A cookie is sent by the browser whatever page made the request; only this server's own pages may use it.
    if (auth.from === 'cookie' && !sameOrigin(req)) return Answer.json(403, { message: 'Cross-origin requests are refused.', reason: null });
    const json = (): JsonObject => {
      if (body.length === 0) return {};
      try {
        const parsed: unknown = JSON.parse(body.toString('utf8'));
        if (isObject(parsed)) return parsed;
      } catch {
        // answered below
      }
      throw new JupyterHttpError(400, 'The request body is not a JSON object.');
    };

    if (path === '/api/status' && method === 'GET') {
      const kernels = await this.kernels.list();
      return Answer.json(200, {
        started: this.started.toISOString(),
        last_activity: new Date().toISOString(),
        connections: this.sockets.clients.size,
        kernels: kernels.length,
      });
    }
    if (path === '/api/me' && method === 'GET') {
      const name = auth.accessKeyId;
      return Answer.json(200, {
        identity: { username: name, name, display_name: name, initials: name.slice(0, 2), avatar_url: null, color: null },
        permissions: {},
      });
    }
    if (path.startsWith('/api/config/')) return Answer.json(200, {});
    if (path === '/api/terminals' && method === 'GET') return Answer.json(200, []);
    if (path === '/api/kernelspecs' && method === 'GET') return Answer.json(200, await this.kernelspecs());
    const spec = /^\/api\/kernelspecs\/([^/]+)$/.exec(path);
    if (spec && method === 'GET') {
      const specs = await this.kernelspecs();
      const found = (specs.kernelspecs as JsonObject)[spec[1]!];
      if (!found) throw new JupyterHttpError(404, `Kernel spec ${spec[1]} not found`);
      return Answer.json(200, found);
    }
    if (path.startsWith('/kernelspecs/')) throw new JupyterHttpError(404, 'Owlet kernelspecs have no resources.');
    if (path === '/api/kernels' || path === '/api/kernels/') return this.kernelsRoute(method, json);
    const kernelPath = new RegExp(`^/api/kernels/(${KERNEL_ID})(?:/(interrupt|restart))?$`).exec(path);
    if (kernelPath) return this.kernelRoute(method, kernelPath[1]!, kernelPath[2]);
    if (path === '/api/sessions' || path === '/api/sessions/') return this.sessionsRoute(method, json);
    const sessionPath = /^\/api\/sessions\/([^/]+)$/.exec(path);
    if (sessionPath) return this.sessionRoute(method, sessionPath[1]!, json);
    if (path === '/api/contents' || path.startsWith('/api/contents/')) return this.contentsRoute(method, path.slice('/api/contents'.length), query, json);
    throw new JupyterHttpError(404, `Not found: ${path}`);
  }

  // --- kernelspecs and kernels ------------------------------------------------------------------------------

  private async kernelspecs(): Promise<JsonObject> {
    const workGroups = (await this.contents.sparkWorkGroups()).map((wg) => wg.name);
    const kernelspecs: JsonObject = {};
    for (const name of workGroups) {
      kernelspecs[name] = {
        name,
        spec: {
          argv: [],
          display_name: `PySpark (Owlet workgroup ${name})`,
          language: 'python',
          // Interrupts arrive as REST calls or control messages; Owlet has no kernel process to signal.
          interrupt_mode: 'message',
          env: {},
          metadata: { owlet: { workGroup: name } },
        },
        resources: {},
      };
    }
    return { default: defaultKernelName(workGroups) ?? '', kernelspecs };
  }

  private async kernelsRoute(method: string, json: () => JsonObject): Promise<Answer> {
    if (method === 'GET') return Answer.json(200, await Promise.all((await this.kernels.list()).map((k) => k.model())));
    if (method === 'POST') {
      const body = json();
      const kernel = await this.kernels.start(typeof body.name === 'string' ? body.name : undefined, typeof body.path === 'string' ? body.path : undefined);
      return Answer.json(201, await kernel.model(), { Location: `/api/kernels/${kernel.id}` });
    }
    throw new JupyterHttpError(405, `${method} is not allowed on /api/kernels`);
  }

  private async kernelRoute(method: string, id: string, action: string | undefined): Promise<Answer> {
    const kernel = await this.kernels.require(id);
    if (action === undefined && method === 'GET') return Answer.json(200, await kernel.model());
    if (action === undefined && method === 'DELETE') {
      await this.kernels.remove(id);
      for (const [sid, s] of this.sessions) if (s.kernelId === id) this.sessions.delete(sid);
      return new Answer(204, undefined);
    }
    if (action === 'interrupt' && method === 'POST') {
      await kernel.interrupt();
      return new Answer(204, undefined);
    }
    if (action === 'restart' && method === 'POST') {
      await kernel.restart();
      return Answer.json(200, await kernel.model());
    }
    throw new JupyterHttpError(405, `${method} is not allowed here`);
  }

  // --- sessions (a notebook path bound to a kernel) -------------------------------------------------------

  private async sessionModel(s: JupyterSession): Promise<JsonObject> {
    const kernel = await this.kernels.get(s.kernelId);
    return { id: s.id, path: s.path, name: s.name, type: s.type, kernel: kernel ? await kernel.model() : null, notebook: { path: s.path, name: s.name } };
  }

  private async sessionsRoute(method: string, json: () => JsonObject): Promise<Answer> {
    if (method === 'GET') {
      const live: JsonObject[] = [];
      for (const s of this.sessions.values()) {
        if (await this.kernels.get(s.kernelId)) live.push(await this.sessionModel(s));
        else this.sessions.delete(s.id);
      }
      return Answer.json(200, live);
    }
    if (method !== 'POST') throw new JupyterHttpError(405, `${method} is not allowed on /api/sessions`);
    const body = json();
    // jupyter_server still takes the notebook's path in `notebook.path` (services/sessions/handlers.py).
    const notebook = isObject(body.notebook) ? body.notebook : {};
    const path = typeof body.path === 'string' ? body.path : typeof notebook.path === 'string' ? notebook.path : undefined;
    if (path === undefined) throw new JupyterHttpError(400, 'A session needs a path.');
    const existing = [...this.sessions.values()].find((s) => s.path === path);
    if (existing && (await this.kernels.get(existing.kernelId))) return Answer.json(201, await this.sessionModel(existing));
    const kernelSpec = isObject(body.kernel) ? body.kernel : {};
    const kernel =
      typeof kernelSpec.id === 'string'
        ? await this.kernels.require(kernelSpec.id)
        : await this.kernels.start(typeof kernelSpec.name === 'string' ? kernelSpec.name : undefined, path);
    const session: JupyterSession = {
      id: randomUUID(),
      path,
      name: typeof body.name === 'string' ? body.name : '',
      type: typeof body.type === 'string' ? body.type : 'notebook',
      kernelId: kernel.id,
    };
    this.sessions.set(session.id, session);
    return Answer.json(201, await this.sessionModel(session), { Location: `/api/sessions/${session.id}` });
  }

  private async sessionRoute(method: string, id: string, json: () => JsonObject): Promise<Answer> {
    const session = this.sessions.get(id);
    // jupyter_server's wording (services/sessions/sessionmanager.py, get_session).
    if (!session) throw new JupyterHttpError(404, `Session not found: session_id='${id}'`);
    if (method === 'GET') return Answer.json(200, await this.sessionModel(session));
    if (method === 'DELETE') {
      // As jupyter_server does, ending a session shuts its kernel down.
      this.sessions.delete(id);
      if (await this.kernels.get(session.kernelId)) await this.kernels.remove(session.kernelId);
      return new Answer(204, undefined);
    }
    if (method === 'PATCH') {
      const body = json();
      if (typeof body.path === 'string') session.path = body.path;
      if (typeof body.name === 'string') session.name = body.name;
      if (typeof body.type === 'string') session.type = body.type;
      const kernelSpec = isObject(body.kernel) ? body.kernel : undefined;
      if (kernelSpec && typeof kernelSpec.id === 'string') session.kernelId = (await this.kernels.require(kernelSpec.id)).id;
      else if (kernelSpec && typeof kernelSpec.name === 'string') session.kernelId = (await this.kernels.start(kernelSpec.name, session.path)).id;
      return Answer.json(200, await this.sessionModel(session));
    }
    throw new JupyterHttpError(405, `${method} is not allowed here`);
  }

  // --- contents -------------------------------------------------------------------------------------------

  private async contentsRoute(method: string, rawPath: string, query: URLSearchParams, json: () => JsonObject): Promise<Answer> {
    const checkpoint = /^(.*)\/checkpoints(?:\/([^/]+))?$/.exec(rawPath);
    if (checkpoint) {
      const listed = await this.contents.checkpoints(checkpoint[1]!);
      if (method === 'GET' && checkpoint[2] === undefined) return Answer.json(200, listed);
      if (method === 'POST' && checkpoint[2] === undefined) return Answer.json(201, listed[0]);
      // The one checkpoint is the saved notebook: restoring it changes nothing, deleting it is refused.
      if (method === 'POST') return new Answer(204, undefined);
      throw new JupyterHttpError(400, "An Athena notebook's one checkpoint is its saved version; it cannot be deleted.");
    }
    const path = rawPath.replace(/^\/+|\/+$/g, '');
    switch (method) {
      case 'GET':
        return Answer.json(200, await this.contents.get(path, query.get('content') !== '0'));
      case 'PUT': {
        const saved = await this.contents.save(path, json());
        return Answer.json(saved.created ? 201 : 200, saved.model);
      }
      case 'POST':
        return Answer.json(201, await this.contents.create(path, json()));
      case 'PATCH': {
        const body = json();
        if (typeof body.path !== 'string') throw new JupyterHttpError(400, 'A rename needs the new path.');
        return Answer.json(200, await this.contents.rename(path, body.path));
      }
      case 'DELETE':
        await this.contents.delete(path);
        return new Answer(204, undefined);
      default:
        throw new JupyterHttpError(405, `${method} is not allowed on /api/contents`);
    }
  }

  // --- the console's entry: login, presigned links ---------------------------------------------------------

  private secure(req: IncomingMessage): boolean {
    return req.headers['x-forwarded-proto'] === 'https';
  }

  private async login(req: IncomingMessage, method: string, query: URLSearchParams, body: Buffer): Promise<Answer> {
    const next = localTarget(query.get('next'), '/console/');
    if (method === 'GET') return Answer.html(200, loginPage(next, undefined));
    if (method !== 'POST') throw new JupyterHttpError(405, `${method} is not allowed on /login`);
    if (!sameOrigin(req)) return Answer.html(403, loginPage(next, 'This login form must be sent from this server’s own page.'));
    const form = new URLSearchParams(body.toString('utf8'));
    const target = localTarget(form.get('next') ?? query.get('next'), '/console/');
    const accessKeyId = this.o.tokens.login(form.get('access_key_id') ?? '', form.get('secret_access_key') ?? '');
    if (!accessKeyId) return Answer.html(403, loginPage(target, 'That access key ID and secret access key do not match a key pair of this server.'));
    const { token } = this.o.tokens.issue(accessKeyId, CONSOLE_COOKIE_LIFETIME_MS);
    return Answer.redirect(target, { 'Set-Cookie': tokenCookie(token, CONSOLE_COOKIE_LIFETIME_MS / 1000, this.secure(req)) });
  }

  /**
   * `/console/...`: a `?token=` (CreatePresignedNotebookUrl's link) is swapped for the cookie and the browser is
   * sent to the same address without it, so the token leaves the address bar and the history. Without a token,
   * a login (the cookie) is needed. The console's own files are served by the console (web/) once it lands.
   */
  private console(req: IncomingMessage, path: string, query: URLSearchParams): Answer {
    const token = query.get('token');
    if (token !== null) {
      const check = this.o.tokens.check(token);
      if (!check.ok) return Answer.html(check.reason === 'expired' ? 401 : 403, linkProblemPage(check.reason));
      query.delete('token');
      const rest = query.toString();
      const lifetime = CONSOLE_COOKIE_LIFETIME_MS;
      const { token: cookieToken } = this.o.tokens.issue(check.accessKeyId, lifetime);
      return Answer.redirect(`${path}${rest ? `?${rest}` : ''}`, {
        'Set-Cookie': tokenCookie(cookieToken, lifetime / 1000, this.secure(req)),
        'Cache-Control': 'no-store',
        'Referrer-Policy': 'no-referrer',
      });
    }
    const auth = this.authenticate(req, query);
    if (!auth.ok) {
      const here = `${path}${query.toString() ? `?${query.toString()}` : ''}`;
      return Answer.redirect(`/login?next=${encodeURIComponent(here)}`);
    }
    return Answer.html(200, consolePlaceholderPage());
  }

  // --- the kernel websocket ---------------------------------------------------------------------------------

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://owlet');
    const match = new RegExp(`^/api/kernels/(${KERNEL_ID})/channels$`).exec(url.pathname);
    const refuse = (status: number, reason: string) => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!match) return refuse(404, 'Not Found');
    // A page of another site cannot open a kernel's socket with the browser's cookie (or any token).
    if (!sameOrigin(req)) return refuse(403, 'Forbidden');
    const auth = this.authenticate(req, url.searchParams);
    if (!auth.ok) return refuse(auth.reason === 'expired' ? 401 : 403, 'Forbidden');
    void this.kernels
      .get(match[1]!)
      .then((kernel) => {
        if (!kernel) return refuse(404, 'Not Found');
        this.sockets.handleUpgrade(req, socket, head, (ws) => this.connect(ws, kernel));
      })
      .catch((error: unknown) => {
        this.o.log.error({ err: error }, 'a kernel websocket could not be opened');
        refuse(500, 'Internal Server Error');
      });
  }

  private connect(ws: WebSocket, kernel: Awaited<ReturnType<KernelRegistry['require']>>): void {
    const binary = ws.protocol === V1_SUBPROTOCOL;
    const client: KernelClient = {
      send: (message: KernelMessage) => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(binary ? encodeV1Frame(message) : encodeJsonFrame(message), { binary });
      },
    };
    kernel.attach(client);
    const pinger = setInterval(() => ws.ping(), PING_INTERVAL_MS);
    ws.on('close', () => clearInterval(pinger));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      let message: KernelMessage;
      try {
        const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        message = binary && isBinary ? decodeV1Frame(bytes) : decodeJsonFrame(bytes.toString('utf8'));
      } catch (error) {
        if (error instanceof BadMessageError) {
          this.o.log.debug({ err: error, kernel: kernel.id }, 'a kernel websocket message was not understood');
          return;
        }
        throw error;
      }
      kernel.handle(client, message).catch((error: unknown) => this.o.log.error({ err: error, kernel: kernel.id }, 'a kernel message failed'));
    });
    ws.on('close', () => kernel.detach(client));
    ws.on('error', () => kernel.detach(client));
  }
}
