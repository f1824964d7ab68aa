// Logging in to the console with an access key pair, the one the user signs Athena API calls with: the
// browser keeps it in this tab's sessionStorage and signs each Athena request itself (SigV4, by the AWS SDK).
// The pair is checked with one ListWorkGroups call before it is kept.
import { ListWorkGroupsCommand } from '@aws-sdk/client-athena';
import { athenaClient, errorMessage } from '../athena/athena-api.js';
import { el, field } from '../view.js';
import { storeKeyPair } from './console-credentials.js';

/**
 * Logs in to the Jupyter API with the same pair (the server's /login form, docs/jupyter.md), which sets the
 * same-origin cookie the console's Jupyter requests and kernel websockets carry.
 */
async function jupyterLogin(accessKeyId: string, secretAccessKey: string): Promise<void> {
  const body = new URLSearchParams({ access_key_id: accessKeyId, secret_access_key: secretAccessKey, next: '/console/' });
  await fetch('/login', { method: 'POST', body, credentials: 'same-origin', redirect: 'manual' });
}

export function loginPage(onLoggedIn: () => void): HTMLElement {
  const problem = el('p', { class: 'refusal', role: 'alert' });
  const form = el('form', { class: 'login' },
    el('h1', {}, 'Owlet console'),
    el('p', {}, 'Log in with the access key pair you sign Athena API calls with (the server prints it when it starts).'),
    field('Access key ID', el('input', { name: 'accessKeyId', required: true, autocomplete: 'username', spellcheck: false })),
    field('Secret access key', el('input', { name: 'secretAccessKey', type: 'password', required: true, autocomplete: 'current-password' })),
    field('Region', el('input', { name: 'region', value: 'us-east-1', required: true })),
    problem,
    el('button', { type: 'submit', class: 'primary' }, 'Log in'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const keys = {
      accessKeyId: String(data.get('accessKeyId')).trim(),
      secretAccessKey: String(data.get('secretAccessKey')).trim(),
      region: String(data.get('region')).trim(),
    };
    problem.textContent = '';
    athenaClient(keys).send(new ListWorkGroupsCommand({ MaxResults: 1 })).then(async () => {
      storeKeyPair(keys);
      await jupyterLogin(keys.accessKeyId, keys.secretAccessKey);
      onLoggedIn();
    }, (error: unknown) => {
      problem.textContent = `The server refused this key pair: ${errorMessage(error)}`;
    });
  });
  return el('main', { class: 'login-page' }, form);
}
