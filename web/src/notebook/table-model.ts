// The rows of a DataFrame result as the console's table shows them: filtered, sorted, and written as CSV.
// The input is the `application/json` table of Owlet's result document (docs/result-document.md: `schema`,
// `rows`, `truncated`, `rowLimit`). DOM-free, so the node test suites read it too.

export interface TableColumn {
  name: string;
  type: string;
}

export interface DataFrameTable {
  schema: TableColumn[];
  rows: unknown[][];
  truncated: boolean;
  rowLimit?: number;
}

export interface TableView {
  /** A text every shown row contains in some cell (case-insensitive); empty for all rows. */
  filter: string;
  sortColumn?: number;
  descending?: boolean;
}

/** The table in a MIME bundle's `application/json`, or undefined when it holds something else. */
export function dataFrameTable(json: unknown): DataFrameTable | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const t = json as Partial<DataFrameTable>;
  if (!Array.isArray(t.schema) || !Array.isArray(t.rows)) return undefined;
  if (!t.schema.every((c) => typeof c === 'object' && c !== null && typeof (c as TableColumn).name === 'string')) return undefined;
  if (!t.rows.every(Array.isArray)) return undefined;
  return { schema: t.schema, rows: t.rows, truncated: t.truncated === true, ...(typeof t.rowLimit === 'number' ? { rowLimit: t.rowLimit } : {}) };
}

/** A cell as text: strings as they are, null as NULL (as Spark's show() writes it), other values as JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

const NUMERIC = /^(tinyint|smallint|int|bigint|float|double|decimal.*|long|short|byte|integer)$/;

function compare(a: unknown, b: unknown, numeric: boolean): number {
  // NULLs sort first, as Spark's ORDER BY ... ASC does by default.
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  if (numeric && typeof a === 'number' && typeof b === 'number') return a - b;
  return cellText(a).localeCompare(cellText(b), undefined, { numeric: true });
}

/** The indices of the rows to show, in order. */
export function visibleRows(table: DataFrameTable, view: TableView): number[] {
  const needle = view.filter.trim().toLowerCase();
  let indices = table.rows.map((_, i) => i);
  if (needle) indices = indices.filter((i) => table.rows[i]!.some((cell) => cellText(cell).toLowerCase().includes(needle)));
  if (view.sortColumn !== undefined) {
    const column = view.sortColumn;
    const numeric = NUMERIC.test(table.schema[column]?.type ?? '');
    const sign = view.descending ? -1 : 1;
    // Stable: equal rows keep the DataFrame's order.
    indices.sort((x, y) => sign * compare(table.rows[x]![column], table.rows[y]![column], numeric) || x - y);
  }
  return indices;
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180 CSV of the given rows with a header line; NULL cells are empty fields. */
export function tableCsv(table: DataFrameTable, rows: number[]): string {
  const lines = [table.schema.map((c) => csvField(c.name)).join(',')];
  for (const i of rows) {
    lines.push(table.rows[i]!.map((cell) => (cell === null || cell === undefined ? '' : csvField(cellText(cell)))).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
