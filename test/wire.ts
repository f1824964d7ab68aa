// Raw, SigV4-signed AWS JSON 1.1 requests, for tests that need exact bodies and headers on the wire.
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Credentials } from '../src/protocol/sigv4.js';
import { TEST_CREDENTIALS } from './harness.js';

export interface SigningOptions {
  credentials?: Credentials;
  signingDate?: Date;
  service?: string;
  /** Signs without an x-amz-content-sha256 header, as botocore does for Athena. */
  noContentHash?: boolean;
}

/** The headers of a signed `AmazonAthena.<operation>` request carrying `body` to `url`. */
export async function signedHeaders(
  url: URL,
  operation: string,
  body: Uint8Array,
  options: SigningOptions & { headers?: Record<string, string> } = {},
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: options.credentials ?? TEST_CREDENTIALS,
    region: 'us-east-1',
    service: options.service ?? 'athena',
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: !options.noContentHash,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query: {},
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AmazonAthena.${operation}`,
        ...options.headers,
      },
      body,
    },
    options.signingDate ? { signingDate: options.signingDate } : {},
  );
  return signed.headers;
}

export interface WireResponse {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

export interface WireOptions extends SigningOptions {
  headers?: Record<string, string>;
  /** Sent unsigned: no Authorization header. */
  unsigned?: boolean;
  /** Changes the body after signing. */
  tamper?: (body: Uint8Array) => Uint8Array;
}

/** Sends `AmazonAthena.<operation>` with `body` (a string or bytes, sent as given) to `endpoint`. */
export async function callWire(endpoint: string, operation: string, body: string | Uint8Array, options: WireOptions = {}): Promise<WireResponse> {
  const url = new URL(endpoint);
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const headers = options.unsigned
    ? { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonAthena.${operation}`, ...options.headers }
    : await signedHeaders(url, operation, bytes, options);
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

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body exactly as received. */
  text: string;
}

/** Signed calls over one kept-alive connection pool, for suites that send thousands of requests. */
export class SignedHttpClient {
  private readonly url: URL;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });

  constructor(
    endpoint: string,
    private readonly credentials: Credentials = TEST_CREDENTIALS,
  ) {
    this.url = new URL(endpoint);
  }

  /** Posts `body` (sent byte for byte) as `AmazonAthena.<operation>`. */
  async call(operation: string, body: string | Uint8Array): Promise<RawResponse> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const headers = await signedHeaders(this.url, operation, bytes, { credentials: this.credentials });
    return new Promise<RawResponse>((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method: 'POST',
          path: '/',
          headers: { ...headers, 'content-length': String(bytes.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(bytes);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
