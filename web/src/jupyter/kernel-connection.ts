// One kernel's channels over the Jupyter websocket (/api/kernels/<id>/channels), legacy JSON text frames
// (jupyter_server docs/source/developers/websocket-protocols.rst). Requests are matched to their replies and
// iopub messages by parent msg_id. On open the console asks for kernel_info first, as JupyterLab does
// (packages/services/src/kernel/default.ts). A socket that drops is opened again with a growing delay, for as
// long as the page lives: a restarted Owlet server keeps its sessions, so the kernel is usually still there.
import { type JupyterMessage, newMessage, parseFrame } from './messages.js';
import type { JupyterServer } from './jupyter-server.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ExecuteReply {
  status: 'ok' | 'error' | 'aborted';
  execution_count?: number;
}

/** A running execute_request: its iopub messages as they come, and its reply with the kernel idle again. */
export interface Execution {
  msgId: string;
  done: Promise<ExecuteReply>;
}

interface Pending {
  onIopub: (message: JupyterMessage) => void;
  reply?: ExecuteReply;
  idle: boolean;
  resolve: (reply: ExecuteReply) => void;
}

export interface KernelConnectionEvents {
  onConnection?: (state: ConnectionState, detail?: string) => void;
  onKernelStatus?: (executionState: string) => void;
}

const RECONNECT_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000];

export class KernelConnection {
  private socket: WebSocket | undefined;
  private readonly clientSession = crypto.randomUUID();
  private readonly pending = new Map<string, Pending>();
  private readonly waiters = new Map<string, (message: JupyterMessage) => void>();
  private attempts = 0;
  private closedByUs = false;
  private state: ConnectionState = 'connecting';
  private kernelSession: string | undefined;
  kernelInfo: Record<string, unknown> | undefined;

  constructor(private readonly server: JupyterServer, readonly kernelId: string, private readonly events: KernelConnectionEvents = {}) {}

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Opens the socket and waits for the kernel's kernel_info_reply (a kernel still starting may take a while). */
  async connect(): Promise<void> {
    this.closedByUs = false;
    await this.open();
  }

  close(): void {
    this.closedByUs = true;
    this.setState('closed');
    this.socket?.close();
  }

  execute(code: string, onIopub: (message: JupyterMessage) => void): Execution {
    const msgId = crypto.randomUUID();
    const done = new Promise<ExecuteReply>((resolve) => {
      this.pending.set(msgId, { onIopub, idle: false, resolve });
    });
    this.send(newMessage('shell', 'execute_request', {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
    }, this.clientSession, msgId));
    return { msgId, done };
  }

  /**
   * Ends every execution still waiting for its reply, as aborted: after an interrupt, a restart or a kernel
   * that is gone, the cells queued behind the running one will not run.
   */
  abandonAll(): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve(p.reply ?? { status: 'aborted' });
    }
  }

  private send(message: JupyterMessage<unknown>): void {
    if (this.socket?.readyState !== WebSocket.OPEN) {
      // Sent once the socket is open again; a kernel that is gone makes the caller abandon it.
      this.outbox.push(message);
      return;
    }
    this.socket.send(JSON.stringify(message));
  }

  private readonly outbox: JupyterMessage<unknown>[] = [];

  private setState(state: ConnectionState, detail?: string): void {
    this.state = state;
    this.events.onConnection?.(state, detail);
  }

  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(this.server.channelsUrl(this.kernelId, this.clientSession));
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        this.attempts = 0;
        const infoId = crypto.randomUUID();
        this.waiters.set(infoId, (reply) => {
          this.kernelInfo = reply.content;
          const session = reply.header.session;
          if (this.kernelSession !== undefined && session !== this.kernelSession) {
            // messaging.rst: a changed kernel session after a reconnect means the kernel restarted.
            this.abandonAll();
          }
          this.kernelSession = session;
          this.setState('connected');
          for (const queued of this.outbox.splice(0)) socket.send(JSON.stringify(queued));
          resolve();
        });
        socket.send(JSON.stringify(newMessage('shell', 'kernel_info_request', {}, this.clientSession, infoId)));
      };
      socket.onmessage = (event) => {
        if (typeof event.data === 'string') this.dispatch(event.data);
      };
      socket.onclose = (event) => {
        if (this.socket !== socket) return;
        if (this.closedByUs) return;
        if (!opened && this.attempts === 0 && this.state === 'connecting') {
          reject(new Error(`The kernel's websocket could not be opened (${event.code}${event.reason ? `: ${event.reason}` : ''}).`));
          return;
        }
        void this.reconnect(event.reason);
      };
    });
  }

  private async reconnect(reason: string): Promise<void> {
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempts, RECONNECT_DELAYS_MS.length - 1)]!;
    this.attempts += 1;
    this.setState('reconnecting', reason || `attempt ${this.attempts}`);
    await new Promise((r) => setTimeout(r, delay));
    if (this.closedByUs) return;
    try {
      const kernel = await this.server.getKernel(this.kernelId);
      if (kernel.execution_state === 'dead') {
        this.abandonAll();
        this.setState('closed', 'The kernel is dead: its session has ended.');
        return;
      }
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 404) {
        this.abandonAll();
        this.setState('closed', 'The kernel is gone: its session has ended.');
        return;
      }
      // The server is not answering yet (it may be restarting): try again.
      void this.reconnect(error instanceof Error ? error.message : String(error));
      return;
    }
    this.open().catch(() => void this.reconnect('the socket did not open'));
  }

  private dispatch(text: string): void {
    const message = parseFrame(text);
    if (!message) return;
    const parent = message.parent_header.msg_id;
    const type = message.header.msg_type;
    if (message.channel === 'iopub' && type === 'status') {
      const state = String(message.content.execution_state ?? '');
      this.events.onKernelStatus?.(state);
    }
    if (parent === undefined) return;
    const waiter = this.waiters.get(parent);
    if (waiter && message.channel !== 'iopub') {
      this.waiters.delete(parent);
      waiter(message);
      return;
    }
    const p = this.pending.get(parent);
    if (!p) return;
    if (message.channel === 'iopub') {
      if (type === 'status' && message.content.execution_state === 'idle') p.idle = true;
      else p.onIopub(message);
    } else if (type === 'execute_reply') {
      const c = message.content;
      p.reply = {
        status: c.status === 'ok' || c.status === 'error' ? c.status : 'aborted',
        ...(typeof c.execution_count === 'number' ? { execution_count: c.execution_count } : {}),
      };
    }
    if (p.reply && p.idle) {
      this.pending.delete(parent);
      p.resolve(p.reply);
    }
  }
}
