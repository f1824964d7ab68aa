// @jupyterlab/services (KernelManager, SessionManager, ContentsManager) against an Owlet server running real
// PySpark: a kernel is a session, a cell a calculation listed by ListCalculationExecutions, output streams while
// the cell runs, and an interrupt stops `time.sleep(600)`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AthenaClient, CreateNotebookCommand, ExportNotebookCommand, GetCalculationExecutionStatusCommand, ListCalculationExecutionsCommand, ListNotebookSessionsCommand, ListSessionsCommand } from '@aws-sdk/client-athena';
import type { Kernel, KernelMessage, Session } from '@jupyterlab/services';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from './harness.js';
import { type JupyterClients, jupyterClients, runCell, types } from './jupyter-support.js';

describe('@jupyterlab/services against real PySpark', { timeout: 600_000 }, () => {
  let owlet: TestOwlet;
  let athena: AthenaClient;
  let jupyter: JupyterClients;
  let kernel: Kernel.IKernelConnection;

  let session: Session.ISessionConnection;
  let notebookId: string;

  // One Spark session for the suite (a cold PySpark start is the slow part): a notebook's, through SessionManager.
  before(async () => {
    owlet = await startTestOwlet();
    athena = owlet.client();
    jupyter = jupyterClients(owlet.endpoint, TEST_CREDENTIALS.secretAccessKey);
    notebookId = (await athena.send(new CreateNotebookCommand({ WorkGroup: 'spark', Name: 'from-jupyterlab' }))).NotebookId!;
    session = await jupyter.sessions.startNew({ path: 'spark/from-jupyterlab.ipynb', name: 'from-jupyterlab.ipynb', type: 'notebook', kernel: { name: 'spark' } });
    kernel = session.kernel!;
    await kernel.info;
  });
  after(async () => {
    await session?.shutdown().catch(() => undefined);
    jupyter?.dispose();
    await owlet?.stop();
  });

  it('runs the kernel of a notebook\'s Jupyter session as that notebook\'s Athena session, which KernelManager lists', async () => {
    const { NotebookSessionsList } = await athena.send(new ListNotebookSessionsCommand({ NotebookId: notebookId }));
    assert.deepEqual(NotebookSessionsList?.map((s) => s.SessionId), [await sessionId()]);
    await jupyter.kernels.refreshRunning();
    assert.ok([...jupyter.kernels.running()].some((k) => k.id === kernel.id && k.name === 'spark'));
  });

  async function sessionId(): Promise<string> {
    const sessions = await athena.send(new ListSessionsCommand({ WorkGroup: 'spark' }));
    return sessions.Sessions!.find((s) => s.Description?.includes(kernel.id))!.SessionId!;
  }

  it('prints, shows the last value as execute_result, and lists each cell as a calculation', async () => {
    const printed = await runCell(kernel, 'print(1)');
    assert.equal(printed.reply.status, 'ok', JSON.stringify(printed.reply));
    assert.equal(printed.stdout, '1\n');
    const added = await runCell(kernel, '1+1');
    const result = added.messages.find((m) => m.header.msg_type === 'execute_result')!.content as KernelMessage.IExecuteResultMsg['content'];
    assert.deepEqual(result.data, { 'text/plain': '2' });
    assert.equal(result.execution_count, added.reply.execution_count);
    const listed = await athena.send(new ListCalculationExecutionsCommand({ SessionId: await sessionId() }));
    assert.deepEqual(listed.Calculations?.map((c) => c.Status?.State), ['COMPLETED', 'COMPLETED']);
  });

  it('shows display() calls as display_data and a Spark job\'s progress bar', async () => {
    const run = await runCell(kernel, "display('shown')\nspark.range(1000).selectExpr('sum(id)').collect()[0][0]");
    const displays = run.messages.filter((m) => m.header.msg_type === 'display_data').map((m) => m.content as KernelMessage.IDisplayDataMsg['content']);
    assert.ok(displays.some((d) => d.data['text/plain'] === "'shown'"), JSON.stringify(displays));
    const progress = displays.find((d) => String((d.transient as { display_id?: string } | undefined)?.display_id).startsWith('owlet-progress-'));
    assert.ok(progress, `a progress bar among ${JSON.stringify(types(run))}`);
    assert.match(String(progress.data['text/plain']), /Spark (progress|finished): \d+% \(\d+\/\d+ tasks\)/);
    const result = run.messages.find((m) => m.header.msg_type === 'execute_result')!.content as KernelMessage.IExecuteResultMsg['content'];
    assert.equal(result.data['text/plain'], '499500');
  });

  it('reports an error with its name, value and traceback, and keeps stderr apart', async () => {
    const run = await runCell(kernel, "import sys\nprint('warned', file=sys.stderr)\n\nfoobar");
    assert.equal(run.reply.status, 'error');
    const error = run.messages.find((m) => m.header.msg_type === 'error')!.content as KernelMessage.IErrorMsg['content'];
    assert.equal(error.ename, 'NameError');
    assert.equal(error.evalue, "name 'foobar' is not defined");
    assert.deepEqual(error.traceback, ['  File "<stdin>", line 4, in <module>', "NameError: name 'foobar' is not defined"]);
    assert.equal(run.stderr, 'warned\n');
  });

  it('streams output while the cell runs, and an interrupt stops time.sleep(600)', async () => {
    const future = kernel.requestExecute({ code: "import time\nprint('started', flush=True)\ntime.sleep(600)" });
    let stdout = '';
    const streamed = new Promise<void>((resolve) => {
      future.onIOPub = (msg) => {
        if (msg.header.msg_type !== 'stream') return;
        stdout += (msg.content as KernelMessage.IStreamMsg['content']).text;
        if (stdout.includes('started')) resolve();
      };
    });
    // The cell cannot end for ten minutes: its first line arrived while it ran.
    await streamed;
    const [running] = (await athena.send(new ListCalculationExecutionsCommand({ SessionId: await sessionId() }))).Calculations!;
    assert.equal((await athena.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId: running!.CalculationExecutionId }))).Status?.State, 'RUNNING');
    await kernel.interrupt();
    const reply = (await future.done.catch((error: { content?: unknown }) => ({ content: error.content }))).content as KernelMessage.IExecuteReplyMsg['content'];
    assert.equal(reply.status, 'error');
    assert.equal((reply as { ename?: string }).ename, 'KeyboardInterrupt');
    assert.equal((await athena.send(new GetCalculationExecutionStatusCommand({ CalculationExecutionId: running!.CalculationExecutionId }))).Status?.State, 'CANCELED');
    // The session is usable again.
    assert.equal((await runCell(kernel, 'print("after")')).stdout, 'after\n');
  });

  it('saves the notebook through ContentsManager while its session runs, and ExportNotebook returns it with its outputs', async () => {
    const run = await runCell(kernel, 'x = 21\nx * 2');
    const result = run.messages.find((m) => m.header.msg_type === 'execute_result')!.content as KernelMessage.IExecuteResultMsg['content'];
    assert.equal(result.data['text/plain'], '42');
    const model = await jupyter.contents.get('spark/from-jupyterlab.ipynb');
    const nb = model.content as { cells: unknown[] };
    nb.cells = [{ cell_type: 'code', source: 'x = 21\nx * 2', metadata: {}, outputs: [{ output_type: 'execute_result', ...result }], execution_count: result.execution_count }];
    await jupyter.contents.save('spark/from-jupyterlab.ipynb', { type: 'notebook', format: 'json', content: nb });
    const exported = JSON.parse((await athena.send(new ExportNotebookCommand({ NotebookId: notebookId }))).Payload!) as { cells: { outputs: { data: unknown }[] }[] };
    assert.deepEqual(exported.cells[0]!.outputs[0]!.data, { 'text/plain': '42' });
  });
});
