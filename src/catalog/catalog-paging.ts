// Paging over the catalog store for the API front ends (Glue's and Athena's catalog calls). A page token holds
// the store's cursor and how many items of the store page it opens were already returned, so that a filtered
// listing can stop in the middle of a store page; it is bound to its operation and scope, and anything else is
// refused with the caller's own error.
import type { Page, PageQuery } from './catalog-store.js';

interface Cursor {
  after?: string;
  skip: number;
}

export function encodeCatalogToken(scope: string, cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ s: scope, a: cursor.after, k: cursor.skip })).toString('base64url');
}

export function decodeCatalogToken(scope: string, token: string | undefined, invalid: () => Error): Cursor | undefined {
  if (token === undefined || token === '') return undefined;
  try {
    const content = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; a?: unknown; k?: unknown };
    if (content.s === scope && (content.a === undefined || typeof content.a === 'string') && Number.isInteger(content.k) && (content.k as number) >= 0) {
      return { ...(typeof content.a === 'string' ? { after: content.a } : {}), skip: content.k as number };
    }
  } catch {
    // Falls through to the caller's error.
  }
  throw invalid();
}

/** Reads the store page by page from `token`, keeping what `keep` accepts, until `max` items are kept. */
export async function collectPage<T>(
  scope: string,
  fetch: (query: PageQuery) => Promise<Page<T>>,
  keep: (item: T) => boolean,
  max: number,
  token: string | undefined,
  invalidToken: () => Error,
): Promise<{ items: T[]; nextToken?: string }> {
  let cursor = decodeCatalogToken(scope, token, invalidToken) ?? { skip: 0 };
  const items: T[] = [];
  const pageSize = Math.max(max, 100);
  for (;;) {
    const page = await fetch({ maxResults: pageSize, ...(cursor.after !== undefined ? { after: cursor.after } : {}) });
    for (let i = cursor.skip; i < page.items.length; i++) {
      const item = page.items[i]!;
      if (!keep(item)) continue;
      items.push(item);
      if (items.length === max) {
        if (i + 1 < page.items.length) return { items, nextToken: encodeCatalogToken(scope, { ...(cursor.after !== undefined ? { after: cursor.after } : {}), skip: i + 1 }) };
        return page.nextToken === undefined ? { items } : { items, nextToken: encodeCatalogToken(scope, { after: page.nextToken, skip: 0 }) };
      }
    }
    if (page.nextToken === undefined) return { items };
    cursor = { after: page.nextToken, skip: 0 };
  }
}

/**
 * A table-name filter as Glue's GetTables and Athena's ListTableMetadata take it: a regular expression matched
 * against the whole name, case-insensitively. Hive's `*` wildcard (`*sales*`), which is no valid regular
 * expression on its own, is read as `.*`. Undefined when the expression cannot be read either way.
 */
export function tableNameFilter(expression: string | undefined): ((name: string) => boolean) | undefined {
  if (expression === undefined || expression === '') return () => true;
  for (const source of [expression, expression.replace(/\*/g, '.*')]) {
    try {
      const re = new RegExp(`^(?:${source})$`, 'i');
      return (name) => re.test(name);
    } catch {
      // Tries the next reading.
    }
  }
  return undefined;
}
