// What the Jupyter client tests share: @jupyterlab/services pointed at an Owlet server with a token, and a
// way to run a cell and collect what the kernel sent for it.
import { type Kernel, KernelManager, type KernelMessage, ServerConnection, SessionManager, ContentsManager, KernelSpecManager } from '@jupyterlab/services';
import { WebSocket } from 'ws';

export interface JupyterClients {
  settings: ServerConnection.ISettings;
  kernels: KernelManager;
  sessions: SessionManager;
  contents: ContentsManager;
  specs: KernelSpecManager;
  dispose(): void;
}

export function jupyterClients(endpoint: string, token: string): JupyterClients {
  const settings = ServerConnection.makeSettings({
    baseUrl: `${endpoint}/`,
    wsUrl: `${endpoint.replace(/^http/, 'ws')}/`,
    token,
    appendToken: true,
    // Node's own WebSocket would do too; `ws` is the client the server is built with, and sends no Origin.
    WebSocket: WebSocket as unknown as ServerConnection.ISettings['WebSocket'],
  });
  const kernels = new KernelManager({ serverSettings: settings });
  const sessions = new SessionManager({ serverSettings: settings, kernelManager: kernels });
  const contents = new ContentsManager({ serverSettings: settings });
  const specs = new KernelSpecManager({ serverSettings: settings });
  return {
    settings,
    kernels,
    sessions,
    contents,
    specs,
    dispose() {
      // Lumino's Poll.dispose() leaves its next timer armed (it only ignores it when it fires), which would
      // hold the test process open for up to a minute: those timers are cleared here.
      const polls = [kernels, sessions, specs].flatMap((manager) => {
        const fields = manager as unknown as Record<string, { _timeout?: NodeJS.Timeout } | undefined>;
        return [fields._pollModels, fields._pollSpecs];
      });
      sessions.dispose();
      kernels.dispose();
      contents.dispose();
      specs.dispose();
      for (const poll of polls) if (poll?._timeout) clearTimeout(poll._timeout);
    },
  };
}

export interface CellRun {
  reply: KernelMessage.IExecuteReplyMsg['content'];
  messages: KernelMessage.IIOPubMessage[];
  stdout: string;
  stderr: string;
  /** When each stdout text arrived, relative to the request. */
  stdoutTimes: number[];
}

/** Runs `code` and waits for its reply, collecting the iopub messages that answer it. */
export async function runCell(kernel: Kernel.IKernelConnection, code: string, options: Partial<KernelMessage.IExecuteRequestMsg['content']> = {}): Promise<CellRun> {
  const started = Date.now();
  const future = kernel.requestExecute({ code, ...options });
  const messages: KernelMessage.IIOPubMessage[] = [];
  let stdout = '';
  let stderr = '';
  const stdoutTimes: number[] = [];
  future.onIOPub = (msg) => {
    messages.push(msg);
    if (msg.header.msg_type === 'stream') {
      const content = msg.content as KernelMessage.IStreamMsg['content'];
      if (content.name === 'stdout') {
        stdout += content.text;
        stdoutTimes.push(Date.now() - started);
      } else stderr += content.text;
    }
  };
  const reply = (await future.done).content;
  return { reply, messages, stdout, stderr, stdoutTimes };
}

export const types = (run: CellRun): string[] => run.messages.map((m) => m.header.msg_type);
