// A Jupyter kernel is an Athena session. Its id stays the same across restarts (Jupyter clients keep it),
// while the session behind it changes: a restart ends the session and starts another with the same settings.
// A cell is a calculation: execute requests queue here while the session is BUSY (Athena refuses a second
// calculation; Jupyter clients send a cell while another runs), and each runs as StartCalculationExecution,
// its stdout and stderr streamed as the files grow, its Progress drawn as a bar under the cell, its result
// document turned into display_data, execute_result and error messages.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { SessionState } from '../generated/athena-model.js';
import { ServiceError } from '../protocol/errors.js';
import type { AthenaAccess } from './athena-access.js';
import { CalculationStreams, parseProgress, parseResultDocument, progressBundle, tracebackLines } from './cell-output.js';
import { type Channel, type JsonObject, type KernelMessage, type MessageHeader, kernelMessage, replyType } from './kernel-messages.js';

/** What a kernel sends its clients (one websocket each). */
export interface KernelClient {
  send(message: KernelMessage): void;
}

export type ExecutionState = 'starting' | 'idle' | 'busy' | 'restarting' | 'dead';

/**
 * How often a running cell's calculation (and its stdout and stderr files), and a session being waited for, are
 * looked at: a store read and two file reads, cheap enough that a short cell's output is not held back long.
 */
const POLL_MS = 25;
/** Marks a session started as a Jupyter kernel, with the kernel's id (visible in ListSessions' Description). */
const KERNEL_DESCRIPTION = /^Jupyter kernel ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/;

export function kernelIdOfDescription(description: string | undefined): string | undefined {
  return KERNEL_DESCRIPTION.exec(description ?? '')?.[1];
}

/** What a new session of the kernel is started with (the first one's settings, again at a restart). */
export interface SessionSettings {
  workGroup: string;
  engineConfiguration: { MaxConcurrentDpus: number; CoordinatorDpuSize?: number; DefaultExecutorDpuSize?: number; SparkProperties?: Record<string, string>; AdditionalConfigs?: Record<string, string> };
  idleTimeoutMinutes?: number;
  notebookId?: string;
}

interface QueuedRequest {
  client: KernelClient;
  message: KernelMessage;
}

const ENDED: readonly SessionState[] = ['TERMINATING', 'TERMINATED', 'FAILED', 'DEGRADED'];
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Kernel {
  /** The `session` of the kernel's message headers; a new one after a restart tells clients it restarted. */
  private kernelSession = randomUUID();
  private executionCount = 0;
  private readonly queue: QueuedRequest[] = [];
  private working = false;
  private runningCalculation: string | undefined;
  private interrupted = false;
  private readonly clients = new Set<KernelClient>();
  lastActivity = new Date();
  /** Set while this server restarts or shuts the kernel down. */
  private transition: 'restarting' | 'dead' | undefined;
  private startedState: ExecutionState = 'starting';

  constructor(
    readonly id: string,
    readonly name: string,
    public sessionId: string,
    private settings: SessionSettings | undefined,
    private readonly athena: AthenaAccess,
    private readonly log: Logger,
  ) {}

  get connections(): number {
    return this.clients.size;
  }

  /** The execution state of the kernel, as `/api/kernels` reports it. */
  async executionState(): Promise<ExecutionState> {
    if (this.transition) return this.transition;
    if (this.working || this.queue.length > 0) return 'busy';
    const state = await this.sessionState();
    if (state === undefined || ENDED.includes(state)) return 'dead';
    if (state === 'CREATING' || state === 'CREATED') return 'starting';
    return state === 'BUSY' ? 'busy' : 'idle';
  }

  private async sessionState(): Promise<SessionState | undefined> {
    try {
      return (await this.athena.call('GetSessionStatus', { SessionId: this.sessionId })).Status?.State;
    } catch (error) {
      if (error instanceof ServiceError && error.fault === 'client') return undefined;
      throw error;
    }
  }

  attach(client: KernelClient): void {
    this.clients.add(client);
    // A new client learns the state at once (jupyter_server sends the kernel's status on connect).
    void this.executionState()
      .then((state) => client.send(this.message('iopub', 'status', { execution_state: state === 'dead' ? 'dead' : state }, undefined)))
      .catch(() => undefined);
  }

  detach(client: KernelClient): void {
    this.clients.delete(client);
  }

  private message(channel: Channel, type: string, content: JsonObject, parent: MessageHeader | undefined, metadata: JsonObject = {}): KernelMessage {
    return kernelMessage(channel, type, content, parent, this.kernelSession, metadata);
  }

  private broadcast(type: string, content: JsonObject, parent: MessageHeader | undefined, metadata: JsonObject = {}): void {
    const message = this.message('iopub', type, content, parent, metadata);
    for (const client of this.clients) client.send(message);
  }

  private reply(client: KernelClient, request: KernelMessage, content: JsonObject, metadata: JsonObject = {}): void {
    const channel: Channel = request.channel === 'control' ? 'control' : 'shell';
    client.send(this.message(channel, replyType(request.header.msg_type), content, request.header, metadata));
  }

  /** Every request of a client; replies go to it, side effects to all clients on iopub. */
  async handle(client: KernelClient, request: KernelMessage): Promise<void> {
    this.lastActivity = new Date();
    const type = request.header.msg_type;
    if (type === 'execute_request') {
      this.queue.push({ client, message: request });
      void this.work();
      return;
    }
    // Every other request is answered at once, between busy and idle (messaging.rst "Kernel status").
    const parent = request.header;
    this.broadcast('status', { execution_state: 'busy' }, parent);
    try {
      await this.answer(client, request);
    } finally {
      this.broadcast('status', { execution_state: this.working ? 'busy' : 'idle' }, parent);
    }
  }

  private async answer(client: KernelClient, request: KernelMessage): Promise<void> {
    const content = request.content;
    switch (request.header.msg_type) {
      case 'kernel_info_request':
        this.reply(client, request, kernelInfo(this.sessionId));
        return;
      case 'is_complete_request':
        this.reply(client, request, isComplete(typeof content.code === 'string' ? content.code : ''));
        return;
      case 'complete_request': {
        const code = typeof content.code === 'string' ? content.code : '';
        const cursor = typeof content.cursor_pos === 'number' ? content.cursor_pos : code.length;
        this.reply(client, request, complete(code, cursor));
        return;
      }
      case 'inspect_request':
        this.reply(client, request, { status: 'ok', found: false, data: {}, metadata: {} });
        return;
      case 'history_request':
        this.reply(client, request, { status: 'ok', history: [] });
        return;
      case 'comm_info_request':
        // No comms (ipywidgets) are offered: the session's Python is not an IPython kernel.
        this.reply(client, request, { status: 'ok', comms: {} });
        return;
      case 'comm_open':
        // As ipykernel answers a comm whose target it does not know.
        this.broadcast('comm_close', { comm_id: content.comm_id ?? '', data: {} }, request.header);
        return;
      case 'comm_msg':
      case 'comm_close':
        return;
      case 'interrupt_request':
        await this.interrupt();
        this.reply(client, request, { status: 'ok' });
        return;
      case 'shutdown_request': {
        const restart = content.restart === true;
        if (restart) await this.restart();
        else await this.shutdown();
        this.reply(client, request, { status: 'ok', restart });
        return;
      }
      default:
        this.reply(client, request, {
          status: 'error',
          ename: 'NotImplementedError',
          evalue: `Owlet's kernels do not answer ${request.header.msg_type}`,
          traceback: [],
        });
    }
  }

  /** Runs the queued execute requests one at a time. */
  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        const ok = await this.execute(next.client, next.message).catch((error: unknown) => {
          this.log.error({ err: error, kernel: this.id }, 'a cell could not be run');
          return false;
        });
        if (!ok && next.message.content.stop_on_error !== false) this.abortQueued();
      }
    } finally {
      this.working = false;
    }
  }

  /** As ipykernel does after a failed cell: the cells sent after it are not run. */
  private abortQueued(): void {
    for (const { client, message } of this.queue.splice(0)) {
      this.broadcast('status', { execution_state: 'busy' }, message.header);
      this.reply(client, message, { status: 'aborted', execution_count: this.executionCount }, { status: 'aborted' });
      this.broadcast('status', { execution_state: 'idle' }, message.header);
    }
  }

  /** One cell; true when it completed. */
  private async execute(client: KernelClient, request: KernelMessage): Promise<boolean> {
    const parent = request.header;
    const code = typeof request.content.code === 'string' ? request.content.code : '';
    const silent = request.content.silent === true;
    const storeHistory = !silent && request.content.store_history !== false;
    this.interrupted = false;
    this.broadcast('status', { execution_state: 'busy' }, parent);
    if (storeHistory) this.executionCount += 1;
    const count = this.executionCount;
    const started = Date.now();
    const replyOk = () => this.reply(client, request, { status: 'ok', execution_count: count, user_expressions: {}, payload: [] }, { started: new Date(started).toISOString(), status: 'ok' });
    const replyError = (ename: string, evalue: string, traceback: string[]) => {
      if (!silent) this.broadcast('error', { ename, evalue, traceback }, parent);
      this.reply(client, request, { status: 'error', execution_count: count, ename, evalue, traceback }, { started: new Date(started).toISOString(), status: 'error' });
    };
    try {
      if (!silent) this.broadcast('execute_input', { code, execution_count: count }, parent);
      // ipykernel runs nothing for a blank cell; nor does Owlet start a calculation for one.
      if (code.trim() === '') {
        replyOk();
        return true;
      }
      const calculationId = await this.startCalculation(code);
      if (calculationId === undefined) {
        const ended = this.interrupted ? ['KeyboardInterrupt', ''] : ['SessionEnded', `Session ${this.sessionId} has ended; restart the kernel to start a new one.`];
        replyError(ended[0]!, ended[1]!, [ended[1] ? `${ended[0]}: ${ended[1]}` : ended[0]!]);
        return false;
      }
      return await this.follow(calculationId, parent, count, silent, replyOk, replyError);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const ename = error instanceof ServiceError ? error.type : 'OwletError';
      replyError(ename, message, [`${ename}: ${message}`]);
      return false;
    } finally {
      this.runningCalculation = undefined;
      this.broadcast('status', { execution_state: 'idle' }, parent);
    }
  }

  /** Starts the cell's calculation once the session is IDLE; undefined when the session ended or an interrupt came first. */
  private async startCalculation(code: string): Promise<string | undefined> {
    for (;;) {
      if (this.interrupted) return undefined;
      const state = await this.sessionState();
      if (state === undefined || ENDED.includes(state)) {
        if (this.transition === 'restarting') {
          await sleep(POLL_MS);
          continue;
        }
        return undefined;
      }
      if (state === 'IDLE') {
        try {
          const started = await this.athena.call('StartCalculationExecution', { SessionId: this.sessionId, CodeBlock: code, Description: `Jupyter kernel ${this.id}` });
          this.runningCalculation = started.CalculationExecutionId;
          return started.CalculationExecutionId;
        } catch (error) {
          // Another client of the session (the Athena API) started a calculation in between: wait for it.
          if (!(error instanceof ServiceError && /needs to be IDLE/.test(error.message))) throw error;
        }
      }
      await sleep(POLL_MS);
    }
  }

  /** Follows a running calculation to its end, sending what it prints and shows. */
  private async follow(
    calculationId: string,
    parent: MessageHeader,
    count: number,
    silent: boolean,
    replyOk: () => void,
    replyError: (ename: string, evalue: string, traceback: string[]) => void,
  ): Promise<boolean> {
    let calculation = await this.athena.call('GetCalculationExecution', { CalculationExecutionId: calculationId });
    const live = calculation.WorkingDirectory ? await this.athena.liveDirectory(calculation.WorkingDirectory, calculationId) : undefined;
    const streams = new CalculationStreams(live);
    const progressId = `owlet-progress-${calculationId}`;
    let progressShown = '';
    const started = Date.now();
    const sendStreams = (chunks: { name: string; text: string }[]) => {
      if (silent) return;
      for (const { name, text } of chunks) this.broadcast('stream', { name, text }, parent);
    };
    const showProgress = (finished: boolean) => {
      const progress = parseProgress(calculation.Statistics?.Progress);
      if (silent || !progress || progress.total === 0) return;
      const key = `${progress.done}/${progress.total}/${finished}`;
      if (key === progressShown) return;
      const content = { data: progressBundle(progress.done, progress.total, Date.now() - started, finished), metadata: {}, transient: { display_id: progressId } };
      this.broadcast(progressShown === '' ? 'display_data' : 'update_display_data', content, parent);
      progressShown = key;
    };
    for (;;) {
      const state = calculation.Status?.State;
      if (state === 'COMPLETED' || state === 'FAILED' || state === 'CANCELED') break;
      sendStreams(await streams.poll());
      showProgress(false);
      await sleep(POLL_MS);
      calculation = await this.athena.call('GetCalculationExecution', { CalculationExecutionId: calculationId });
    }
    const state = calculation.Status?.State;
    const result = calculation.Result;
    const [stdout, stderr, document] = await Promise.all([
      result?.StdOutS3Uri ? this.athena.read(result.StdOutS3Uri) : undefined,
      result?.StdErrorS3Uri ? this.athena.read(result.StdErrorS3Uri) : undefined,
      result?.ResultS3Uri ? this.athena.read(result.ResultS3Uri) : undefined,
    ]);
    const doc = parseResultDocument(document === undefined ? undefined : Buffer.from(document).toString('utf8'));
    sendStreams(streams.finish(stdout ?? new Uint8Array(), stderr ?? new Uint8Array(), doc.error?.traceback));
    showProgress(true);
    if (!silent) {
      for (const output of doc.outputs) {
        if (output.lastExpression) this.broadcast('execute_result', { execution_count: count, data: output.data, metadata: {} }, parent);
        else this.broadcast('display_data', { data: output.data, metadata: {}, transient: {} }, parent);
      }
    }
    if (state === 'COMPLETED') {
      replyOk();
      return true;
    }
    if (state === 'CANCELED') {
      replyError('KeyboardInterrupt', '', ['KeyboardInterrupt']);
      return false;
    }
    const reason = calculation.Status?.StateChangeReason ?? 'The calculation failed.';
    const error = doc.error ?? splitReason(reason);
    replyError(error.ename, error.evalue, doc.error ? tracebackLines(doc.error.traceback) : [reason]);
    return false;
  }

  /** Stops the running cell (StopCalculationExecution) and drops the queued ones. */
  async interrupt(): Promise<void> {
    this.interrupted = true;
    const running = this.runningCalculation;
    if (running) await this.athena.call('StopCalculationExecution', { CalculationExecutionId: running });
  }

  /** Ends the session; the kernel is dead. */
  async shutdown(): Promise<void> {
    this.transition = 'dead';
    this.queue.splice(0);
    await this.interrupt().catch(() => undefined);
    await this.terminateSession();
    this.broadcast('status', { execution_state: 'dead' }, undefined);
  }

  private async terminateSession(): Promise<void> {
    try {
      await this.athena.call('TerminateSession', { SessionId: this.sessionId });
    } catch (error) {
      // A session that has ended already is what was wanted.
      if (!(error instanceof ServiceError && error.fault === 'client')) throw error;
    }
  }

  /** Ends the session and starts another with the same settings; the kernel keeps its id. */
  async restart(): Promise<void> {
    this.transition = 'restarting';
    try {
      this.queue.splice(0);
      await this.interrupt().catch(() => undefined);
      const settings = this.settings ?? (await this.currentSettings());
      this.settings = settings;
      await this.terminateSession();
      await this.waitForEnd();
      this.sessionId = await startKernelSession(this.athena, this.id, settings);
      this.kernelSession = randomUUID();
      this.executionCount = 0;
    } finally {
      this.transition = undefined;
    }
    this.broadcast('status', { execution_state: 'starting' }, undefined);
  }

  /** A notebook's session can start only once the previous one is no longer active. */
  private async waitForEnd(): Promise<void> {
    // A session ends within the runner's shutdown grace; past a minute the new start's own refusal says why.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const state = await this.sessionState();
      if (state === undefined || state === 'TERMINATED' || state === 'FAILED') return;
      await sleep(POLL_MS);
    }
  }

  private async currentSettings(): Promise<SessionSettings> {
    const session = await this.athena.call('GetSession', { SessionId: this.sessionId });
    const engine = session.EngineConfiguration;
    return {
      workGroup: session.WorkGroup ?? this.name,
      engineConfiguration: {
        MaxConcurrentDpus: engine?.MaxConcurrentDpus ?? 20,
        ...(engine?.CoordinatorDpuSize !== undefined ? { CoordinatorDpuSize: engine.CoordinatorDpuSize } : {}),
        ...(engine?.DefaultExecutorDpuSize !== undefined ? { DefaultExecutorDpuSize: engine.DefaultExecutorDpuSize } : {}),
        ...(engine?.SparkProperties ? { SparkProperties: engine.SparkProperties } : {}),
        ...(engine?.AdditionalConfigs ? { AdditionalConfigs: engine.AdditionalConfigs } : {}),
      },
      ...(session.SessionConfiguration?.SessionIdleTimeoutInMinutes !== undefined
        ? { idleTimeoutMinutes: session.SessionConfiguration.SessionIdleTimeoutInMinutes }
        : {}),
      ...(engine?.AdditionalConfigs?.NotebookId ? { notebookId: engine.AdditionalConfigs.NotebookId } : {}),
    };
  }

  /** The model `/api/kernels` answers (jupyter_server services/api/api.yaml, Kernel). */
  async model(): Promise<JsonObject> {
    return {
      id: this.id,
      name: this.name,
      last_activity: this.lastActivity.toISOString(),
      execution_state: await this.executionState(),
      connections: this.clients.size,
    };
  }
}

/** Starts an Athena session for a kernel; its id. */
export async function startKernelSession(athena: AthenaAccess, kernelId: string, settings: SessionSettings): Promise<string> {
  const additional = { ...(settings.engineConfiguration.AdditionalConfigs ?? {}) };
  if (settings.notebookId) additional.NotebookId = settings.notebookId;
  const started = await athena.call('StartSession', {
    WorkGroup: settings.workGroup,
    Description: `Jupyter kernel ${kernelId}`,
    EngineConfiguration: { ...settings.engineConfiguration, ...(Object.keys(additional).length > 0 ? { AdditionalConfigs: additional } : {}) },
    ...(settings.notebookId ? { NotebookVersion: 'Athena notebook version 1' } : {}),
    ...(settings.idleTimeoutMinutes !== undefined ? { SessionIdleTimeoutInMinutes: settings.idleTimeoutMinutes } : {}),
  });
  return started.SessionId!;
}

/** `NameError: name 'x' is not defined` as Jupyter's ename and evalue. */
function splitReason(reason: string): { ename: string; evalue: string } {
  const match = /^([\w.]+): ([\s\S]*)$/.exec(reason);
  return match ? { ename: match[1]!, evalue: match[2]! } : { ename: 'Error', evalue: reason };
}

function kernelInfo(sessionId: string): JsonObject {
  return {
    status: 'ok',
    protocol_version: '5.3',
    implementation: 'owlet',
    implementation_version: '0.1.0',
    language_info: {
      name: 'python',
      version: '3',
      mimetype: 'text/x-python',
      file_extension: '.py',
      pygments_lexer: 'ipython3',
      codemirror_mode: { name: 'ipython', version: 3 },
      nbconvert_exporter: 'python',
    },
    banner: `Owlet: PySpark in Athena session ${sessionId} (spark and sc are bound)`,
    help_links: [],
    debugger: false,
    supported_features: [],
  };
}

/** Whether more lines are needed before `code` can run, judged by brackets, a trailing colon or backslash. */
function isComplete(code: string): JsonObject {
  let depth = 0;
  for (const ch of code.replace(/(["'])(?:\\.|(?!\1).)*\1/g, '').replace(/#.*$/gm, '')) {
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
  }
  const last = code.trimEnd().split('\n').at(-1) ?? '';
  if (depth > 0 || /[:\\]$/.test(last)) return { status: 'incomplete', indent: /:$/.test(last) ? '    ' : '' };
  return { status: 'complete' };
}

/** Names already used in the cell that start with the word at the cursor: a simple, local completion. */
function complete(code: string, cursor: number): JsonObject {
  const before = code.slice(0, cursor);
  const word = /[A-Za-z_]\w*$/.exec(before)?.[0] ?? '';
  const names = new Set<string>(['spark', 'sc', 'display', 'print']);
  for (const m of code.matchAll(/[A-Za-z_]\w*/g)) names.add(m[0]);
  names.delete(word);
  const matches = word === '' ? [] : [...names].filter((n) => n.startsWith(word)).sort();
  return { status: 'ok', matches, cursor_start: cursor - word.length, cursor_end: cursor, metadata: {} };
}
