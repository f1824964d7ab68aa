// Reading a request body whole, up to a limit: Athena's JSON bodies and S3's small XML ones; and closing a
// connection whose body was refused without resetting it under the client.
import type { IncomingMessage, ServerResponse } from 'node:http';

export class BodyTooLarge extends Error {}

/**
 * After a body over the limit is refused, how much more of it is read and thrown away, and for how long,
 * before the connection is closed. A connection closed while the client's bytes are still arriving is reset
 * by the kernel, and a client still writing its body then gets EPIPE or ECONNRESET instead of the answer: RFC
 * 9112 §9.6 has the server close its sending side first and read on until the client closes ("lingering
 * close"). nginx bounds it by 30 s in all and 5 s without data (its lingering_time and lingering_timeout).
 */
const LINGER_MAX_MS = 30_000;
const LINGER_SILENCE_MS = 5_000;

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Once the answer to a refused body has been sent: closes the sending side, reads and discards what the
 * client still sends, up to `maxBytes` and within the bounds above, then closes the connection.
 */
export function closeLingering(req: IncomingMessage, res: ServerResponse, maxBytes: number): void {
  const socket = req.socket;
  let discarded = 0;
  const close = (): void => {
    clearTimeout(overall);
    clearTimeout(silence);
    socket.destroy();
  };
  const overall = setTimeout(close, LINGER_MAX_MS);
  const silence = setTimeout(close, LINGER_SILENCE_MS);
  overall.unref();
  silence.unref();
  socket.once('close', close);
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) close();
    else silence.refresh();
  });
  // The whole body arrived: nothing more is coming that could reset the connection.
  req.on('end', close);
  req.on('error', close);
  req.resume();
  // A client that asked for `Connection: close` gets it from Node as soon as the answer is written
  // (destroySoon), which would reset the connection under a client still sending: only the sending side is
  // closed then, and the reading above ends the connection.
  socket.destroySoon = () => socket.end();
  res.once('finish', () => socket.end());
}
