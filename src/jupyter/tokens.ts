// Who may use the Jupyter server: a caller shows a token, as jupyter_server's clients do (`Authorization:
// token <t>`, `?token=<t>`, or a cookie; jupyter_server docs "Security in the Jupyter Server"). A token is
// either an Owlet key pair's secret access key itself (the long-lived token a user pastes into VS Code or
// JupyterLab), or a short-lived token Owlet signed: `owlet1.<access key id>.<expiry, epoch seconds>.<nonce>.<mac>`,
// an HMAC-SHA256 keyed by a key derived from the pair's secret. Signed tokens need no storage, hold on every
// server node configured with the same keys and across restarts, and cannot be made without the secret.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Credentials } from '../protocol/sigv4.js';

/** The cookie the console's login and CreatePresignedNotebookUrl's link set (docs/jupyter.md). */
export const TOKEN_COOKIE = 'owlet_token';
const PREFIX = 'owlet1';

export type TokenCheck =
  | { ok: true; accessKeyId: string; expiresAt?: number }
  | { ok: false; reason: 'missing' | 'expired' | 'invalid' };

function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class JupyterTokens {
  private readonly keys = new Map<string, { secret: string; macKey: Buffer }>();

  constructor(
    credentials: readonly Credentials[],
    private readonly now: () => number = Date.now,
  ) {
    for (const c of credentials) {
      // A key of its own for signing tokens, so that a token's MAC never reveals anything about SigV4 keys.
      const macKey = createHmac('sha256', c.secretAccessKey).update('owlet jupyter tokens').digest();
      this.keys.set(c.accessKeyId, { secret: c.secretAccessKey, macKey });
    }
  }

  /** A token of the key pair `accessKeyId` valid for `lifetimeMs`; also when it expires (epoch ms). */
  issue(accessKeyId: string, lifetimeMs: number): { token: string; expiresAt: number } {
    const key = this.keys.get(accessKeyId);
    if (!key) throw new Error(`no key pair ${accessKeyId}`);
    const expiresAt = this.now() + lifetimeMs;
    const body = `${PREFIX}.${accessKeyId}.${Math.floor(expiresAt / 1000)}.${randomBytes(12).toString('base64url')}`;
    return { token: `${body}.${this.mac(key.macKey, body)}`, expiresAt: Math.floor(expiresAt / 1000) * 1000 };
  }

  /** The key pair whose access key id and secret these are, if any. */
  login(accessKeyId: string, secretAccessKey: string): string | undefined {
    const key = this.keys.get(accessKeyId);
    return key && equalText(key.secret, secretAccessKey) ? accessKeyId : undefined;
  }

  check(token: string | undefined): TokenCheck {
    if (token === undefined || token === '') return { ok: false, reason: 'missing' };
    if (token.startsWith(`${PREFIX}.`)) {
      const parts = token.split('.');
      if (parts.length !== 5) return { ok: false, reason: 'invalid' };
      const [, accessKeyId, expiry, , mac] = parts as [string, string, string, string, string];
      const key = this.keys.get(accessKeyId);
      if (!key || !equalText(mac, this.mac(key.macKey, parts.slice(0, 4).join('.')))) return { ok: false, reason: 'invalid' };
      const expiresAt = Number(expiry) * 1000;
      if (!Number.isFinite(expiresAt) || expiresAt <= this.now()) return { ok: false, reason: 'expired' };
      return { ok: true, accessKeyId, expiresAt };
    }
    for (const [accessKeyId, key] of this.keys) if (equalText(key.secret, token)) return { ok: true, accessKeyId };
    return { ok: false, reason: 'invalid' };
  }

  private mac(key: Buffer, body: string): string {
    return createHmac('sha256', key).update(body).digest('base64url');
  }
}

/** A request's token and where it came from; the cookie counts only when no other is given. */
export function presentedToken(headers: IncomingHttpHeaders, query: URLSearchParams): { token: string; from: 'header' | 'query' | 'cookie' } | undefined {
  const authorization = headers.authorization;
  // jupyter_server accepts both `token` and `Bearer` schemes (IdentityProvider.get_token).
  const match = authorization === undefined ? null : /^(?:token|bearer)\s+(\S+)\s*$/i.exec(authorization);
  if (match) return { token: match[1]!, from: 'header' };
  const inQuery = query.get('token');
  if (inQuery) return { token: inQuery, from: 'query' };
  const cookie = cookieValue(headers.cookie, TOKEN_COOKIE);
  if (cookie) return { token: cookie, from: 'cookie' };
  return undefined;
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    if (part.slice(0, at).trim() === name) {
      try {
        return decodeURIComponent(part.slice(at + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The Set-Cookie value carrying a token: HttpOnly (no script reads it), SameSite=Lax (see docs/jupyter.md). */
export function tokenCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

export function clearedTokenCookie(): string {
  return `${TOKEN_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
}
