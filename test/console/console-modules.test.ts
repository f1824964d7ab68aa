// The console's DOM-free modules: reading iopub messages into cell outputs, the DataFrame table's filter,
// sort and CSV, and finding the failing line in a traceback.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type JupyterMessage, newMessage, OutputAccumulator, parseFrame, savedOutputs } from '../../web/src/jupyter/messages.js';
import { dataFrameTable, tableCsv, visibleRows } from '../../web/src/notebook/table-model.js';
import { failingLine, stripAnsi } from '../../web/src/notebook/traceback.js';

function iopub(msgType: string, content: Record<string, unknown>): JupyterMessage {
  return newMessage('iopub', msgType, content, 'kernel-session', `m-${Math.random()}`);
}

describe('OutputAccumulator', () => {
  it('joins stream text of the same stream and keeps stdout and stderr apart', () => {
    const acc = new OutputAccumulator();
    acc.apply(iopub('stream', { name: 'stdout', text: 'a\n' }));
    acc.apply(iopub('stream', { name: 'stdout', text: 'b\n' }));
    acc.apply(iopub('stream', { name: 'stderr', text: 'oops\n' }));
    assert.deepEqual(acc.outputs, [
      { output_type: 'stream', name: 'stdout', text: 'a\nb\n' },
      { output_type: 'stream', name: 'stderr', text: 'oops\n' },
    ]);
  });

  it('updates a display by its display_id and saves it without the transient id', () => {
    const acc = new OutputAccumulator();
    acc.apply(iopub('display_data', { data: { 'text/plain': '0%' }, metadata: {}, transient: { display_id: 'p1' } }));
    assert.equal(acc.apply(iopub('update_display_data', { data: { 'text/plain': '50%' }, metadata: {}, transient: { display_id: 'p1' } })), true);
    assert.equal(acc.apply(iopub('update_display_data', { data: { 'text/plain': 'x' }, metadata: {}, transient: { display_id: 'other' } })), false);
    assert.deepEqual(savedOutputs(acc.outputs), [{ output_type: 'display_data', data: { 'text/plain': '50%' }, metadata: {} }]);
  });

  it('keeps execute_result and error, and clears on clear_output (at the next output with wait)', () => {
    const acc = new OutputAccumulator();
    acc.apply(iopub('execute_result', { data: { 'text/plain': '2' }, metadata: {}, execution_count: 3 }));
    acc.apply(iopub('clear_output', { wait: true }));
    assert.equal(acc.outputs.length, 1);
    acc.apply(iopub('error', { ename: 'ValueError', evalue: 'bad', traceback: ['t'] }));
    assert.deepEqual(acc.outputs, [{ output_type: 'error', ename: 'ValueError', evalue: 'bad', traceback: ['t'] }]);
  });

  it('reads JSON text frames and refuses what is no message', () => {
    const frame = JSON.stringify(iopub('status', { execution_state: 'idle' }));
    assert.equal(parseFrame(frame)?.header.msg_type, 'status');
    assert.equal(parseFrame('not json'), undefined);
    assert.equal(parseFrame('{"header": {}}'), undefined);
  });
});

describe('the DataFrame table', () => {
  const table = dataFrameTable({
    schema: [{ name: 'id', type: 'bigint' }, { name: 'name', type: 'string' }],
    rows: [[10, 'b,c'], [9, null], [100, 'say "hi"']],
    truncated: false,
    rowLimit: 1000,
  })!;

  it('sorts numbers as numbers, NULLs first, and filters on any cell', () => {
    assert.deepEqual(visibleRows(table, { filter: '', sortColumn: 0 }), [1, 0, 2]);
    assert.deepEqual(visibleRows(table, { filter: '', sortColumn: 0, descending: true }), [2, 0, 1]);
    assert.deepEqual(visibleRows(table, { filter: '', sortColumn: 1 }), [1, 0, 2]);
    assert.deepEqual(visibleRows(table, { filter: 'HI' }), [2]);
    assert.deepEqual(visibleRows(table, { filter: 'null' }), [1]);
  });

  it('writes RFC 4180 CSV of the shown rows, NULL as an empty field', () => {
    assert.equal(tableCsv(table, [0, 1, 2]), 'id,name\r\n10,"b,c"\r\n9,\r\n100,"say ""hi"""\r\n');
  });

  it('is read only from a bundle that holds a table', () => {
    assert.equal(dataFrameTable({ a: 1 }), undefined);
    assert.equal(dataFrameTable('x'), undefined);
  });
});

describe('tracebacks', () => {
  it('finds the failing line of the cell in Owlet, IPython and arrow forms', () => {
    assert.equal(failingLine(['Traceback (most recent call last):', '  File "<stdin>", line 3, in <module>', 'ZeroDivisionError: division by zero']), 3);
    assert.equal(failingLine(['\u001b[0;31mCell In[4], line 2\u001b[0m']), 2);
    assert.equal(failingLine(['----> 7 f()']), 7);
    assert.equal(failingLine(['ValueError: x']), undefined);
    assert.equal(stripAnsi('\u001b[0;31mred\u001b[0m'), 'red');
  });
});
