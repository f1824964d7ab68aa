// Reading a Python traceback for the line of the cell that failed. Owlet compiles cell code with filename
// `<stdin>` (as Athena does: `File "<stdin>", line 2`, docs/runner-protocol.md); IPython kernels write
// `Cell In[3], line 2` or an arrow `----> 2`. DOM-free.

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** The 1-based line of the cell the traceback's innermost cell frame names, or undefined. */
export function failingLine(traceback: string[]): number | undefined {
  const text = stripAnsi(traceback.join('\n'));
  let line: number | undefined;
  for (const match of text.matchAll(/File "<stdin>", line (\d+)|Cell In\[\d*\], line (\d+)|^-+> (\d+)/gm)) {
    line = Number(match[1] ?? match[2] ?? match[3]);
  }
  return line;
}
