// The transport baseline of the object-store benchmark's GET: a bare node:http server that answers
// `GET /<name>` with the file of that name under BARE_FILE_ROOT, piped from fs.createReadStream (1 MiB reads),
// and does nothing else: no signature, no index, no headers beyond Content-Length. What it reaches is what
// node:http over loopback allows; the gap from it to Owlet's GET of the same file is the store's own cost.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

const root = process.env.BARE_FILE_ROOT;
if (!root) {
  process.stderr.write('bare-file-server: set BARE_FILE_ROOT to the folder to serve\n');
  process.exit(2);
}

const server = createServer((req, res) => {
  const name = normalize(decodeURIComponent((req.url ?? '/').replace(/\?.*$/, '')));
  if (name.split('/').includes('..')) {
    res.writeHead(400).end();
    return;
  }
  const path = join(root, name);
  stat(path).then(
    (info) => {
      res.writeHead(200, { 'Content-Length': info.size });
      createReadStream(path, { highWaterMark: 1024 * 1024 }).pipe(res);
    },
    () => res.writeHead(404).end(),
  );
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`bare node:http file server at http://127.0.0.1:${port}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
// The benchmark holds this process's stdin open; when it goes away, even killed, so does this server.
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
