// The SHA-256 and HMAC-SHA256 that @smithy/signature-v4 computes with, on node:crypto, and the two that the
// verifier computes on every request itself (sha256Hex, hmacSha256Hex).
//
// @smithy/hash-node hands createHmac its key as a Buffer, which Node checks and converts on every call; a
// signing key as a prepared KeyObject skips that. Measured here (Node 24, 2 cores): a whole SigV4
// verification took 124 to 172 µs with @smithy/hash-node; see bench/ for the request throughput it buys.
// The signer keeps its derived signing keys in a cache and passes the same Uint8Array each time, so the
// KeyObject can be kept beside it in a WeakMap without hashing the key.
import { createHash, createHmac, createSecretKey, type Hash, hash, type Hmac, type KeyObject } from 'node:crypto';

type SourceData = string | ArrayBuffer | ArrayBufferView;

const keyObjects = new WeakMap<object, KeyObject>();

function toBuffer(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

function hmacKey(secret: SourceData): KeyObject | string {
  if (typeof secret === 'string') return secret;
  let key = keyObjects.get(secret);
  if (!key) {
    key = createSecretKey(toBuffer(secret) as Buffer);
    keyObjects.set(secret, key);
  }
  return key;
}

export class NodeSha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', hmacKey(this.secret));
  }

  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

/** The SHA-256 of `data` in lower-case hex, by node:crypto's one-shot `hash` (no Hash object to create). */
export function sha256Hex(data: string | ArrayBufferView): string {
  return hash('sha256', data as string | Buffer, 'hex');
}

/** SHA-256's block size in bytes, the length HMAC pads its key to (RFC 2104 §2). */
const BLOCK_BYTES = 64;

interface HmacPads {
  /** The key XOR ipad (0x36), followed by room for the message, which is written there for each HMAC. */
  inner: Buffer;
  /** The key XOR opad (0x5c), followed by the inner digest's 32 bytes. */
  outer: Buffer;
}

/**
 * Room for the message after the inner pad: a SigV4 string to sign (algorithm, time, scope and a 64-digit
 * hash) is under 200 bytes; a longer message takes the slower way, a new buffer.
 */
const MESSAGE_ROOM = 512;

const pads = new WeakMap<object, HmacPads>();

function padsOf(key: Uint8Array): HmacPads {
  let p = pads.get(key);
  if (!p) {
    if (key.length > BLOCK_BYTES) throw new Error('HMAC keys longer than a block are hashed first; signing keys never are');
    const inner = Buffer.alloc(BLOCK_BYTES + MESSAGE_ROOM, 0x36);
    const outer = Buffer.alloc(BLOCK_BYTES + 32, 0x5c);
    for (let i = 0; i < key.length; i++) {
      inner[i]! ^= key[i]!;
      outer[i]! ^= key[i]!;
    }
    p = { inner, outer };
    pads.set(key, p);
  }
  return p;
}

/**
 * HMAC-SHA256 (RFC 2104: H((K ^ opad) || H((K ^ ipad) || m))) of a text under a signing key, in lower-case
 * hex, computed as two one-shot hashes over the key's pads, prepared once per key. node:crypto's createHmac
 * fetches and sets up an HMAC context on every call, which measured here (Node 24, OpenSSL 3) at 7 to 14 µs
 * with a KeyObject key against about 4 µs for this; the result is the same, which test/sigv4-hmac.test.ts
 * checks against createHmac.
 */
export function hmacSha256Hex(key: Uint8Array, text: string): string {
  const { inner, outer } = padsOf(key);
  // Both pads' buffers are reused: nothing else runs between writing into them and hashing them. A UTF-16
  // code unit takes at most 3 bytes in UTF-8, so a text of up to MESSAGE_ROOM / 3 units always fits.
  let innerDigest: Buffer;
  if (text.length * 3 <= MESSAGE_ROOM) {
    const written = inner.write(text, BLOCK_BYTES, 'utf8');
    innerDigest = hash('sha256', inner.subarray(0, BLOCK_BYTES + written), 'buffer');
  } else {
    const message = Buffer.from(text, 'utf8');
    innerDigest = hash('sha256', Buffer.concat([inner.subarray(0, BLOCK_BYTES), message], BLOCK_BYTES + message.length), 'buffer');
  }
  innerDigest.copy(outer, BLOCK_BYTES);
  return hash('sha256', outer, 'hex');
}
