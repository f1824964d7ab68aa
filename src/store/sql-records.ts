// What the SQL backends (SQLite, PostgreSQL) share: the row of their `records` table and how rows become
// records and list pages, so that both read records back, skip corrupt ones and page the same way.
import {
  CorruptRecordError,
  type CorruptRecordListener,
  type ListPage,
  type ListQuery,
  type RecordKind,
  type StoredRecord,
} from './state-store.js';

export interface RecordRow {
  /** Insertion order; breaks ties of `created_at` in newest-first lists. */
  seq: number | string;
  kind: RecordKind;
  id: string;
  parent: string | null;
  state: string | null;
  /** PostgreSQL's driver returns its 64-bit integers as strings (they can exceed a double); ours never do. */
  created_at: number | string;
  version: number;
  /** The body as JSON text. */
  body: string;
}

export function recordFromRow<T>(row: RecordRow): StoredRecord<T> {
  let body: T;
  try {
    body = JSON.parse(row.body) as T;
  } catch (error) {
    throw new CorruptRecordError(row.kind, row.id, error);
  }
  const record: StoredRecord<T> = { kind: row.kind, id: row.id, createdAt: Number(row.created_at), version: row.version, body };
  if (row.parent !== null) record.parent = row.parent;
  if (row.state !== null) record.state = row.state;
  return record;
}

/** Where a newest-first page resumes: after the record created at `createdAt` with insertion number `seq`. */
export function newestCursorPosition(after: string): { createdAt: number; seq: number } {
  const [createdAt, seq] = after.split(':').map(Number);
  if (!Number.isFinite(createdAt) || !Number.isFinite(seq)) throw new Error(`bad list cursor ${after}`);
  return { createdAt: createdAt!, seq: seq! };
}

/**
 * A page from the rows a list query returned when asked for `limit + 1` rows (the extra row only tells that
 * more follow). Rows that cannot be read are left out and reported.
 */
export function pageFromRows<T>(rows: readonly RecordRow[], query: ListQuery, onCorrupt: CorruptRecordListener): ListPage<T> {
  const more = rows.length > query.limit;
  const page = more ? rows.slice(0, query.limit) : rows;
  const records: StoredRecord<T>[] = [];
  for (const row of page) {
    try {
      records.push(recordFromRow<T>(row));
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
      onCorrupt(error);
    }
  }
  const last = page.at(-1);
  const result: ListPage<T> = { records };
  if (more && last) result.cursor = query.order === 'id' ? last.id : `${last.created_at}:${last.seq}`;
  return result;
}
