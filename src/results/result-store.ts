// Where calculation results go. Athena writes a calculation's stdout, stderr and result document under the
// workgroup's OutputLocation (an `s3://` URI). Owlet's default store keeps `s3://bucket/key` as the file
// `<data dir>/s3/bucket/key` and serves it over the S3 API on the server's own port; a configured
// S3-compatible store receives the files instead.

export interface S3Location {
  bucket: string;
  /** The key, or a key prefix ending in `/` for a folder. */
  key: string;
}

const S3_URI = /^s3:\/\/([^/]+)\/?(.*)$/i;

export function parseS3Uri(uri: string): S3Location {
  const match = S3_URI.exec(uri);
  if (!match) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: match[1]!, key: match[2]! };
}

export const s3Uri = (location: S3Location): string => `s3://${location.bucket}/${location.key}`;

/** Joins key parts with single slashes: `a/` + `b` → `a/b`. */
export function joinKey(...parts: string[]): string {
  return parts
    .filter((p) => p !== '')
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .join('/');
}

/**
 * A location the store cannot write (a folder that is a file, a full disk, an S3 endpoint that refuses or does
 * not answer). The message names the `s3://` location and the cause, never a path on the server's disk: it
 * becomes the StateChangeReason a client reads.
 */
export class ResultStoreError extends Error {
  constructor(
    readonly location: string,
    cause: unknown,
  ) {
    super(`cannot write ${location}: ${causeText(cause)}`, { cause });
  }
}

/**
 * A system error without the path it names (`ENOTDIR: not a directory`), a store's answer with its error code
 * and HTTP status (`NoSuchBucket (HTTP 404): The specified bucket does not exist`), or any other error's message.
 */
function causeText(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const status = (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== undefined) {
    // The SDK's message for an answer without an error document is `UnknownError`, which says nothing.
    const message = cause.message && cause.message !== 'UnknownError' ? `: ${cause.message}` : '';
    return `${cause.name} (HTTP ${status})${message}`;
  }
  const code = (cause as NodeJS.ErrnoException).code;
  // Node's file system errors read `ENOTDIR: not a directory, mkdir '<path>'`.
  const system = typeof code === 'string' ? new RegExp(`^${code}: [^,]*`).exec(cause.message) : null;
  return system ? system[0] : cause.message || cause.name;
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  etag: string;
}

export interface ResultStore {
  /**
   * A local directory where a calculation writes its files before they are published to `folder`. For the
   * local store it is the folder itself, so publishing costs nothing.
   */
  stagingDirectory(folder: S3Location, calculationId: string): Promise<string>;
  /** Makes the named files of `dir` readable at `folder` + name. */
  publish(dir: string, folder: S3Location, names: readonly string[]): Promise<void>;
  /** Reads an object, or undefined when there is none (ImportNotebook from S3 uses it). */
  read(location: S3Location): Promise<Uint8Array | undefined>;
}
