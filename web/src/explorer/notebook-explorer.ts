// The notebooks of a Spark workgroup (Athena's notebook explorer, user guide notebooks-spark-managing): a
// filtered list, create with session settings, import from a file or an s3:// URI, export, rename, delete,
// and each notebook's session history. Rename and delete are refused while the notebook has an active
// session; the explorer says so and offers to end it first.
import {
  type AthenaClient,
  CreateNotebookCommand,
  DeleteNotebookCommand,
  ExportNotebookCommand,
  ImportNotebookCommand,
  ListNotebookMetadataCommand,
  ListWorkGroupsCommand,
  type NotebookMetadata,
  UpdateNotebookMetadataCommand,
} from '@aws-sdk/client-athena';
import { errorMessage } from '../athena/athena-api.js';
import {
  activeSessionOf, notebookSessionHistory, openSession, savedSettings, saveSettings, startNotebookSession, terminate,
} from '../athena/notebook-sessions.js';
import { readSettings, settingsFields } from '../session/session-settings.js';
import { dialog, el, field, notify } from '../view.js';

export class NotebookExplorer {
  readonly element = el('main', { class: 'explorer' });
  private notebooks: NotebookMetadata[] = [];
  private readonly list = el('tbody');
  private readonly filter = el('input', { type: 'search', placeholder: 'Filter notebooks by name', 'aria-label': 'Filter notebooks by name', class: 'notebook-filter' });
  private readonly picker = el('select', { 'aria-label': 'Workgroup', class: 'workgroup-picker' });

  constructor(private readonly client: AthenaClient, private workGroup: string) {
    this.filter.addEventListener('input', () => this.draw());
    this.picker.addEventListener('change', () => {
      this.workGroup = this.picker.value;
      history.replaceState(null, '', `/console/?workgroup=${encodeURIComponent(this.workGroup)}`);
      void this.load();
    });
    this.element.append(
      el('div', { class: 'explorer-bar' },
        el('h1', {}, 'Notebooks'), this.picker,
        el('button', { type: 'button', class: 'primary', onclick: () => void this.create() }, 'Create notebook'),
        el('button', { type: 'button', onclick: () => void this.importNotebook() }, 'Import file')),
      this.filter,
      el('table', { class: 'notebook-list' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Name'), el('th', {}, 'Created'), el('th', {}, 'Last modified'), el('th', {}, 'Actions'))),
        this.list));
  }

  async start(): Promise<void> {
    const groups = await this.client.send(new ListWorkGroupsCommand({ MaxResults: 50 }));
    // Notebooks live only in Spark workgroups (user guide notebooks-spark-managing).
    const spark = (groups.WorkGroups ?? []).filter((g) => /spark/i.test(g.EngineVersion?.SelectedEngineVersion ?? ''));
    if (!spark.some((g) => g.Name === this.workGroup)) this.workGroup = spark[0]?.Name ?? this.workGroup;
    this.picker.replaceChildren(...spark.map((g) => el('option', { value: g.Name ?? '', selected: g.Name === this.workGroup }, g.Name ?? '')));
    await this.load();
  }

  async load(): Promise<void> {
    const all: NotebookMetadata[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListNotebookMetadataCommand({ WorkGroup: this.workGroup, MaxResults: 50, NextToken: token }));
      all.push(...(page.NotebookMetadataList ?? []));
      token = page.NextToken;
    } while (token);
    this.notebooks = all.sort((a, b) => (a.Name ?? '').localeCompare(b.Name ?? ''));
    this.draw();
  }

  private draw(): void {
    const needle = this.filter.value.trim().toLowerCase();
    const shown = this.notebooks.filter((n) => (n.Name ?? '').toLowerCase().includes(needle));
    if (shown.length === 0) {
      this.list.replaceChildren(el('tr', {}, el('td', { colspan: 4, class: 'empty' }, this.notebooks.length ? 'No notebook matches the filter.' : 'This workgroup has no notebooks yet: create or import one.')));
      return;
    }
    this.list.replaceChildren(...shown.map((n) => el('tr', { 'data-notebook': n.Name ?? '' },
      el('td', {}, el('button', { type: 'button', class: 'link notebook-name', onclick: () => void this.open(n) }, n.Name ?? '')),
      el('td', {}, n.CreationTime?.toLocaleString() ?? ''),
      el('td', {}, n.LastModifiedTime?.toLocaleString() ?? ''),
      el('td', { class: 'actions' },
        el('button', { type: 'button', class: 'small', onclick: () => void this.exportNotebook(n) }, 'Export'),
        el('button', { type: 'button', class: 'small', onclick: () => void this.rename(n) }, 'Rename'),
        el('button', { type: 'button', class: 'small', onclick: () => void this.history(n) }, 'Sessions'),
        el('button', { type: 'button', class: 'small danger', onclick: () => void this.remove(n) }, 'Delete')))));
  }

  /** Opens the notebook on its active session, or on a new one with the settings it last ran with. */
  async open(n: NotebookMetadata): Promise<void> {
    try {
      const active = await activeSessionOf(this.client, n.NotebookId!);
      const sessionId = active ?? await startNotebookSession(this.client, this.workGroup, n.NotebookId!, await savedSettings(this.client, n.NotebookId!));
      await openSession(this.client, sessionId);
    } catch (error) {
      notify(`${n.Name} could not be opened: ${errorMessage(error)}`, 'error');
    }
  }

  private async create(): Promise<void> {
    const form = await dialog('Create notebook', [
      field('Name', el('input', { name: 'name', required: true, maxlength: 255, autofocus: true, pattern: '[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*' })),
      el('h3', {}, 'Session parameters'),
      ...settingsFields(),
    ], 'Create');
    if (!form) return;
    try {
      const settings = readSettings(form);
      const created = await this.client.send(new CreateNotebookCommand({ WorkGroup: this.workGroup, Name: String(form.get('name')) }));
      await saveSettings(this.client, created.NotebookId!, settings);
      // As in Athena's console, the new notebook opens in a new session.
      const sessionId = await startNotebookSession(this.client, this.workGroup, created.NotebookId!, settings);
      await openSession(this.client, sessionId);
    } catch (error) {
      notify(`The notebook could not be created: ${errorMessage(error)}`, 'error');
      await this.load();
    }
  }

  private async importNotebook(): Promise<void> {
    const form = await dialog('Import notebook', [
      field('Name', el('input', { name: 'name', maxlength: 255 }), 'the file name without .ipynb when left empty'),
      field('File', el('input', { name: 'file', type: 'file', accept: '.ipynb,application/x-ipynb+json' })),
      field('or an s3:// URI', el('input', { name: 's3', placeholder: 's3://bucket/path/notebook.ipynb' }), 'up to 10 MB'),
    ], 'Import');
    if (!form) return;
    const file = form.get('file');
    const s3 = String(form.get('s3') ?? '').trim();
    const hasFile = file instanceof File && file.size > 0;
    const name = String(form.get('name') ?? '').trim() || (hasFile ? file.name.replace(/\.ipynb$/i, '') : s3.split('/').at(-1)?.replace(/\.ipynb$/i, '') ?? '');
    try {
      await this.client.send(new ImportNotebookCommand({
        WorkGroup: this.workGroup,
        Name: name,
        Type: 'IPYNB',
        ...(hasFile ? { Payload: await file.text() } : {}),
        ...(s3 ? { NotebookS3LocationUri: s3 } : {}),
      }));
      notify(`${name} imported.`);
      await this.load();
    } catch (error) {
      notify(`The notebook could not be imported: ${errorMessage(error)}`, 'error');
    }
  }

  private async exportNotebook(n: NotebookMetadata): Promise<void> {
    try {
      const answer = await this.client.send(new ExportNotebookCommand({ NotebookId: n.NotebookId! }));
      const url = URL.createObjectURL(new Blob([answer.Payload ?? ''], { type: 'application/x-ipynb+json' }));
      const link = el('a', { href: url, download: `${n.Name}.ipynb` });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      notify(`${n.Name} could not be exported: ${errorMessage(error)}`, 'error');
    }
  }

  private async rename(n: NotebookMetadata): Promise<void> {
    const form = await dialog(`Rename ${n.Name}`, [field('New name', el('input', { name: 'name', required: true, maxlength: 255, value: n.Name ?? '' }))], 'Save');
    if (!form) return;
    const name = String(form.get('name'));
    await this.changeNeedingNoSession(n, 'rename', () => this.client.send(new UpdateNotebookMetadataCommand({ NotebookId: n.NotebookId!, Name: name })));
  }

  private async remove(n: NotebookMetadata): Promise<void> {
    const form = await dialog(`Delete ${n.Name}`, [
      el('p', {}, 'The notebook is deleted for good. Type its name to confirm.'),
      field('Name', el('input', { name: 'confirm', required: true, autocomplete: 'off' })),
    ], 'Delete');
    if (!form) return;
    if (String(form.get('confirm')) !== n.Name) {
      notify('The name typed is not the notebook\'s: nothing was deleted.', 'error');
      return;
    }
    await this.changeNeedingNoSession(n, 'delete', () => this.client.send(new DeleteNotebookCommand({ NotebookId: n.NotebookId! })));
  }

  /**
   * Rename and delete need the notebook's sessions ended (user guide notebooks-spark-managing). When the
   * server refuses for that reason, the explorer shows its reason and offers to end the session and retry.
   */
  private async changeNeedingNoSession(n: NotebookMetadata, action: 'rename' | 'delete', change: () => Promise<unknown>): Promise<void> {
    try {
      await change();
    } catch (error) {
      const active = await activeSessionOf(this.client, n.NotebookId!).catch(() => undefined);
      if (!active) {
        notify(`${n.Name} could not be changed: ${errorMessage(error)}`, 'error');
        return;
      }
      const form = await dialog(`${n.Name} has an active session`, [
        el('p', { class: 'refusal' }, errorMessage(error)),
        el('p', {}, `Its session ${active} must end before the notebook can be ${action === 'rename' ? 'renamed' : 'deleted'}. End the session now? Its variables are lost; the notebook as saved is kept.`),
      ], `End the session and ${action}`);
      if (!form) return;
      try {
        await terminate(this.client, active);
        await waitUntilEnded(this.client, n.NotebookId!);
        await change();
      } catch (retryError) {
        notify(`${n.Name} could not be changed: ${errorMessage(retryError)}`, 'error');
        return;
      }
    }
    await this.load();
  }

  private async history(n: NotebookMetadata): Promise<void> {
    const box = el('dialog', { class: 'modal' }, el('h2', {}, `Sessions of ${n.Name}`), el('p', {}, 'Loading…'));
    box.addEventListener('close', () => box.remove());
    document.body.appendChild(box);
    box.showModal();
    try {
      const sessions = await notebookSessionHistory(this.client, this.workGroup, n.NotebookId!);
      box.replaceChildren(el('h2', {}, `Sessions of ${n.Name}`),
        sessions.length === 0 ? el('p', {}, 'No session has run this notebook yet.') :
          el('table', { class: 'session-history' },
            el('tr', {}, el('th', {}, 'Session'), el('th', {}, 'State'), el('th', {}, 'Started'), el('th', {}, 'Ended')),
            ...sessions.map((s) => el('tr', {},
              el('td', {}, ['IDLE', 'BUSY', 'CREATING', 'CREATED'].includes(s.state)
                ? el('button', { type: 'button', class: 'link', onclick: () => void openSession(this.client, s.sessionId) }, s.sessionId) : s.sessionId),
              el('td', { title: s.reason ?? '' }, s.state),
              el('td', {}, s.started?.toLocaleString() ?? ''),
              el('td', {}, s.ended?.toLocaleString() ?? '')))),
        el('div', { class: 'dialog-buttons' }, el('button', { type: 'button', class: 'primary', onclick: () => box.close() }, 'Close')));
    } catch (error) {
      box.replaceChildren(el('p', {}, errorMessage(error)));
    }
  }
}

/** Waits (up to a minute) until the notebook has no active session, after a terminate. */
async function waitUntilEnded(client: AthenaClient, notebookId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!(await activeSessionOf(client, notebookId))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}
