// `/api/contents` over Athena notebooks (jupyter_server services/api/api.yaml, Contents): the root holds one
// directory per Spark workgroup, each directory the workgroup's notebooks as `<name>.ipynb`. Reading is
// ExportNotebook, saving UpdateNotebook (or ImportNotebook for a new one), creating CreateNotebook, renaming
// UpdateNotebookMetadata, deleting DeleteNotebook: a notebook saved from any Jupyter client is the notebook
// the Athena API exports.
import type { NotebookMetadata } from '../generated/athena-model.js';
import { engineVersionInfo } from '../api/catalog.js';
import type { AthenaAccess } from './athena-access.js';
import { JupyterHttpError } from './http-errors.js';

export type JsonObject = { [key: string]: unknown };

const NOTEBOOK_SUFFIX = '.ipynb';

/** `<workgroup>/<name>.ipynb` split into its parts; undefined for anything that is not such a path. */
export function notebookPath(path: string): { workGroup: string; name: string } | undefined {
  const parts = path.replace(/^\/+|\/+$/g, '').split('/');
  if (parts.length !== 2 || !parts[1]!.endsWith(NOTEBOOK_SUFFIX)) return undefined;
  const name = parts[1]!.slice(0, -NOTEBOOK_SUFFIX.length);
  return name === '' ? undefined : { workGroup: parts[0]!, name };
}

const iso = (date: Date | undefined): string => (date ?? new Date(0)).toISOString();

export class NotebookContents {
  constructor(private readonly athena: AthenaAccess) {}

  async sparkWorkGroups(): Promise<{ name: string; created: Date | undefined }[]> {
    const found: { name: string; created: Date | undefined }[] = [];
    let token: string | undefined;
    do {
      const page = await this.athena.call('ListWorkGroups', { ...(token ? { NextToken: token } : {}) });
      for (const wg of page.WorkGroups ?? []) {
        const engine = wg.EngineVersion?.SelectedEngineVersion ?? 'AUTO';
        if (wg.State === 'ENABLED' && engineVersionInfo(engine)?.spark) found.push({ name: wg.Name!, created: wg.CreationTime });
      }
      token = page.NextToken;
    } while (token);
    return found;
  }

  async notebooks(workGroup: string): Promise<NotebookMetadata[]> {
    const found: NotebookMetadata[] = [];
    let token: string | undefined;
    do {
      const page = await this.athena.call('ListNotebookMetadata', { WorkGroup: workGroup, ...(token ? { NextToken: token } : {}) });
      found.push(...(page.NotebookMetadataList ?? []));
      token = page.NextToken;
    } while (token);
    return found;
  }

  /** The notebook at `<workgroup>/<name>.ipynb`, or undefined. */
  async find(path: string): Promise<NotebookMetadata | undefined> {
    const parsed = notebookPath(path);
    if (!parsed) return undefined;
    if (!(await this.sparkWorkGroups()).some((wg) => wg.name === parsed.workGroup)) return undefined;
    const page = await this.athena.call('ListNotebookMetadata', { WorkGroup: parsed.workGroup, Filters: { Name: parsed.name } });
    return (page.NotebookMetadataList ?? []).find((nb) => nb.Name === parsed.name);
  }

  private notebookModel(nb: NotebookMetadata, content: unknown): JsonObject {
    const path = `${nb.WorkGroup}/${nb.Name}${NOTEBOOK_SUFFIX}`;
    return {
      name: `${nb.Name}${NOTEBOOK_SUFFIX}`,
      path,
      type: 'notebook',
      writable: true,
      created: iso(nb.CreationTime),
      last_modified: iso(nb.LastModifiedTime),
      mimetype: null,
      content: content === undefined ? null : content,
      format: content === undefined ? null : 'json',
      size: null,
      hash: null,
      hash_algorithm: null,
    };
  }

  private directoryModel(path: string, created: Date | undefined, content: JsonObject[] | undefined): JsonObject {
    return {
      name: path.split('/').at(-1) ?? '',
      path,
      type: 'directory',
      writable: path !== '',
      created: iso(created),
      last_modified: iso(created),
      mimetype: null,
      content: content ?? null,
      format: content ? 'json' : null,
      size: null,
      hash: null,
      hash_algorithm: null,
    };
  }

  /** GET /api/contents/<path>. */
  async get(path: string, withContent: boolean): Promise<JsonObject> {
    const clean = path.replace(/^\/+|\/+$/g, '');
    const workGroups = await this.sparkWorkGroups();
    if (clean === '') {
      return this.directoryModel('', undefined, withContent ? workGroups.map((wg) => this.directoryModel(wg.name, wg.created, undefined)) : undefined);
    }
    const dir = workGroups.find((wg) => wg.name === clean);
    if (dir) {
      const listing = withContent ? (await this.notebooks(dir.name)).map((nb) => this.notebookModel(nb, undefined)) : undefined;
      return this.directoryModel(dir.name, dir.created, listing);
    }
    const nb = await this.find(clean);
    if (!nb) throw new JupyterHttpError(404, `No such file or directory: ${clean}`);
    if (!withContent) return this.notebookModel(nb, undefined);
    const exported = await this.athena.call('ExportNotebook', { NotebookId: nb.NotebookId! });
    return this.notebookModel(nb, JSON.parse(exported.Payload ?? '{}'));
  }

  /** PUT /api/contents/<path>: saves a notebook, creating it when new. */
  async save(path: string, model: JsonObject): Promise<{ model: JsonObject; created: boolean }> {
    const parsed = notebookPath(path);
    if (model.type !== undefined && model.type !== 'notebook') {
      throw new JupyterHttpError(400, `Owlet's contents are Athena notebooks (<workgroup>/<name>.ipynb); a ${String(model.type)} cannot be saved.`);
    }
    if (!parsed) throw new JupyterHttpError(400, `${path} is not a notebook path: Owlet's notebooks are <workgroup>/<name>.ipynb.`);
    if (model.content === undefined || model.content === null) throw new JupyterHttpError(400, 'No notebook content was given.');
    // As Jupyter writes a notebook file (nbformat's writes: one-space indent, a final newline).
    const payload = `${JSON.stringify(model.content, null, 1)}\n`;
    const existing = await this.find(path);
    if (existing) {
      const [active] = (await this.athena.call('ListNotebookSessions', { NotebookId: existing.NotebookId! })).NotebookSessionsList ?? [];
      await this.athena.call('UpdateNotebook', {
        NotebookId: existing.NotebookId!,
        Payload: payload,
        Type: 'IPYNB',
        ...(active?.SessionId ? { SessionId: active.SessionId } : {}),
      });
    } else {
      await this.athena.call('ImportNotebook', { WorkGroup: parsed.workGroup, Name: parsed.name, Payload: payload, Type: 'IPYNB' });
    }
    const saved = await this.find(path);
    if (!saved) throw new JupyterHttpError(500, `The notebook ${path} was saved but cannot be found.`);
    return { model: this.notebookModel(saved, undefined), created: !existing };
  }

  /** POST /api/contents/<directory>: a new untitled notebook, or a copy of `copy_from`. */
  async create(directory: string, body: JsonObject): Promise<JsonObject> {
    const workGroup = directory.replace(/^\/+|\/+$/g, '');
    if (!(await this.sparkWorkGroups()).some((wg) => wg.name === workGroup)) {
      throw new JupyterHttpError(404, `No such directory: ${workGroup}; notebooks are created in a Spark workgroup's directory.`);
    }
    if (body.type !== undefined && body.type !== 'notebook') {
      throw new JupyterHttpError(400, `Owlet's contents are Athena notebooks; a ${String(body.type)} cannot be created.`);
    }
    const copyFrom = typeof body.copy_from === 'string' ? body.copy_from : undefined;
    const source = copyFrom === undefined ? undefined : await this.find(copyFrom);
    if (copyFrom !== undefined && !source) throw new JupyterHttpError(404, `No such file: ${copyFrom}`);
    const taken = new Set((await this.notebooks(workGroup)).map((nb) => nb.Name));
    const base = source ? `${source.Name}-Copy` : 'Untitled';
    let name = source ? `${base}1` : base;
    for (let i = 1; taken.has(name); i++) name = `${base}${source ? i + 1 : i}`;
    if (source) {
      const exported = await this.athena.call('ExportNotebook', { NotebookId: source.NotebookId! });
      await this.athena.call('ImportNotebook', { WorkGroup: workGroup, Name: name, Payload: exported.Payload ?? '', Type: 'IPYNB' });
    } else {
      await this.athena.call('CreateNotebook', { WorkGroup: workGroup, Name: name });
    }
    const nb = await this.find(`${workGroup}/${name}${NOTEBOOK_SUFFIX}`);
    if (!nb) throw new JupyterHttpError(500, `The notebook ${name} was created but cannot be found.`);
    return this.notebookModel(nb, undefined);
  }

  /** PATCH /api/contents/<path> {path}: a rename within the workgroup (UpdateNotebookMetadata). */
  async rename(path: string, newPath: string): Promise<JsonObject> {
    const nb = await this.find(path);
    if (!nb) throw new JupyterHttpError(404, `No such file: ${path}`);
    const target = notebookPath(newPath);
    if (!target) throw new JupyterHttpError(400, `${newPath} is not a notebook path: Owlet's notebooks are <workgroup>/<name>.ipynb.`);
    if (target.workGroup !== nb.WorkGroup) throw new JupyterHttpError(400, 'A notebook cannot move to another workgroup; export and import it instead.');
    await this.athena.call('UpdateNotebookMetadata', { NotebookId: nb.NotebookId!, Name: target.name });
    const renamed = await this.find(newPath);
    if (!renamed) throw new JupyterHttpError(500, `The notebook ${newPath} was renamed but cannot be found.`);
    return this.notebookModel(renamed, undefined);
  }

  /** DELETE /api/contents/<path>. */
  async delete(path: string): Promise<void> {
    const nb = await this.find(path);
    if (!nb) throw new JupyterHttpError(404, `No such file: ${path}`);
    await this.athena.call('DeleteNotebook', { NotebookId: nb.NotebookId! });
  }

  /** Checkpoints: Athena keeps one version of a notebook, the saved one, which is the only checkpoint. */
  async checkpoints(path: string): Promise<JsonObject[]> {
    const nb = await this.find(path);
    if (!nb) throw new JupyterHttpError(404, `No such file: ${path}`);
    return [{ id: 'saved', last_modified: iso(nb.LastModifiedTime) }];
  }

  /** The saved session settings of a notebook: its `metadata.owlet.session` (docs/jupyter.md). */
  async sessionSettings(notebookId: string): Promise<JsonObject | undefined> {
    const exported = await this.athena.call('ExportNotebook', { NotebookId: notebookId });
    try {
      const nb = JSON.parse(exported.Payload ?? '{}') as { metadata?: { owlet?: { session?: JsonObject } } };
      return nb.metadata?.owlet?.session;
    } catch {
      return undefined;
    }
  }
}
