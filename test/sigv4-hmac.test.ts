// The verifier's own HMAC-SHA256 and SHA-256 (node-sha256.ts) against node:crypto's createHmac and
// createHash, over keys and messages of the sizes SigV4 uses and beyond.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { hmacSha256Hex, sha256Hex } from '../src/protocol/node-sha256.js';

test('hmacSha256Hex is createHmac(sha256) for signing keys and texts of any length', () => {
  for (const keyLength of [1, 20, 32, 63, 64]) {
    const key = new Uint8Array(randomBytes(keyLength));
    for (const text of ['', 'a', 'é'.repeat(170), '✓'.repeat(170), '✓'.repeat(171), 'x'.repeat(600), 'AWS4-HMAC-SHA256\n20261206T201450Z\n20261206/us-east-1/athena/aws4_request\n' + 'f'.repeat(64), 'é✓'.repeat(500)]) {
      assert.equal(hmacSha256Hex(key, text), createHmac('sha256', key).update(text).digest('hex'));
      // The second call reuses the key's prepared pads.
      assert.equal(hmacSha256Hex(key, text), createHmac('sha256', key).update(text).digest('hex'));
    }
  }
});

test('hmacSha256Hex refuses keys longer than a block, which SigV4 never has', () => {
  assert.throws(() => hmacSha256Hex(new Uint8Array(65), 'x'));
});

test('sha256Hex is createHash(sha256) of strings and bytes', () => {
  for (const data of ['', '{"WorkGroup":"spark"}', new Uint8Array(randomBytes(1000))]) {
    assert.equal(sha256Hex(data), createHash('sha256').update(data).digest('hex'));
  }
});
