// The notebook: its cells, the selected cell, Jupyter's two keyboard modes, and running cells on the kernel
// one after another. Keys follow Athena's editor (user guide, notebooks-spark-editor): in edit mode
// Shift+Enter runs and moves on, Ctrl/Cmd+Enter runs, Alt+Enter runs and inserts a cell below, Esc leaves for
// command mode; in command mode Enter edits, A/B insert, C/X/V copy/cut/paste, D D deletes, Z undoes it, J/K
// move, M/R/Y make markdown/raw/code, 1-6 heading, S saves, Shift+L line numbers, H help, and classic
// Jupyter's I I interrupts and 0 0 restarts.
import type { KernelConnection } from '../jupyter/kernel-connection.js';
import type { NotebookCellModel, NotebookDocument } from '../jupyter/jupyter-server.js';
import { type CellOutputModel, OutputAccumulator, savedOutputs } from '../jupyter/messages.js';
import { el } from '../view.js';
import { type CellType, CellView } from './cell-view.js';

export type EditorMode = 'command' | 'edit';

export interface NotebookEditorEvents {
  /** The document changed (sources, cell list, outputs): the autosaver saves it a little later. */
  onDirty: () => void;
  onSave: () => void;
  onInterrupt: () => void;
  onRestart: () => void;
  onRunStateChange?: (running: boolean) => void;
}

interface ClipboardCell {
  type: CellType;
  source: string;
  outputs: CellOutputModel[];
  metadata: Record<string, unknown>;
}

function joinSource(source: string | string[]): string {
  return Array.isArray(source) ? source.join('') : source;
}

function newCellId(): string {
  return crypto.randomUUID().replaceAll('-', '').slice(0, 12);
}

export class NotebookEditor {
  readonly element = el('div', { class: 'notebook', tabindex: 0 });
  cells: CellView[] = [];
  selected = 0;
  mode: EditorMode = 'command';
  /** The notebook's own metadata (kernelspec, language, Owlet's saved session settings). */
  metadata: Record<string, unknown> = {};
  private nbformatMinor = 5;
  private kernel: KernelConnection | undefined;
  private queue: CellView[] = [];
  private running: CellView | undefined;
  private runStarted = 0;
  private clipboard: ClipboardCell[] = [];
  private deleted: { cell: ClipboardCell; index: number }[] = [];
  private pendingKey = '';
  private lineNumbers = false;

  constructor(private readonly events: NotebookEditorEvents) {
    this.element.addEventListener('keydown', (event) => this.onCommandKey(event));
    setInterval(() => {
      if (this.running) this.running.showElapsed(Date.now() - this.runStarted);
    }, 500);
  }

  useKernel(kernel: KernelConnection | undefined): void {
    this.kernel = kernel;
  }

  get isRunning(): boolean {
    return this.running !== undefined || this.queue.length > 0;
  }

  load(document: NotebookDocument): void {
    this.metadata = document.metadata ?? {};
    this.nbformatMinor = document.nbformat_minor ?? 5;
    for (const cell of this.cells) cell.editor.destroy();
    this.cells = [];
    this.element.replaceChildren();
    const cells = document.cells.length ? document.cells : [{ cell_type: 'code' as const, source: '', metadata: {} }];
    for (const cell of cells) this.insertCell(this.cells.length, this.cellFromModel(cell));
    this.select(0, 'command');
  }

  /** The notebook as nbformat 4 (the contents API saves it; outputs included). */
  toDocument(): NotebookDocument {
    return {
      nbformat: 4,
      nbformat_minor: Math.max(this.nbformatMinor, 5),
      metadata: this.metadata,
      cells: this.cells.map((cell): NotebookCellModel => {
        const base = { id: cell.id, cell_type: cell.type, source: cell.source, metadata: cell.metadata };
        return cell.type === 'code' ? { ...base, outputs: savedOutputs(cell.outputs), execution_count: cell.executionCount } : base;
      }),
    };
  }

  private cellFromModel(model: NotebookCellModel): CellView {
    const type: CellType = model.cell_type === 'markdown' || model.cell_type === 'raw' ? model.cell_type : 'code';
    return this.makeCell(type, joinSource(model.source ?? ''), model.outputs ?? [], model.execution_count ?? null, model.metadata ?? {}, model.id);
  }

  private makeCell(type: CellType, source: string, outputs: CellOutputModel[], count: number | null, metadata: Record<string, unknown>, id?: string): CellView {
    const cell = new CellView(id ?? newCellId(), type, source, outputs, count, metadata, {
      onChange: () => this.events.onDirty(),
      onFocus: (c) => this.select(this.cells.indexOf(c), 'edit', false),
      onCommand: (c, command) => this.onEditCommand(c, command),
    });
    cell.setLineNumbers(this.lineNumbers);
    return cell;
  }

  private insertCell(index: number, cell: CellView): void {
    const before = this.cells[index];
    this.cells.splice(index, 0, cell);
    this.element.insertBefore(cell.element, before?.element ?? null);
  }

  select(index: number, mode: EditorMode, focus = true): void {
    if (index < 0 || this.cells.length === 0) return;
    this.selected = Math.min(index, this.cells.length - 1);
    this.mode = mode;
    this.cells.forEach((cell, i) => {
      cell.element.classList.toggle('selected', i === this.selected);
      cell.element.classList.toggle('editing', i === this.selected && mode === 'edit');
    });
    const cell = this.cells[this.selected]!;
    if (!focus) return;
    if (mode === 'edit') cell.focusEditor();
    else {
      this.element.focus({ preventScroll: true });
      cell.element.scrollIntoView({ block: 'nearest' });
    }
  }

  get selectedCell(): CellView | undefined {
    return this.cells[this.selected];
  }

  insert(where: 'above' | 'below', type: CellType = 'code', mode: EditorMode = 'command'): CellView {
    const index = where === 'above' ? this.selected : this.selected + 1;
    const cell = this.makeCell(type, '', [], null, {});
    this.insertCell(Math.min(index, this.cells.length), cell);
    this.select(index, mode);
    this.events.onDirty();
    return cell;
  }

  private snapshot(cell: CellView): ClipboardCell {
    return { type: cell.type, source: cell.source, outputs: cell.outputs, metadata: cell.metadata };
  }

  deleteSelected(): void {
    const cell = this.selectedCell;
    if (!cell || cell.runState !== 'idle') return;
    this.deleted.push({ cell: this.snapshot(cell), index: this.selected });
    this.removeAt(this.selected);
  }

  private removeAt(index: number): void {
    const [cell] = this.cells.splice(index, 1);
    cell?.element.remove();
    cell?.editor.destroy();
    if (this.cells.length === 0) this.insertCell(0, this.makeCell('code', '', [], null, {}));
    this.select(Math.min(index, this.cells.length - 1), 'command');
    this.events.onDirty();
  }

  undoDelete(): void {
    const last = this.deleted.pop();
    if (!last) return;
    const c = last.cell;
    this.insertCell(Math.min(last.index, this.cells.length), this.makeCell(c.type, c.source, c.outputs, null, c.metadata));
    this.select(last.index, 'command');
    this.events.onDirty();
  }

  copySelected(cut: boolean): void {
    const cell = this.selectedCell;
    if (!cell) return;
    this.clipboard = [this.snapshot(cell)];
    if (cut && cell.runState === 'idle') this.removeAt(this.selected);
  }

  pasteBelow(): void {
    for (const [offset, c] of this.clipboard.entries()) {
      this.insertCell(this.selected + 1 + offset, this.makeCell(c.type, c.source, c.outputs, null, c.metadata));
    }
    if (this.clipboard.length) {
      this.select(this.selected + 1, 'command');
      this.events.onDirty();
    }
  }

  move(delta: -1 | 1): void {
    const from = this.selected;
    const to = from + delta;
    if (to < 0 || to >= this.cells.length) return;
    const [cell] = this.cells.splice(from, 1);
    this.cells.splice(to, 0, cell!);
    this.element.insertBefore(cell!.element, delta < 0 ? this.cells[to + 1]!.element : (this.cells[to + 1]?.element ?? null));
    this.select(to, 'command');
    this.events.onDirty();
  }

  setType(type: CellType): void {
    this.selectedCell?.setType(type);
    this.events.onDirty();
  }

  setHeading(level: number): void {
    const cell = this.selectedCell;
    if (!cell) return;
    cell.setType('markdown');
    cell.setSource(`${'#'.repeat(level)} ${cell.source.replace(/^#+\s*/, '')}`);
    this.events.onDirty();
  }

  toggleLineNumbers(): void {
    this.lineNumbers = !this.lineNumbers;
    for (const cell of this.cells) cell.setLineNumbers(this.lineNumbers);
  }

  // ---- running ----------------------------------------------------------------------------------------------

  /** Runs cells in order: markdown renders at once, code joins the queue (shown as queued). */
  run(cells: CellView[]): void {
    for (const cell of cells) {
      if (cell.type === 'markdown') cell.showRenderedMarkdown();
      else if (cell.type === 'code' && cell.runState === 'idle' && cell.source.trim() !== '') {
        cell.setRunState('queued');
        this.queue.push(cell);
      }
    }
    void this.drain();
  }

  runSelected(then: 'stay' | 'next' | 'insert'): void {
    const cell = this.selectedCell;
    if (!cell) return;
    this.run([cell]);
    if (then === 'stay') this.select(this.selected, cell.type === 'code' ? 'edit' : 'command');
    else if (then === 'insert' || this.selected === this.cells.length - 1) this.insert('below', 'code', 'edit');
    else this.select(this.selected + 1, 'command');
  }

  runAll(): void {
    this.run(this.cells);
  }

  runAbove(): void {
    this.run(this.cells.slice(0, this.selected));
  }

  runBelow(): void {
    this.run(this.cells.slice(this.selected));
  }

  /** Empties the queue: queued cells go back to idle without running (after an interrupt or an error). */
  clearQueue(): void {
    for (const cell of this.queue) cell.setRunState('idle');
    this.queue = [];
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.events.onRunStateChange?.(true);
    while (this.queue.length > 0) {
      const cell = this.queue.shift()!;
      const kernel = this.kernel;
      if (!kernel) {
        cell.setOutputs([{ output_type: 'error', ename: 'NoKernel', evalue: 'The notebook has no session: start one to run cells.', traceback: [] }]);
        cell.setRunState('idle');
        this.clearQueue();
        break;
      }
      this.running = cell;
      this.runStarted = Date.now();
      const startedAt = new Date();
      cell.setRunState('running');
      cell.setOutputs([]);
      const outputs = new OutputAccumulator();
      const execution = kernel.execute(cell.source, (message) => {
        if (outputs.apply(message)) cell.setOutputs(outputs.outputs);
        if (message.header.msg_type === 'execute_input' && typeof message.content.execution_count === 'number') {
          cell.executionCount = message.content.execution_count;
        }
      });
      const reply = await execution.done;
      cell.finishRun(startedAt, new Date(), reply.execution_count ?? cell.executionCount);
      cell.drawOutputs();
      this.running = undefined;
      this.events.onDirty();
      if (reply.status !== 'ok') {
        // stop_on_error: the kernel aborts what was queued behind a failure, and so does the console.
        this.clearQueue();
      }
    }
    this.events.onRunStateChange?.(false);
  }

  interrupt(): void {
    this.clearQueue();
    this.events.onInterrupt();
  }

  // ---- keys ---------------------------------------------------------------------------------------------------

  private onEditCommand(cell: CellView, command: 'run' | 'run-next' | 'run-insert' | 'escape' | 'save'): void {
    this.selected = this.cells.indexOf(cell);
    switch (command) {
      case 'run': this.runSelected('stay'); break;
      case 'run-next': this.runSelected('next'); break;
      case 'run-insert': this.runSelected('insert'); break;
      case 'escape': this.select(this.selected, 'command'); break;
      case 'save': this.events.onSave(); break;
    }
  }

  private onCommandKey(event: KeyboardEvent): void {
    if (event.target !== this.element) return;
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    const twice = (k: string, action: () => void): void => {
      if (this.pendingKey === k) {
        this.pendingKey = '';
        action();
      } else this.pendingKey = k;
    };
    let handled = true;
    if (key === 'Enter' && event.shiftKey) this.runSelected('next');
    else if (key === 'Enter' && mod) this.runSelected('stay');
    else if (key === 'Enter' && event.altKey) this.runSelected('insert');
    else if (key === 'Enter') this.select(this.selected, 'edit');
    else if (mod && key.toLowerCase() === 's') this.events.onSave();
    else if (mod || event.altKey) handled = false;
    else if (key === 'L' && event.shiftKey) this.toggleLineNumbers();
    else {
      switch (key) {
        case 'a': this.insert('above'); break;
        case 'b': this.insert('below'); break;
        case 'c': this.copySelected(false); break;
        case 'x': this.copySelected(true); break;
        case 'v': this.pasteBelow(); break;
        case 'd': twice('d', () => this.deleteSelected()); return event.preventDefault();
        case 'i': twice('i', () => this.interrupt()); return event.preventDefault();
        case '0': twice('0', () => this.events.onRestart()); return event.preventDefault();
        case 'z': this.undoDelete(); break;
        case 'j': case 'ArrowDown': this.select(this.selected + 1, 'command'); break;
        case 'k': case 'ArrowUp': this.select(Math.max(0, this.selected - 1), 'command'); break;
        case 'J': this.move(1); break;
        case 'K': this.move(-1); break;
        case 'm': this.setType('markdown'); break;
        case 'r': this.setType('raw'); break;
        case 'y': this.setType('code'); break;
        case 's': this.events.onSave(); break;
        case 'h': showShortcutHelp(); break;
        case '1': case '2': case '3': case '4': case '5': case '6': this.setHeading(Number(key)); break;
        default: handled = false;
      }
    }
    this.pendingKey = '';
    if (handled) event.preventDefault();
  }
}

const SHORTCUTS: [string, string][] = [
  ['Shift+Enter', 'run the cell and select the next (a new one at the end)'],
  ['Ctrl/Cmd+Enter', 'run the cell'],
  ['Alt+Enter', 'run the cell and insert one below'],
  ['Esc / Enter', 'command mode / edit mode'],
  ['A / B', 'insert a cell above / below'],
  ['C / X / V', 'copy / cut / paste below'],
  ['D, D', 'delete the cell'],
  ['Z', 'undo the last delete'],
  ['J / K (↓ / ↑)', 'select the next / previous cell'],
  ['Shift+J / Shift+K', 'move the cell down / up'],
  ['M / R / Y', 'markdown / raw / code cell'],
  ['1 … 6', 'markdown heading level'],
  ['S or Ctrl/Cmd+S', 'save'],
  ['I, I', 'interrupt the running cell'],
  ['0, 0', 'restart the session'],
  ['Shift+L', 'line numbers'],
  ['H', 'this help'],
];

export function showShortcutHelp(): void {
  const box = el('dialog', { class: 'modal help' },
    el('h2', {}, 'Keyboard shortcuts (command mode unless noted)'),
    el('table', {}, ...SHORTCUTS.map(([k, what]) => el('tr', {}, el('th', {}, k), el('td', {}, what)))),
    el('div', { class: 'dialog-buttons' }, el('button', { class: 'primary', onclick: () => box.close() }, 'Close')));
  box.addEventListener('close', () => box.remove());
  document.body.appendChild(box);
  box.showModal();
}
