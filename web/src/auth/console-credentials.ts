// The access key pair the user logged in with, kept in the tab's sessionStorage (gone when the tab closes),
// for the Athena API: the browser signs with SigV4 as any AWS SDK does. The Jupyter API is authenticated by
// the server's same-origin HttpOnly cookie, which the console never reads.

export interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

const KEYS = 'owlet.console.keys';

export function storedKeyPair(): KeyPair | undefined {
  const raw = sessionStorage.getItem(KEYS);
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<KeyPair>;
    if (value.accessKeyId && value.secretAccessKey) {
      return { accessKeyId: value.accessKeyId, secretAccessKey: value.secretAccessKey, region: value.region || 'us-east-1' };
    }
  } catch {
    // A damaged entry is the same as none: the user logs in again.
  }
  return undefined;
}

export function storeKeyPair(keys: KeyPair | undefined): void {
  if (keys) sessionStorage.setItem(KEYS, JSON.stringify(keys));
  else sessionStorage.removeItem(KEYS);
}
