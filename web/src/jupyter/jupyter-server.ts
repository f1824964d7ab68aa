// The Jupyter Server REST API as the console calls it: contents (notebooks), sessions (which notebook runs on
// which kernel), kernels (interrupt, restart, state) and kernel specs. Routes and models from jupyter_server
// services/api/api.yaml. Requests carry the console's token as `Authorization: token <t>` when it has one;
// otherwise the same-origin cookie the server set when the token was swapped for it.
import type { CellOutputModel } from './messages.js';

export interface NotebookCellModel {
  cell_type: 'code' | 'markdown' | 'raw';
  source: string | string[];
  metadata: Record<string, unknown>;
  id?: string;
  outputs?: CellOutputModel[];
  execution_count?: number | null;
  attachments?: Record<string, unknown>;
}

export interface NotebookDocument {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCellModel[];
}

export interface ContentsModel<C = unknown> {
  name: string;
  path: string;
  type: 'notebook' | 'file' | 'directory';
  writable: boolean;
  created: string;
  last_modified: string;
  mimetype: string | null;
  format: string | null;
  content: C;
  size?: number | null;
}

export interface KernelModel {
  id: string;
  name: string;
  last_activity?: string;
  execution_state?: string;
  connections?: number;
}

export interface SessionModel {
  id: string;
  path: string;
  name: string;
  type: string;
  kernel: KernelModel | null;
}

export interface KernelSpecs {
  default: string;
  kernelspecs: Record<string, { name: string; spec: { display_name: string; language: string; metadata?: Record<string, unknown> } }>;
}

/** A refused request, with jupyter_server's `message` (or the status text) and the HTTP status. */
export class JupyterError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export class JupyterServer {
  /** `token`: one to present, or undefined when the server's cookie carries authentication. */
  constructor(readonly baseUrl: string, private readonly token: string | undefined) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.token) headers.Authorization = `token ${this.token}`;
    const response = await fetch(new URL(path, this.baseUrl), {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        const parsed = JSON.parse(text) as { message?: string; reason?: string };
        message = parsed.message || parsed.reason || message;
      } catch {
        if (text.trim()) message = text.trim().slice(0, 500);
      }
      throw new JupyterError(response.status, message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  getNotebook(path: string): Promise<ContentsModel<NotebookDocument>> {
    return this.request('GET', `/api/contents/${encodePath(path)}?type=notebook&content=1`);
  }

  /** The notebook's model without its content: its last_modified tells whether another client saved it. */
  statNotebook(path: string): Promise<ContentsModel<null>> {
    return this.request('GET', `/api/contents/${encodePath(path)}?content=0`);
  }

  saveNotebook(path: string, content: NotebookDocument): Promise<ContentsModel<null>> {
    return this.request('PUT', `/api/contents/${encodePath(path)}`, { type: 'notebook', format: 'json', content });
  }

  listDirectory(path: string): Promise<ContentsModel<ContentsModel[]>> {
    return this.request('GET', `/api/contents/${encodePath(path)}?type=directory&content=1`);
  }

  listSessions(): Promise<SessionModel[]> {
    return this.request('GET', '/api/sessions');
  }

  /** Opens a notebook on a kernel: the existing session of the path, or a new one on `kernel`. */
  startSession(path: string, kernel: { name: string } | { id: string }): Promise<SessionModel> {
    return this.request('POST', '/api/sessions', { path, name: path.split('/').at(-1) ?? path, type: 'notebook', kernel });
  }

  getKernel(id: string): Promise<KernelModel> {
    return this.request('GET', `/api/kernels/${encodeURIComponent(id)}`);
  }

  async interruptKernel(id: string): Promise<void> {
    await this.request('POST', `/api/kernels/${encodeURIComponent(id)}/interrupt`);
  }

  restartKernel(id: string): Promise<KernelModel> {
    return this.request('POST', `/api/kernels/${encodeURIComponent(id)}/restart`);
  }

  async shutdownKernel(id: string): Promise<void> {
    await this.request('DELETE', `/api/kernels/${encodeURIComponent(id)}`);
  }

  kernelSpecs(): Promise<KernelSpecs> {
    return this.request('GET', '/api/kernelspecs');
  }

  /** The websocket URL of a kernel's channels, with the client's session id (and the token when there is one). */
  channelsUrl(kernelId: string, clientSession: string): string {
    const url = new URL(`/api/kernels/${encodeURIComponent(kernelId)}/channels`, this.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('session_id', clientSession);
    if (this.token) url.searchParams.set('token', this.token);
    return url.toString();
  }
}
