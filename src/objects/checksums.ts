// The checksums S3 computes over a body (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html):
// CRC32, CRC32C and CRC64NVME from the AWS SDK's own implementations (@aws-sdk/checksums), SHA-1 and SHA-256
// from node:crypto. Values travel as base64 of the big-endian digest, as in `x-amz-checksum-*` headers.
import { createHash, type Hash } from 'node:crypto';
import { Crc32, Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import type { ChecksumAlgorithm } from './object-store.js';

interface Digester {
  update(data: Uint8Array): void;
  digest(): Promise<Uint8Array>;
}

class NodeDigest implements Digester {
  private readonly hash: Hash;
  constructor(algorithm: string) {
    this.hash = createHash(algorithm);
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

export function newDigester(algorithm: ChecksumAlgorithm): Digester {
  switch (algorithm) {
    case 'CRC32':
      return new Crc32();
    case 'CRC32C':
      return new Crc32c();
    case 'CRC64NVME':
      return new Crc64Nvme();
    case 'SHA1':
      return new NodeDigest('sha1');
    case 'SHA256':
      return new NodeDigest('sha256');
  }
}

export async function checksumOf(algorithm: ChecksumAlgorithm, data: readonly Uint8Array[]): Promise<string> {
  const d = newDigester(algorithm);
  for (const chunk of data) d.update(chunk);
  return Buffer.from(await d.digest()).toString('base64');
}

/** `x-amz-checksum-crc32` → CRC32, or undefined for any other header name. */
export function algorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  const m = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/i.exec(name);
  return m ? (m[1]!.toUpperCase() as ChecksumAlgorithm) : undefined;
}

export const headerOfAlgorithm = (algorithm: ChecksumAlgorithm): string => `x-amz-checksum-${algorithm.toLowerCase()}`;

/** The byte length of a digest, to refuse a header value that cannot be one. */
export const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 };
