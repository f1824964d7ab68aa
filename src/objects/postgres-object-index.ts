// The object index for several server nodes: tables in the PostgreSQL database of the state store (the
// blob files then live on storage every node mounts at the same data directory). Keys are bytea, which
// PostgreSQL orders byte by byte whatever the database's collation, as S3 lists. Changes to one key are
// serialized by a transaction-scoped advisory lock on the key, so two writers of a key commit one after the
// other and the later one sees (and frees) the earlier one's blobs.
import { Pool, type PoolClient } from 'pg';
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

/** Migrations of the object tables, recorded in `object_schema_migrations`. Never edit a shipped one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE s3_buckets (name text COLLATE "C" PRIMARY KEY, created_at bigint NOT NULL);
   CREATE TABLE s3_objects (bucket text NOT NULL, key bytea NOT NULL, body text NOT NULL, PRIMARY KEY (bucket, key));
   CREATE TABLE s3_uploads (upload_id text PRIMARY KEY, bucket text NOT NULL, key bytea NOT NULL, body text NOT NULL);
   CREATE INDEX s3_uploads_by_key ON s3_uploads (bucket, key, upload_id);
   CREATE TABLE s3_parts (upload_id text NOT NULL, part_number integer NOT NULL, blob text NOT NULL, body text NOT NULL,
                          PRIMARY KEY (upload_id, part_number));
   CREATE INDEX s3_parts_by_blob ON s3_parts (blob);
   CREATE TABLE s3_object_blobs (blob text PRIMARY KEY, bucket text NOT NULL, key bytea NOT NULL);`,
];

/** "owlets3" in ASCII: the advisory lock held while migrating the object tables. */
const MIGRATION_LOCK = 0x6f776c65743353;

interface ObjectRow {
  bucket: string;
  key: Buffer;
  body: string;
}

export class PostgresObjectIndex implements ObjectIndex {
  private constructor(private readonly pool: Pool) {}

  static async open(url: string): Promise<PostgresObjectIndex> {
    const pool = new Pool({ connectionString: url, application_name: 'owlet-objects' });
    pool.on('error', () => {});
    try {
      await new PostgresObjectIndex(pool).tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        await c.query('CREATE TABLE IF NOT EXISTS object_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
        const { rows } = await c.query<{ applied: number }>('SELECT COALESCE(max(version), 0) AS applied FROM object_schema_migrations');
        const applied = Number(rows[0]!.applied);
        if (applied > MIGRATIONS.length) throw new Error(`the object index has schema version ${applied}, newer than this Owlet knows (${MIGRATIONS.length})`);
        for (let v = applied; v < MIGRATIONS.length; v++) {
          await c.query(MIGRATIONS[v]!);
          await c.query('INSERT INTO object_schema_migrations (version) VALUES ($1)', [v + 1]);
        }
      });
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresObjectIndex(pool);
  }

  private async tx<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    client.on('error', () => {});
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      // Dropping the connection rolls back and frees the locks, whatever state the error left it in.
      client.release(true);
      throw error;
    }
  }

  /** Serializes the changes of one key across every node until the transaction ends. */
  private async lockKey(c: PoolClient, bucket: string, key: Buffer): Promise<void> {
    await c.query(`SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || encode($2, 'hex'), 0))`, [bucket, key]);
  }

  async createBucket(bucket: BucketInfo): Promise<boolean> {
    const r = await this.pool.query('INSERT INTO s3_buckets (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [bucket.name, bucket.createdAt]);
    return (r.rowCount ?? 0) > 0;
  }

  async deleteBucket(name: string): Promise<'deleted' | 'missing' | 'not-empty'> {
    return this.tx(async (c) => {
      const found = await c.query('SELECT 1 FROM s3_buckets WHERE name = $1 FOR UPDATE', [name]);
      if (found.rowCount === 0) return 'missing';
      const used = await c.query(
        'SELECT 1 FROM s3_objects WHERE bucket = $1 UNION ALL SELECT 1 FROM s3_uploads WHERE bucket = $1 LIMIT 1',
        [name],
      );
      if ((used.rowCount ?? 0) > 0) return 'not-empty';
      await c.query('DELETE FROM s3_buckets WHERE name = $1', [name]);
      return 'deleted';
    });
  }

  async getBucket(name: string): Promise<BucketInfo | undefined> {
    const { rows } = await this.pool.query<{ name: string; created_at: string }>('SELECT name, created_at FROM s3_buckets WHERE name = $1', [name]);
    return rows[0] ? { name: rows[0].name, createdAt: Number(rows[0].created_at) } : undefined;
  }

  async listBuckets(): Promise<BucketInfo[]> {
    const { rows } = await this.pool.query<{ name: string; created_at: string }>('SELECT name, created_at FROM s3_buckets ORDER BY name');
    return rows.map((r) => ({ name: r.name, createdAt: Number(r.created_at) }));
  }

  private async currentObject(c: PoolClient | Pool, bucket: string, key: Buffer): Promise<ObjectInfo | undefined> {
    const { rows } = await c.query<ObjectRow>('SELECT bucket, key, body FROM s3_objects WHERE bucket = $1 AND key = $2', [bucket, key]);
    return rows[0] ? objectFromRow(rows[0].bucket, rows[0].key, rows[0].body) : undefined;
  }

  private async writeObject(c: PoolClient, object: ObjectInfo, key: Buffer, current: ObjectInfo | undefined): Promise<BlobRef[]> {
    await c.query('INSERT INTO s3_objects (bucket, key, body) VALUES ($1, $2, $3) ON CONFLICT (bucket, key) DO UPDATE SET body = excluded.body', [
      object.bucket,
      key,
      objectRowBody(object),
    ]);
    const replaced = current?.blobs ?? [];
    if (replaced.length > 0) await c.query('DELETE FROM s3_object_blobs WHERE blob = ANY($1)', [replaced.map((b) => b.id)]);
    for (const blob of object.blobs) {
      await c.query('INSERT INTO s3_object_blobs (blob, bucket, key) VALUES ($1, $2, $3) ON CONFLICT (blob) DO UPDATE SET bucket = excluded.bucket, key = excluded.key', [
        blob.id,
        object.bucket,
        key,
      ]);
    }
    return replaced;
  }

  async putObject(object: ObjectInfo, check?: (current: ObjectInfo | undefined) => void): Promise<BlobRef[] | 'no-bucket'> {
    return this.tx(async (c) => {
      const key = Buffer.from(object.key);
      await this.lockKey(c, object.bucket, key);
      // FOR SHARE keeps the bucket from being deleted before this commits.
      const bucket = await c.query('SELECT 1 FROM s3_buckets WHERE name = $1 FOR SHARE', [object.bucket]);
      if (bucket.rowCount === 0) return 'no-bucket';
      const current = await this.currentObject(c, object.bucket, key);
      check?.(current);
      return this.writeObject(c, object, key, current);
    });
  }

  async getObject(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    return this.currentObject(this.pool, bucket, Buffer.from(key));
  }

  async deleteObject(bucket: string, key: string): Promise<BlobRef[] | undefined> {
    return this.tx(async (c) => {
      const k = Buffer.from(key);
      await this.lockKey(c, bucket, k);
      const current = await this.currentObject(c, bucket, k);
      if (!current) return undefined;
      await c.query('DELETE FROM s3_objects WHERE bucket = $1 AND key = $2', [bucket, k]);
      await c.query('DELETE FROM s3_object_blobs WHERE blob = ANY($1)', [current.blobs.map((b) => b.id)]);
      return current.blobs;
    });
  }

  async listObjects(bucket: string, range: KeyRange): Promise<ObjectInfo[]> {
    const where = ['bucket = $1'];
    const params: unknown[] = [bucket];
    const add = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (range.prefix.length > 0) {
      add('key >= ?', range.prefix);
      const end = prefixEnd(range.prefix);
      if (end) add('key < ?', end);
    }
    if (range.from) add(range.from.inclusive ? 'key >= ?' : 'key > ?', range.from.key);
    params.push(range.limit);
    const { rows } = await this.pool.query<ObjectRow>(`SELECT bucket, key, body FROM s3_objects WHERE ${where.join(' AND ')} ORDER BY key LIMIT $${params.length}`, params);
    return rows.map((r) => objectFromRow(r.bucket, r.key, r.body));
  }

  async createUpload(upload: UploadInfo): Promise<boolean> {
    const r = await this.pool.query(
      'INSERT INTO s3_uploads (upload_id, bucket, key, body) SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM s3_buckets WHERE name = $2)',
      [upload.uploadId, upload.bucket, Buffer.from(upload.key), uploadRowBody(upload)],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async getUpload(uploadId: string): Promise<UploadInfo | undefined> {
    const { rows } = await this.pool.query<ObjectRow & { upload_id: string }>('SELECT upload_id, bucket, key, body FROM s3_uploads WHERE upload_id = $1', [uploadId]);
    return rows[0] ? uploadFromRow(rows[0].upload_id, rows[0].bucket, rows[0].key, rows[0].body) : undefined;
  }

  async putPart(uploadId: string, part: PartInfo): Promise<BlobRef | undefined | 'no-upload'> {
    return this.tx(async (c) => {
      const upload = await c.query('SELECT 1 FROM s3_uploads WHERE upload_id = $1 FOR SHARE', [uploadId]);
      if (upload.rowCount === 0) return 'no-upload';
      const prior = await c.query<{ body: string }>('SELECT body FROM s3_parts WHERE upload_id = $1 AND part_number = $2 FOR UPDATE', [uploadId, part.partNumber]);
      await c.query(
        'INSERT INTO s3_parts (upload_id, part_number, blob, body) VALUES ($1, $2, $3, $4) ON CONFLICT (upload_id, part_number) DO UPDATE SET blob = excluded.blob, body = excluded.body',
        [uploadId, part.partNumber, part.blob.id, partRowBody(part)],
      );
      return prior.rows[0] ? partFromRow(prior.rows[0].body).blob : undefined;
    });
  }

  async listParts(uploadId: string, after: number, limit: number): Promise<PartInfo[]> {
    const { rows } = await this.pool.query<{ body: string }>('SELECT body FROM s3_parts WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3', [
      uploadId,
      after,
      limit,
    ]);
    return rows.map((r) => partFromRow(r.body));
  }

  async completeUpload(
    uploadId: string,
    object: ObjectInfo,
    check: (parts: PartInfo[], current: ObjectInfo | undefined) => void,
  ): Promise<BlobRef[] | 'no-upload'> {
    return this.tx(async (c) => {
      const key = Buffer.from(object.key);
      await this.lockKey(c, object.bucket, key);
      const upload = await c.query('SELECT 1 FROM s3_uploads WHERE upload_id = $1 FOR UPDATE', [uploadId]);
      if (upload.rowCount === 0) return 'no-upload';
      const { rows } = await c.query<{ body: string }>('SELECT body FROM s3_parts WHERE upload_id = $1 ORDER BY part_number', [uploadId]);
      const parts = rows.map((r) => partFromRow(r.body));
      const current = await this.currentObject(c, object.bucket, key);
      check(parts, current);
      const used = new Set(object.blobs.map((b) => b.id));
      const unused = parts.map((p) => p.blob).filter((b) => !used.has(b.id));
      await c.query('DELETE FROM s3_parts WHERE upload_id = $1', [uploadId]);
      await c.query('DELETE FROM s3_uploads WHERE upload_id = $1', [uploadId]);
      return [...unused, ...(await this.writeObject(c, object, key, current))];
    });
  }

  async abortUpload(uploadId: string): Promise<BlobRef[] | undefined> {
    return this.tx(async (c) => {
      const upload = await c.query('SELECT 1 FROM s3_uploads WHERE upload_id = $1 FOR UPDATE', [uploadId]);
      if (upload.rowCount === 0) return undefined;
      const { rows } = await c.query<{ body: string }>('DELETE FROM s3_parts WHERE upload_id = $1 RETURNING body', [uploadId]);
      await c.query('DELETE FROM s3_uploads WHERE upload_id = $1', [uploadId]);
      return rows.map((r) => partFromRow(r.body).blob);
    });
  }

  async listUploads(bucket: string, range: UploadRange): Promise<UploadInfo[]> {
    const where = ['bucket = $1'];
    const params: unknown[] = [bucket];
    if (range.prefix.length > 0) {
      params.push(range.prefix);
      where.push(`key >= $${params.length}`);
      const end = prefixEnd(range.prefix);
      if (end) {
        params.push(end);
        where.push(`key < $${params.length}`);
      }
    }
    if (range.after) {
      params.push(range.after.key, range.after.uploadId);
      where.push(`(key > $${params.length - 1} OR (key = $${params.length - 1} AND upload_id > $${params.length}))`);
    }
    params.push(range.limit);
    const { rows } = await this.pool.query<ObjectRow & { upload_id: string }>(
      `SELECT upload_id, bucket, key, body FROM s3_uploads WHERE ${where.join(' AND ')} ORDER BY key, upload_id COLLATE "C" LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => uploadFromRow(r.upload_id, r.bucket, r.key, r.body));
  }

  async referencedBlobs(ids: readonly string[]): Promise<Set<string>> {
    const { rows } = await this.pool.query<{ blob: string }>(
      'SELECT blob FROM s3_object_blobs WHERE blob = ANY($1) UNION SELECT blob FROM s3_parts WHERE blob = ANY($1)',
      [ids],
    );
    return new Set(rows.map((r) => r.blob));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
