// S3's error documents: a code, a message, the HTTP status S3 answers it with, and extra members
// (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). Store errors (src/objects/) carry the
// code; the status for each code is here, at the boundary.
import type { ObjectStoreErrorCode } from '../objects/object-store.js';

export class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly extra: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The status of each store error code, per S3's list of error codes (ErrorResponses.html). */
export const STORE_ERROR_STATUS: Record<ObjectStoreErrorCode, number> = {
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  BucketNotEmpty: 409,
  BucketAlreadyOwnedByYou: 409,
  InvalidBucketName: 400,
  KeyTooLongError: 400,
  InvalidArgument: 400,
  InvalidRequest: 400,
  EntityTooSmall: 400,
  EntityTooLarge: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  MalformedXML: 400,
  BadDigest: 400,
  InvalidDigest: 400,
  XAmzContentSHA256Mismatch: 400,
  IncompleteBody: 400,
  PreconditionFailed: 412,
  InvalidRange: 416,
};

export const signatureDoesNotMatch = (): S3Error =>
  new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', 403);

export const accessDenied = (message = 'Access Denied'): S3Error => new S3Error('AccessDenied', message, 403);

export const invalidArgument = (message: string, name?: string, value?: string): S3Error =>
  new S3Error('InvalidArgument', message, 400, name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' });
