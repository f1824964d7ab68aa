// Known-good and known-bad values for the string shapes of the model that carry a `pattern`, keyed by shape
// name. A generic generator cannot satisfy patterns such as an ARN or a UUID, so each patterned shape that an
// operation input can reach has an entry here (a test fails when one is missing), and a test checks every
// entry against the model before any request uses it.

/** One code point outside the Basic Multilingual Plane: two UTF-16 units, four UTF-8 bytes. */
export const ASTRAL = '\u{1F989}'; // 🦉

/**
 * `n` code points of filler. Up to a few thousand they are astral, so that a server counting UTF-16 units
 * instead of code points gets the length wrong (n astral characters are 2n units); longer fillers are ASCII
 * to keep request bodies small.
 */
export function filler(n: number): string {
  return n <= 5000 ? ASTRAL.repeat(n) : 'x'.repeat(n);
}

export interface PatternSample {
  /** A value satisfying the shape's pattern and length limits. */
  valid: string;
  /** Values that break the pattern only: their lengths are within the shape's limits. */
  invalid: readonly string[];
  /** A value of exactly `n` code points satisfying the pattern, when the pattern admits that length. */
  ofLength?: (n: number) => string | undefined;
}

const UUID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const atLeast = (min: number, make: (n: number) => string) => (n: number) => (n >= min ? make(n) : undefined);
const prefixed = (prefix: string, pad: string) => atLeast(prefix.length + 1, (n) => prefix + pad.repeat(n - prefix.length));

/** For `[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*`: any text without control characters. */
const printable: PatternSample = {
  valid: 'AwsDataCatalog',
  // A control character, a newline, a non-character and a lone surrogate: each outside the character class.
  invalid: ['bell\u0007', 'two\nlines', 'x\uFFFE', 'lone\uD800'],
  ofLength: filler,
};

export const PATTERN_SAMPLES: Readonly<Record<string, PatternSample>> = {
  AwsAccountId: { valid: '123456789012', invalid: ['12345678901a', '1234-5678-90'], ofLength: atLeast(1, (n) => '7'.repeat(n)) },
  // `bad name!` contains a matching run: only a match of the whole value passes.
  CapacityReservationName: { valid: 'owlet-reservation', invalid: ['bad name!', 'semi;colon'], ofLength: atLeast(1, (n) => 'r'.repeat(n)) },
  CatalogNameString: printable,
  ClientRequestToken: { valid: UUID, invalid: [UUID.toUpperCase(), 'not-a-uuid'], ofLength: (n) => (n === 36 ? UUID : undefined) },
  IdentityCenterInstanceArn: {
    valid: 'arn:aws:sso:::instance/ssoins-0123456789abcdef',
    invalid: ['arn:aws:sso:::instance/ssoins-0123', 'arn:aws:iam:::instance/ssoins-0123456789abcdef'],
  },
  KeyString: { ...printable, valid: 'spark.executor.memory' },
  KmsKey: {
    valid: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    invalid: ['not a key', 'alias/has space', 'arn:aws:kms:us-east-1:12345:key/abc'],
    ofLength: prefixed('alias/', 'k'),
  },
  KmsKeyArn: {
    valid: 'arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab',
    invalid: ['arn:aws:kms:us-east-1:123456789012:oops/abc', 'alias/not-an-arn-at-all'],
    ofLength: prefixed('arn:aws:kms:us-east-1:123456789012:alias/', 'k'),
  },
  LogGroupName: { valid: '/aws/athena/owlet', invalid: ['has space', 'colon:'], ofLength: atLeast(1, (n) => 'g'.repeat(n)) },
  LogStreamNamePrefix: { valid: 'owlet-', invalid: ['a:b', 'star*'], ofLength: filler },
  NamedQueryId: { valid: UUID, invalid: ['has space', ' leading', 'tab\there'], ofLength: atLeast(1, (n) => 'q'.repeat(n)) },
  NotebookId: { valid: UUID, invalid: [UUID.replace('0f', 'zz'), `${UUID.slice(0, 35)}`], ofLength: (n) => (n === 36 ? UUID : undefined) },
  NotebookName: { valid: 'My notebook', invalid: ['dir/name', 'a:b', 'back\\slash', 'bell\u0007'], ofLength: atLeast(1, filler) },
  QueryExecutionId: { valid: UUID, invalid: ['has space', 'trailing\n'], ofLength: atLeast(1, (n) => 'e'.repeat(n)) },
  RoleArn: {
    valid: 'arn:aws:iam::123456789012:role/OwletSparkRole',
    invalid: ['arn:aws:iam::123456789012:user/Bob', 'arn:aws:iam::1234:role/TooShortAccount'],
    ofLength: prefixed('arn:aws:iam::123456789012:role/', 'r'),
  },
  S3OutputLocation: {
    valid: 's3://owlet-results/logs/',
    invalid: ['https://owlet-results/logs/', 's3://Owlet-Results/', 's3://-bucket'],
    ofLength: prefixed('s3://owlet-results/', 'k'),
  },
  S3Uri: { valid: 's3://owlet-notebooks/notebook.ipynb', invalid: ['ftp://host/notebook.ipynb', 's3:/missing-slash'], ofLength: prefixed('s3://b/', 'k') },
  StatementName: { valid: 'my_statement', invalid: ['1statement', 'has-dash', 'x'], ofLength: atLeast(2, (n) => 's'.repeat(n)) },
  // The length limit of a workgroup name is in its pattern: too short or too long fails the pattern only.
  WorkGroupName: { valid: 'owlet-validation', invalid: ['bad name!', '', 'w'.repeat(129)], ofLength: (n) => (n >= 1 && n <= 128 ? 'w'.repeat(n) : undefined) },
};
