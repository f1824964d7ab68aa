// What a cell shows, from what its calculation leaves: stdout.txt and stderr.txt, read while the calculation
// runs (the runner's output writer appends to them as the code prints, docs/runner-protocol.md), and the
// result document at the end (docs/result-document.md): its MIME bundles become display_data, the one the
// runner marks `lastExpression` becomes execute_result, and its `error` becomes Jupyter's error message.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

export type StreamName = 'stdout' | 'stderr';

/** The result document (version 1) as the Jupyter server reads it; members it does not know are ignored. */
export interface ResultDocument {
  version: number;
  outputs: { data: Record<string, unknown>; lastExpression?: boolean }[];
  error?: { ename: string; evalue: string; traceback: string };
}

export function parseResultDocument(text: string | undefined): ResultDocument {
  if (text === undefined || text.trim() === '') return { version: 1, outputs: [] };
  const parsed = JSON.parse(text) as Partial<ResultDocument>;
  return { version: parsed.version ?? 1, outputs: Array.isArray(parsed.outputs) ? parsed.outputs : [], ...(parsed.error ? { error: parsed.error } : {}) };
}

/**
 * A line where a traceback printed by the runner starts (format_user_traceback in the runner: the standard
 * traceback without its header line). While a calculation runs, stderr from such a line on is held back: if
 * the calculation fails, that text is the traceback, which the `error` message carries instead.
 */
const TRACEBACK_START = /^ {2}File "/m;

/** Follows one output file of a running calculation from where it was last read. */
class FileFollower {
  private offset = 0;
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly path: string) {}

  /** The text appended since the last read ('' when the file is missing or unchanged). */
  async readNew(): Promise<string> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch {
      return '';
    }
    try {
      const chunks: string[] = [];
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        chunks.push(this.decoder.write(buffer.subarray(0, bytesRead)));
      }
      return chunks.join('');
    } finally {
      await handle.close();
    }
  }
}

/**
 * The stdout and stderr of one calculation as streams: `poll()` while it runs, `finish()` once it has ended
 * with the files' final text (read from the result store, which holds the same bytes).
 */
export class CalculationStreams {
  private readonly stdout: FileFollower | undefined;
  private readonly stderr: FileFollower | undefined;
  /** stderr read but not yet sent: from the start of what may be a traceback on. */
  private heldStderr = '';
  private sentStdoutBytes = 0;
  private sentStderrBytes = 0;

  constructor(liveDirectory: string | undefined) {
    this.stdout = liveDirectory === undefined ? undefined : new FileFollower(join(liveDirectory, 'stdout.txt'));
    this.stderr = liveDirectory === undefined ? undefined : new FileFollower(join(liveDirectory, 'stderr.txt'));
  }

  async poll(): Promise<{ name: StreamName; text: string }[]> {
    const out: { name: StreamName; text: string }[] = [];
    if (this.stdout) {
      const text = await this.stdout.readNew();
      this.sentStdoutBytes += Buffer.byteLength(text);
      if (text) out.push({ name: 'stdout', text });
    }
    if (this.stderr) {
      this.heldStderr += await this.stderr.readNew();
      const start = TRACEBACK_START.exec(this.heldStderr);
      const sendable = start ? this.heldStderr.slice(0, start.index) : this.heldStderr;
      this.heldStderr = this.heldStderr.slice(sendable.length);
      this.sentStderrBytes += Buffer.byteLength(sendable);
      if (sendable) out.push({ name: 'stderr', text: sendable });
    }
    return out;
  }

  /** What remains of both files once the calculation has ended, without the traceback `error` carries. */
  finish(stdout: Uint8Array, stderr: Uint8Array, traceback: string | undefined): { name: StreamName; text: string }[] {
    const out: { name: StreamName; text: string }[] = [];
    const restOut = Buffer.from(stdout).subarray(this.sentStdoutBytes).toString('utf8');
    if (restOut) out.push({ name: 'stdout', text: restOut });
    let restErr = Buffer.from(stderr).subarray(this.sentStderrBytes).toString('utf8');
    if (traceback && restErr.endsWith(traceback)) restErr = restErr.slice(0, restErr.length - traceback.length);
    if (restErr) out.push({ name: 'stderr', text: restErr });
    return out;
  }
}

/** `42% (5/12 tasks)` (the calculation's Progress) as numbers. */
export function parseProgress(text: string | undefined): { done: number; total: number } | undefined {
  const match = /\((\d+)\/(\d+) tasks\)/.exec(text ?? '');
  return match ? { done: Number(match[1]), total: Number(match[2]) } : undefined;
}

/** The progress bar under a running cell: text for every frontend, HTML for those that render it. */
export function progressBundle(done: number, total: number, elapsedMs: number, finished: boolean): Record<string, string> {
  const percent = total === 0 ? 100 : Math.floor((done * 100) / total);
  const seconds = (elapsedMs / 1000).toFixed(1);
  const width = 30;
  const filled = Math.round((percent / 100) * width);
  const label = `Spark ${finished ? 'finished' : 'progress'}: ${percent}% (${done}/${total} tasks), ${seconds} s`;
  return {
    'text/plain': `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${label}`,
    'text/html':
      `<div class="owlet-spark-progress"><progress max="${total}" value="${done}" style="width:20em"></progress> ` +
      `<span>${label}</span></div>`,
  };
}

/** Splits a traceback's text into the lines Jupyter's `error.traceback` holds. */
export function tracebackLines(text: string): string[] {
  return text.replace(/\n$/, '').split('\n');
}
