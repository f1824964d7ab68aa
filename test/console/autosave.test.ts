// The console's autosave: debounced saves through the contents API, and a conflict, not an overwrite, when
// another client saved the notebook since (its last_modified moved). A stand-in for the server's two calls.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JupyterServer, NotebookDocument } from '../../web/src/jupyter/jupyter-server.js';
import { AUTOSAVE_DELAY_MS, Autosave, type SaveState } from '../../web/src/notebook/autosave.js';

function notebook(source: string): NotebookDocument {
  return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: 'code', source, metadata: {}, outputs: [], execution_count: null }] };
}

class StoredNotebook {
  lastModified = '2026-12-03T08:00:00.000Z';
  saves: NotebookDocument[] = [];
  private clock = 0;

  asServer(): JupyterServer {
    return {
      statNotebook: async () => ({ last_modified: this.lastModified }),
      saveNotebook: async (_path: string, content: NotebookDocument) => {
        this.saves.push(content);
        this.lastModified = new Date(Date.parse(this.lastModified) + ++this.clock * 1000).toISOString();
        return { last_modified: this.lastModified };
      },
    } as unknown as JupyterServer;
  }
}

describe('Autosave', () => {
  it('saves once after a burst of changes, then reports saved', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const stored = new StoredNotebook();
    const states: SaveState[] = [];
    let source = 'a';
    const autosave = new Autosave(stored.asServer(), 'spark/n.ipynb', () => notebook(source), stored.lastModified, (s) => states.push(s));
    for (const s of ['b', 'c', 'd']) {
      source = s;
      autosave.changed();
    }
    assert.equal(autosave.state, 'unsaved');
    t.mock.timers.tick(AUTOSAVE_DELAY_MS);
    const state = (): SaveState => autosave.state;
    for (let i = 0; i < 100 && state() !== 'saved'; i++) await new Promise(setImmediate);
    assert.equal(stored.saves.length, 1);
    assert.equal(stored.saves[0]!.cells[0]!.source, 'd');
    assert.equal(autosave.state, 'saved');
    assert.deepEqual(states.slice(0, 2), ['unsaved', 'unsaved']);
  });

  it('stops at a conflict when another client saved, and overwrites only when told to', async () => {
    const stored = new StoredNotebook();
    const autosave = new Autosave(stored.asServer(), 'spark/n.ipynb', () => notebook('mine'), stored.lastModified, () => undefined);
    stored.lastModified = '2026-12-03T09:00:00.000Z';
    await autosave.save();
    assert.equal(autosave.state, 'conflict');
    assert.equal(stored.saves.length, 0);
    autosave.changed();
    assert.equal(autosave.state, 'conflict', 'a change does not end the conflict');
    await autosave.save(true);
    assert.equal(autosave.state, 'saved');
    assert.equal(stored.saves.length, 1);
  });
});
