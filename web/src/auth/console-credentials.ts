// What the console holds to speak for its user, kept in the tab's sessionStorage (gone when the tab closes):
// the access key pair the user logged in with, for the Athena API (the browser signs with SigV4 as any AWS
// SDK does), and the Jupyter token of the notebook it has open (from a CreatePresignedNotebookUrl link), for
// the Jupyter API when the server's cookie is not enough.

export interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

const KEYS = 'owlet.console.keys';
const TOKEN = 'owlet.console.jupyterToken';

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

export function storedJupyterToken(): string | undefined {
  return sessionStorage.getItem(TOKEN) ?? undefined;
}

export function storeJupyterToken(token: string | undefined): void {
  if (token) sessionStorage.setItem(TOKEN, token);
  else sessionStorage.removeItem(TOKEN);
}
