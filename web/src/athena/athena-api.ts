// The Athena API from the browser: the official AWS SDK client, pointed at the Owlet server the page came
// from and signing with the key pair the user logged in with. The console uses it for what the Jupyter API
// has no words for: workgroups, session settings, importing from s3://, session history, calculations and
// the Spark UI.
import { AthenaClient } from '@aws-sdk/client-athena';
import type { KeyPair } from '../auth/console-credentials.js';

export function athenaClient(keys: KeyPair, endpoint = location.origin): AthenaClient {
  return new AthenaClient({
    endpoint,
    region: keys.region,
    credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
    // The console shows a refusal at once rather than retrying it.
    maxAttempts: 1,
  });
}

/** The message of an SDK error (the service's own `Message`), for showing to the user. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** The notebook version Athena's console supplies for notebook sessions (API_StartSession, NotebookVersion). */
export const NOTEBOOK_VERSION = 'Athena notebook version 1';
