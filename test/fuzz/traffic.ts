// The fuzzer's client side: generates requests, sends them (16 in flight, over kept-alive connections),
// checks every answer and counts them. It runs in a worker thread (traffic-worker.ts), beside the server
// in the test's thread, so that generating, signing and checking requests take the second core instead of
// the server's time; the test's thread keeps the server and the store, and checks the store between phases.
import { unavailableOperation } from '../../src/api/unavailable.js';
import { type OperationName, operations } from '../../src/generated/athena-model.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/protocol/http-server.js';
import { buildInput } from '../validation/model-cases.js';
import { type RawResponse, SignedHttpClient } from '../wire.js';
import { type CheckedAnswer, checkAnswer } from './answer-checks.js';
import { sendOversized } from './oversized.js';
import { Random } from './random.js';
import { type FuzzRequest, jsonText, RequestGenerator } from './request-generator.js';
import { KnownResources } from './valid-inputs.js';

export const IN_FLIGHT = 16;

export interface Problem {
  category: string;
  operation: string;
  detail: string;
  request?: string;
  answer?: string;
}

/** How many problems are kept with their details; all are counted. */
const KEEP_PROBLEMS = 200;

/** Counts of what was sent and how the server answered, per category. */
export interface Tally {
  sent: number;
  /** category → outcome (an error's `__type`, `ok`, `no answer`) → count */
  categories: Record<string, Record<string, number>>;
  /** HTTP status → count */
  statuses: Record<number, number>;
}

export interface TrafficReport {
  tally: Tally;
  problems: Problem[];
  problemCount: number;
}

/** What the test's thread asks of the traffic; each message gets one answer. */
export type TrafficCommand =
  | { kind: 'probe' }
  | { kind: 'valid'; count: number }
  | { kind: 'replays'; count: number }
  | { kind: 'prepare-refused'; count: number; workGroups: string[]; large: number; oversized: ('declared' | 'streamed')[] }
  | { kind: 'send-refused' }
  | { kind: 'report' };

/** A request for a problem report. */
function describeRequest(request: FuzzRequest): string {
  const target = request.raw.headers['x-amz-target'] ?? '(no target)';
  const body = Buffer.from(request.raw.body).toString('utf8');
  return `${request.raw.method ?? 'POST'} ${target} ${body.length > 300 ? `${body.slice(0, 300)}… (${request.raw.body.length} bytes)` : body}`;
}

const describeAnswer = (r: RawResponse): string => `${r.status} ${r.text.slice(0, 400)}`;
const isOk = (a: CheckedAnswer): boolean => a.outcome === 'ok';

interface Sent {
  response: RawResponse;
  answer: CheckedAnswer;
}

export class FuzzTraffic {
  private readonly random: Random;
  private readonly http: SignedHttpClient;
  private readonly known = new KnownResources();
  private generator: RequestGenerator | undefined;
  private readonly tally: Tally = { sent: 0, categories: {}, statuses: {} };
  private readonly problems: Problem[] = [];
  private problemCount = 0;
  private prepared: { requests: FuzzRequest[]; oversized: ('declared' | 'streamed')[] } | undefined;

  constructor(
    private readonly endpoint: string,
    seed: number,
  ) {
    this.random = new Random(seed);
    this.http = new SignedHttpClient(endpoint, undefined, IN_FLIGHT);
  }

  async run(command: TrafficCommand): Promise<unknown> {
    switch (command.kind) {
      case 'probe':
        return this.probe();
      case 'valid':
        return this.sendValid(command.count);
      case 'replays':
        return this.sendReplays(command.count);
      case 'prepare-refused':
        return this.prepareRefused(command.count, command.workGroups, command.large, command.oversized);
      case 'send-refused':
        return this.sendRefused();
      case 'report':
        this.http.close();
        return { tally: this.tally, problems: this.problems, problemCount: this.problemCount } satisfies TrafficReport;
    }
  }

  private get gen(): RequestGenerator {
    if (!this.generator) throw new Error('probe first: the generator needs to know which operations are served');
    return this.generator;
  }

  private problem(p: Problem): void {
    this.problemCount++;
    if (this.problems.length < KEEP_PROBLEMS) this.problems.push(p);
  }

  private count(category: string, outcome: string, status: number): void {
    this.tally.sent++;
    const outcomes = (this.tally.categories[category] ??= {});
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    this.tally.statuses[status] = (this.tally.statuses[status] ?? 0) + 1;
  }

  private record(category: string, operation: string, response: RawResponse, answer: CheckedAnswer, request?: FuzzRequest): void {
    this.count(category, answer.outcome, response.status);
    for (const detail of answer.problems) {
      this.problem({ category, operation, detail, ...(request ? { request: describeRequest(request) } : {}), answer: describeAnswer(response) });
    }
  }

  /**
   * Sends the minimal valid input of every operation, and learns which operations have no handler: their
   * answer is the one every unhandled operation gets.
   */
  private async probe(): Promise<OperationName[]> {
    const unavailable = new Set<OperationName>();
    for (const op of Object.keys(operations) as OperationName[]) {
      const response = await this.http.call(op, jsonText(buildInput(op, [])));
      this.record('probe', op, response, checkAnswer(op, { refused: false }, response));
      if (response.text === JSON.stringify(unavailableOperation(op).body())) unavailable.add(op);
    }
    this.generator = new RequestGenerator({ random: this.random, endpoint: this.endpoint, known: this.known, unavailable });
    return [...unavailable];
  }

  /** Sends one request, checks the answer, counts it and learns from it. */
  private async send(request: FuzzRequest, category = request.category): Promise<Sent | undefined> {
    let response: RawResponse;
    try {
      response = await this.http.send(request.raw);
    } catch (error) {
      this.count(category, 'no answer', 0);
      this.problem({ category, operation: request.operation, detail: `no answer: ${String(error)}`, request: describeRequest(request) });
      return undefined;
    }
    const answer = checkAnswer(request.operation, request.expect, response);
    this.record(category, request.operation, response, answer, request);
    if (isOk(answer) && request.input && answer.json) this.known.learn(request.operation, request.input, answer.json);
    return { response, answer };
  }

  /**
   * Sends a request twice, the second once the first is answered, and checks the second against the first
   * (what a replay must get: fuzz.test.ts).
   */
  private async sendTwice(request: FuzzRequest): Promise<(Sent | undefined)[]> {
    const first = await this.send(request);
    const second = await this.send(request, `${request.category} (again)`);
    if (!first || !second) return [first, second];
    const report = (detail: string): void =>
      this.problem({
        category: request.category,
        operation: request.operation,
        detail,
        request: describeRequest(request),
        answer: `${describeAnswer(first.response)} / ${describeAnswer(second.response)}`,
      });
    if (request.category !== 'replay-change') {
      if (first.answer.outcome !== second.answer.outcome) report(`a replay was answered ${second.answer.outcome}, the first send ${first.answer.outcome}`);
    } else if (request.operation === 'CreateWorkGroup') {
      const taken = `WorkGroup ${String(request.input?.Name)} is already created.`;
      if (isOk(first.answer) && !(second.answer.outcome === 'InvalidRequestException' && second.answer.json?.Message === taken)) {
        report('a replayed CreateWorkGroup was not refused as already created');
      }
    } else if (isOk(first.answer) && second.response.text !== first.response.text) {
      report('a replay with the same ClientRequestToken was answered differently');
    }
    return [first, second];
  }

  /** Sends `requests`, IN_FLIGHT at a time; `each` sees every request with its answers. */
  private async sendAll(requests: readonly FuzzRequest[], each?: (request: FuzzRequest, answers: (Sent | undefined)[]) => void): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const request = requests[next++]!;
        const answers = request.replay ? await this.sendTwice(request) : [await this.send(request)];
        each?.(request, answers);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  }

  private async sendValid(count: number): Promise<void> {
    const requests: FuzzRequest[] = [];
    for (let i = 0; i < count; i++) requests.push(await this.gen.next('acceptable'));
    await this.sendAll(requests);
  }

  /** Sends state-changing requests twice each; answers the store keys their accepted answers name. */
  private async sendReplays(count: number): Promise<string[]> {
    const requests: FuzzRequest[] = [];
    for (let i = 0; i < count; i++) requests.push(await this.gen.replayOfChange());
    const named = new Set<string>();
    await this.sendAll(requests, (request, answers) => {
      for (const sent of answers) {
        if (!sent || !isOk(sent.answer) || !sent.answer.json) continue;
        const output = sent.answer.json;
        if (request.operation === 'CreateWorkGroup') named.add(`workgroup/${String(request.input?.Name)}`);
        if (typeof output.SessionId === 'string') named.add(`session/${output.SessionId}`);
        if (typeof output.CalculationExecutionId === 'string') named.add(`calculation/${output.CalculationExecutionId}`);
        if (typeof output.NotebookId === 'string') named.add(`notebook/${output.NotebookId}`);
      }
    });
    return [...named];
  }

  /**
   * Generates a batch of requests that must be refused, and answers the idempotency tokens they carry as
   * [operation, token] pairs, for the test to look up before and after.
   */
  private async prepareRefused(count: number, workGroups: string[], large: number, oversized: ('declared' | 'streamed')[]): Promise<[string, string][]> {
    const requests: FuzzRequest[] = [];
    for (let i = 0; i < count; i++) {
      requests.push(this.random.chance(0.04) ? await this.gen.refusedByHandler(workGroups) : await this.gen.next('refused'));
    }
    for (let i = 0; i < large; i++) requests.push(await this.gen.largeCase());
    this.prepared = { requests, oversized };
    return requests.flatMap((r) => (typeof r.input?.ClientRequestToken === 'string' ? [[r.operation, r.input.ClientRequestToken] as [string, string]] : []));
  }

  /** Sends the prepared batch; answers how many requests have been sent in all. */
  private async sendRefused(): Promise<number> {
    const prepared = this.prepared;
    if (!prepared) throw new Error('no refused batch prepared');
    this.prepared = undefined;
    await this.sendAll(prepared.requests);
    for (const mode of prepared.oversized) await this.sendOversized(mode);
    return this.tally.sent;
  }

  private async sendOversized(mode: 'declared' | 'streamed'): Promise<void> {
    const op = this.random.pick(Object.keys(operations) as OperationName[]);
    const headers = (await this.gen.signedFor(op, Buffer.from('{}'))).headers;
    const category = `oversized-${mode}`;
    // Declared: anything up to a terabyte, never read. Streamed: a megabyte past the limit, all of it sent.
    const size = DEFAULT_MAX_BODY_BYTES + (mode === 'declared' ? this.random.int(1, 2 ** 40) : 1024 * 1024);
    try {
      const response = await sendOversized(this.endpoint, headers, size, mode);
      this.record(category, op, response, checkAnswer(op, { refused: true, types: ['RequestEntityTooLargeException'] }, response));
    } catch (error) {
      this.count(category, 'no answer', 0);
      this.problem({ category, operation: op, detail: `no answer: ${String(error)}` });
    }
  }
}
