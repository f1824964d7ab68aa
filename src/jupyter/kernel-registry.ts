// The kernels the Jupyter server knows: every active session of a Spark workgroup is a kernel (started here
// or through the Athena API), found by listing the sessions, so that a server restarted meanwhile, or a kernel
// started by another client, is still there. A session started as a Jupyter kernel names the kernel in its
// Description (`Jupyter kernel <id>`), which keeps a restarted kernel's id bound to its newer session.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { SessionSummary } from '../generated/athena-model.js';
import type { AthenaAccess } from './athena-access.js';
import { type NotebookContents, notebookPath } from './contents.js';
import { JupyterHttpError } from './http-errors.js';
import { Kernel, type SessionSettings, kernelIdOfDescription, startKernelSession } from './kernel.js';

/** Athena's console default for Max concurrent DPUs (spec/notebook-console.md §1.2), when a workgroup sets none. */
const DEFAULT_MAX_CONCURRENT_DPUS = 20;

export class KernelRegistry {
  private readonly kernels = new Map<string, Kernel>();

  constructor(
    private readonly athena: AthenaAccess,
    private readonly contents: NotebookContents,
    private readonly log: Logger,
  ) {}

  /** The kernels of the active sessions of every Spark workgroup. */
  async list(): Promise<Kernel[]> {
    const seen = new Set<string>();
    for (const wg of await this.contents.sparkWorkGroups()) {
      let token: string | undefined;
      do {
        const page = await this.athena.call('ListSessions', { WorkGroup: wg.name, ...(token ? { NextToken: token } : {}) });
        for (const session of page.Sessions ?? []) seen.add(this.adopt(wg.name, session).id);
        token = page.NextToken;
      } while (token);
    }
    for (const [id, kernel] of this.kernels) {
      if (!seen.has(id) && (await kernel.executionState()) === 'dead') this.kernels.delete(id);
    }
    return [...this.kernels.values()];
  }

  private adopt(workGroup: string, session: SessionSummary): Kernel {
    const sessionId = session.SessionId!;
    const id = kernelIdOfDescription(session.Description) ?? sessionId;
    const known = this.kernels.get(id);
    if (known) return known;
    const kernel = new Kernel(id, workGroup, sessionId, undefined, this.athena, this.log);
    this.kernels.set(id, kernel);
    return kernel;
  }

  async get(id: string): Promise<Kernel | undefined> {
    const known = this.kernels.get(id);
    if (known) return known;
    await this.list();
    return this.kernels.get(id);
  }

  async require(id: string): Promise<Kernel> {
    const kernel = await this.get(id);
    // jupyter_server's wording (services/kernels/kernelmanager.py, MappingKernelManager._check_kernel_id).
    if (!kernel) throw new JupyterHttpError(404, `Kernel does not exist: ${id}`);
    return kernel;
  }

  /**
   * Starts a kernel of the kernelspec `name` (a Spark workgroup). For a notebook path (`<workgroup>/<name>.ipynb`)
   * the session is the notebook's, started with the notebook's saved session settings; a notebook whose
   * session is active already gets that session as its kernel (Athena allows one active session a notebook).
   */
  async start(name: string | undefined, path: string | undefined): Promise<Kernel> {
    const notebook = path === undefined || notebookPath(path) === undefined ? undefined : await this.contents.find(path);
    const workGroups = await this.contents.sparkWorkGroups();
    const workGroup = notebook?.WorkGroup ?? name ?? defaultKernelName(workGroups.map((wg) => wg.name));
    if (workGroup === undefined || !workGroups.some((wg) => wg.name === workGroup)) {
      throw new JupyterHttpError(404, `No such kernel named ${workGroup ?? '(none)'}: kernels are the Spark workgroups ${workGroups.map((wg) => wg.name).join(', ') || '(none)'}.`);
    }
    if (notebook) {
      const [active] = (await this.athena.call('ListNotebookSessions', { NotebookId: notebook.NotebookId! })).NotebookSessionsList ?? [];
      if (active?.SessionId) {
        await this.list();
        const kernel = [...this.kernels.values()].find((k) => k.sessionId === active.SessionId);
        if (kernel) return kernel;
      }
    }
    const settings = await this.settingsFor(workGroup, notebook?.NotebookId);
    const id = randomUUID();
    const sessionId = await startKernelSession(this.athena, id, settings);
    const kernel = new Kernel(id, workGroup, sessionId, settings, this.athena, this.log);
    this.kernels.set(id, kernel);
    return kernel;
  }

  /** The notebook's saved settings (`metadata.owlet.session`), else the workgroup's EngineConfiguration. */
  private async settingsFor(workGroup: string, notebookId: string | undefined): Promise<SessionSettings> {
    const saved = notebookId === undefined ? undefined : await this.contents.sessionSettings(notebookId);
    const wg = await this.athena.call('GetWorkGroup', { WorkGroup: workGroup });
    const defaults = wg.WorkGroup?.Configuration?.EngineConfiguration ?? {};
    const savedEngine = (saved?.EngineConfiguration ?? {}) as SessionSettings['engineConfiguration'];
    const engine = { ...defaults, ...savedEngine };
    const idle = typeof saved?.SessionIdleTimeoutInMinutes === 'number' ? saved.SessionIdleTimeoutInMinutes : undefined;
    return {
      workGroup,
      engineConfiguration: {
        MaxConcurrentDpus: engine.MaxConcurrentDpus ?? DEFAULT_MAX_CONCURRENT_DPUS,
        ...(engine.CoordinatorDpuSize !== undefined ? { CoordinatorDpuSize: engine.CoordinatorDpuSize } : {}),
        ...(engine.DefaultExecutorDpuSize !== undefined ? { DefaultExecutorDpuSize: engine.DefaultExecutorDpuSize } : {}),
        ...(engine.SparkProperties ? { SparkProperties: engine.SparkProperties } : {}),
        ...(engine.AdditionalConfigs ? { AdditionalConfigs: engine.AdditionalConfigs } : {}),
      },
      ...(idle !== undefined ? { idleTimeoutMinutes: idle } : {}),
      ...(notebookId !== undefined ? { notebookId } : {}),
    };
  }

  async remove(id: string): Promise<void> {
    const kernel = await this.require(id);
    await kernel.shutdown();
    this.kernels.delete(id);
  }
}

/** The kernelspec offered first: Owlet's ready `spark` workgroup when it exists. */
export function defaultKernelName(workGroups: readonly string[]): string | undefined {
  return workGroups.includes('spark') ? 'spark' : workGroups[0];
}
