import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'generated'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no Owlet checkout above ${start}`);
    dir = parent;
  }
}

/** The checkout Owlet runs from (compiled code lives in dist/, sources in src/). */
export const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)));
