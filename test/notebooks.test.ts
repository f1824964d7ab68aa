// Notebooks through @aws-sdk/client-athena: import and export byte for byte, the nbformat 4 check, names
// unique in a workgroup, listing, updates, renames, deletes, imports from S3, idempotency tokens, and
// sessions bound to a notebook (on the fake engine). test/python/test_notebooks.py covers the same through boto3.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AthenaClient,
  CreateNotebookCommand,
  CreateWorkGroupCommand,
  DeleteNotebookCommand,
  DeleteWorkGroupCommand,
  ExportNotebookCommand,
  GetNotebookMetadataCommand,
  GetSessionStatusCommand,
  ImportNotebookCommand,
  InvalidRequestException,
  ListNotebookMetadataCommand,
  ListNotebookSessionsCommand,
  ResourceNotFoundException,
  SessionAlreadyExistsException,
  StartSessionCommand,
  TerminateSessionCommand,
  UpdateNotebookCommand,
  UpdateNotebookMetadataCommand,
} from '@aws-sdk/client-athena';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { eventually, rejectsWith } from './assertions.js';
import { putObjectAt, s3ClientOf } from './support/s3.js';
import { type TestOwlet, startTestOwlet } from './harness.js';

const ROLE = 'arn:aws:iam::123456789012:role/AthenaSpark';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NOTEBOOK_VERSION = 'Athena notebook version 1';

/** A notebook as an editor might leave it: odd spacing, key order, non-ASCII text, no final newline. */
const PAYLOAD =
  '{"nbformat": 4,  "nbformat_minor": 5,\n "metadata": {"kernelspec": {"name": "python3"}},\n' +
  '  "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Größe \\u00e9 ✓\\n", "line"]},\n' +
  '   {"cell_type": "code", "metadata": {"tags": []}, "execution_count": 3, "source": "spark.range(3).show()",\n' +
  '    "outputs": [{"output_type": "stream", "name": "stdout", "text": ["+---+\\n"]}]},\n' +
  '   {"cell_type": "raw", "metadata": {}, "source": ""}]}   ';

const notebookJson = (cells: unknown[] = []): string => JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells });

describe('notebooks through @aws-sdk/client-athena', () => {
  let owlet: TestOwlet;
  let athena: AthenaClient;
  // Also the clock SigV4 checks signatures against: it stays within minutes of the real one.
  let clock = Date.now();
  const engine = new FakeEngine();
  let workGroupCount = 0;

  before(async () => {
    owlet = await startTestOwlet({ engine, now: () => clock, reaperIntervalMs: 3_600_000 });
    athena = owlet.client();
  });
  after(() => owlet.stop());

  /** A Spark workgroup of the test's own, so that listings see only its notebooks. */
  async function sparkWorkGroup(): Promise<string> {
    const name = `nb-wg-${++workGroupCount}`;
    await athena.send(new CreateWorkGroupCommand({ Name: name, Configuration: { EngineVersion: { SelectedEngineVersion: 'PySpark engine version 3' }, ExecutionRole: ROLE } }));
    return name;
  }
  const importNotebook = async (WorkGroup: string, Name: string, Payload = notebookJson()) =>
    (await athena.send(new ImportNotebookCommand({ WorkGroup, Name, Payload, Type: 'IPYNB' }))).NotebookId!;
  const exported = (NotebookId: string) => athena.send(new ExportNotebookCommand({ NotebookId }));
  const names = async (WorkGroup: string) =>
    ((await athena.send(new ListNotebookMetadataCommand({ WorkGroup }))).NotebookMetadataList ?? []).map((m) => m.Name);
  const sessionState = async (id: string) => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State;
  const notebookSession = (WorkGroup: string, notebookId: string) =>
    athena.send(new StartSessionCommand({ WorkGroup, NotebookVersion: NOTEBOOK_VERSION, EngineConfiguration: { MaxConcurrentDpus: 2, AdditionalConfigs: { NotebookId: notebookId } } }));

  it('imports a notebook and exports it unchanged, byte for byte, with its metadata', async () => {
    const wg = await sparkWorkGroup();
    const created = clock;
    const id = await importNotebook(wg, 'analysis', PAYLOAD);
    assert.match(id, UUID);
    const out = await exported(id);
    assert.equal(out.Payload, PAYLOAD);
    assert.deepEqual(out.NotebookMetadata, {
      NotebookId: id,
      Name: 'analysis',
      WorkGroup: wg,
      Type: 'IPYNB',
      CreationTime: new Date(created),
      LastModifiedTime: new Date(created),
    });
    const { NotebookMetadata } = await athena.send(new GetNotebookMetadataCommand({ NotebookId: id }));
    assert.deepEqual(NotebookMetadata, out.NotebookMetadata);
  });

  it('creates an empty nbformat 4 notebook', async () => {
    const wg = await sparkWorkGroup();
    const { NotebookId } = await athena.send(new CreateNotebookCommand({ WorkGroup: wg, Name: 'blank' }));
    assert.match(NotebookId!, UUID);
    const notebook = JSON.parse((await exported(NotebookId!)).Payload!) as Record<string, unknown>;
    assert.equal(notebook.nbformat, 4);
    assert.equal(notebook.nbformat_minor, 5);
    assert.deepEqual(notebook.cells, []);
    assert.equal(typeof notebook.metadata, 'object');
  });

  it('refuses what is not an nbformat 4 notebook, and stores nothing', async () => {
    const wg = await sparkWorkGroup();
    const code = { cell_type: 'code', metadata: {}, source: 'x', outputs: [], execution_count: null };
    const refused: [string, string | RegExp][] = [
      ['{"nbformat": 4', /^The notebook is not valid JSON: /],
      ['[1, 2]', 'The notebook is not a Jupyter notebook in nbformat 4: it must be a JSON object.'],
      [
        JSON.stringify({ nbformat: 3, nbformat_minor: 0, metadata: {}, worksheets: [] }),
        'The notebook is in nbformat 3; Owlet accepts notebooks in nbformat 4 only (jupyter nbconvert --to notebook --nbformat 4 converts older ones).',
      ],
      [JSON.stringify({ metadata: {}, cells: [] }), 'The notebook is not a Jupyter notebook in nbformat 4: it has no nbformat.'],
      [JSON.stringify({ nbformat: 4, nbformat_minor: '5', metadata: {}, cells: [] }), 'The notebook is not a Jupyter notebook in nbformat 4: nbformat_minor must be an integer of 0 or more.'],
      [JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: [], cells: [] }), 'The notebook is not a Jupyter notebook in nbformat 4: metadata must be an object.'],
      [JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {} }), 'The notebook is not a Jupyter notebook in nbformat 4: cells must be an array.'],
      [notebookJson([{ ...code, cell_type: 'sql' }]), 'The notebook is not a Jupyter notebook in nbformat 4: cells[0].cell_type must be one of "code", "markdown", "raw".'],
      [notebookJson([code, { ...code, source: ['a', 1] }]), 'The notebook is not a Jupyter notebook in nbformat 4: cells[1].source must be a string or an array of strings.'],
      [notebookJson([{ cell_type: 'markdown', source: '' }]), 'The notebook is not a Jupyter notebook in nbformat 4: cells[0].metadata must be an object.'],
      [notebookJson([{ ...code, outputs: undefined }]), 'The notebook is not a Jupyter notebook in nbformat 4: cells[0].outputs must be an array.'],
      [notebookJson([{ ...code, execution_count: 1.5 }]), 'The notebook is not a Jupyter notebook in nbformat 4: cells[0].execution_count must be an integer or null.'],
      [notebookJson([{ ...code, outputs: [{ text: 'x' }] }]), 'The notebook is not a Jupyter notebook in nbformat 4: cells[0].outputs[0].output_type must be one of "execute_result", "display_data", "stream", "error".'],
    ];
    for (const [payload, message] of refused) {
      await rejectsWith(importNotebook(wg, 'bad', payload), InvalidRequestException, message);
    }
    assert.deepEqual(await names(wg), []);
  });

  it('keeps names unique in a workgroup, not across workgroups', async () => {
    const wg = await sparkWorkGroup();
    const other = await sparkWorkGroup();
    await athena.send(new CreateNotebookCommand({ WorkGroup: wg, Name: 'report' }));
    const taken = `Notebook report already exists in workgroup ${wg}.`;
    await rejectsWith(athena.send(new CreateNotebookCommand({ WorkGroup: wg, Name: 'report' })), InvalidRequestException, taken);
    await rejectsWith(importNotebook(wg, 'report'), InvalidRequestException, taken);
    await athena.send(new CreateNotebookCommand({ WorkGroup: wg, Name: 'Report' }));
    await athena.send(new CreateNotebookCommand({ WorkGroup: other, Name: 'report' }));
    assert.deepEqual(await names(wg), ['Report', 'report']);
    assert.deepEqual(await names(other), ['report']);
  });

  it('refuses an unknown workgroup and an Athena SQL workgroup, as StartSession does', async () => {
    await rejectsWith(athena.send(new CreateNotebookCommand({ WorkGroup: 'no-such-wg', Name: 'n' })), InvalidRequestException, 'WorkGroup no-such-wg is not found.');
    await rejectsWith(athena.send(new CreateNotebookCommand({ WorkGroup: 'primary', Name: 'n' })), InvalidRequestException, 'Workgroup EngineVersion is not Spark.');
    await rejectsWith(importNotebook('primary', 'n'), InvalidRequestException, 'Workgroup EngineVersion is not Spark.');
    await rejectsWith(athena.send(new ListNotebookMetadataCommand({ WorkGroup: 'no-such-wg' })), InvalidRequestException, 'WorkGroup no-such-wg is not found.');
    await rejectsWith(athena.send(new ListNotebookMetadataCommand({ WorkGroup: 'primary' })), InvalidRequestException, 'Workgroup EngineVersion is not Spark.');
  });

  it('lists by name, filtered by a part of the name, a page at a time', async () => {
    const wg = await sparkWorkGroup();
    for (const name of ['delta', 'Sales 2025', 'alpha', 'sales 2026', 'charlie', 'bravo', 'wholesale']) await importNotebook(wg, name);
    assert.deepEqual(await names(wg), ['Sales 2025', 'alpha', 'bravo', 'charlie', 'delta', 'sales 2026', 'wholesale']);

    const filtered = await athena.send(new ListNotebookMetadataCommand({ WorkGroup: wg, Filters: { Name: 'SALE' } }));
    assert.deepEqual(filtered.NotebookMetadataList?.map((m) => m.Name), ['Sales 2025', 'sales 2026', 'wholesale']);
    assert.equal(filtered.NextToken, undefined);

    const pages: (string | undefined)[][] = [];
    let token: string | undefined;
    do {
      const page = await athena.send(new ListNotebookMetadataCommand({ WorkGroup: wg, MaxResults: 3, ...(token ? { NextToken: token } : {}) }));
      pages.push(page.NotebookMetadataList!.map((m) => m.Name));
      token = page.NextToken;
      // A notebook added behind the cursor between pages neither repeats nor shifts what follows.
      if (pages.length === 1) await importNotebook(wg, 'aardvark');
    } while (token);
    assert.deepEqual(pages, [['Sales 2025', 'alpha', 'bravo'], ['charlie', 'delta', 'sales 2026'], ['wholesale']]);

    const first = await athena.send(new ListNotebookMetadataCommand({ WorkGroup: wg, MaxResults: 1, Filters: { Name: 'a' } }));
    assert.ok(first.NextToken);
    await rejectsWith(
      athena.send(new ListNotebookMetadataCommand({ WorkGroup: wg, NextToken: first.NextToken })),
      InvalidRequestException,
      'The NextToken provided is not valid for this request.',
    );
  });

  it('updates a notebook: new content, LastModifiedTime moves; a bad payload changes nothing', async () => {
    const wg = await sparkWorkGroup();
    const id = await importNotebook(wg, 'editable', PAYLOAD);
    const created = clock;
    clock += 60_000;
    const next = notebookJson([{ cell_type: 'code', metadata: {}, source: ['print(1)'], outputs: [], execution_count: null }]);
    assert.deepEqual((await athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: next, Type: 'IPYNB' }))).$metadata.httpStatusCode, 200);
    const out = await exported(id);
    assert.equal(out.Payload, next);
    assert.deepEqual(out.NotebookMetadata?.CreationTime, new Date(created));
    assert.deepEqual(out.NotebookMetadata?.LastModifiedTime, new Date(clock));

    clock += 60_000;
    await rejectsWith(
      athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: '{"nbformat": 5}', Type: 'IPYNB' })),
      InvalidRequestException,
      /^The notebook is in nbformat 5; /,
    );
    assert.equal((await exported(id)).Payload, next);
  });

  it('renames a notebook, refusing a name another notebook of the workgroup has', async () => {
    const wg = await sparkWorkGroup();
    const id = await importNotebook(wg, 'draft', PAYLOAD);
    await importNotebook(wg, 'final');
    clock += 1_000;
    await athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'reviewed' }));
    const { NotebookMetadata } = await athena.send(new GetNotebookMetadataCommand({ NotebookId: id }));
    assert.equal(NotebookMetadata?.Name, 'reviewed');
    assert.deepEqual(NotebookMetadata?.LastModifiedTime, new Date(clock));
    assert.equal((await exported(id)).Payload, PAYLOAD);
    await rejectsWith(athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'final' })), InvalidRequestException, `Notebook final already exists in workgroup ${wg}.`);
    // Its own name is not taken from it.
    await athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'reviewed' }));
    // The old name is free again.
    await importNotebook(wg, 'draft');
    assert.deepEqual(await names(wg), ['draft', 'final', 'reviewed']);
  });

  it('deletes a notebook; it is gone after', async () => {
    const wg = await sparkWorkGroup();
    const id = await importNotebook(wg, 'scratch');
    await athena.send(new DeleteNotebookCommand({ NotebookId: id }));
    assert.deepEqual(await names(wg), []);
    const gone = `Notebook ${id} is not found.`;
    await rejectsWith(athena.send(new GetNotebookMetadataCommand({ NotebookId: id })), InvalidRequestException, gone);
    await rejectsWith(exported(id), InvalidRequestException, gone);
    await rejectsWith(athena.send(new DeleteNotebookCommand({ NotebookId: id })), InvalidRequestException, gone);
    await rejectsWith(athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'x' })), InvalidRequestException, gone);
    await rejectsWith(athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: notebookJson(), Type: 'IPYNB' })), InvalidRequestException, gone);
    await rejectsWith(athena.send(new ListNotebookSessionsCommand({ NotebookId: id })), ResourceNotFoundException, gone);
    // The name can be used again.
    await importNotebook(wg, 'scratch');
  });

  it('binds a session to a notebook: one active session, and no rename or delete while it is active', async () => {
    const wg = await sparkWorkGroup();
    const id = await importNotebook(wg, 'interactive', PAYLOAD);
    assert.deepEqual((await athena.send(new ListNotebookSessionsCommand({ NotebookId: id }))).NotebookSessionsList, []);

    const startedAt = clock;
    const { SessionId: sessionId } = await notebookSession(wg, id);
    await eventually(() => sessionState(sessionId!), (s) => s === 'IDLE', 'IDLE');
    const listed = await athena.send(new ListNotebookSessionsCommand({ NotebookId: id }));
    assert.deepEqual(listed.NotebookSessionsList, [{ SessionId: sessionId, CreationTime: new Date(startedAt) }]);
    assert.equal(listed.NextToken, undefined);

    await rejectsWith(notebookSession(wg, id), SessionAlreadyExistsException, `An active session already exists for notebook ${id} (session ${sessionId}).`);
    await assert.rejects(notebookSession(wg, id), (e: unknown) => {
      assert.ok(e instanceof SessionAlreadyExistsException);
      assert.equal(e.$metadata.httpStatusCode, 400);
      return true;
    });
    // A session of the notebook belongs to the notebook's workgroup.
    await rejectsWith(notebookSession('spark', id), InvalidRequestException, `Notebook ${id} is in workgroup ${wg}, not spark; start its session there.`);

    await rejectsWith(
      athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'renamed' })),
      InvalidRequestException,
      `Notebook ${id} has an active session (${sessionId}); terminate it before renaming the notebook.`,
    );
    await rejectsWith(
      athena.send(new DeleteNotebookCommand({ NotebookId: id })),
      InvalidRequestException,
      `Notebook ${id} has an active session (${sessionId}); terminate it before deleting the notebook.`,
    );
    const next = notebookJson();
    await rejectsWith(
      athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: next, Type: 'IPYNB' })),
      InvalidRequestException,
      `Notebook ${id} has an active session (${sessionId}); give its SessionId to update the notebook.`,
    );
    await rejectsWith(
      athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: next, Type: 'IPYNB', SessionId: 'another-session' })),
      InvalidRequestException,
      `Session another-session is not an active session of notebook ${id}.`,
    );
    assert.equal((await exported(id)).Payload, PAYLOAD);
    await athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: next, Type: 'IPYNB', SessionId: sessionId }));
    assert.equal((await exported(id)).Payload, next);
    assert.equal((await athena.send(new GetNotebookMetadataCommand({ NotebookId: id }))).NotebookMetadata?.Name, 'interactive');

    await athena.send(new TerminateSessionCommand({ SessionId: sessionId }));
    await eventually(() => sessionState(sessionId!), (s) => s === 'TERMINATED', 'TERMINATED');
    assert.deepEqual((await athena.send(new ListNotebookSessionsCommand({ NotebookId: id }))).NotebookSessionsList, []);
    await rejectsWith(
      athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: next, Type: 'IPYNB', SessionId: sessionId })),
      InvalidRequestException,
      `Session ${sessionId} is not an active session of notebook ${id}.`,
    );

    // With its session ended, the notebook takes a new one, and can be renamed and deleted.
    clock += 1_000;
    const { SessionId: second } = await notebookSession(wg, id);
    assert.notEqual(second, sessionId);
    assert.deepEqual((await athena.send(new ListNotebookSessionsCommand({ NotebookId: id }))).NotebookSessionsList?.map((s) => s.SessionId), [second]);
    await athena.send(new TerminateSessionCommand({ SessionId: second }));
    await athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'renamed' }));
    await athena.send(new DeleteNotebookCommand({ NotebookId: id }));
    await rejectsWith(notebookSession(wg, id), InvalidRequestException, `Notebook ${id} is not found.`);
  });

  it('starts one session when several StartSessions for a notebook arrive at once', async () => {
    const wg = await sparkWorkGroup();
    const id = await importNotebook(wg, 'raced');
    const outcomes = await Promise.allSettled([notebookSession(wg, id), notebookSession(wg, id), notebookSession(wg, id)]);
    const started = outcomes.filter((o) => o.status === 'fulfilled');
    assert.equal(started.length, 1);
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof SessionAlreadyExistsException, String(o.reason));
    const sessions = (await athena.send(new ListNotebookSessionsCommand({ NotebookId: id }))).NotebookSessionsList ?? [];
    assert.equal(sessions.length, 1);
    await athena.send(new TerminateSessionCommand({ SessionId: sessions[0]!.SessionId }));
  });

  it('imports a notebook from NotebookS3LocationUri, byte for byte', async () => {
    const wg = await sparkWorkGroup();
    const s3 = s3ClientOf(owlet.endpoint);
    const put = (name: string, body: string | Uint8Array) => putObjectAt(s3, `s3://notebooks-bucket/team/${name}`, body);
    await put('analysis.ipynb', PAYLOAD);
    const { NotebookId } = await athena.send(
      new ImportNotebookCommand({ WorkGroup: wg, Name: 'from-s3', Type: 'IPYNB', NotebookS3LocationUri: 's3://notebooks-bucket/team/analysis.ipynb' }),
    );
    assert.equal((await exported(NotebookId!)).Payload, PAYLOAD);

    const fromS3 = (uri: string, Name = 'other') => athena.send(new ImportNotebookCommand({ WorkGroup: wg, Name, Type: 'IPYNB', NotebookS3LocationUri: uri }));
    await rejectsWith(fromS3('s3://notebooks-bucket/team/missing.ipynb'), InvalidRequestException, 'The notebook file s3://notebooks-bucket/team/missing.ipynb does not exist.');
    await rejectsWith(fromS3('s3://notebooks-bucket/team/'), InvalidRequestException, 's3://notebooks-bucket/team/ names a folder, not a notebook file.');
    await rejectsWith(fromS3('https://example.com/a.ipynb'), InvalidRequestException, 'Owlet reads notebooks from s3:// locations; https://example.com/a.ipynb is not one.');
    await put('v3.ipynb', JSON.stringify({ nbformat: 3, nbformat_minor: 0, metadata: {}, worksheets: [] }));
    await rejectsWith(fromS3('s3://notebooks-bucket/team/v3.ipynb'), InvalidRequestException, /^The notebook is in nbformat 3; /);
    await put('latin1.ipynb', Buffer.from([0x7b, 0xe9, 0x7d]));
    await rejectsWith(fromS3('s3://notebooks-bucket/team/latin1.ipynb'), InvalidRequestException, 'The notebook file s3://notebooks-bucket/team/latin1.ipynb is not UTF-8 text.');
    await put('huge.ipynb', Buffer.alloc(10_485_761, 0x20));
    await rejectsWith(
      fromS3('s3://notebooks-bucket/team/huge.ipynb'),
      InvalidRequestException,
      'The notebook file s3://notebooks-bucket/team/huge.ipynb is 10485761 bytes; ImportNotebook takes notebooks of up to 10 MB (10485760 bytes).',
    );

    await rejectsWith(
      athena.send(new ImportNotebookCommand({ WorkGroup: wg, Name: 'both', Type: 'IPYNB', Payload: PAYLOAD, NotebookS3LocationUri: 's3://notebooks-bucket/team/analysis.ipynb' })),
      InvalidRequestException,
      'Specify either Payload or NotebookS3LocationUri, not both.',
    );
    await rejectsWith(
      athena.send(new ImportNotebookCommand({ WorkGroup: wg, Name: 'neither', Type: 'IPYNB' })),
      InvalidRequestException,
      'Specify either Payload or NotebookS3LocationUri.',
    );
    assert.deepEqual(await names(wg), ['from-s3']);
    s3.destroy();
  });

  it('honours ClientRequestToken on CreateNotebook, ImportNotebook, UpdateNotebook and UpdateNotebookMetadata', async () => {
    const wg = await sparkWorkGroup();
    const token = '0b3c8f9e-5d1a-4c2b-9e7f-6a5b4c3d2e1f';
    const mismatch = async (promise: Promise<unknown>) =>
      assert.rejects(promise, (e: unknown) => {
        assert.ok(e instanceof InvalidRequestException);
        assert.equal(e.message, 'Idempotent parameters do not match');
        assert.equal(e.AthenaErrorCode, 'IDEMPOTENT_PARAMETER_MISMATCH');
        return true;
      });

    const first = await athena.send(new CreateNotebookCommand({ WorkGroup: wg, Name: 'once', ClientRequestToken: token }));
    const again = await athena.send(new CreateNotebookCommand({ WorkGroup: wg, Name: 'once', ClientRequestToken: token }));
    assert.equal(again.NotebookId, first.NotebookId);
    await mismatch(athena.send(new CreateNotebookCommand({ WorkGroup: wg, Name: 'twice', ClientRequestToken: token })));

    const imported = await athena.send(new ImportNotebookCommand({ WorkGroup: wg, Name: 'imported', Payload: PAYLOAD, Type: 'IPYNB', ClientRequestToken: token }));
    const reimported = await athena.send(new ImportNotebookCommand({ WorkGroup: wg, Name: 'imported', Payload: PAYLOAD, Type: 'IPYNB', ClientRequestToken: token }));
    assert.equal(reimported.NotebookId, imported.NotebookId);
    await mismatch(athena.send(new ImportNotebookCommand({ WorkGroup: wg, Name: 'imported', Payload: notebookJson(), Type: 'IPYNB', ClientRequestToken: token })));
    assert.deepEqual(await names(wg), ['imported', 'once']);

    const id = first.NotebookId!;
    const content = notebookJson([{ cell_type: 'raw', metadata: {}, source: 'v2' }]);
    await athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: content, Type: 'IPYNB', ClientRequestToken: token }));
    await athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: notebookJson(), Type: 'IPYNB' }));
    // The retry answers what the first request answered and changes nothing.
    await athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: content, Type: 'IPYNB', ClientRequestToken: token }));
    assert.equal((await exported(id)).Payload, notebookJson());
    await mismatch(athena.send(new UpdateNotebookCommand({ NotebookId: id, Payload: PAYLOAD, Type: 'IPYNB', ClientRequestToken: token })));

    await athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'renamed', ClientRequestToken: token }));
    await athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'renamed-again' }));
    await athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'renamed', ClientRequestToken: token }));
    assert.equal((await athena.send(new GetNotebookMetadataCommand({ NotebookId: id }))).NotebookMetadata?.Name, 'renamed-again');
    await mismatch(athena.send(new UpdateNotebookMetadataCommand({ NotebookId: id, Name: 'other', ClientRequestToken: token })));
  });

  it('DeleteWorkGroup refuses a workgroup with notebooks, or deletes them with RecursiveDeleteOption', async () => {
    const wg = await sparkWorkGroup();
    const id = await importNotebook(wg, 'kept');
    await rejectsWith(athena.send(new DeleteWorkGroupCommand({ WorkGroup: wg })), InvalidRequestException, /is not empty: it has notebooks/);
    await athena.send(new DeleteWorkGroupCommand({ WorkGroup: wg, RecursiveDeleteOption: true }));
    await rejectsWith(athena.send(new GetNotebookMetadataCommand({ NotebookId: id })), InvalidRequestException, `Notebook ${id} is not found.`);
  });
});
