// The Jupyter messaging protocol (5.x) as the console uses it: the message envelope and the content of the
// messages a notebook front end sends and reads. Source: jupyter_client docs/messaging.rst ("General Message
// Format", "Messages on the shell (ROUTER/DEALER) channel", "Messages on the IOPub (PUB/SUB) channel"), and
// jupyter_server docs/source/developers/websocket-protocols.rst for the JSON text frame that carries one.
// DOM-free, so the node test suites read it too.

export const PROTOCOL_VERSION = '5.3';

export type Channel = 'shell' | 'iopub' | 'control' | 'stdin';

export interface MessageHeader {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export interface JupyterMessage<C = Record<string, unknown>> {
  channel: Channel;
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: C;
  buffers?: unknown[];
}

/** A MIME bundle: MIME type → value (text as strings, JSON types as JSON, binary types as base64). */
export type MimeBundle = Record<string, unknown>;

/** One output of a code cell, in nbformat 4's shape (nbformat v4 schema, "output"). */
export type CellOutputModel =
  | { output_type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { output_type: 'display_data'; data: MimeBundle; metadata: Record<string, unknown>; transient?: { display_id?: string } }
  | { output_type: 'execute_result'; data: MimeBundle; metadata: Record<string, unknown>; execution_count: number | null }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

export function newMessage<C>(channel: Channel, msgType: string, content: C, session: string, msgId: string, now = new Date()): JupyterMessage<C> {
  return {
    channel,
    header: { msg_id: msgId, session, username: 'owlet-console', date: now.toISOString(), msg_type: msgType, version: PROTOCOL_VERSION },
    parent_header: {},
    metadata: {},
    content,
  };
}

/** Reads one websocket text frame; undefined for what is no message (a binary frame is not read: the console asks for none). */
export function parseFrame(text: string): JupyterMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Partial<JupyterMessage>;
  if (typeof m.header?.msg_type !== 'string' || typeof m.channel !== 'string') return undefined;
  return { parent_header: {}, metadata: {}, content: {}, ...m } as JupyterMessage;
}

/**
 * What an iopub message does to a cell's outputs, in the order the protocol gives them. `stream` text joins
 * the previous output of the same stream (as notebook front ends show it); `clear_output` with `wait` clears
 * at the next output.
 */
export class OutputAccumulator {
  outputs: CellOutputModel[] = [];
  private clearPending = false;

  constructor(initial: CellOutputModel[] = []) {
    this.outputs = [...initial];
  }

  /** Applies one iopub message; answers whether the outputs changed. */
  apply(message: JupyterMessage): boolean {
    const c = message.content;
    switch (message.header.msg_type) {
      case 'stream': {
        const name = c.name === 'stderr' ? 'stderr' : 'stdout';
        const text = typeof c.text === 'string' ? c.text : '';
        this.flushClear();
        const last = this.outputs.at(-1);
        if (last?.output_type === 'stream' && last.name === name) last.text += text;
        else this.outputs.push({ output_type: 'stream', name, text });
        return true;
      }
      case 'display_data': {
        this.flushClear();
        const transient = (c.transient ?? {}) as { display_id?: string };
        this.outputs.push({
          output_type: 'display_data',
          data: (c.data ?? {}) as MimeBundle,
          metadata: (c.metadata ?? {}) as Record<string, unknown>,
          ...(transient.display_id ? { transient: { display_id: transient.display_id } } : {}),
        });
        return true;
      }
      case 'update_display_data': {
        const id = ((c.transient ?? {}) as { display_id?: string }).display_id;
        let changed = false;
        for (const output of this.outputs) {
          if (output.output_type === 'display_data' && id !== undefined && output.transient?.display_id === id) {
            output.data = (c.data ?? {}) as MimeBundle;
            output.metadata = (c.metadata ?? {}) as Record<string, unknown>;
            changed = true;
          }
        }
        return changed;
      }
      case 'execute_result':
        this.flushClear();
        this.outputs.push({
          output_type: 'execute_result',
          data: (c.data ?? {}) as MimeBundle,
          metadata: (c.metadata ?? {}) as Record<string, unknown>,
          execution_count: typeof c.execution_count === 'number' ? c.execution_count : null,
        });
        return true;
      case 'error':
        this.flushClear();
        this.outputs.push({
          output_type: 'error',
          ename: String(c.ename ?? 'Error'),
          evalue: String(c.evalue ?? ''),
          traceback: Array.isArray(c.traceback) ? c.traceback.map(String) : [],
        });
        return true;
      case 'clear_output':
        if (c.wait === true) {
          this.clearPending = true;
          return false;
        }
        this.outputs = [];
        return true;
      default:
        return false;
    }
  }

  private flushClear(): void {
    if (this.clearPending) {
      this.outputs = [];
      this.clearPending = false;
    }
  }
}

/** The outputs as a notebook file keeps them: `transient` is not saved (nbformat v4 schema). */
export function savedOutputs(outputs: CellOutputModel[]): CellOutputModel[] {
  return outputs.map((o) => {
    if (o.output_type !== 'display_data' || o.transient === undefined) return o;
    const { transient: _transient, ...rest } = o;
    return rest;
  });
}
