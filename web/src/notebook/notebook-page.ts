// A notebook open on its session: the toolbar, the NotebookEditor, the autosave indicator, the kernel's
// connection, and the SessionPanel. Everything goes through the Jupyter Server API: the contents API loads
// and saves the notebook, /api/sessions names the kernel the notebook runs on, the kernel websocket runs
// cells, the kernels API interrupts and restarts. A CreatePresignedNotebookUrl link brings a token in the
// query, which the server swaps for a same-origin cookie.
import { GetNotebookMetadataCommand } from '@aws-sdk/client-athena';
import { athenaClient, errorMessage } from '../athena/athena-api.js';
import { storedKeyPair } from '../auth/console-credentials.js';
import { type ConnectionState, KernelConnection } from '../jupyter/kernel-connection.js';
import { JupyterError, JupyterServer } from '../jupyter/jupyter-server.js';
import { SessionPanel } from '../session/session-panel.js';
import { withSettings } from '../session/session-settings.js';
import { el, notify } from '../view.js';
import { Autosave, type SaveState } from './autosave.js';
import type { CellType } from './cell-view.js';
import { NotebookEditor, showShortcutHelp } from './notebook-editor.js';

export class NotebookPage {
  readonly element = el('div', { class: 'notebook-page' });
  private readonly server: JupyterServer;
  private readonly editor: NotebookEditor;
  private autosave: Autosave | undefined;
  private panel: SessionPanel | undefined;
  private kernel: KernelConnection | undefined;
  private kernelState = 'unknown';
  private readonly sessionId: string | undefined;
  /** The notebook's contents path, which CreatePresignedNotebookUrl's link names. */
  private readonly linkPath: string | undefined;
  private path = '';
  private readonly title = el('h1', { class: 'notebook-title' });
  private readonly saveIndicator = el('span', { class: 'save-state', 'data-state': 'saved' }, 'Saved');
  private readonly kernelIndicator = el('span', { class: 'kernel-state', 'data-state': 'unknown' }, 'connecting');
  private readonly banner = el('div', { class: 'banner', hidden: true, role: 'status' });

  constructor(private readonly notebookId: string, query: URLSearchParams) {
    // The server swaps a link's token for its cookie before the page loads (docs/jupyter.md); one that reaches
    // the page anyway is used for this page's requests and taken out of the address bar and the history.
    const token = query.get('token') ?? undefined;
    if (token) {
      query.delete('token');
      history.replaceState(null, '', `${location.pathname}${query.size ? `?${query}` : ''}`);
    }
    this.sessionId = query.get('session') ?? undefined;
    this.linkPath = query.get('path') ?? undefined;
    this.server = new JupyterServer(location.origin, token);
    this.editor = new NotebookEditor({
      onDirty: () => this.autosave?.changed(),
      onSave: () => void this.autosave?.save(),
      onInterrupt: () => void this.interrupt(),
      onRestart: () => void this.restart(),
    });
  }

  async start(): Promise<void> {
    let resolved: { path: string; kernelId: string };
    try {
      resolved = await this.resolve();
    } catch (error) {
      this.fail(error);
      return;
    }
    this.path = resolved.path;
    const model = await this.server.getNotebook(this.path);
    this.title.textContent = model.name.replace(/\.ipynb$/, '');
    document.title = `${this.title.textContent} · Owlet`;
    this.editor.load(model.content);
    this.autosave = new Autosave(this.server, this.path, () => this.editor.toDocument(), model.last_modified, (state, detail) => this.showSaveState(state, detail));
    this.kernel = new KernelConnection(this.server, resolved.kernelId, {
      onConnection: (state, detail) => this.showConnection(state, detail),
      onKernelStatus: (state) => this.showKernelState(state),
    });
    this.editor.useKernel(this.kernel);
    const keys = storedKeyPair();
    const panel = this.panel = new SessionPanel({
      sessionId: this.sessionId ?? resolved.kernelId,
      client: keys ? athenaClient(keys) : undefined,
      keys,
      keepAlive: async () => {
        await this.kernel?.execute('pass', () => undefined).done;
      },
      saveNotebook: () => this.autosave?.save() ?? Promise.resolve(),
      saveSettings: async (settings) => {
        this.editor.metadata = withSettings(this.editor.metadata, settings);
        await this.autosave?.save(true);
      },
      kernelState: () => this.kernelState,
    });
    this.element.replaceChildren(this.toolbar(), this.banner, el('div', { class: 'notebook-layout' }, this.editor.element, panel.element));
    window.addEventListener('beforeunload', (event) => {
      if (this.autosave?.state === 'unsaved' || this.autosave?.state === 'saving') {
        void this.autosave.save();
        event.preventDefault();
      }
    });
    try {
      await this.kernel.connect();
    } catch (error) {
      this.showBanner(`The kernel could not be reached: ${errorMessage(error)}`);
    }
  }

  /**
   * The notebook's contents path and its kernel: the Jupyter session whose kernel is the Athena session named
   * in the link, or, for a user logged in with a key pair, a Jupyter session opened on it for the notebook.
   */
  private async resolve(): Promise<{ path: string; kernelId: string }> {
    const sessions = await this.server.listSessions();
    const mine = sessions.find((s) => s.kernel && (s.kernel.id === this.sessionId || s.id === this.sessionId));
    if (mine?.kernel) return { path: mine.path, kernelId: mine.kernel.id };
    const keys = storedKeyPair();
    let path = this.linkPath;
    if (!path && keys) {
      const meta = (await athenaClient(keys).send(new GetNotebookMetadataCommand({ NotebookId: this.notebookId }))).NotebookMetadata!;
      path = `${meta.WorkGroup}/${meta.Name}.ipynb`;
    }
    if (path && this.sessionId) {
      // Kernels of sessions started through the Athena API have the session's id (docs/jupyter.md).
      const session = await this.server.startSession(path, { id: this.sessionId }).catch(async (error: unknown) => {
        // A kernel restarted by a Jupyter client keeps its id over a new session: the notebook's path finds it.
        if (!(error instanceof JupyterError) || error.status !== 404) throw error;
        return this.server.startSession(path, { name: path.split('/')[0]! });
      });
      return { path: session.path, kernelId: session.kernel!.id };
    }
    throw new Error('This notebook\'s session was not found: it may have ended. Open the notebook again from the notebook list.');
  }

  private fail(error: unknown): void {
    const expired = error instanceof JupyterError && (error.status === 401 || error.status === 403);
    this.element.replaceChildren(el('div', { class: 'fatal', role: 'alert' },
      el('h1', {}, expired ? 'This notebook link is not valid' : 'The notebook could not be opened'),
      el('p', {}, expired
        ? 'The link has expired or was not issued by this server. Open the notebook again from the notebook list, or ask for a new link (CreatePresignedNotebookUrl).'
        : errorMessage(error)),
      el('a', { href: '/console/', class: 'button' }, 'Notebook list')));
  }

  private toolbar(): HTMLElement {
    const e = this.editor;
    const button = (label: string, title: string, action: () => void, cls = '') =>
      el('button', { type: 'button', title, 'aria-label': title, class: cls, onclick: () => { action(); } }, label);
    const typeSelect = el('select', { 'aria-label': 'Cell type', class: 'cell-type' },
      el('option', { value: 'code' }, 'Code'), el('option', { value: 'markdown' }, 'Markdown'), el('option', { value: 'raw' }, 'Raw'));
    typeSelect.addEventListener('change', () => e.setType(typeSelect.value as CellType));
    this.editor.element.addEventListener('focusin', () => {
      typeSelect.value = e.selectedCell?.type ?? 'code';
    });
    return el('div', { class: 'toolbar', role: 'toolbar' },
      this.title,
      button('Save', 'Save (S, Ctrl+S)', () => void this.autosave?.save(), 'save'),
      this.saveIndicator,
      el('span', { class: 'sep' }),
      button('+', 'Insert a cell below (B)', () => e.insert('below')),
      button('Cut', 'Cut the cell (X)', () => e.copySelected(true)),
      button('Copy', 'Copy the cell (C)', () => e.copySelected(false)),
      button('Paste', 'Paste below (V)', () => e.pasteBelow()),
      button('↑', 'Move the cell up', () => e.move(-1)),
      button('↓', 'Move the cell down', () => e.move(1)),
      el('span', { class: 'sep' }),
      button('Run', 'Run the cell and select the next (Shift+Enter)', () => e.runSelected('next'), 'run'),
      button('Run all', 'Run all cells', () => e.runAll(), 'run-all'),
      button('Run above', 'Run the cells above the selected one', () => e.runAbove(), 'run-above'),
      button('Run below', 'Run the selected cell and those below', () => e.runBelow(), 'run-below'),
      button('Stop', 'Interrupt the running cell (I, I)', () => e.interrupt(), 'stop'),
      button('Restart', 'Restart the session (0, 0)', () => void this.restart(), 'restart'),
      typeSelect,
      button('?', 'Keyboard shortcuts (H)', () => showShortcutHelp()),
      el('span', { class: 'spacer' }),
      this.kernelIndicator);
  }

  private async interrupt(): Promise<void> {
    if (!this.kernel) return;
    try {
      await this.server.interruptKernel(this.kernel.kernelId);
    } catch (error) {
      notify(`The cell could not be interrupted: ${errorMessage(error)}`, 'error');
    }
  }

  private async restart(): Promise<void> {
    if (!this.kernel || !confirm('Restart the session? Its variables are lost.')) return;
    this.editor.clearQueue();
    try {
      await this.server.restartKernel(this.kernel.kernelId);
      this.kernel.abandonAll();
      notify('The session restarted.');
    } catch (error) {
      notify(`The session could not be restarted: ${errorMessage(error)}`, 'error');
    }
  }

  private showSaveState(state: SaveState, detail: string): void {
    const words: Record<SaveState, string> = { saved: 'Saved', unsaved: 'Unsaved changes', saving: 'Saving…', conflict: 'Conflict', failed: 'Not saved' };
    this.saveIndicator.textContent = words[state];
    this.saveIndicator.dataset.state = state;
    this.saveIndicator.title = detail;
    if (state === 'conflict') {
      this.showBanner(`This notebook was saved by another client (${detail}). `,
        el('button', { type: 'button', onclick: () => void this.reloadTheirs() }, 'Load their version'),
        el('button', { type: 'button', class: 'danger', onclick: () => { this.hideBanner(); void this.autosave?.save(true); } }, 'Keep mine (overwrite)'));
    } else if (state === 'failed') {
      notify(detail, 'error');
    }
  }

  private async reloadTheirs(): Promise<void> {
    const model = await this.server.getNotebook(this.path);
    this.editor.load(model.content);
    this.autosave?.reset(model.last_modified);
    this.hideBanner();
  }

  private showConnection(state: ConnectionState, detail?: string): void {
    if (state === 'connected') {
      this.hideBanner();
      this.showKernelState(this.kernelState === 'unknown' ? 'idle' : this.kernelState);
    } else if (state === 'reconnecting') {
      this.showBanner('The connection to the Owlet server was lost; reconnecting… (the session keeps running)');
      this.kernelIndicator.textContent = 'reconnecting';
      this.kernelIndicator.dataset.state = 'reconnecting';
    } else if (state === 'closed' && detail) {
      this.editor.clearQueue();
      this.showBanner(`${detail} `, el('a', { href: '/console/', class: 'button' }, 'Notebook list'));
      this.showKernelState('dead');
    }
  }

  private showKernelState(state: string): void {
    this.kernelState = state;
    this.panel?.refreshKernelState();
    this.kernelIndicator.textContent = `session ${state}`;
    this.kernelIndicator.dataset.state = state;
  }

  private showBanner(...content: (string | HTMLElement)[]): void {
    this.banner.replaceChildren(...content);
    this.banner.hidden = false;
  }

  private hideBanner(): void {
    this.banner.hidden = true;
  }
}
