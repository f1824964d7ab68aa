// The session beside the notebook: its state with the reason, details (engine, DPUs, Spark properties), an
// idle-timeout countdown with keep-alive, the Spark UI, the calculation list with code, state, duration and
// result files, and edit (a new session with new settings) and terminate. These come from the Athena API,
// signed with the user's key pair; a user who came with only a notebook link sees the kernel's state from
// the Jupyter API and is offered to log in for the rest.
import {
  type AthenaClient,
  GetCalculationExecutionCodeCommand,
  GetCalculationExecutionCommand,
  GetResourceDashboardCommand,
  GetSessionCommand,
  type GetSessionResponse,
  ListCalculationExecutionsCommand,
} from '@aws-sdk/client-athena';
import { errorMessage } from '../athena/athena-api.js';
import { openResultFile } from '../athena/result-files.js';
import { openSession, startNotebookSession, terminate } from '../athena/notebook-sessions.js';
import type { KeyPair } from '../auth/console-credentials.js';
import { dialog, el, formatDuration, notify } from '../view.js';
import { readSettings, type SessionSettings, settingsFields, settingsOf } from './session-settings.js';

export interface SessionPanelOptions {
  sessionId: string;
  client: AthenaClient | undefined;
  keys: KeyPair | undefined;
  /** Runs a trivial calculation, which restarts the idle timeout (Athena has no keep-alive call). */
  keepAlive: () => Promise<void>;
  /** Saves the notebook before the session ends. */
  saveNotebook: () => Promise<void>;
  /** Saves the notebook with new session settings in it, before its session is replaced. */
  saveSettings: (settings: SessionSettings) => Promise<void>;
  kernelState: () => string;
}

const REFRESH_MS = 3_000;

/** How to reach the same server from VS Code and JupyterLab (docs/jupyter.md, "Using it"). */
function otherClients(): HTMLElement {
  const origin = location.origin;
  return el('details', { class: 'other-clients' },
    el('summary', {}, 'Open from VS Code or JupyterLab'),
    el('p', {}, 'VS Code: Select Kernel → Existing Jupyter Server…, then enter'),
    el('code', {}, `${origin}/?token=<your secret access key>`),
    el('p', {}, 'JupyterLab 4, kernels on Owlet:'),
    el('code', {}, `jupyter lab --gateway-url=${origin} --GatewayClient.auth_token=<your secret access key>`));
}

export class SessionPanel {
  readonly element = el('aside', { class: 'session-panel', 'aria-label': 'Session' });
  private session: GetSessionResponse | undefined;
  private readonly stateChip = el('span', { class: 'state-chip' });
  private readonly reason = el('div', { class: 'state-reason' });
  private readonly countdown = el('div', { class: 'idle-countdown' });
  private readonly details = el('dl', { class: 'session-details' });
  private readonly calculations = el('ol', { class: 'calculation-list', reversed: true });
  private readonly sparkUi = el('a', { class: 'spark-ui', target: '_blank', rel: 'noopener', hidden: true }, 'Spark UI ↗');
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: SessionPanelOptions) {
    const { client } = options;
    this.element.append(
      el('h2', {}, 'Session'),
      el('div', { class: 'session-state' }, this.stateChip, this.sparkUi),
      this.reason,
      this.countdown,
    );
    if (!client) {
      this.element.append(el('p', { class: 'hint' }, 'Log in with your access key to see the session\'s details and calculations, and to edit or end it.'),
        el('a', { href: '/console/', class: 'button' }, 'Log in'));
    } else {
      this.element.append(
        el('div', { class: 'session-actions' },
          el('button', { type: 'button', onclick: () => void this.keepAlive(), title: 'Runs an empty calculation, which restarts the idle timeout' }, 'Keep alive'),
          el('button', { type: 'button', onclick: () => void this.edit() }, 'Edit session'),
          el('button', { type: 'button', class: 'danger', onclick: () => void this.terminate() }, 'Terminate')),
        el('h3', {}, 'Details'), this.details,
        el('h3', {}, 'Calculations'), this.calculations,
        otherClients());
    }
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    setInterval(() => this.drawCountdown(), 1_000);
    void this.refresh();
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Without the Athena API the state shown is the kernel's, as the websocket reports it. */
  refreshKernelState(): void {
    if (this.options.client) return;
    this.stateChip.textContent = `kernel ${this.options.kernelState()}`;
    this.stateChip.dataset.state = this.options.kernelState();
  }

  async refresh(): Promise<void> {
    const { client, sessionId } = this.options;
    if (!client) {
      this.refreshKernelState();
      return;
    }
    try {
      this.session = await client.send(new GetSessionCommand({ SessionId: sessionId }));
    } catch (error) {
      this.reason.textContent = `The session cannot be read: ${errorMessage(error)}`;
      return;
    }
    const status = this.session.Status;
    this.stateChip.textContent = status?.State ?? '?';
    this.stateChip.dataset.state = status?.State ?? '';
    this.reason.textContent = status?.StateChangeReason ?? '';
    this.drawDetails();
    this.drawCountdown();
    if (this.sparkUi.hidden && (status?.State === 'IDLE' || status?.State === 'BUSY')) void this.loadSparkUi();
    await this.drawCalculations();
  }

  private drawDetails(): void {
    const s = this.session;
    if (!s) return;
    const e = s.EngineConfiguration;
    const rows: [string, string][] = [
      ['Session', s.SessionId ?? ''],
      ['Workgroup', s.WorkGroup ?? ''],
      ['Engine', s.EngineVersion ?? ''],
      ['DPUs', `coordinator ${e?.CoordinatorDpuSize ?? 1}, executors ${e?.DefaultExecutorDpuSize ?? 1}, at most ${e?.MaxConcurrentDpus ?? '?'} at once`],
      ['Idle timeout', s.SessionConfiguration?.IdleTimeoutSeconds ? `${Math.round(s.SessionConfiguration.IdleTimeoutSeconds / 60)} min` : ''],
      ['Started', s.Status?.StartDateTime?.toLocaleString() ?? ''],
      ['Spark properties', Object.entries(e?.SparkProperties ?? {}).map(([k, v]) => `${k}=${v}`).join('\n') || 'none'],
    ];
    this.details.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }

  private drawCountdown(): void {
    const s = this.session;
    const idleSince = s?.Status?.IdleSinceDateTime;
    const timeout = s?.SessionConfiguration?.IdleTimeoutSeconds;
    if (s?.Status?.State !== 'IDLE' || !idleSince || !timeout) {
      this.countdown.textContent = '';
      return;
    }
    const left = idleSince.getTime() + timeout * 1000 - Date.now();
    this.countdown.textContent = left > 0 ? `Ends when idle for ${formatDuration(left)} more` : 'Idle timeout reached: the session is ending';
    this.countdown.classList.toggle('warning', left < 5 * 60_000);
  }

  /** GetResourceDashboard names a session by its ARN; Owlet also takes the session id (src/api/session-endpoints.ts). */
  private async loadSparkUi(): Promise<void> {
    try {
      const answer = await this.options.client!.send(new GetResourceDashboardCommand({ ResourceARN: this.options.sessionId }));
      if (answer.Url) {
        this.sparkUi.href = answer.Url;
        this.sparkUi.hidden = false;
      }
    } catch {
      // No dashboard (yet): the link stays hidden.
    }
  }

  private async drawCalculations(): Promise<void> {
    const client = this.options.client!;
    const answer = await client.send(new ListCalculationExecutionsCommand({ SessionId: this.options.sessionId, MaxResults: 20 }));
    const items = (answer.Calculations ?? []).map((c) => {
      const submitted = c.Status?.SubmissionDateTime;
      const completed = c.Status?.CompletionDateTime;
      const duration = submitted && completed ? formatDuration(completed.getTime() - submitted.getTime()) : '';
      const code = el('pre', { class: 'calculation-code', hidden: true });
      const files = el('div', { class: 'calculation-files' });
      const item = el('li', { class: 'calculation', 'data-id': c.CalculationExecutionId ?? '', 'data-state': c.Status?.State ?? '' },
        el('button', { type: 'button', class: 'link', onclick: () => void this.expand(c.CalculationExecutionId!, code, files) },
          el('span', { class: 'state-chip small', 'data-state': c.Status?.State ?? '' }, c.Status?.State ?? ''), ' ',
          // Clients name calculations alike (Jupyter kernels by the kernel), so each is shown by its time.
          `${submitted?.toLocaleTimeString() ?? ''} · ${c.CalculationExecutionId!.slice(0, 8)}`, duration ? ` · ${duration}` : ''),
        code, files);
      return item;
    });
    // A calculation the user opened stays open: the list is redrawn only while none is.
    if (!this.calculations.querySelector('pre:not([hidden])')) this.calculations.replaceChildren(...items);
  }

  private async expand(id: string, code: HTMLElement, files: HTMLElement): Promise<void> {
    const client = this.options.client!;
    if (!code.hidden) {
      code.hidden = true;
      files.replaceChildren();
      return;
    }
    const [source, calculation] = await Promise.all([
      client.send(new GetCalculationExecutionCodeCommand({ CalculationExecutionId: id })),
      client.send(new GetCalculationExecutionCommand({ CalculationExecutionId: id })),
    ]);
    code.textContent = source.CodeBlock ?? '';
    code.hidden = false;
    const r = calculation.Result;
    const link = (label: string, uri: string | undefined) => uri
      ? el('button', { type: 'button', class: 'link', title: uri, onclick: () => void openResultFile(this.options.keys!, uri).catch((e) => notify(errorMessage(e), 'error')) }, label)
      : undefined;
    files.replaceChildren(link('stdout', r?.StdOutS3Uri) ?? '', ' ', link('stderr', r?.StdErrorS3Uri) ?? '', ' ', link('result', r?.ResultS3Uri) ?? '',
      calculation.Status?.StateChangeReason ? el('div', { class: 'state-reason' }, calculation.Status.StateChangeReason) : '');
  }

  private async keepAlive(): Promise<void> {
    try {
      await this.options.keepAlive();
      await this.refresh();
      notify('The idle timeout starts again.');
    } catch (error) {
      notify(`Keep-alive failed: ${errorMessage(error)}`, 'error');
    }
  }

  private async edit(): Promise<void> {
    const s = this.session;
    const notebookId = s?.EngineConfiguration?.AdditionalConfigs?.NotebookId;
    if (!s || !notebookId) return;
    const form = await dialog('Edit session', [
      el('p', {}, 'Saving ends this session and starts a new one with these settings; the notebook is saved, but variables of the current session are lost.'),
      ...settingsFields(settingsOf(s.EngineConfiguration, s.SessionConfiguration?.IdleTimeoutSeconds)),
    ], 'Restart with these settings');
    if (!form) return;
    try {
      const settings = readSettings(form);
      await this.options.saveSettings(settings);
      await terminate(this.options.client!, this.options.sessionId);
      const next = await startNotebookSession(this.options.client!, s.WorkGroup!, notebookId, settings);
      await openSession(this.options.client!, next);
    } catch (error) {
      notify(`The session could not be restarted: ${errorMessage(error)}`, 'error');
    }
  }

  private async terminate(): Promise<void> {
    const form = await dialog('Terminate session', [el('p', {}, 'The notebook is saved and the session ends; its variables are lost.')], 'Terminate');
    if (!form) return;
    try {
      await this.options.saveNotebook();
      await terminate(this.options.client!, this.options.sessionId);
      await this.refresh();
      notify('The session is ending.');
    } catch (error) {
      notify(`The session could not be terminated: ${errorMessage(error)}`, 'error');
    }
  }
}
