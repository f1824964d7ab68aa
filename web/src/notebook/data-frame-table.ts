// A DataFrame result as a table: click a header to sort (again to reverse), type to filter, download the
// shown rows as CSV. Rows come from the result document's application/json table.
import { el } from '../view.js';
import { cellText, type DataFrameTable, tableCsv, type TableView, visibleRows } from './table-model.js';

/** Rows drawn at once; the filter narrows the rest down. */
const SHOWN_ROWS = 200;

export class DataFrameTableView {
  readonly element: HTMLElement;
  private readonly view: TableView = { filter: '' };
  private readonly body = el('tbody');
  private readonly head = el('thead');
  private readonly count = el('span', { class: 'table-count' });

  constructor(private readonly table: DataFrameTable) {
    const filter = el('input', { type: 'search', class: 'table-filter', placeholder: 'Filter rows', 'aria-label': 'Filter rows' });
    filter.addEventListener('input', () => {
      this.view.filter = filter.value;
      this.draw();
    });
    const download = el('button', { type: 'button', class: 'small', onclick: () => this.download() }, 'Download CSV');
    this.element = el('div', { class: 'data-frame' },
      el('div', { class: 'table-tools' }, filter, this.count, download),
      el('div', { class: 'table-scroll' }, el('table', {}, this.head, this.body)));
    this.draw();
  }

  private draw(): void {
    const headers = this.table.schema.map((column, i) => {
      const arrow = this.view.sortColumn === i ? (this.view.descending ? ' ▼' : ' ▲') : '';
      return el('th', { title: column.type, onclick: () => this.sortBy(i) }, column.name + arrow);
    });
    this.head.replaceChildren(el('tr', {}, ...headers));
    const rows = visibleRows(this.table, this.view);
    this.body.replaceChildren(...rows.slice(0, SHOWN_ROWS).map((r) =>
      el('tr', {}, ...this.table.rows[r]!.map((cell) => el('td', { class: cell === null ? 'null' : undefined }, cellText(cell))))));
    const more = this.table.truncated ? ` (only the first ${this.table.rowLimit ?? this.table.rows.length} rows were fetched)` : '';
    const shown = rows.length > SHOWN_ROWS ? `${SHOWN_ROWS} of ${rows.length}` : `${rows.length}`;
    this.count.textContent = `${shown} rows${rows.length !== this.table.rows.length ? ` of ${this.table.rows.length}` : ''}${more}`;
  }

  private sortBy(column: number): void {
    if (this.view.sortColumn === column) this.view.descending = !this.view.descending;
    else {
      this.view.sortColumn = column;
      this.view.descending = false;
    }
    this.draw();
  }

  private download(): void {
    const csv = tableCsv(this.table, visibleRows(this.table, this.view));
    const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
    const link = el('a', { href: url, download: 'result.csv' });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
