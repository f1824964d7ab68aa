// Saves the notebook through the contents API (PUT /api/contents/<path>, which Owlet maps onto
// UpdateNotebook) a moment after the last change, and tells the page whether it is saved. Before each save
// it reads the notebook's last_modified: when another client saved it since this page loaded or saved it,
// the save stops and the page asks the user whether to overwrite their changes or load them.
import { JupyterError, type JupyterServer, type NotebookDocument } from '../jupyter/jupyter-server.js';

export type SaveState = 'saved' | 'unsaved' | 'saving' | 'conflict' | 'failed';

export const AUTOSAVE_DELAY_MS = 1_500;

export class Autosave {
  state: SaveState = 'saved';
  detail = '';
  private timer: ReturnType<typeof setTimeout> | undefined;
  private saving: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly server: JupyterServer,
    private readonly path: string,
    private readonly snapshot: () => NotebookDocument,
    private lastModified: string,
    private readonly onState: (state: SaveState, detail: string) => void,
  ) {}

  changed(): void {
    if (this.state === 'conflict') return;
    this.set('unsaved');
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.save(), AUTOSAVE_DELAY_MS);
  }

  /** Saves now (Ctrl+S, S, leaving): waits for a save under way, then saves what is there. */
  async save(force = false): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.state === 'conflict' && !force) return;
    if (this.saving) {
      this.again = true;
      await this.saving;
      return;
    }
    this.saving = this.write(force);
    try {
      await this.saving;
    } finally {
      this.saving = undefined;
    }
    if (this.again) {
      this.again = false;
      await this.save();
    }
  }

  private async write(force: boolean): Promise<void> {
    this.set('saving');
    try {
      if (!force) {
        const current = await this.server.statNotebook(this.path);
        if (current.last_modified !== this.lastModified) {
          this.set('conflict', `Saved elsewhere at ${new Date(current.last_modified).toLocaleTimeString()}`);
          return;
        }
      }
      const saved = await this.server.saveNotebook(this.path, this.snapshot());
      this.lastModified = saved.last_modified;
      this.set('saved', `Saved at ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      const message = error instanceof JupyterError ? error.message : error instanceof Error ? error.message : String(error);
      this.set('failed', `Not saved: ${message}`);
      // A failed save is tried again at the next change, or with Save.
    }
  }

  /** After loading the notebook anew (the user chose the other client's version). */
  reset(lastModified: string): void {
    this.lastModified = lastModified;
    this.set('saved');
  }

  private set(state: SaveState, detail = ''): void {
    this.state = state;
    this.detail = detail;
    this.onState(state, detail);
  }
}
