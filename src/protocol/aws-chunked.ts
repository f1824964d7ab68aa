// The `aws-chunked` content encoding the SDKs stream uploads in
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and sigv4-streaming-trailers.html):
//   <hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n ... 0[;chunk-signature=<sig>]\r\n
//   [<trailer name>:<value>\r\n ...][x-amz-trailer-signature:<sig>\r\n]\r\n
// Signed chunks chain their signatures from the request's: each signs
// "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous signature>\n<sha256 of ''>\n<sha256 of the chunk>", and the
// trailer signs "AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<previous signature>\n<sha256 of the trailer lines>".
import { createHash, timingSafeEqual } from 'node:crypto';
import { hmacSha256Hex } from './node-sha256.js';
import { S3Error, signatureDoesNotMatch } from './s3-errors.js';

export interface ChunkSigning {
  signingKey: Uint8Array;
  amzDate: string;
  scope: string;
  /** The signature of the request's headers, which the first chunk's chains from. */
  seedSignature: string;
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');
/** A chunk header is a hex size and an optional 64-hex signature; anything longer is not one. */
const MAX_HEADER_LINE = 256;
const MAX_TRAILER_BYTES = 16 * 1024;

const incomplete = (): S3Error => new S3Error('IncompleteBody', 'The request body terminated unexpectedly', 400);
const malformed = (what: string): S3Error => new S3Error('InvalidChunkSizeError', `Only the last chunk is allowed to have a size less than 8192 bytes: ${what}`, 400);

export class AwsChunkedDecoder {
  /** Trailer headers (names in lower case), filled when the body has been read to its end. */
  readonly trailers = new Map<string, string>();
  private previous: string;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly signing: ChunkSigning | undefined,
  ) {
    this.previous = signing?.seedSignature ?? '';
  }

  private sign(stringToSign: string): string {
    return hmacSha256Hex(this.signing!.signingKey, stringToSign);
  }

  private checkChunkSignature(given: string | undefined, data: Buffer[]): void {
    if (!this.signing) return;
    if (given === undefined) throw signatureDoesNotMatch();
    const hash = createHash('sha256');
    for (const d of data) hash.update(d);
    const expected = this.sign(`AWS4-HMAC-SHA256-PAYLOAD\n${this.signing.amzDate}\n${this.signing.scope}\n${this.previous}\n${EMPTY_SHA256}\n${hash.digest('hex')}`);
    if (given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) throw signatureDoesNotMatch();
    this.previous = expected;
  }

  /** The decoded bytes. Throws S3Error on a malformed body, a wrong chunk signature or a body cut short. */
  async *body(): AsyncGenerator<Uint8Array> {
    const iterator = this.source[Symbol.asyncIterator]();
    let pending: Buffer = Buffer.alloc(0);
    let ended = false;
    const more = async (): Promise<boolean> => {
      if (ended) return false;
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        return false;
      }
      pending = pending.length === 0 ? Buffer.from(next.value) : Buffer.concat([pending, next.value]);
      return true;
    };
    const line = async (limit: number): Promise<string> => {
      for (;;) {
        const at = pending.indexOf('\r\n');
        if (at >= 0) {
          const text = pending.subarray(0, at).toString('latin1');
          pending = pending.subarray(at + 2);
          return text;
        }
        if (pending.length > limit) throw malformed('a chunk header is too long');
        if (!(await more())) throw incomplete();
      }
    };
    for (;;) {
      const header = await line(MAX_HEADER_LINE);
      const [sizeText, ...extensions] = header.split(';');
      if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText ?? '')) throw malformed(`'${header.slice(0, 40)}' is not a chunk size`);
      let signature: string | undefined;
      for (const ext of extensions) {
        const eq = ext.indexOf('=');
        if (ext.slice(0, eq).trim() === 'chunk-signature') signature = ext.slice(eq + 1).trim();
      }
      let size = Number.parseInt(sizeText!, 16);
      const data: Buffer[] = [];
      while (size > 0) {
        if (pending.length === 0 && !(await more())) throw incomplete();
        const take = Math.min(size, pending.length);
        const piece = pending.subarray(0, take);
        pending = pending.subarray(take);
        size -= take;
        // Unsigned chunks pass straight on; signed ones are held until their signature is checked.
        if (this.signing) data.push(piece);
        else yield piece;
      }
      this.checkChunkSignature(signature, data);
      if (Number.parseInt(sizeText!, 16) === 0) break;
      for (const d of data) yield d;
      if ((await line(2)) !== '') throw malformed('a chunk does not end where its size says');
    }
    // Trailer lines up to an empty line (or the end of the body).
    const lines: string[] = [];
    let total = 0;
    for (;;) {
      let text: string;
      try {
        text = await line(MAX_TRAILER_BYTES);
      } catch (error) {
        if (pending.length === 0 && ended) break;
        throw error;
      }
      if (text === '') break;
      total += text.length;
      if (total > MAX_TRAILER_BYTES) throw malformed('the trailer is too long');
      lines.push(text);
    }
    let trailerSignature: string | undefined;
    const signedLines: string[] = [];
    for (const text of lines) {
      const colon = text.indexOf(':');
      if (colon < 0) throw new S3Error('MalformedTrailerError', 'The request contained trailing data that was not well-formed or did not conform to our published schema.', 400);
      const name = text.slice(0, colon).trim().toLowerCase();
      const value = text.slice(colon + 1).trim();
      if (name === 'x-amz-trailer-signature') trailerSignature = value;
      else {
        this.trailers.set(name, value);
        signedLines.push(`${name}:${value}\n`);
      }
    }
    if (this.signing && lines.length > 0) {
      if (trailerSignature === undefined) throw signatureDoesNotMatch();
      const hash = createHash('sha256').update(signedLines.join('')).digest('hex');
      const expected = this.sign(`AWS4-HMAC-SHA256-TRAILER\n${this.signing.amzDate}\n${this.signing.scope}\n${this.previous}\n${hash}`);
      if (trailerSignature !== expected) throw signatureDoesNotMatch();
    }
  }
}
