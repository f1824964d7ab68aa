// Chooses the object store's index from the configuration, as the state store is chosen: a SQLite file in the
// data directory by default, the state store's PostgreSQL database when several server nodes share one (they
// must then share the data directory's `objects/` folder too).
import { join } from 'node:path';
import { EmbeddedObjectStore } from './embedded-object-store.js';
import { PostgresObjectIndex } from './postgres-object-index.js';
import { SqliteObjectIndex } from './sqlite-object-index.js';

/**
 * With several nodes, a blob file younger than this may belong to another node's write that has not committed
 * yet; the sweep at start leaves it to a later start. An hour is far longer than any upload's last step.
 */
const SHARED_SWEEP_GRACE_MS = 60 * 60 * 1000;

export async function openObjectStore(options: { dataDir: string; stateStoreUrl?: string | undefined; now?: () => number }): Promise<EmbeddedObjectStore> {
  const root = join(options.dataDir, 'objects');
  const url = options.stateStoreUrl;
  const shared = url !== undefined && url !== '';
  const index = shared ? await PostgresObjectIndex.open(url) : new SqliteObjectIndex(join(root, 'index.sqlite'));
  try {
    return await EmbeddedObjectStore.open({ root, index, sweepGraceMs: shared ? SHARED_SWEEP_GRACE_MS : 0, ...(options.now ? { now: options.now } : {}) });
  } catch (error) {
    await index.close();
    throw error;
  }
}
