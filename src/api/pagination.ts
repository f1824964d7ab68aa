// Opaque NextTokens. A token names the operation and the listing it continues, so a token from one
// listing cannot be replayed against another; anything else is refused with InvalidRequestException.
import { InvalidRequestError } from '../protocol/errors.js';

interface TokenContent {
  /** The operation and the scope of the listing (a workgroup, a session, ...). */
  s: string;
  /** Where the next page starts, in the terms of whatever produced the listing. */
  c: string;
}

export function encodeNextToken(scope: string, cursor: string): string {
  return Buffer.from(JSON.stringify({ s: scope, c: cursor } satisfies TokenContent)).toString('base64url');
}

/** Returns the cursor inside `token`, or undefined when there is no token. */
export function decodeNextToken(scope: string, token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  try {
    const content = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<TokenContent>;
    if (content.s === scope && typeof content.c === 'string') return content.c;
  } catch {
    // Falls through to the error below.
  }
  throw new InvalidRequestError('The NextToken provided is not valid for this request.');
}

/** Pages through an in-memory list, for the listings that are not backed by the store. */
export function pageOf<T>(scope: string, items: readonly T[], maxResults: number, nextToken: string | undefined): { items: T[]; nextToken?: string } {
  const start = Number(decodeNextToken(scope, nextToken) ?? '0');
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw new InvalidRequestError('The NextToken provided is not valid for this request.');
  }
  const end = start + maxResults;
  const page: { items: T[]; nextToken?: string } = { items: items.slice(start, end) };
  if (end < items.length) page.nextToken = encodeNextToken(scope, String(end));
  return page;
}
