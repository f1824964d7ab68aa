// Draws a code cell's outputs: streams, MIME bundles (a DataFrame table, PNG, sanitized HTML, markdown, text)
// and errors with the failing line. HTML from a calculation is untrusted: it goes through DOMPurify, and the
// page's Content-Security-Policy runs no script it could carry anyway.
import DOMPurify from 'dompurify';
import { marked } from 'marked';
import type { CellOutputModel, MimeBundle } from '../jupyter/messages.js';
import { el } from '../view.js';
import { DataFrameTableView } from './data-frame-table.js';
import { dataFrameTable } from './table-model.js';
import { failingLine, stripAnsi } from './traceback.js';

export function sanitizedHtml(html: string): DocumentFragment {
  return DOMPurify.sanitize(html, { RETURN_DOM_FRAGMENT: true, FORBID_TAGS: ['style', 'form'] });
}

export function renderMarkdown(markdown: string): DocumentFragment {
  return sanitizedHtml(marked.parse(markdown, { async: false, gfm: true }));
}

function text(value: unknown): string {
  if (Array.isArray(value)) return value.join('');
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

export function renderBundle(data: MimeBundle): HTMLElement {
  const table = dataFrameTable(data['application/json']);
  if (table) return new DataFrameTableView(table).element;
  const png = data['image/png'];
  if (typeof png === 'string') {
    return el('img', { class: 'figure', alt: text(data['text/plain'] ?? 'figure'), src: `data:image/png;base64,${png.replace(/\s/g, '')}` });
  }
  const html = data['text/html'];
  if (html !== undefined) {
    const box = el('div', { class: 'html-output' });
    box.appendChild(sanitizedHtml(text(html)));
    return box;
  }
  const markdown = data['text/markdown'];
  if (markdown !== undefined) {
    const box = el('div', { class: 'markdown-output' });
    box.appendChild(renderMarkdown(text(markdown)));
    return box;
  }
  return el('pre', { class: 'text-output' }, stripAnsi(text(data['text/plain'] ?? '')));
}

export function renderOutput(output: CellOutputModel, source: string): HTMLElement {
  switch (output.output_type) {
    case 'stream':
      return el('pre', { class: `stream ${output.name}` }, stripAnsi(output.text));
    case 'display_data':
    case 'execute_result':
      return el('div', { class: `bundle ${output.output_type}` }, renderBundle(output.data));
    case 'error': {
      const line = failingLine(output.traceback);
      const code = line !== undefined ? source.split('\n')[line - 1] : undefined;
      return el('div', { class: 'error-output' },
        el('div', { class: 'error-title' }, `${output.ename}: ${output.evalue}`),
        code !== undefined ? el('div', { class: 'failing-line' }, `line ${line}: `, el('code', {}, code.trim())) : undefined,
        output.traceback.length ? el('pre', { class: 'traceback' }, stripAnsi(output.traceback.join('\n'))) : undefined);
    }
  }
}
