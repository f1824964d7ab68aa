// The Jupyter Server protocol on the fake engine, through @jupyterlab/services: kernels are sessions, cells
// are calculations, contents are notebooks; fast and without Spark. test/jupyter-spark.test.ts runs real
// clients against real PySpark.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateNotebookCommand,
  CreatePresignedNotebookUrlCommand,
  ExportNotebookCommand,
  GetSessionStatusCommand,
  InvalidRequestException,
  ListCalculationExecutionsCommand,
  StartSessionCommand,
  type AthenaClient,
} from '@aws-sdk/client-athena';
import { randomUUID } from 'node:crypto';
import { KernelMessage } from '@jupyterlab/services';
import { deserialize, serialize } from '@jupyterlab/services/lib/kernel/serialize.js';
import { WebSocket } from 'ws';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { TOKEN_COOKIE } from '../src/jupyter/tokens.js';
import { eventually, rejectsWith } from './assertions.js';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from './harness.js';
import { type JupyterClients, jupyterClients, runCell, types } from './jupyter-support.js';

describe('the Jupyter server on the fake engine', () => {
  let owlet: TestOwlet;
  let athena: AthenaClient;
  let jupyter: JupyterClients;
  const engine = new FakeEngine();
  const token = TEST_CREDENTIALS.secretAccessKey;

  before(async () => {
    owlet = await startTestOwlet({ engine, config: { cancelDeadlineMs: 2_000 } });
    athena = owlet.client();
    jupyter = jupyterClients(owlet.endpoint, token);
  });
  after(async () => {
    jupyter.dispose();
    await owlet.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${owlet.endpoint}${path}`, { headers, redirect: 'manual' });

  it('answers /api without a token and everything else only with one', async () => {
    const version = await get('/api');
    assert.equal(version.status, 200);
    assert.ok(((await version.json()) as { version: string }).version);
    assert.equal((await get('/api/kernels')).status, 403);
    assert.equal((await get('/api/kernels', { Authorization: 'token wrong' })).status, 403);
    assert.equal((await get('/api/kernels', { Authorization: `token ${token}` })).status, 200);
    assert.equal((await get(`/api/kernels?token=${encodeURIComponent(token)}`)).status, 200);
    // VS Code's probes of an existing server: /tree answers 200 (no password needed), /hub/api is not JupyterHub.
    assert.equal((await get('/tree')).status, 200);
    assert.equal((await get('/hub/api')).status, 404);
  });

  it('offers a kernelspec per Spark workgroup', async () => {
    await jupyter.specs.refreshSpecs();
    const specs = jupyter.specs.specs!;
    assert.equal(specs.default, 'spark');
    assert.deepEqual(Object.keys(specs.kernelspecs), ['spark']);
    assert.equal(specs.kernelspecs.spark!.language, 'python');
  });

  it('starts a kernel as an Athena session, runs cells as calculations, streams, fails and queues', async () => {
    const kernel = await jupyter.kernels.startNew({ name: 'spark' });
    try {
      const info = await kernel.info;
      assert.equal(info.implementation, 'owlet');
      const first = await runCell(kernel, 'hello');
      assert.equal(first.reply.status, 'ok');
      assert.equal(first.reply.execution_count, 1);
      assert.equal(first.stdout, 'ran: hello\n');
      assert.deepEqual(types(first).filter((t) => t === 'status' || t === 'execute_input'), ['status', 'execute_input', 'status']);
      const failed = await runCell(kernel, 'raise boom');
      assert.equal(failed.reply.status, 'error');
      const error = failed.messages.find((m) => m.header.msg_type === 'error')!.content as { ename: string; evalue: string; traceback: string[] };
      assert.equal(error.ename, 'RuntimeError');
      assert.equal(error.evalue, 'boom');
      // Cells sent while one runs wait for it (Athena refuses a calculation on a BUSY session).
      const waiting = runCell(kernel, 'wait');
      const queued = runCell(kernel, 'after the wait', { stop_on_error: false });
      const runner = engine.runnerOf((await sessionOfKernel(kernel.id))!);
      await eventually(() => runner.running, (id) => id !== undefined, 'the waiting calculation');
      runner.complete(runner.running!);
      assert.equal((await waiting).reply.status, 'ok');
      assert.equal((await queued).stdout, 'ran: after the wait\n');
      const listed = await athena.send(new ListCalculationExecutionsCommand({ SessionId: (await sessionOfKernel(kernel.id))! }));
      assert.equal(listed.Calculations?.length, 4);
    } finally {
      await kernel.shutdown();
    }
  });

  async function sessionOfKernel(kernelId: string): Promise<string | undefined> {
    const { ListSessionsCommand } = await import('@aws-sdk/client-athena');
    const sessions = await athena.send(new ListSessionsCommand({ WorkGroup: 'spark' }));
    return sessions.Sessions?.find((s) => s.Description?.includes(kernelId))?.SessionId;
  }

  it('interrupts a running cell with StopCalculationExecution, and aborts the cells queued behind it', async () => {
    const kernel = await jupyter.kernels.startNew({ name: 'spark' });
    try {
      await kernel.info;
      const waiting = runCell(kernel, 'wait', { stop_on_error: true });
      const behind = runCell(kernel, 'never');
      const sessionId = (await sessionOfKernel(kernel.id))!;
      await eventually(() => engine.runnerOf(sessionId).running, (id) => id !== undefined, 'the running calculation');
      await kernel.interrupt();
      const interrupted = await waiting;
      assert.equal(interrupted.reply.status, 'error');
      assert.equal((interrupted.reply as { ename?: string }).ename, 'KeyboardInterrupt');
      assert.equal((await behind).reply.status, 'aborted');
      assert.ok(!engine.runnerOf(sessionId).executed.includes('never'));
    } finally {
      await kernel.shutdown();
    }
  });

  it('restarts a kernel onto a new session, keeping its id, and shuts it down with TerminateSession', async () => {
    const kernel = await jupyter.kernels.startNew({ name: 'spark' });
    await kernel.info;
    const before = (await sessionOfKernel(kernel.id))!;
    await kernel.restart();
    const later = await eventually(() => sessionOfKernel(kernel.id), (id) => id !== undefined && id !== before, 'a new session');
    assert.equal((await athena.send(new GetSessionStatusCommand({ SessionId: before }))).Status?.State, 'TERMINATED');
    assert.equal((await runCell(kernel, 'after restart')).reply.execution_count, 1);
    await kernel.shutdown();
    assert.equal((await athena.send(new GetSessionStatusCommand({ SessionId: later! }))).Status?.State, 'TERMINATED');
  });

  it('lists sessions started through the Athena API as kernels', async () => {
    const started = await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: { MaxConcurrentDpus: 2 } }));
    const res = await get('/api/kernels', { Authorization: `token ${token}` });
    const kernels = (await res.json()) as { id: string; name: string }[];
    assert.ok(kernels.some((k) => k.id === started.SessionId && k.name === 'spark'));
    const { TerminateSessionCommand } = await import('@aws-sdk/client-athena');
    await athena.send(new TerminateSessionCommand({ SessionId: started.SessionId }));
  });

  it('serves Athena notebooks as contents: list, save, rename, delete', async () => {
    const created = await athena.send(new CreateNotebookCommand({ WorkGroup: 'spark', Name: 'analysis' }));
    const root = await jupyter.contents.get('');
    assert.deepEqual((root.content as { name: string }[]).map((d) => d.name), ['spark']);
    const dir = await jupyter.contents.get('spark');
    assert.ok((dir.content as { path: string }[]).some((n) => n.path === 'spark/analysis.ipynb'));
    const model = await jupyter.contents.get('spark/analysis.ipynb');
    assert.equal(model.type, 'notebook');
    const nb = model.content as { cells: unknown[] };
    nb.cells.push({ cell_type: 'code', source: 'print(1)', metadata: {}, outputs: [], execution_count: null });
    await jupyter.contents.save('spark/analysis.ipynb', { type: 'notebook', format: 'json', content: nb });
    const exported = await athena.send(new ExportNotebookCommand({ NotebookId: created.NotebookId }));
    assert.match(exported.Payload!, /print\(1\)/);
    await jupyter.contents.rename('spark/analysis.ipynb', 'spark/renamed.ipynb');
    assert.equal((await athena.send(new ExportNotebookCommand({ NotebookId: created.NotebookId }))).NotebookMetadata?.Name, 'renamed');
    const untitled = await jupyter.contents.newUntitled({ path: 'spark', type: 'notebook' });
    assert.equal(untitled.path, 'spark/Untitled.ipynb');
    await jupyter.contents.delete('spark/Untitled.ipynb');
    await jupyter.contents.delete('spark/renamed.ipynb');
    await rejectsWith(athena.send(new ExportNotebookCommand({ NotebookId: created.NotebookId })), InvalidRequestException, /is not found/);
  });

  it('binds a Jupyter session on a notebook path to that notebook\'s Athena session', async () => {
    const created = await athena.send(new CreateNotebookCommand({ WorkGroup: 'spark', Name: 'bound' }));
    const session = await jupyter.sessions.startNew({ path: 'spark/bound.ipynb', name: 'bound.ipynb', type: 'notebook', kernel: { name: 'spark' } });
    try {
      const { ListNotebookSessionsCommand } = await import('@aws-sdk/client-athena');
      const listed = await athena.send(new ListNotebookSessionsCommand({ NotebookId: created.NotebookId }));
      assert.equal(listed.NotebookSessionsList?.length, 1);
      assert.equal((await runCell(session.kernel!, 'in the notebook')).stdout, 'ran: in the notebook\n');
      // Saving while the session is active passes its SessionId to UpdateNotebook.
      const model = await jupyter.contents.get('spark/bound.ipynb');
      await jupyter.contents.save('spark/bound.ipynb', { type: 'notebook', format: 'json', content: model.content });
    } finally {
      await session.shutdown();
    }
  });

  it('refuses kernel websockets without a token or from another origin', async () => {
    const kernel = await jupyter.kernels.startNew({ name: 'spark' });
    try {
      const url = `${owlet.endpoint.replace('http', 'ws')}/api/kernels/${kernel.id}/channels`;
      const status = (ws: WebSocket) =>
        new Promise<number>((resolve) => {
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.on('open', () => resolve(101));
          ws.on('error', () => resolve(-1));
        });
      assert.equal(await status(new WebSocket(url)), 403);
      assert.equal(await status(new WebSocket(`${url}?token=${encodeURIComponent(token)}`, { origin: 'http://evil.example' })), 403);
      const ok = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
      assert.equal(await status(ok), 101);
      ok.close();
    } finally {
      await kernel.shutdown();
    }
  });

  it('CreatePresignedNotebookUrl gives a link whose token becomes an HttpOnly cookie; forged and expired links get a page', async () => {
    const nb = await athena.send(new CreateNotebookCommand({ WorkGroup: 'spark', Name: 'linked' }));
    const session = await athena.send(
      new StartSessionCommand({
        WorkGroup: 'spark',
        NotebookVersion: 'Athena notebook version 1',
        EngineConfiguration: { MaxConcurrentDpus: 2, AdditionalConfigs: { NotebookId: nb.NotebookId! } },
      }),
    );
    await eventually(async () => (await athena.send(new GetSessionStatusCommand({ SessionId: session.SessionId }))).Status?.State, (s) => s === 'IDLE', 'IDLE');
    const presigned = await athena.send(new CreatePresignedNotebookUrlCommand({ SessionId: session.SessionId }));
    const url = new URL(presigned.NotebookUrl!);
    assert.equal(url.pathname, `/console/notebooks/${nb.NotebookId}`);
    assert.equal(url.searchParams.get('session'), session.SessionId);
    assert.equal(url.searchParams.get('token'), presigned.AuthToken);
    const expiresIn = presigned.AuthTokenExpirationTime! - Date.now() / 1000;
    assert.ok(expiresIn > 600 && expiresIn <= 900, `expires in ${expiresIn} s`);
    const visit = await fetch(presigned.NotebookUrl!, { redirect: 'manual' });
    assert.equal(visit.status, 302);
    assert.equal(visit.headers.get('location'), `/console/notebooks/${nb.NotebookId}?session=${session.SessionId}&path=spark%2Flinked.ipynb`);
    const cookie = visit.headers.get('set-cookie')!;
    assert.match(cookie, new RegExp(`^${TOKEN_COOKIE}=`));
    assert.match(cookie, /HttpOnly/);
    const cookiePair = cookie.split(';')[0]!;
    const page = await fetch(`${owlet.endpoint}${visit.headers.get('location')}`, { headers: { cookie: cookiePair }, redirect: 'manual' });
    assert.equal(page.status, 200);
    const api = await fetch(`${owlet.endpoint}/api/kernels`, { headers: { cookie: cookiePair } });
    assert.equal(api.status, 200);
    const forged = await fetch(presigned.NotebookUrl!.replace(/token=[^&]+/, 'token=owlet1.AKID.9999999999.x.y'), { redirect: 'manual' });
    assert.equal(forged.status, 403);
    assert.match(await forged.text(), /not valid/);
    // The console's page is served to anyone (it holds no secret); it asks for a login itself (docs/console.md).
    const noLogin = await fetch(`${owlet.endpoint}/console/`, { redirect: 'manual' });
    assert.equal(noLogin.status, 200);
    assert.equal(noLogin.headers.get('set-cookie'), null);
  });

  it('answers VS Code\'s "existing Jupyter server" sequence, over the v1 websocket protocol', async () => {
    // vscode-jupyter (src/standalone/userJupyterServer/jupyterPasswordConnect.ts): a 200 from /hub/api would
    // mean JupyterHub, anything but 200 from /tree? means a password is needed; then the server is validated
    // with /api/kernels and /api/kernelspecs, and a notebook gets a session named `<name>-jvsc-<uuid>.ipynb`.
    const auth = { Authorization: `token ${token}` };
    assert.equal((await get('/hub/api')).status, 404);
    assert.equal((await get('/tree?')).status, 200);
    assert.equal((await get('/api/kernels', auth)).status, 200);
    assert.ok(((await (await get('/api/kernelspecs', auth)).json()) as { kernelspecs: object }).kernelspecs);
    const path = `Untitled-1-jvsc-${randomUUID()}.ipynb`;
    const created = await fetch(`${owlet.endpoint}/api/sessions`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ path, name: 'Untitled-1.ipynb', type: 'notebook', kernel: { name: 'spark' } }),
    });
    assert.equal(created.status, 201);
    const session = (await created.json()) as { id: string; path: string; kernel: { id: string; name: string } };
    assert.equal(session.path, path);
    const ws = new WebSocket(`${owlet.endpoint.replace('http', 'ws')}/api/kernels/${session.kernel.id}/channels?session_id=${randomUUID()}&token=${encodeURIComponent(token)}`, [
      'v1.kernel.websocket.jupyter.org',
    ]);
    ws.binaryType = 'arraybuffer';
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    assert.equal(ws.protocol, 'v1.kernel.websocket.jupyter.org');
    const received: KernelMessage.IMessage[] = [];
    ws.on('message', (data: ArrayBuffer) => received.push(deserialize(data, ws.protocol)));
    const request = (channel: KernelMessage.Channel, msgType: string, content: object) => {
      const msg = KernelMessage.createMessage({ channel, msgType, session: 'vscode', content } as never) as KernelMessage.IMessage;
      ws.send(serialize(msg, ws.protocol));
      return msg.header.msg_id;
    };
    const reply = (id: string, type: string) =>
      eventually(() => received.find((m) => (m.parent_header as { msg_id?: string }).msg_id === id && m.header.msg_type === type), Boolean, type);
    const info = await reply(request('shell', 'kernel_info_request', {}), 'kernel_info_reply');
    assert.equal((info!.content as { language_info: { name: string } }).language_info.name, 'python');
    const comms = await reply(request('shell', 'comm_info_request', { target_name: 'jupyter.widget' }), 'comm_info_reply');
    assert.deepEqual((comms!.content as { comms: object }).comms, {});
    const executed = request('shell', 'execute_request', { code: 'from vscode', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    await reply(executed, 'execute_reply');
    const stream = received.find((m) => (m.parent_header as { msg_id?: string }).msg_id === executed && m.header.msg_type === 'stream');
    assert.equal((stream!.content as { text: string }).text, 'ran: from vscode\n');
    const complete = await reply(request('shell', 'complete_request', { code: 'spa', cursor_pos: 3 }), 'complete_reply');
    assert.deepEqual((complete!.content as { matches: string[] }).matches, ['spark']);
    const isComplete = await reply(request('shell', 'is_complete_request', { code: 'for i in range(3):' }), 'is_complete_reply');
    assert.equal((isComplete!.content as { status: string }).status, 'incomplete');
    ws.close();
    const deleted = await fetch(`${owlet.endpoint}/api/sessions/${session.id}`, { method: 'DELETE', headers: auth });
    assert.equal(deleted.status, 204);
    assert.equal((await get(`/api/kernels/${session.kernel.id}`, auth)).status, 404);
  });

  it('logs a user in with their access key pair', async () => {
    const form = new URLSearchParams({ access_key_id: TEST_CREDENTIALS.accessKeyId, secret_access_key: TEST_CREDENTIALS.secretAccessKey, next: '/console/' });
    const res = await fetch(`${owlet.endpoint}/login`, { method: 'POST', body: form, redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/console/');
    assert.match(res.headers.get('set-cookie')!, /HttpOnly/);
    const wrong = await fetch(`${owlet.endpoint}/login`, { method: 'POST', body: new URLSearchParams({ access_key_id: 'x', secret_access_key: 'y' }), redirect: 'manual' });
    assert.equal(wrong.status, 403);
  });
});
