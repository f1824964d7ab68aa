// The embedded object index: a SQLite file of its own in the data directory (objects.sqlite), in WAL mode.
// It is not the state store's file: that one is held by the session state's single writer, and an object
// store's bursts of commits (a `sync` of thousands of files) should not queue behind session changes, nor
// theirs behind a listing. Every change is one transaction, so an object is in the index whole or not at all.
import type Database from 'better-sqlite3';
import { migrateSqlite, openOwnedSqlite, StatementCache } from '../store/sqlite-file.js';
import {
  type KeyRange,
  type ObjectIndex,
  objectFromRow,
  objectRowBody,
  partFromRow,
  partRowBody,
  prefixEnd,
  type UploadRange,
  uploadFromRow,
  uploadRowBody,
} from './object-index.js';
import type { BlobRef, BucketInfo, ObjectInfo, PartInfo, UploadInfo } from './object-store.js';

/** Schema migrations, applied in order; `PRAGMA user_version` holds how many have run. Never edit a shipped one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE buckets (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
   CREATE TABLE objects (bucket TEXT NOT NULL, key BLOB NOT NULL, body TEXT NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;
   CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL, body TEXT NOT NULL);
   CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
   CREATE TABLE parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob TEXT NOT NULL, body TEXT NOT NULL,
                       PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
   CREATE TABLE object_blobs (blob TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL) WITHOUT ROWID;
   CREATE INDEX parts_by_blob ON parts (blob);`,
];

interface ObjectRow {
  bucket: string;
  key: Buffer;
  body: string;
}

interface UploadRow extends ObjectRow {
  upload_id: string;
}

export class SqliteObjectIndex implements ObjectIndex {
  private readonly db: Database.Database;
  private readonly statements: StatementCache;

  /**
   * `durable: false` is for bulk loads that are thrown away if they fail (the benchmark's seed): commits are
   * not synced.
   */
  constructor(path: string, options: { durable: boolean } = { durable: true }) {
    // One server owns its data directory's objects, as it owns its state file. NORMAL, as the state store: a
    // commit survives the server's crash (the WAL is in the operating system's cache) without an fsync of its
    // own; a power loss can take back the last commits (the objects were never there), never corrupt the file
    // or name bytes that are not on disk, since every blob is synced before its commit.
    this.db = openOwnedSqlite(path, options.durable ? 'NORMAL' : 'OFF');
    this.statements = new StatementCache(this.db);
    migrateSqlite(this.db, MIGRATIONS, 'the object index');
  }

  private stmt(sql: string): Database.Statement {
    return this.statements.get(sql);
  }

  /** The conditions and parameters of a key range: keys under `prefix`, then after (or from) `from`. */
  private static keyRange(prefix: Buffer, where: string[], params: unknown[]): void {
    if (prefix.length === 0) return;
    where.push('key >= ?');
    params.push(prefix);
    const end = prefixEnd(prefix);
    if (end) {
      where.push('key < ?');
      params.push(end);
    }
  }

  async createBucket(bucket: BucketInfo): Promise<boolean> {
    return this.stmt('INSERT INTO buckets (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING').run(bucket.name, bucket.createdAt).changes > 0;
  }

  async deleteBucket(name: string): Promise<'deleted' | 'missing' | 'not-empty'> {
    return this.db.transaction((): 'deleted' | 'missing' | 'not-empty' => {
      if (!this.stmt('SELECT 1 FROM buckets WHERE name = ?').get(name)) return 'missing';
      if (this.stmt('SELECT 1 FROM objects WHERE bucket = ? LIMIT 1').get(name) || this.stmt('SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1').get(name)) {
        return 'not-empty';
      }
      this.stmt('DELETE FROM buckets WHERE name = ?').run(name);
      return 'deleted';
    })();
  }

  async getBucket(name: string): Promise<BucketInfo | undefined> {
    const row = this.stmt('SELECT name, created_at FROM buckets WHERE name = ?').get(name) as { name: string; created_at: number } | undefined;
    return row ? { name: row.name, createdAt: row.created_at } : undefined;
  }

  async listBuckets(): Promise<BucketInfo[]> {
    const rows = this.stmt('SELECT name, created_at FROM buckets ORDER BY name').all() as { name: string; created_at: number }[];
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at }));
  }

  private currentObject(bucket: string, key: Buffer): ObjectInfo | undefined {
    const row = this.stmt('SELECT bucket, key, body FROM objects WHERE bucket = ? AND key = ?').get(bucket, key) as ObjectRow | undefined;
    return row ? objectFromRow(row.bucket, row.key, row.body) : undefined;
  }

  private writeObject(object: ObjectInfo, key: Buffer, current: ObjectInfo | undefined): BlobRef[] {
    this.stmt('INSERT INTO objects (bucket, key, body) VALUES (?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET body = excluded.body').run(
      object.bucket,
      key,
      objectRowBody(object),
    );
    const replaced = current?.blobs ?? [];
    for (const blob of replaced) this.stmt('DELETE FROM object_blobs WHERE blob = ?').run(blob.id);
    for (const blob of object.blobs) this.stmt('INSERT OR REPLACE INTO object_blobs (blob, bucket, key) VALUES (?, ?, ?)').run(blob.id, object.bucket, key);
    return replaced;
  }

  async putObject(object: ObjectInfo, check?: (current: ObjectInfo | undefined) => void): Promise<BlobRef[] | 'no-bucket'> {
    return this.db.transaction((): BlobRef[] | 'no-bucket' => {
      if (!this.stmt('SELECT 1 FROM buckets WHERE name = ?').get(object.bucket)) return 'no-bucket';
      const key = Buffer.from(object.key);
      const current = this.currentObject(object.bucket, key);
      check?.(current);
      return this.writeObject(object, key, current);
    })();
  }

  async getObject(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    return this.currentObject(bucket, Buffer.from(key));
  }

  async deleteObject(bucket: string, key: string): Promise<BlobRef[] | undefined> {
    return this.db.transaction((): BlobRef[] | undefined => {
      const k = Buffer.from(key);
      const current = this.currentObject(bucket, k);
      if (!current) return undefined;
      this.stmt('DELETE FROM objects WHERE bucket = ? AND key = ?').run(bucket, k);
      for (const blob of current.blobs) this.stmt('DELETE FROM object_blobs WHERE blob = ?').run(blob.id);
      return current.blobs;
    })();
  }

  async listObjects(bucket: string, range: KeyRange): Promise<ObjectInfo[]> {
    const where = ['bucket = ?'];
    const params: unknown[] = [bucket];
    SqliteObjectIndex.keyRange(range.prefix, where, params);
    if (range.from) {
      where.push(range.from.inclusive ? 'key >= ?' : 'key > ?');
      params.push(range.from.key);
    }
    const rows = this.stmt(`SELECT bucket, key, body FROM objects WHERE ${where.join(' AND ')} ORDER BY key LIMIT ?`).all(...params, range.limit) as ObjectRow[];
    return rows.map((r) => objectFromRow(r.bucket, r.key, r.body));
  }

  async createUpload(upload: UploadInfo): Promise<boolean> {
    return this.db.transaction((): boolean => {
      if (!this.stmt('SELECT 1 FROM buckets WHERE name = ?').get(upload.bucket)) return false;
      this.stmt('INSERT INTO uploads (upload_id, bucket, key, body) VALUES (?, ?, ?, ?)').run(upload.uploadId, upload.bucket, Buffer.from(upload.key), uploadRowBody(upload));
      return true;
    })();
  }

  async getUpload(uploadId: string): Promise<UploadInfo | undefined> {
    const row = this.stmt('SELECT upload_id, bucket, key, body FROM uploads WHERE upload_id = ?').get(uploadId) as UploadRow | undefined;
    return row ? uploadFromRow(row.upload_id, row.bucket, row.key, row.body) : undefined;
  }

  async putPart(uploadId: string, part: PartInfo): Promise<BlobRef | undefined | 'no-upload'> {
    return this.db.transaction((): BlobRef | undefined | 'no-upload' => {
      if (!this.stmt('SELECT 1 FROM uploads WHERE upload_id = ?').get(uploadId)) return 'no-upload';
      const prior = this.stmt('SELECT body FROM parts WHERE upload_id = ? AND part_number = ?').get(uploadId, part.partNumber) as { body: string } | undefined;
      this.stmt(
        'INSERT INTO parts (upload_id, part_number, blob, body) VALUES (?, ?, ?, ?) ON CONFLICT (upload_id, part_number) DO UPDATE SET blob = excluded.blob, body = excluded.body',
      ).run(uploadId, part.partNumber, part.blob.id, partRowBody(part));
      return prior ? partFromRow(prior.body).blob : undefined;
    })();
  }

  async listParts(uploadId: string, after: number, limit: number): Promise<PartInfo[]> {
    const rows = this.stmt('SELECT body FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?').all(uploadId, after, limit) as { body: string }[];
    return rows.map((r) => partFromRow(r.body));
  }

  async completeUpload(
    uploadId: string,
    object: ObjectInfo,
    check: (parts: PartInfo[], current: ObjectInfo | undefined) => void,
  ): Promise<BlobRef[] | 'no-upload'> {
    return this.db.transaction((): BlobRef[] | 'no-upload' => {
      if (!this.stmt('SELECT 1 FROM uploads WHERE upload_id = ?').get(uploadId)) return 'no-upload';
      const parts = (this.stmt('SELECT body FROM parts WHERE upload_id = ? ORDER BY part_number').all(uploadId) as { body: string }[]).map((r) => partFromRow(r.body));
      const key = Buffer.from(object.key);
      const current = this.currentObject(object.bucket, key);
      check(parts, current);
      const used = new Set(object.blobs.map((b) => b.id));
      const unused = parts.map((p) => p.blob).filter((b) => !used.has(b.id));
      this.stmt('DELETE FROM parts WHERE upload_id = ?').run(uploadId);
      this.stmt('DELETE FROM uploads WHERE upload_id = ?').run(uploadId);
      return [...unused, ...this.writeObject(object, key, current)];
    })();
  }

  async abortUpload(uploadId: string): Promise<BlobRef[] | undefined> {
    return this.db.transaction((): BlobRef[] | undefined => {
      if (!this.stmt('SELECT 1 FROM uploads WHERE upload_id = ?').get(uploadId)) return undefined;
      const parts = (this.stmt('SELECT body FROM parts WHERE upload_id = ?').all(uploadId) as { body: string }[]).map((r) => partFromRow(r.body));
      this.stmt('DELETE FROM parts WHERE upload_id = ?').run(uploadId);
      this.stmt('DELETE FROM uploads WHERE upload_id = ?').run(uploadId);
      return parts.map((p) => p.blob);
    })();
  }

  async listUploads(bucket: string, range: UploadRange): Promise<UploadInfo[]> {
    const where = ['bucket = ?'];
    const params: unknown[] = [bucket];
    SqliteObjectIndex.keyRange(range.prefix, where, params);
    if (range.after) {
      where.push('(key > ? OR (key = ? AND upload_id > ?))');
      params.push(range.after.key, range.after.key, range.after.uploadId);
    }
    const rows = this.stmt(`SELECT upload_id, bucket, key, body FROM uploads WHERE ${where.join(' AND ')} ORDER BY key, upload_id LIMIT ?`).all(
      ...params,
      range.limit,
    ) as UploadRow[];
    return rows.map((r) => uploadFromRow(r.upload_id, r.bucket, r.key, r.body));
  }

  async referencedBlobs(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const id of ids) {
      if (this.stmt('SELECT 1 FROM object_blobs WHERE blob = ?').get(id) || this.stmt('SELECT 1 FROM parts WHERE blob = ? LIMIT 1').get(id)) found.add(id);
    }
    return found;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
