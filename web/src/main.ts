// The Owlet console's entry point: /console/ is the notebook explorer (after logging in with a key pair),
// /console/notebooks/<notebook id>?session=<session id> a notebook on its session (where
// CreatePresignedNotebookUrl's link points).
import { athenaClient } from './athena/athena-api.js';
import { storedKeyPair, storeKeyPair } from './auth/console-credentials.js';
import { loginPage } from './auth/login-page.js';
import { NotebookExplorer } from './explorer/notebook-explorer.js';
import { NotebookPage } from './notebook/notebook-page.js';
import { el } from './view.js';

function header(): HTMLElement {
  const keys = storedKeyPair();
  return el('header', { class: 'top-bar' },
    el('a', { href: '/console/', class: 'brand' }, 'Owlet'),
    el('span', { class: 'spacer' }),
    keys ? el('span', { class: 'who' }, keys.accessKeyId) : undefined,
    keys ? el('button', { type: 'button', class: 'small', onclick: () => void logOut() }, 'Log out') : undefined);
}

async function logOut(): Promise<void> {
  storeKeyPair(undefined);
  // Ends the Jupyter login (its cookie) too.
  await fetch('/logout', { credentials: 'same-origin', redirect: 'manual' }).catch(() => undefined);
  location.assign('/console/');
}

async function route(): Promise<void> {
  const root = document.getElementById('app')!;
  const path = location.pathname;
  const notebook = /^\/console\/notebooks\/([^/]+)/.exec(path);
  if (notebook) {
    root.replaceChildren(header());
    const page = new NotebookPage(decodeURIComponent(notebook[1]!), new URLSearchParams(location.search));
    root.append(page.element);
    await page.start();
    return;
  }
  const keys = storedKeyPair();
  if (!keys) {
    root.replaceChildren(loginPage(() => void route()));
    return;
  }
  const workGroup = new URLSearchParams(location.search).get('workgroup') ?? 'spark';
  const explorer = new NotebookExplorer(athenaClient(keys), workGroup);
  root.replaceChildren(header(), explorer.element);
  await explorer.start();
}

route().catch((error: unknown) => {
  const root = document.getElementById('app')!;
  root.append(el('div', { class: 'fatal', role: 'alert' }, error instanceof Error ? error.message : String(error)));
});
