// The check a notebook payload passes before Owlet stores it: a Jupyter notebook in nbformat 4, the only
// format Athena's notebooks have (the model's NotebookType is IPYNB; spec/athena-behaviour.md §7). It checks
// the structure of nbformat 4's JSON schema that tools reading the notebook depend on, not every detail of
// the schema: a notebook Jupyter writes passes, and what is refused gets a message naming the first problem.

/** The cell types of nbformat 4 (Athena's editor offers the same three: Code, Markdown, Raw NBConvert). */
const CELL_TYPES = ['code', 'markdown', 'raw'] as const;
const OUTPUT_TYPES = ['execute_result', 'display_data', 'stream', 'error'] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (value: Json | undefined): value is { [key: string]: Json } =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isMultilineString = (value: Json | undefined): boolean =>
  typeof value === 'string' || (Array.isArray(value) && value.every((line) => typeof line === 'string'));

const quoted = (values: readonly string[]): string => values.map((v) => `"${v}"`).join(', ');

function cellProblem(cell: Json | undefined, at: string): string | undefined {
  if (!isObject(cell)) return `${at} must be an object`;
  const type = cell.cell_type;
  if (typeof type !== 'string' || !(CELL_TYPES as readonly string[]).includes(type)) {
    return `${at}.cell_type must be one of ${quoted(CELL_TYPES)}`;
  }
  if (!isMultilineString(cell.source)) return `${at}.source must be a string or an array of strings`;
  if (!isObject(cell.metadata)) return `${at}.metadata must be an object`;
  if (type !== 'code') return undefined;
  const count = cell.execution_count;
  if (count !== null && !Number.isInteger(count)) return `${at}.execution_count must be an integer or null`;
  const outputs = cell.outputs;
  if (!Array.isArray(outputs)) return `${at}.outputs must be an array`;
  for (const [i, output] of outputs.entries()) {
    if (!isObject(output)) return `${at}.outputs[${i}] must be an object`;
    const outputType = output.output_type;
    if (typeof outputType !== 'string' || !(OUTPUT_TYPES as readonly string[]).includes(outputType)) {
      return `${at}.outputs[${i}].output_type must be one of ${quoted(OUTPUT_TYPES)}`;
    }
  }
  return undefined;
}

/** What is wrong with `payload` as an nbformat 4 notebook, in a sentence; undefined when nothing is. */
export function nbformatProblem(payload: string): string | undefined {
  let notebook: Json;
  try {
    notebook = JSON.parse(payload) as Json;
  } catch (error) {
    return `The notebook is not valid JSON: ${error instanceof Error ? error.message : String(error)}.`;
  }
  const problem = (detail: string) => `The notebook is not a Jupyter notebook in nbformat 4: ${detail}.`;
  if (!isObject(notebook)) return problem('it must be a JSON object');
  const { nbformat } = notebook;
  if (nbformat === undefined) return problem('it has no nbformat');
  if (nbformat !== 4) {
    return `The notebook is in nbformat ${JSON.stringify(nbformat)}; Owlet accepts notebooks in nbformat 4 only (jupyter nbconvert --to notebook --nbformat 4 converts older ones).`;
  }
  if (!Number.isInteger(notebook.nbformat_minor) || (notebook.nbformat_minor as number) < 0) {
    return problem('nbformat_minor must be an integer of 0 or more');
  }
  if (!isObject(notebook.metadata)) return problem('metadata must be an object');
  const { cells } = notebook;
  if (!Array.isArray(cells)) return problem('cells must be an array');
  for (const [i, cell] of cells.entries()) {
    const found = cellProblem(cell, `cells[${i}]`);
    if (found) return problem(found);
  }
  return undefined;
}

/**
 * A new notebook with no cells, written as Jupyter writes notebooks (keys sorted, one-space indent, a final
 * newline), so that it reads the same in any editor it is exported to.
 */
export function emptyNotebook(): string {
  const notebook = {
    cells: [],
    metadata: { language_info: { name: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  return `${JSON.stringify(notebook, null, 1)}\n`;
}
