// Serves the Owlet console, the browser application built from web/ into dist/console/, at /console/. The
// console is a client of the public protocols (the Jupyter Server API and the Athena API); this route only
// hands out its files. Any path under /console/ that names no file gets the page itself, which reads the
// path (/console/notebooks/<id>) in the browser.
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

export const CONSOLE_PREFIX = '/console';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * What the page may load and run: its own scripts only, so that HTML a calculation shows (sanitized before it
 * is inserted) cannot run a script even if the sanitizer missed one. Inline styles are allowed because the
 * editor (CodeMirror) writes its styles into the page; images may be data: URLs (PNG figures).
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
  "connect-src 'self' ws: wss:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'";

export class ConsoleFiles {
  constructor(private readonly root: string) {}

  /** Whether a request path is the console's. */
  static serves(rawPath: string): boolean {
    return rawPath === CONSOLE_PREFIX || rawPath.startsWith(`${CONSOLE_PREFIX}/`);
  }

  async handle(req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('The console serves files only: use GET.\n');
      return;
    }
    if (rawPath === CONSOLE_PREFIX) {
      res.writeHead(301, { Location: `${CONSOLE_PREFIX}/` }).end();
      return;
    }
    let relative: string;
    try {
      relative = decodeURIComponent(rawPath.slice(CONSOLE_PREFIX.length + 1));
    } catch {
      relative = '';
    }
    const file = normalize(join(this.root, relative));
    const inside = file.startsWith(this.root + sep);
    const named = inside && extname(file) !== '' ? await this.fileAt(file) : undefined;
    const path = named ?? join(this.root, 'index.html');
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' })
        .end('The console has not been built: run `make build`.\n');
      return;
    }
    res.writeHead(named === undefined && extname(file) !== '' ? 404 : 200, {
      'Content-Type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      'Content-Length': body.length,
      // The page changes with every build and names its scripts without a content hash.
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async fileAt(path: string): Promise<string | undefined> {
    try {
      return (await stat(path)).isFile() ? path : undefined;
    } catch {
      return undefined;
    }
  }
}
