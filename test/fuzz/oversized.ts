// Requests whose body is over the server's limit, sent two ways: a Content-Length over the limit (the server
// must answer 413 before reading the body), and a chunked body that grows past the limit (the server must
// stop reading at the limit and answer 413). Each goes on a connection of its own, which the server closes.
import { request } from 'node:http';
import type { RawResponse } from '../wire.js';

const CHUNK = Buffer.alloc(1024 * 1024, 0x20);

/**
 * Sends `headers` with a body of `size` bytes (over the server's limit) to `endpoint` and resolves with the
 * answer. An error before an answer (the connection reset without one) rejects.
 */
export function sendOversized(endpoint: string, headers: Record<string, string>, size: number, mode: 'declared' | 'streamed'): Promise<RawResponse> {
  const url = new URL(endpoint);
  const { 'content-length': _length, ...rest } = headers;
  const framing = mode === 'declared' ? { 'content-length': String(size) } : { 'transfer-encoding': 'chunked' };
  return new Promise<RawResponse>((resolve, reject) => {
    let answered = false;
    let sent = 0;
    const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/', agent: false, headers: { ...rest, ...framing } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        req.destroy();
      });
      res.on('error', reject);
    });
    // Once the server has answered it closes the connection; writes still under way then fail, which is expected.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const write = (): void => {
      while (!answered && sent < size) {
        sent += CHUNK.length;
        if (!req.write(CHUNK)) {
          req.once('drain', write);
          return;
        }
      }
      // All of it sent: a server that read on past its limit gets the end of the body and must still answer.
      if (!answered) req.end();
    };
    req.write('{"Payload":"');
    if (mode === 'streamed') write();
    else req.write(CHUNK);
  });
}
