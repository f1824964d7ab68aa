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
  /** The key XOR ipad (0x36), with room for the message after it. */
  inner: Buffer;
  /** The key XOR opad (0x5c), followed by the inner digest's 32 bytes. */
  outer: Buffer;
}

const pads = new WeakMap<object, HmacPads>();

function padsOf(key: Uint8Array): HmacPads {
  let p = pads.get(key);
  if (!p) {
    if (key.length > BLOCK_BYTES) throw new Error('HMAC keys longer than a block are hashed first; signing keys never are');
    const inner = Buffer.alloc(BLOCK_BYTES, 0x36);
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
  const message = Buffer.from(text, 'utf8');
  const innerDigest = hash('sha256', Buffer.concat([inner, message], BLOCK_BYTES + message.length), 'buffer');
  // The outer pad's buffer is reused: nothing else runs between writing the digest into it and hashing it.
  innerDigest.copy(outer, BLOCK_BYTES);
  return hash('sha256', outer, 'hex');
}
