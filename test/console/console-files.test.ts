// The /console/ route: the built files with their types and the page's Content-Security-Policy, the page
// itself for the console's own paths, and nothing outside its folder.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConsoleFiles } from '../../src/console/console-files.js';

describe('the console files at /console/', () => {
  let dir: string;
  let server: Server;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'owlet-console-files-'));
    mkdirSync(join(dir, 'console'));
    writeFileSync(join(dir, 'console', 'index.html'), '<!doctype html><p>console</p>');
    writeFileSync(join(dir, 'console', 'console.js'), 'export {};');
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    const files = new ConsoleFiles(join(dir, 'console'));
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (ConsoleFiles.serves(path)) void files.handle(req, res, path);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the script with its type and the page with its policy', async () => {
    const script = await fetch(`${base}/console/console.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    const page = await fetch(`${base}/console/notebooks/abc?session=x`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), '<!doctype html><p>console</p>');
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  });

  it('redirects /console to /console/, refuses writes, and answers 404 for a missing file', async () => {
    const bare = await fetch(`${base}/console`, { redirect: 'manual' });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get('location'), '/console/');
    assert.equal((await fetch(`${base}/console/`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${base}/console/missing.js`)).status, 404);
  });

  it('serves nothing outside its folder', async () => {
    const escaped = await fetch(`${base}/console/..%2fsecret.txt`);
    assert.notEqual(await escaped.text(), 'outside');
  });
});
