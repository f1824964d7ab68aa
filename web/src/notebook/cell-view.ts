// One cell: its editor (CodeMirror 6, Python, or SQL when the cell starts with %%sql, or Markdown), its
// prompt ([3], [*] running, [ ] queued), its outputs with "ran in N s", and for markdown cells the rendered
// text once run. The NotebookEditor owns the list and the keyboard's command mode; a cell reports edits and
// the keys it does not handle in edit mode.
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { markdown } from '@codemirror/lang-markdown';
import { python } from '@codemirror/lang-python';
import { sql } from '@codemirror/lang-sql';
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { Compartment, type Extension, Prec, StateEffect, StateField } from '@codemirror/state';
import { Decoration, type DecorationSet, drawSelection, EditorView, keymap, lineNumbers } from '@codemirror/view';
import type { CellOutputModel } from '../jupyter/messages.js';
import { el, formatDuration } from '../view.js';
import { renderMarkdown, renderOutput } from './cell-output.js';
import { failingLine } from './traceback.js';

export type CellType = 'code' | 'markdown' | 'raw';
export type RunState = 'idle' | 'queued' | 'running';

export interface CellCallbacks {
  onChange: (cell: CellView) => void;
  onFocus: (cell: CellView) => void;
  /** A key the editor leaves to the notebook in edit mode: 'run', 'run-next', 'run-insert', 'escape'. */
  onCommand: (cell: CellView, command: 'run' | 'run-next' | 'run-insert' | 'escape' | 'save') => void;
}

/** A cell starting with the %%sql magic holds SQL (Athena's notebooks-spark-magics). */
export function isSqlCell(source: string): boolean {
  return /^\s*%%sql\b/.test(source);
}

const setErrorLine = StateEffect.define<number | undefined>();
const errorLineField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    for (const effect of tr.effects) {
      if (effect.is(setErrorLine)) {
        const line = effect.value;
        if (line === undefined || line < 1 || line > tr.state.doc.lines) return Decoration.none;
        return Decoration.set([Decoration.line({ class: 'cm-error-line' }).range(tr.state.doc.line(line).from)]);
      }
    }
    return tr.docChanged ? Decoration.none : value;
  },
  provide: (field) => EditorView.decorations.from(field),
});

export class CellView {
  readonly element: HTMLElement;
  readonly editor: EditorView;
  type: CellType;
  outputs: CellOutputModel[];
  executionCount: number | null;
  metadata: Record<string, unknown>;
  runState: RunState = 'idle';
  /** When the cell last ran, and for how long (from the notebook's execution metadata or this page). */
  private readonly language = new Compartment();
  private readonly gutter = new Compartment();
  private readonly prompt = el('div', { class: 'prompt' });
  private readonly outputArea = el('div', { class: 'outputs' });
  private readonly rendered = el('div', { class: 'rendered-markdown' });
  private readonly timing = el('div', { class: 'timing' });
  private markdownShown = false;
  private languageName = '';

  constructor(readonly id: string, type: CellType, source: string, outputs: CellOutputModel[], executionCount: number | null,
    metadata: Record<string, unknown>, private readonly callbacks: CellCallbacks) {
    this.type = type;
    this.outputs = outputs;
    this.executionCount = executionCount;
    this.metadata = metadata;
    const run = (command: 'run' | 'run-next' | 'run-insert' | 'escape' | 'save') => () => {
      callbacks.onCommand(this, command);
      return true;
    };
    const cellKeys: Extension = Prec.highest(keymap.of([
      { key: 'Shift-Enter', run: run('run-next') },
      { key: 'Mod-Enter', run: run('run') },
      { key: 'Alt-Enter', run: run('run-insert') },
      { key: 'Escape', run: run('escape') },
      { key: 'Mod-s', run: run('save'), preventDefault: true },
    ]));
    this.editor = new EditorView({
      doc: source,
      extensions: [
        cellKeys,
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap]),
        this.language.of([]),
        this.gutter.of([]),
        errorLineField,
        EditorView.lineWrapping,
        EditorView.updateListener.of((update) => {
          if (update.docChanged) {
            this.chooseLanguage();
            callbacks.onChange(this);
          }
          if (update.focusChanged && update.view.hasFocus) callbacks.onFocus(this);
        }),
      ],
    });
    this.rendered.addEventListener('dblclick', () => this.showMarkdownSource());
    this.element = el('div', { class: 'cell', 'data-cell-id': id },
      this.prompt,
      el('div', { class: 'cell-body' }, el('div', { class: 'cell-input' }, this.editor.dom), this.rendered, this.outputArea, this.timing));
    this.element.addEventListener('mousedown', () => callbacks.onFocus(this));
    this.chooseLanguage();
    this.drawOutputs();
    if (type === 'markdown' && source.trim()) this.showRenderedMarkdown();
    this.refresh();
  }

  get source(): string {
    return this.editor.state.doc.toString();
  }

  setSource(source: string): void {
    this.editor.dispatch({ changes: { from: 0, to: this.editor.state.doc.length, insert: source } });
  }

  setType(type: CellType): void {
    if (this.type === type) return;
    this.type = type;
    if (type !== 'code') {
      this.outputs = [];
      this.executionCount = null;
      this.drawOutputs();
    }
    if (type !== 'markdown') this.showMarkdownSource();
    this.chooseLanguage();
    this.refresh();
  }

  setLineNumbers(on: boolean): void {
    this.editor.dispatch({ effects: this.gutter.reconfigure(on ? lineNumbers() : []) });
  }

  setRunState(state: RunState): void {
    this.runState = state;
    this.refresh();
  }

  setOutputs(outputs: CellOutputModel[]): void {
    this.outputs = outputs;
    this.drawOutputs();
  }

  /** Records a finished run in the cell's metadata (JupyterLab's `execution` timing keys) and shows it. */
  finishRun(startedAt: Date, endedAt: Date, executionCount: number | null): void {
    this.executionCount = executionCount;
    this.metadata = { ...this.metadata, execution: { 'iopub.status.busy': startedAt.toISOString(), 'shell.execute_reply': endedAt.toISOString() } };
    this.setRunState('idle');
  }

  /** Shows how long the running cell has been running. */
  showElapsed(ms: number): void {
    if (this.runState === 'running') this.timing.textContent = `running for ${formatDuration(ms)}`;
  }

  showRenderedMarkdown(): void {
    if (this.type !== 'markdown') return;
    this.rendered.replaceChildren(renderMarkdown(this.source || '*Empty markdown cell: double-click to edit.*'));
    this.markdownShown = true;
    this.refresh();
  }

  showMarkdownSource(): void {
    this.markdownShown = false;
    this.refresh();
  }

  focusEditor(): void {
    if (this.markdownShown) this.showMarkdownSource();
    this.editor.focus();
  }

  private chooseLanguage(): void {
    const source = this.editor.state.doc.toString();
    const name = this.type === 'markdown' ? 'markdown' : this.type === 'raw' ? 'raw' : isSqlCell(source) ? 'sql' : 'python';
    if (name === this.languageName) return;
    this.languageName = name;
    const language = name === 'markdown' ? markdown() : name === 'sql' ? sql() : name === 'python' ? python() : [];
    this.editor.dispatch({ effects: this.language.reconfigure(language) });
    this.element?.setAttribute('data-language', name);
  }

  drawOutputs(): void {
    const source = this.source;
    this.outputArea.replaceChildren(...this.outputs.map((o) => renderOutput(o, source)));
    const error = this.outputs.find((o) => o.output_type === 'error');
    const line = error?.output_type === 'error' ? failingLine(error.traceback) : undefined;
    this.editor.dispatch({ effects: setErrorLine.of(line) });
  }

  refresh(): void {
    const e = this.element;
    if (!e) return;
    e.dataset.type = this.type;
    e.dataset.state = this.runState;
    e.dataset.language = this.languageName;
    e.classList.toggle('markdown-rendered', this.markdownShown);
    this.prompt.textContent = this.type !== 'code' ? '' : this.runState === 'running' ? '[*]' : this.runState === 'queued' ? '[…]' : `[${this.executionCount ?? ' '}]`;
    this.prompt.title = this.runState === 'queued' ? 'Queued: runs when the cells before it have run' : '';
    const execution = this.metadata.execution as Record<string, string> | undefined;
    const started = execution?.['iopub.status.busy'];
    const ended = execution?.['shell.execute_reply'];
    if (this.type === 'code' && started && ended && this.runState === 'idle') {
      const at = new Date(ended);
      this.timing.textContent = `ran in ${formatDuration(at.getTime() - new Date(started).getTime())} at ${at.toLocaleTimeString()}`;
    } else if (this.runState === 'queued') {
      this.timing.textContent = 'queued';
    } else {
      this.timing.textContent = '';
    }
  }
}
