// Chooses the catalog's backend the way the state store is chosen: a SQLite file in the data directory by
// default, the state store's PostgreSQL database when a URL names one (every node then sees one catalog).
import { join } from 'node:path';
import type { CatalogStore } from './catalog-store.js';
import { PostgresCatalogStore } from './postgres-catalog-store.js';
import { SqliteCatalogStore } from './sqlite-catalog-store.js';

export interface OpenedCatalogStore extends CatalogStore {
  close(): Promise<void>;
}

export interface CatalogStoreOptions {
  /** The state store's URL (`postgres://…`); without one, the catalog is `catalog.sqlite` in `dataDir`. */
  url?: string | undefined;
  dataDir: string;
}

/** The URL has already been checked by openStateStore, which the server opens first. */
export async function openCatalogStore(options: CatalogStoreOptions): Promise<OpenedCatalogStore> {
  if (options.url === undefined || options.url === '') return new SqliteCatalogStore({ path: join(options.dataDir, 'catalog.sqlite') });
  return PostgresCatalogStore.open({ url: options.url });
}
