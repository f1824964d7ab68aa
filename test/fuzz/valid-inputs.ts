// Random valid inputs for the operations of the model: every required member and a random part of the
// optional ones, each value within its shape's constraints. Where a handler looks at a value beyond the model
// (an engine version, a session id, a notebook payload), the value is often one the server knows, so that
// valid requests reach the handlers' deeper paths instead of stopping at "not found".
import { ENGINE_VERSIONS, engineVersionInfo } from '../../src/api/catalog.js';
import { emptyNotebook } from '../../src/api/nbformat.js';
import { NOTEBOOK_VERSION } from '../../src/api/sessions.js';
import { type OperationName, operations } from '../../src/generated/athena-model.js';
import type { Shape } from '../../src/protocol/shapes.js';
import { minimalValue, shapeOf, stringConstraints } from '../validation/model-cases.js';
import { ASTRAL, PATTERN_SAMPLES } from '../validation/samples.js';
import type { Random } from './random.js';

const ACCOUNT = '123456789012';
export const workGroupArn = (name: string): string => `arn:aws:athena:us-east-1:${ACCOUNT}:workgroup/${name}`;

/** How many identifiers of each kind are kept; older ones are forgotten. */
const KEEP = 64;

/** Identifiers the server handed out or accepted, learned from its answers. */
export class KnownResources {
  readonly workGroups: string[] = ['primary', 'spark'];
  /** The workgroups that run Apache Spark, where sessions and notebooks live. */
  readonly sparkWorkGroups: string[] = ['spark'];
  readonly sessions: string[] = [];
  readonly calculations: string[] = [];
  readonly notebooks: string[] = [];
  /** Each session's workgroup, for its ARN. */
  readonly sessionWorkGroups = new Map<string, string>();
  /** NextTokens the listings answered, by operation. */
  readonly nextTokens = new Map<string, string[]>();

  private static add(list: string[], id: unknown): void {
    if (typeof id !== 'string' || list.includes(id)) return;
    list.push(id);
    if (list.length > KEEP) list.shift();
  }

  private static remove(list: string[], id: unknown): void {
    const at = list.indexOf(id as string);
    if (at >= 0) list.splice(at, 1);
  }

  /** Learns from a request the server accepted and its answer. */
  learn(operation: string, input: Record<string, unknown>, output: Record<string, unknown>): void {
    if (typeof output.NextToken === 'string') {
      const tokens = this.nextTokens.get(operation) ?? [];
      KnownResources.add(tokens, output.NextToken);
      this.nextTokens.set(operation, tokens);
    }
    switch (operation) {
      case 'CreateWorkGroup': {
        KnownResources.add(this.workGroups, input.Name);
        const selected = (input.Configuration as { EngineVersion?: { SelectedEngineVersion?: string } } | undefined)?.EngineVersion?.SelectedEngineVersion;
        if (selected !== undefined && engineVersionInfo(selected)?.spark) KnownResources.add(this.sparkWorkGroups, input.Name);
        break;
      }
      case 'DeleteWorkGroup':
        KnownResources.remove(this.workGroups, input.WorkGroup);
        KnownResources.remove(this.sparkWorkGroups, input.WorkGroup);
        break;
      case 'StartSession':
        KnownResources.add(this.sessions, output.SessionId);
        if (typeof output.SessionId === 'string' && typeof input.WorkGroup === 'string') this.sessionWorkGroups.set(output.SessionId, input.WorkGroup);
        break;
      case 'StartCalculationExecution':
        KnownResources.add(this.calculations, output.CalculationExecutionId);
        break;
      case 'CreateNotebook':
      case 'ImportNotebook':
        KnownResources.add(this.notebooks, output.NotebookId);
        break;
      case 'DeleteNotebook':
        KnownResources.remove(this.notebooks, input.NotebookId);
        break;
      default:
        break;
    }
  }
}

/**
 * Characters free text is made of: ASCII, JSON's special characters, control characters, characters of two
 * and three UTF-8 bytes, line and paragraph separators, a byte-order mark, an astral character (two UTF-16
 * units) and an unpaired low surrogate (which JSON can carry escaped). No high surrogate: followed by the low
 * one it would pair up and change the length in code points.
 */
const TEXT_PIECES = [
  'a', 'b', 'z', 'Q', '0', '7', ' ', '-', '_', '.', '"', '\\', '/', "'", '<', '&', '%', '{', '}', '[', ':', ',',
  '\n', '\t', '\r', '\u0000', '\u001f', '\u007f', 'é', 'ß', '中', '\u2028', '\u2029', '\uFEFF', '\uFFFD', ASTRAL, '\uDC00',
];

/** Values handlers read beyond the model, by member name, with how they may be used. */
const CODE_BLOCKS = ['print(1)', '1 + 1', 'wait', 'stubborn', 'raise fuzz', 'spark.range(3).count()', ''];
const NOTEBOOK_PAYLOADS = [emptyNotebook(), '{}', '{"nbformat":4}', 'not json', '[]'];

export class ValidInputs {
  private fresh = 0;

  constructor(
    private readonly random: Random,
    private readonly known: KnownResources,
  ) {}

  /** A random valid input of `operation`. */
  input(operation: OperationName): Record<string, unknown> {
    const shape = operations[operation].input;
    if (shape === null) return {};
    const input = this.value(shape, { operation, member: '' }) as Record<string, unknown>;
    if (this.random.chance(0.7)) this.meetHandler(operation, input);
    return input;
  }

  /**
   * Makes `input` meet the rules its handler has beyond the model, so that more valid requests get past them
   * to the work: one code block of two, one notebook source of two, a Spark workgroup's configuration.
   */
  private meetHandler(operation: OperationName, input: Record<string, unknown>): void {
    const r = this.random;
    switch (operation) {
      case 'StartCalculationExecution':
        if (r.chance(0.5)) {
          input.CodeBlock = r.pick(CODE_BLOCKS);
          delete input.CalculationConfiguration;
        } else {
          input.CalculationConfiguration = { CodeBlock: r.pick(CODE_BLOCKS) };
          delete input.CodeBlock;
        }
        break;
      case 'ImportNotebook':
        if (r.chance(0.8)) {
          input.Payload = r.pick(NOTEBOOK_PAYLOADS);
          delete input.NotebookS3LocationUri;
        } else {
          input.NotebookS3LocationUri = 's3://owlet-notebooks/missing.ipynb';
          delete input.Payload;
        }
        break;
      case 'CreateWorkGroup':
        if (r.chance(0.5)) {
          const configuration = (input.Configuration ?? {}) as Record<string, unknown>;
          configuration.EngineVersion = { SelectedEngineVersion: r.pick(ENGINE_VERSIONS.filter((v) => v.spark)).selected };
          configuration.ExecutionRole = PATTERN_SAMPLES.RoleArn!.valid;
          delete configuration.ManagedQueryResultsConfiguration;
          input.Configuration = configuration;
        }
        break;
      case 'StartSession':
        input.WorkGroup = r.pick(this.known.sparkWorkGroups.length > 0 ? this.known.sparkWorkGroups : this.known.workGroups);
        // The fake engine refuses static Spark settings, as Spark does; most sessions should start.
        delete (input.EngineConfiguration as Record<string, unknown>).SparkProperties;
        if (input.NotebookVersion !== undefined) input.NotebookVersion = NOTEBOOK_VERSION;
        break;
      case 'GetResourceDashboard': {
        const session = this.known.sessions.length > 0 ? r.pick(this.known.sessions) : undefined;
        const workGroup = session === undefined ? undefined : this.known.sessionWorkGroups.get(session);
        if (session !== undefined && workGroup !== undefined) {
          input.ResourceARN = r.chance(0.5) ? session : `arn:aws:athena:us-east-1:${ACCOUNT}:workgroup/${workGroup}/session/${session}`;
        }
        break;
      }
      default:
        break;
    }
  }

  /** A workgroup name no request has used: the prefix keeps it apart from the model's sample names. */
  freshWorkGroupName(prefix = 'fuzz-wg'): string {
    return `${prefix}-${this.random.int(0, 0xffff).toString(16)}-${this.fresh++}`;
  }

  /** A random valid value of the shape `name`; `at` names the member it is for. */
  value(name: string, at: { operation: OperationName; member: string }): unknown {
    const shape = shapeOf(name);
    const r = this.random;
    switch (shape.type) {
      case 'structure': {
        const out: Record<string, unknown> = {};
        for (const [member, target] of Object.entries(shape.members)) {
          if (shape.required?.includes(member) || r.chance(0.35)) out[member] = this.value(target, { operation: at.operation, member });
        }
        return out;
      }
      case 'list': {
        const min = shape.min ?? 0;
        const n = r.int(min, Math.min(shape.max ?? Number.MAX_SAFE_INTEGER, min + 3));
        return Array.from({ length: n }, () => this.value(shape.member, at));
      }
      case 'map': {
        const min = shape.min ?? 0;
        const n = r.int(min, Math.min(shape.max ?? Number.MAX_SAFE_INTEGER, min + 3));
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n * 3 && Object.keys(out).length < n; i++) {
          const key = this.value(shape.key, at) as string;
          // `__proto__` and the like stay data: the server must treat map keys as keys.
          Object.defineProperty(out, key, { value: this.value(shape.value, at), enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      case 'string':
        return this.string(name, shape, at);
      case 'integer':
      case 'long': {
        const low = shape.min ?? (shape.type === 'integer' ? -(2 ** 31) : Number.MIN_SAFE_INTEGER);
        const high = shape.max ?? (shape.type === 'integer' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER);
        return r.weighted<() => number>([
          [2, () => low],
          [2, () => high],
          [6, () => Math.min(high, Math.max(low, r.int(0, 100)))],
          [1, () => r.int(low, high)],
        ])();
      }
      case 'boolean':
        return r.chance(0.5);
      default:
        return minimalValue(name);
    }
  }

  private string(name: string, shape: Extract<Shape, { type: 'string' }>, at: { operation: OperationName; member: string }): string {
    const r = this.random;
    if (shape.enum) return r.pick(shape.enum);
    if (r.chance(0.7)) {
      const hint = this.hint(at);
      if (hint !== undefined && stringConstraints(shape, hint).length === 0) return hint;
    }
    const sample = PATTERN_SAMPLES[name];
    if (sample) {
      if (sample.ofLength && r.chance(0.5)) {
        const n = r.int(Math.max(shape.min ?? 1, 1), Math.min(shape.max ?? 64, 64));
        const value = sample.ofLength(n);
        if (value !== undefined && stringConstraints(shape, value).length === 0) return value;
      }
      return sample.valid;
    }
    const min = shape.min ?? 0;
    const max = shape.max ?? 4096;
    // Mostly short; sometimes at a limit, where a server that counts UTF-16 units or bytes gets it wrong.
    const n = r.weighted<() => number>([
      [8, () => r.int(min, Math.min(max, min + 40))],
      [1, () => min],
      [1, () => (max <= 4096 ? max : min)],
    ])();
    return this.text(n);
  }

  /** `n` code points of free text. */
  text(n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) out += this.random.pick(TEXT_PIECES);
    return out;
  }

  /** A value the handler of `at` can act on, when the member is one it looks into. */
  private hint({ operation, member }: { operation: OperationName; member: string }): string | undefined {
    const r = this.random;
    const known = this.known;
    switch (member) {
      case 'WorkGroup':
        return r.pick(known.sparkWorkGroups.length > 0 && r.chance(0.6) ? known.sparkWorkGroups : known.workGroups);
      case 'NextToken': {
        const tokens = known.nextTokens.get(operation);
        return tokens && tokens.length > 0 ? r.pick(tokens) : undefined;
      }
      case 'Name':
        if (operation === 'CreateWorkGroup') return r.chance(0.9) ? this.freshWorkGroupName() : r.pick(known.workGroups);
        return undefined;
      case 'ResourceARN':
        return workGroupArn(r.pick(known.workGroups));
      case 'SessionId':
        return known.sessions.length > 0 ? r.pick(known.sessions) : undefined;
      case 'CalculationExecutionId':
        return known.calculations.length > 0 ? r.pick(known.calculations) : undefined;
      case 'NotebookId':
        return known.notebooks.length > 0 ? r.pick(known.notebooks) : undefined;
      case 'ClientRequestToken':
        return r.uuid();
      case 'SelectedEngineVersion':
        return r.pick(ENGINE_VERSIONS).selected;
      case 'ExecutionRole':
        return PATTERN_SAMPLES.RoleArn!.valid;
      case 'NotebookVersion':
        return NOTEBOOK_VERSION;
      case 'CodeBlock':
        return r.pick(CODE_BLOCKS);
      case 'Payload':
        return r.pick(NOTEBOOK_PAYLOADS);
      default:
        return undefined;
    }
  }
}
