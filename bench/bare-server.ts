// The baseline Owlet's throughput is compared with: a bare node:http server that answers every request with
// one fixed JSON body (BARE_SERVER_BODY) and the same response headers Owlet sends, and does nothing else.
// The gap between the two is then what Owlet's own work per request costs: authentication, routing,
// decoding, the store and encoding.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const body = process.env.BARE_SERVER_BODY;
if (!body) {
  process.stderr.write('bare-server: set BARE_SERVER_BODY to the JSON body to answer with\n');
  process.exit(2);
}
const length = Buffer.byteLength(body);
// A request id of the same shape as Owlet's random UUIDs keeps the responses byte-for-byte the same size;
// a fixed one keeps the baseline free of any per-request work.
const requestId = '00000000-0000-4000-8000-000000000000';

const server = createServer((req, res) => {
  // Reading the request to its end before answering, as any handler of a POST must.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, {
      'Content-Type': 'application/x-amz-json-1.1',
      'Content-Length': length,
      'x-amzn-RequestId': requestId,
    });
    res.end(body);
  });
});
// Owlet's value: it also makes the `Keep-Alive: timeout=60` response header the same.
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`bare node:http server at http://127.0.0.1:${port}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
// The benchmark holds this process's stdin open; when it goes away, even killed, so does this server.
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
