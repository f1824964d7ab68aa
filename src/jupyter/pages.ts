// The few HTML pages the Jupyter server answers itself: the console login, the page a bad console link gets,
// the placeholder at /console/ until the console (web/) is served there, and /tree, which VS Code probes.

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Owlet</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#1d2430}
h1{font-size:1.4em}label{display:block;margin:.8em 0 .2em}input{width:100%;padding:.4em;font:inherit;box-sizing:border-box}
button{margin-top:1em;padding:.4em 1.2em;font:inherit}.problem{color:#a4161a}</style></head>
<body>${body}</body></html>
`;
}

export function loginPage(next: string, problem: string | undefined): string {
  return page(
    'Log in',
    `<h1>Log in to Owlet</h1>
<p>Use an access key pair of this Owlet server (the one the server printed at its first start, or the one it is configured with).</p>
${problem ? `<p class="problem" role="alert">${escape(problem)}</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="next" value="${escape(next)}">
<label for="access_key_id">Access key ID</label><input id="access_key_id" name="access_key_id" autocomplete="username" required>
<label for="secret_access_key">Secret access key</label><input id="secret_access_key" name="secret_access_key" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form>`,
  );
}

export function linkProblemPage(reason: 'missing' | 'expired' | 'invalid'): string {
  const what =
    reason === 'expired'
      ? 'This notebook link has expired. Links from CreatePresignedNotebookUrl are valid for 15 minutes: ask for a new one, or log in.'
      : 'This notebook link is not valid: its token was not issued by this Owlet server. Ask for a new link, or log in.';
  return page('Link not valid', `<h1>${reason === 'expired' ? 'Link expired' : 'Link not valid'}</h1><p class="problem" role="alert">${escape(what)}</p><p><a href="/login">Log in with an access key pair</a></p>`);
}

export function consolePlaceholderPage(): string {
  return page(
    'Console',
    `<h1>Owlet console</h1><p>The notebook console is not part of this build. Owlet speaks the Jupyter Server protocol on this port: connect JupyterLab (<code>jupyter lab --gateway-url=&lt;this server&gt;</code>) or VS Code (an existing Jupyter server at this address with a token); see docs/jupyter.md.</p>`,
  );
}

export function treePage(): string {
  return page('Owlet', '<h1>Owlet</h1><p>This is an Owlet server: a Jupyter server whose kernels are Athena for Apache Spark sessions. <a href="/console/">Open the console</a>.</p>');
}
