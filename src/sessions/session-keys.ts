// The S3 key pairs the server issues to sessions. Session code can read its Spark configuration, so a session
// never gets the key pair API clients sign with: at start it gets a key pair of its own, which Owlet's S3 API
// accepts while the session is live and refuses once it has ended (docs/s3.md).
import { randomBytes } from 'node:crypto';
import type { Credentials } from '../protocol/sigv4.js';
import type { StateStore } from '../store/state-store.js';
import type { SessionRecord } from './records.js';
import { LIVE_SESSION_STATES } from './states.js';

/** A session's key pair as stored: its id is the record's id, its session the record's parent. */
interface SessionKeyRecord {
  SessionId: string;
  SecretAccessKey: string;
}

const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Session key ids are told apart from the API's (OWLT...) by their prefix, as AWS's temporary keys are (ASIA...). */
const SESSION_KEY_PREFIX = 'OWLS';

export class SessionKeys {
  constructor(
    private readonly store: StateStore,
    private readonly now: () => number,
  ) {}

  /** A new key pair for `sessionId`, stored before it is returned. */
  async issue(sessionId: string): Promise<Credentials> {
    const id = SESSION_KEY_PREFIX + [...randomBytes(16)].map((b) => ACCESS_KEY_ALPHABET[b % 32]).join('');
    const secret = randomBytes(30).toString('base64').replace(/[+/]/g, 'x');
    await this.store.create<SessionKeyRecord>({
      kind: 'session-key',
      id,
      parent: sessionId,
      createdAt: this.now(),
      body: { SessionId: sessionId, SecretAccessKey: secret },
    });
    return { accessKeyId: id, secretAccessKey: secret };
  }

  /** The secret of a session's key pair while its session is live; undefined for any other id. */
  async secretOf(accessKeyId: string): Promise<string | undefined> {
    if (!accessKeyId.startsWith(SESSION_KEY_PREFIX)) return undefined;
    const key = await this.store.get<SessionKeyRecord>('session-key', accessKeyId);
    if (!key) return undefined;
    const session = await this.store.get<SessionRecord>('session', key.body.SessionId);
    // TERMINATING counts as ended here: the session's code is being stopped and has no more business in the store.
    const state = session?.body.Status.State;
    if (state === undefined || state === 'TERMINATING' || !LIVE_SESSION_STATES.includes(state)) return undefined;
    return key.body.SecretAccessKey;
  }
}
