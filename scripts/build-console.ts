// Builds the Owlet console (web/) into dist/console/: one bundled, minified script with its source map, the
// page and the style sheet. `make build` runs it after type-checking web/ (tsc -p web); the server serves
// the folder at /console/.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { projectRoot } from '../src/config/paths.js';

const web = join(projectRoot, 'web');
const out = join(projectRoot, 'dist', 'console');

await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(web, 'src', 'main.ts')],
  outfile: join(out, 'console.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
await copyFile(join(web, 'index.html'), join(out, 'index.html'));
await copyFile(join(web, 'console.css'), join(out, 'console.css'));
