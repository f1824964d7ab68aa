// Raw, SigV4-signed AWS JSON 1.1 requests, for tests that need exact bodies and headers on the wire.
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Credentials } from '../src/protocol/sigv4.js';
import { TEST_CREDENTIALS } from './harness.js';

export interface WireResponse {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

export interface WireOptions {
  credentials?: Credentials;
  signingDate?: Date;
  service?: string;
  headers?: Record<string, string>;
  /** Sent unsigned: no Authorization header. */
  unsigned?: boolean;
  /** Signs without an x-amz-content-sha256 header, as botocore does for Athena. */
  noContentHash?: boolean;
  /** Changes the body after signing. */
  tamper?: (body: Uint8Array) => Uint8Array;
}

/** Sends `AmazonAthena.<operation>` with `body` (a string or bytes, sent as given) to `endpoint`. */
export async function callWire(endpoint: string, operation: string, body: string | Uint8Array, options: WireOptions = {}): Promise<WireResponse> {
  const url = new URL(endpoint);
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  let headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': `AmazonAthena.${operation}`,
    ...options.headers,
  };
  if (!options.unsigned) {
    const signer = new SignatureV4({
      credentials: options.credentials ?? TEST_CREDENTIALS,
      region: 'us-east-1',
      service: options.service ?? 'athena',
      sha256: Hash.bind(null, 'sha256'),
      applyChecksum: !options.noContentHash,
    });
    const signed = await signer.sign(
      { method: 'POST', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: '/', headers, body: bytes },
      options.signingDate ? { signingDate: options.signingDate } : {},
    );
    headers = signed.headers;
  }
  const sent = options.tamper ? options.tamper(bytes) : bytes;
  const response = await fetch(new URL('/', endpoint), { method: 'POST', headers, body: sent });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Left empty: the test looks at `text`.
  }
  return { status: response.status, headers: response.headers, text, json };
}
