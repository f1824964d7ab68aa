// Opening a notebook the way Athena's console does: its active session if it has one, or a new session
// bound to it (StartSession with NotebookVersion and AdditionalConfigs.NotebookId, API_EngineConfiguration),
// then CreatePresignedNotebookUrl, whose link opens the notebook on that session in this console.
import {
  type AthenaClient,
  CreatePresignedNotebookUrlCommand,
  ExportNotebookCommand,
  GetSessionCommand,
  ListSessionsCommand,
  ListNotebookSessionsCommand,
  StartSessionCommand,
  TerminateSessionCommand,
  UpdateNotebookCommand,
} from '@aws-sdk/client-athena';
import { engineConfiguration, type SessionSettings, settingsInNotebook, withSettings } from '../session/session-settings.js';
import { NOTEBOOK_VERSION } from './athena-api.js';

export const ACTIVE_STATES = new Set(['CREATING', 'CREATED', 'IDLE', 'BUSY']);

/** The notebook's active session (ListNotebookSessions lists only sessions in an active state). */
export async function activeSessionOf(client: AthenaClient, notebookId: string): Promise<string | undefined> {
  const answer = await client.send(new ListNotebookSessionsCommand({ NotebookId: notebookId }));
  return answer.NotebookSessionsList?.[0]?.SessionId;
}

/** Every session of a notebook among the workgroup's latest, newest first: its session history. */
export async function notebookSessionHistory(client: AthenaClient, workGroup: string, notebookId: string): Promise<Session[]> {
  const list = await client.send(new ListSessionsCommand({ WorkGroup: workGroup, MaxResults: 100 }));
  const sessions = await Promise.all((list.Sessions ?? []).filter((s) => s.NotebookVersion).map((s) =>
    client.send(new GetSessionCommand({ SessionId: s.SessionId! }))));
  return sessions.filter((s) => s.EngineConfiguration?.AdditionalConfigs?.NotebookId === notebookId)
    .map((s) => ({ sessionId: s.SessionId!, state: s.Status?.State ?? '', reason: s.Status?.StateChangeReason, started: s.Status?.StartDateTime, ended: s.Status?.EndDateTime }))
    .sort((a, b) => (b.started?.getTime() ?? 0) - (a.started?.getTime() ?? 0));
}

export interface Session {
  sessionId: string;
  state: string;
  reason: string | undefined;
  started: Date | undefined;
  ended: Date | undefined;
}

export async function startNotebookSession(client: AthenaClient, workGroup: string, notebookId: string, settings: SessionSettings): Promise<string> {
  const answer = await client.send(new StartSessionCommand({
    WorkGroup: workGroup,
    EngineConfiguration: engineConfiguration(settings, notebookId),
    NotebookVersion: NOTEBOOK_VERSION,
    SessionIdleTimeoutInMinutes: settings.idleTimeoutMinutes,
  }));
  return answer.SessionId!;
}

/** The session settings saved in the notebook (ExportNotebook's payload). */
export async function savedSettings(client: AthenaClient, notebookId: string): Promise<SessionSettings> {
  const answer = await client.send(new ExportNotebookCommand({ NotebookId: notebookId }));
  try {
    return settingsInNotebook((JSON.parse(answer.Payload ?? '{}') as { metadata?: Record<string, unknown> }).metadata);
  } catch {
    return settingsInNotebook(undefined);
  }
}

/** Saves session settings into a notebook that has no active session (UpdateNotebook needs none then). */
export async function saveSettings(client: AthenaClient, notebookId: string, settings: SessionSettings): Promise<void> {
  const answer = await client.send(new ExportNotebookCommand({ NotebookId: notebookId }));
  const document = JSON.parse(answer.Payload ?? '{}') as { metadata?: Record<string, unknown> };
  document.metadata = withSettings(document.metadata ?? {}, settings);
  await client.send(new UpdateNotebookCommand({ NotebookId: notebookId, Payload: JSON.stringify(document), Type: 'IPYNB' }));
}

/** Goes to the notebook on its session, through the link CreatePresignedNotebookUrl answers. */
export async function openSession(client: AthenaClient, sessionId: string): Promise<void> {
  const answer = await client.send(new CreatePresignedNotebookUrlCommand({ SessionId: sessionId }));
  location.assign(answer.NotebookUrl!);
}

export async function terminate(client: AthenaClient, sessionId: string): Promise<void> {
  await client.send(new TerminateSessionCommand({ SessionId: sessionId }));
}
