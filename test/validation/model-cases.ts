// Validation test cases derived from the service model: for every operation, a minimal valid input (every
// required member filled, recursively, with a value satisfying its constraints) and, for every member its
// input can reach, one invalid variant per constraint the member has, each with the exact violations the
// service must report. The expected wording is Coral's, as Athena answers (spec/athena-api.md §2.2).
import { type OperationName, operations, shapes } from '../../src/generated/athena-model.js';
import type { Shape } from '../../src/protocol/shapes.js';
import { filler, PATTERN_SAMPLES } from './samples.js';

export type ConstraintKind =
  | 'required'
  | 'length-min'
  | 'length-max'
  | 'pattern'
  | 'enum'
  | 'range-min'
  | 'range-max'
  | 'list-length-min'
  | 'list-length-max'
  | 'map-key'
  | 'map-value'
  | 'type';

export const CONSTRAINT_KINDS: readonly ConstraintKind[] = [
  'required',
  'length-min',
  'length-max',
  'pattern',
  'enum',
  'range-min',
  'range-max',
  'list-length-min',
  'list-length-max',
  'map-key',
  'map-value',
  'type',
];

export interface Violation {
  path: string;
  constraint: string;
}

/** One step from a value to a member inside it: a structure member, or the first item of a list. */
type Step = { member: string; shape: string } | { item: 0; shape: string };

/** Sets the value at the end of `steps` (ABSENT removes it), creating minimal valid containers on the way. */
export interface Edit {
  steps: readonly Step[];
  value: unknown;
}

export const ABSENT = Symbol('absent');

interface CaseBase {
  operation: OperationName;
  kind: ConstraintKind;
  /** The wire path of the member the case is about. */
  path: string;
  title: string;
  edits: readonly Edit[];
}

/** A request the service must refuse with InvalidRequestException listing exactly `violations`. */
export interface InvalidCase extends CaseBase {
  violations: readonly Violation[];
}

/** A request the service must refuse with SerializationException saying exactly `message`. */
export interface TypeCase extends CaseBase {
  kind: 'type';
  message: string;
}

/** A request at a limit (or using a sample value) that must pass validation. */
export interface ValidCase {
  operation: OperationName;
  path: string;
  title: string;
  edits: readonly Edit[];
}

// --- The expected wording -----------------------------------------------------------------------------------

export const MUST_NOT_BE_NULL = 'Member must not be null';
export const lengthMin = (n: number): string => `Member must have length greater than or equal to ${n}`;
export const lengthMax = (n: number): string => `Member must have length less than or equal to ${n}`;
export const valueMin = (n: number): string => `Member must have value greater than or equal to ${n}`;
export const valueMax = (n: number): string => `Member must have value less than or equal to ${n}`;
export const patternConstraint = (pattern: string): string => `Member must satisfy regular expression pattern: ${pattern}`;
export const enumConstraint = (values: readonly string[]): string => `Member must satisfy enum value set: [${values.join(', ')}]`;

export function validationMessage(violations: readonly Violation[]): string {
  const n = violations.length;
  const details = violations.map((v) => `Value at '${v.path}' failed to satisfy constraint: ${v.constraint}`);
  return `${n} validation error${n === 1 ? '' : 's'} detected: ${details.join('; ')}`;
}

/** The body the service writes for a validation failure, byte for byte (its key order included). */
export function validationBody(violations: readonly Violation[]): string {
  return JSON.stringify({
    __type: 'InvalidRequestException',
    AthenaErrorCode: 'INVALID_INPUT',
    ErrorCode: 'INVALID_INPUT',
    Message: validationMessage(violations),
  });
}

// Compiled here rather than taken from src/protocol/shapes.ts, so that the expectation does not share the
// server's reading of a pattern; kept, as the fuzzer checks hundreds of thousands of values.
const wholeMatches = new Map<string, RegExp>();
const wholeMatch = (pattern: string): RegExp =>
  wholeMatches.get(pattern) ?? wholeMatches.set(pattern, new RegExp(`^(?:${pattern})$`, 'u')).get(pattern)!;

/**
 * What a string breaks, in the order the service lists it: length (in code points, an unpaired surrogate
 * counting as one, as Java's `codePointCount` does), then the pattern matched against the whole value, then
 * the enum.
 */
export function stringConstraints(shape: Extract<Shape, { type: 'string' }>, value: string): string[] {
  const out: string[] = [];
  // Iterating a string goes by code points; counted without building an array, as values reach 10 MB.
  let length = 0;
  for (const _ of value) length++;
  if (shape.min !== undefined && length < shape.min) out.push(lengthMin(shape.min));
  if (shape.max !== undefined && length > shape.max) out.push(lengthMax(shape.max));
  if (shape.pattern !== undefined && !wholeMatch(shape.pattern).test(value)) out.push(patternConstraint(shape.pattern));
  if (shape.enum && !shape.enum.includes(value)) out.push(enumConstraint(shape.enum));
  return out;
}

// --- Values ---------------------------------------------------------------------------------------------------

export function shapeOf(name: string): Shape {
  const shape = shapes[name];
  if (!shape) throw new Error(`model has no shape ${name}`);
  return shape;
}

const camel = (member: string): string => member.charAt(0).toLowerCase() + member.slice(1);

/** A value of `n` code points for a string shape, satisfying its pattern when the pattern admits that length. */
export function stringOfLength(name: string, n: number): string {
  const sample = PATTERN_SAMPLES[name];
  if (!sample) return filler(n);
  const fitting = sample.ofLength?.(n);
  if (fitting !== undefined) return fitting;
  // The pattern admits no value of this length: pad or cut the valid sample (it also breaks the pattern).
  return (sample.valid + 'x'.repeat(n)).slice(0, n);
}

/** The smallest valid value of a shape: required members only, lists as short as allowed, maps empty. */
export function minimalValue(name: string): unknown {
  const shape = shapeOf(name);
  switch (shape.type) {
    case 'structure': {
      const out: Record<string, unknown> = {};
      for (const member of shape.required ?? []) out[member] = minimalValue(shape.members[member]!);
      return out;
    }
    case 'list':
      return Array.from({ length: shape.min ?? 0 }, () => minimalValue(shape.member));
    case 'map':
      return {};
    case 'string':
      if (shape.enum) return shape.enum[0];
      if (PATTERN_SAMPLES[name]) return PATTERN_SAMPLES[name].valid;
      return 'v'.repeat(Math.max(shape.min ?? 1, 1));
    case 'integer':
    case 'long':
    case 'double':
    case 'float':
      return Math.min(shape.min ?? 1, shape.max ?? Number.POSITIVE_INFINITY);
    case 'boolean':
      return false;
    case 'timestamp':
      return 1_700_000_000;
    case 'blob':
      return Buffer.from('owlet').toString('base64');
  }
}

export function minimalInput(operation: OperationName): Record<string, unknown> {
  const input = operations[operation].input;
  return input === null ? {} : (minimalValue(input) as Record<string, unknown>);
}

/** The minimal input of `operation` with `edits` applied: the JSON body of a case. */
export function buildInput(operation: OperationName, edits: readonly Edit[]): Record<string, unknown> {
  return applyEdits(minimalInput(operation), edits);
}

/**
 * Applies `edits` to `root` in place and returns it. `root` must be a valid input: the edits then make the
 * only violations (the fuzzer applies the cases to richer inputs than the minimal one).
 */
export function applyEdits(root: Record<string, unknown>, edits: readonly Edit[]): Record<string, unknown> {
  for (const { steps, value } of edits) {
    let container: Record<string, unknown> | unknown[] = root;
    steps.forEach((step, i) => {
      const key = 'member' in step ? step.member : step.item;
      const last = i === steps.length - 1;
      const holder = container as Record<string | number, unknown>;
      if (last) {
        if (value === ABSENT) delete holder[key];
        else holder[key] = value;
        return;
      }
      if (holder[key] === undefined || holder[key] === null) holder[key] = minimalValue(step.shape);
      const next = holder[key];
      // A list on the way gets the item the next step goes into.
      if (Array.isArray(next) && next.length === 0) next.push(minimalValue((shapeOf(step.shape) as { member: string }).member));
      container = next as Record<string, unknown> | unknown[];
    });
  }
  return root;
}

// --- Walking the input shapes -----------------------------------------------------------------------------------

/** A member an operation's input can reach: a structure member, or the first item of a list. */
interface Node {
  steps: Step[];
  path: string;
  shapeName: string;
  shape: Shape;
  required: boolean;
  listItem: boolean;
}

function* nodesOf(shapeName: string, steps: Step[], path: string, seen: ReadonlySet<string>): Generator<Node> {
  const shape = shapeOf(shapeName);
  if (seen.has(shapeName)) return; // No input shape of the model is recursive; this only guards the walk.
  const inside = new Set(seen).add(shapeName);
  if (shape.type === 'structure') {
    for (const [member, target] of Object.entries(shape.members)) {
      const node: Node = {
        steps: [...steps, { member, shape: target }],
        path: path ? `${path}.${camel(member)}` : camel(member),
        shapeName: target,
        shape: shapeOf(target),
        required: shape.required?.includes(member) ?? false,
        listItem: false,
      };
      yield node;
      yield* nodesOf(target, node.steps, node.path, inside);
    }
  } else if (shape.type === 'list') {
    const node: Node = {
      steps: [...steps, { item: 0, shape: shape.member }],
      path: `${path}.1.member`,
      shapeName: shape.member,
      shape: shapeOf(shape.member),
      required: false,
      listItem: true,
    };
    yield node;
    yield* nodesOf(shape.member, node.steps, node.path, inside);
  }
  // Map values are checked as a whole, at the map (see mapCases).
}

export function inputNodes(operation: OperationName): Node[] {
  const input = operations[operation].input;
  return input === null ? [] : [...nodesOf(input, [], '', new Set())];
}

/** The Java type Coral names in a type error, per shape type. */
export const JAVA_TYPE: Record<Shape['type'], string> = {
  structure: 'Structure',
  list: 'List',
  map: 'Map',
  string: 'String',
  integer: 'Integer',
  long: 'Long',
  double: 'Double',
  float: 'Double',
  boolean: 'Boolean',
  timestamp: 'Timestamp',
  blob: 'Blob',
};

/** A JSON value of the wrong type for a shape, and the token name Coral reports for it. */
function wrongType(shape: Shape): { value: unknown; token: string } {
  switch (shape.type) {
    case 'string':
      return shape.enum ? { value: true, token: 'BOOLEAN_VALUE' } : { value: 42, token: 'NUMBER_VALUE' };
    case 'structure':
    case 'map':
      return { value: ['not', 'an', 'object'], token: 'START_ARRAY' };
    case 'list':
      return { value: { not: 'a list' }, token: 'START_OBJECT' };
    case 'blob':
      return { value: 7, token: 'NUMBER_VALUE' };
    default:
      // Numbers, booleans and timestamps, given as text.
      return { value: '1', token: 'STRING_VALUE' };
  }
}

export const typeMessage = (token: string, javaType: string, path: string): string =>
  `${token} can not be converted to ${javaType}${path ? ` (at '${path}')` : ''}`;

export interface OperationCases {
  operation: OperationName;
  invalid: InvalidCase[];
  type: TypeCase[];
  valid: ValidCase[];
}

function invalidCase(operation: OperationName, node: Node, kind: ConstraintKind, title: string, value: unknown, violations: Violation[]): InvalidCase {
  return { operation, kind, path: node.path, title: `${kind}: ${node.path} ${title}`, edits: [{ steps: node.steps, value }], violations };
}

function stringCases(operation: OperationName, node: Node, shape: Extract<Shape, { type: 'string' }>): InvalidCase[] {
  const out: InvalidCase[] = [];
  const add = (kind: ConstraintKind, title: string, value: string): void => {
    const violations = stringConstraints(shape, value).map((constraint) => ({ path: node.path, constraint }));
    out.push(invalidCase(operation, node, kind, title, value, violations));
  };
  if (shape.min !== undefined && shape.min > 0) add('length-min', `= ${shape.min - 1} code points`, stringOfLength(node.shapeName, shape.min - 1));
  if (shape.max !== undefined) add('length-max', `= ${shape.max + 1} code points`, stringOfLength(node.shapeName, shape.max + 1));
  if (shape.pattern !== undefined) {
    for (const bad of PATTERN_SAMPLES[node.shapeName]?.invalid ?? []) add('pattern', `= ${JSON.stringify(bad).slice(0, 40)}`, bad);
  }
  if (shape.enum) {
    add('enum', '= "NOT_A_MEMBER"', 'NOT_A_MEMBER');
    // Enum values are matched exactly: case matters.
    add('enum', `= ${JSON.stringify(shape.enum[0]!.toLowerCase())}`, shape.enum[0]!.toLowerCase());
  }
  return out;
}

function mapCases(operation: OperationName, node: Node, shape: Extract<Shape, { type: 'map' }>): InvalidCase[] {
  const out: InvalidCase[] = [];
  const keyShape = shapeOf(shape.key);
  const validValue = minimalValue(shape.value);
  const at = (constraint: string): Violation => ({ path: node.path, constraint });
  const keys = (constraints: string[]): string => `Map keys must satisfy constraint: [${constraints.join(', ')}]`;
  const values = (constraints: string[]): string => `Map value must satisfy constraint: [${constraints.join(', ')}]`;
  const add = (kind: ConstraintKind, title: string, map: Record<string, unknown>, violations: Violation[]): void => {
    out.push(invalidCase(operation, node, kind, title, map, violations));
  };
  if (keyShape.type === 'string') {
    const badKeys: string[] = [];
    if (keyShape.min !== undefined && keyShape.min > 0) badKeys.push(stringOfLength(shape.key, keyShape.min - 1));
    if (keyShape.max !== undefined) badKeys.push(stringOfLength(shape.key, keyShape.max + 1));
    badKeys.push(...(PATTERN_SAMPLES[shape.key]?.invalid.slice(0, 1) ?? []));
    for (const key of badKeys) {
      const length = [...key].length;
      const title = length <= 16 ? `key ${JSON.stringify(key)}` : `key of ${length} code points`;
      add('map-key', title, { ok: validValue, [key]: validValue }, [at(keys(stringConstraints(keyShape, key)))]);
    }
    if (badKeys.length >= 2) {
      // Several bad keys: each broken constraint is listed once, in the order first met.
      const all = badKeys.flatMap((k) => stringConstraints(keyShape, k));
      const map = Object.fromEntries(badKeys.map((k) => [k, validValue]));
      add('map-key', `${badKeys.length} bad keys`, map, [at(keys([...new Set(all)]))]);
    }
  }
  const valueShape = shapeOf(shape.value);
  add('map-value', 'null value', { ok: validValue, absent: null }, [at(values([MUST_NOT_BE_NULL]))]);
  if (valueShape.type === 'string' && valueShape.max !== undefined) {
    const long = stringOfLength(shape.value, valueShape.max + 1);
    add('map-value', `value of ${valueShape.max + 1} code points`, { k: long }, [at(values([lengthMax(valueShape.max)]))]);
    if (keyShape.type === 'string' && keyShape.min !== undefined && keyShape.min > 0) {
      // A bad key and a bad value: two violations at the same path, keys first.
      add('map-value', 'bad key and bad value', { '': long }, [at(keys([lengthMin(keyShape.min)])), at(values([lengthMax(valueShape.max)]))]);
    }
  }
  if (valueShape.type === 'list') {
    add('map-value', 'null list item', { k: [null] }, [at(values([MUST_NOT_BE_NULL]))]);
  }
  return out;
}

/** Values at the limits of a member's constraints, which must all pass. */
function boundaryValues(node: Node): { title: string; value: unknown }[] {
  const shape = node.shape;
  const out: { title: string; value: unknown }[] = [];
  switch (shape.type) {
    case 'string': {
      const sample = PATTERN_SAMPLES[node.shapeName];
      if (sample) out.push({ title: `sample ${JSON.stringify(sample.valid)}`, value: sample.valid });
      for (const n of [shape.min, shape.max]) {
        if (n === undefined) continue;
        const value = stringOfLength(node.shapeName, n);
        if (stringConstraints(shape, value).length === 0) out.push({ title: `${n} code points`, value });
      }
      for (const value of shape.enum ?? []) out.push({ title: JSON.stringify(value), value });
      break;
    }
    case 'integer':
    case 'long':
      for (const n of [shape.min, shape.max]) if (n !== undefined) out.push({ title: `= ${n}`, value: n });
      break;
    case 'list':
      for (const n of [shape.min, shape.max]) {
        if (n !== undefined) out.push({ title: `${n} items`, value: Array.from({ length: n }, () => minimalValue(shape.member)) });
      }
      break;
    default:
      break;
  }
  return out;
}

export function casesFor(operation: OperationName, validatedShapes: Set<string>): OperationCases {
  const invalid: InvalidCase[] = [];
  const type: TypeCase[] = [];
  const valid: ValidCase[] = [];
  for (const node of inputNodes(operation)) {
    const { shape } = node;
    if (node.required) {
      invalid.push(invalidCase(operation, node, 'required', 'absent', ABSENT, [{ path: node.path, constraint: MUST_NOT_BE_NULL }]));
      invalid.push(invalidCase(operation, node, 'required', 'null', null, [{ path: node.path, constraint: MUST_NOT_BE_NULL }]));
    }
    if (node.listItem) {
      invalid.push(invalidCase(operation, node, 'required', 'null list item', null, [{ path: node.path, constraint: MUST_NOT_BE_NULL }]));
    }
    const wrong = wrongType(shape);
    type.push({
      operation,
      kind: 'type',
      path: node.path,
      title: `type: ${node.path} = ${JSON.stringify(wrong.value)}`,
      edits: [{ steps: node.steps, value: wrong.value }],
      message: typeMessage(wrong.token, JAVA_TYPE[shape.type], node.path),
    });
    switch (shape.type) {
      case 'string':
        invalid.push(...stringCases(operation, node, shape));
        break;
      case 'integer':
      case 'long':
        if (shape.min !== undefined) invalid.push(invalidCase(operation, node, 'range-min', `= ${shape.min - 1}`, shape.min - 1, [{ path: node.path, constraint: valueMin(shape.min) }]));
        if (shape.max !== undefined) invalid.push(invalidCase(operation, node, 'range-max', `= ${shape.max + 1}`, shape.max + 1, [{ path: node.path, constraint: valueMax(shape.max) }]));
        break;
      case 'list': {
        const items = (n: number): unknown[] => Array.from({ length: n }, () => minimalValue(shape.member));
        if (shape.min !== undefined && shape.min > 0) {
          invalid.push(invalidCase(operation, node, 'list-length-min', `${shape.min - 1} items`, items(shape.min - 1), [{ path: node.path, constraint: lengthMin(shape.min) }]));
        }
        if (shape.max !== undefined) {
          invalid.push(invalidCase(operation, node, 'list-length-max', `${shape.max + 1} items`, items(shape.max + 1), [{ path: node.path, constraint: lengthMax(shape.max) }]));
        }
        break;
      }
      case 'map':
        invalid.push(...mapCases(operation, node, shape));
        break;
      default:
        break;
    }
    // Limits and samples are checked once per shape, where it is first met.
    if (!validatedShapes.has(node.shapeName)) {
      const values = boundaryValues(node);
      if (values.length > 0) validatedShapes.add(node.shapeName);
      for (const { title, value } of values) {
        valid.push({ operation, path: node.path, title: `valid: ${node.path} (${node.shapeName}) ${title}`, edits: [{ steps: node.steps, value }] });
      }
    }
  }
  return { operation, invalid, type, valid };
}

/** The top-level member a case is about: cases on different ones can be combined in one request. */
export const topMember = (c: CaseBase): string => {
  const first = c.edits[0]?.steps[0];
  return first && 'member' in first ? first.member : '';
};

/** Every operation's cases, in the model's order. */
export function allCases(): OperationCases[] {
  const validated = new Set<string>();
  return (Object.keys(operations) as OperationName[]).map((op) => casesFor(op, validated));
}

/** The names of the patterned string shapes the operations' inputs can reach. */
export function reachablePatternShapes(): Set<string> {
  const names = new Set<string>();
  for (const op of Object.keys(operations) as OperationName[]) {
    for (const node of inputNodes(op)) {
      if (node.shape.type === 'string' && node.shape.pattern !== undefined) names.add(node.shapeName);
      if (node.shape.type === 'map') {
        const key = shapeOf(node.shape.key);
        if (key.type === 'string' && key.pattern !== undefined) names.add(node.shape.key);
      }
    }
  }
  return names;
}
