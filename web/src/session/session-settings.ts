// The session settings of Athena's create-notebook and edit-session dialogs (user guide,
// notebooks-spark-getting-started and notebooks-spark-custom-jar-cfg): idle timeout 1-480 minutes (default
// 20), max concurrent DPUs 3-60 (default 20), coordinator and executor size 1 DPU, Spark properties as
// key/value rows or JSON.
import type { EngineConfiguration } from '@aws-sdk/client-athena';
import { el, field } from '../view.js';

export interface SessionSettings {
  idleTimeoutMinutes: number;
  maxConcurrentDpus: number;
  sparkProperties: Record<string, string>;
}

export const DEFAULT_SETTINGS: SessionSettings = { idleTimeoutMinutes: 20, maxConcurrentDpus: 20, sparkProperties: {} };

/** The form fields; `readSettings` reads them back from the submitted form. */
export function settingsFields(initial: SessionSettings = DEFAULT_SETTINGS): HTMLElement[] {
  return [
    field('Session idle timeout (minutes)', el('input', { name: 'idleTimeout', type: 'number', min: 1, max: 480, required: true, value: initial.idleTimeoutMinutes }), '1 to 480'),
    field('Max concurrent DPUs', el('input', { name: 'maxDpus', type: 'number', min: 3, max: 60, required: true, value: initial.maxConcurrentDpus }), '3 to 60; coordinator and executors are 1 DPU each'),
    field('Spark properties (JSON)', el('textarea', { name: 'sparkProperties', rows: 4, spellcheck: false, placeholder: '{"spark.sql.shuffle.partitions": "8"}' },
      Object.keys(initial.sparkProperties).length ? JSON.stringify(initial.sparkProperties, null, 2) : ''), 'an object of string values, e.g. spark.jars.packages'),
  ];
}

export function readSettings(form: FormData): SessionSettings {
  const raw = String(form.get('sparkProperties') ?? '').trim();
  let sparkProperties: Record<string, string> = {};
  if (raw) {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('Spark properties must be a JSON object.');
    sparkProperties = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  }
  return {
    idleTimeoutMinutes: Number(form.get('idleTimeout') ?? 20),
    maxConcurrentDpus: Number(form.get('maxDpus') ?? 20),
    sparkProperties,
  };
}

export function engineConfiguration(settings: SessionSettings, notebookId: string): EngineConfiguration {
  return {
    CoordinatorDpuSize: 1,
    DefaultExecutorDpuSize: 1,
    MaxConcurrentDpus: settings.maxConcurrentDpus,
    // API_EngineConfiguration: a notebook's session names it here, with NotebookVersion on StartSession.
    AdditionalConfigs: { NotebookId: notebookId },
    ...(Object.keys(settings.sparkProperties).length ? { SparkProperties: settings.sparkProperties } : {}),
  };
}

/** The settings a session ran with, for the edit dialog. */
export function settingsOf(configuration: EngineConfiguration | undefined, idleTimeoutSeconds: number | undefined): SessionSettings {
  return {
    idleTimeoutMinutes: idleTimeoutSeconds ? Math.round(idleTimeoutSeconds / 60) : DEFAULT_SETTINGS.idleTimeoutMinutes,
    maxConcurrentDpus: configuration?.MaxConcurrentDpus ?? DEFAULT_SETTINGS.maxConcurrentDpus,
    sparkProperties: configuration?.SparkProperties ?? {},
  };
}

/**
 * Athena remembers a notebook's settings for its next session. Owlet keeps them in the notebook itself, as
 * `metadata.owlet.session` {EngineConfiguration, SessionIdleTimeoutInMinutes}, which the Jupyter server also
 * reads when a client starts a kernel for the notebook (docs/jupyter.md).
 */
export interface SavedSessionSettings {
  EngineConfiguration: { MaxConcurrentDpus: number; SparkProperties?: Record<string, string> };
  SessionIdleTimeoutInMinutes: number;
}

export function savedForm(settings: SessionSettings): SavedSessionSettings {
  return {
    EngineConfiguration: {
      MaxConcurrentDpus: settings.maxConcurrentDpus,
      ...(Object.keys(settings.sparkProperties).length ? { SparkProperties: settings.sparkProperties } : {}),
    },
    SessionIdleTimeoutInMinutes: settings.idleTimeoutMinutes,
  };
}

/** The settings saved in a notebook document's metadata, or the defaults. */
export function settingsInNotebook(metadata: Record<string, unknown> | undefined): SessionSettings {
  const saved = (metadata?.owlet as { session?: Partial<SavedSessionSettings> } | undefined)?.session;
  if (!saved) return DEFAULT_SETTINGS;
  return {
    idleTimeoutMinutes: typeof saved.SessionIdleTimeoutInMinutes === 'number' ? saved.SessionIdleTimeoutInMinutes : DEFAULT_SETTINGS.idleTimeoutMinutes,
    maxConcurrentDpus: saved.EngineConfiguration?.MaxConcurrentDpus ?? DEFAULT_SETTINGS.maxConcurrentDpus,
    sparkProperties: saved.EngineConfiguration?.SparkProperties ?? {},
  };
}

/** A notebook document's metadata with the settings saved in it. */
export function withSettings(metadata: Record<string, unknown>, settings: SessionSettings): Record<string, unknown> {
  const owlet = (metadata.owlet ?? {}) as Record<string, unknown>;
  return { ...metadata, owlet: { ...owlet, session: savedForm(settings) } };
}
