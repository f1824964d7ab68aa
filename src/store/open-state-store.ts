// Chooses the StateStore from the configuration: the embedded SQLite file in the data directory by default,
// a shared PostgreSQL database when a URL names one (several server nodes on one state).
import { join } from 'node:path';
import { PostgresStateStore } from './postgres-state-store.js';
import { SqliteStateStore } from './sqlite-state-store.js';
import type { CorruptRecordListener, StateStore } from './state-store.js';

export interface StateStoreOptions {
  /** `postgres://…` or `postgresql://…`; without one, the state is a SQLite file in `dataDir`. */
  url?: string | undefined;
  dataDir: string;
  onCorrupt?: CorruptRecordListener;
  now?: () => number;
}

export async function openStateStore(options: StateStoreOptions): Promise<StateStore> {
  const { url, onCorrupt, now } = options;
  if (url === undefined || url === '') return new SqliteStateStore({ path: join(options.dataDir, 'state.sqlite'), onCorrupt, now });
  // Only the scheme goes into the message: the rest of the URL may hold a password.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return PostgresStateStore.open({ url, onCorrupt, now });
  throw new Error(
    `the state store URL must start with postgres:// or postgresql:// (got ${scheme ? `${scheme}:` : 'no scheme'}); leave it unset for the SQLite file in the data directory`,
  );
}
