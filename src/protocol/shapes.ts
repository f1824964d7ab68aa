// Reading requests and writing responses by the service model's shapes (AWS JSON 1.1).
//
// Input: a parsed JSON body is checked for types (a wrong JSON type is a SerializationException, as Coral
// services answer) and then for the model's constraints, all violations collected into one message in the
// service's wording. Members the model does not know are ignored, as AWS services do for forward
// compatibility. Output: only modelled members are written, unset ones omitted, timestamps as epoch seconds.
import { SerializationError } from './errors.js';

export type Shape =
  | { type: 'structure'; members: Record<string, string>; required?: readonly string[]; error?: 'client' | 'server' }
  | { type: 'list'; member: string; min?: number; max?: number }
  | { type: 'map'; key: string; value: string; min?: number; max?: number }
  | { type: 'string'; min?: number; max?: number; pattern?: string; enum?: readonly string[] }
  | { type: 'integer' | 'long' | 'double' | 'float'; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'timestamp' }
  | { type: 'blob'; min?: number; max?: number };

export type ShapeTable = Record<string, Shape>;

/** One failed constraint: where (Coral's camelCase path) and what the member must do. */
export interface Violation {
  path: string;
  constraint: string;
}

export function validationMessage(violations: readonly Violation[]): string {
  const count = violations.length;
  const detail = violations.map((v) => `Value at '${v.path}' failed to satisfy constraint: ${v.constraint}`).join('; ');
  return `${count} validation error${count === 1 ? '' : 's'} detected: ${detail}`;
}

/** Coral names members in messages by their lower-camel-case name: `WorkGroup` → `workGroup`. */
const camel = (member: string): string => member.charAt(0).toLowerCase() + member.slice(1);

/**
 * Length in Unicode code points, as the model's length constraints count (not UTF-16 units). A surrogate
 * pair is one code point; an unpaired surrogate counts as one, as Java counts it.
 */
export function codePointLength(s: string): number {
  let pairs = 0;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) {
      const prev = s.charCodeAt(i - 1);
      if (prev >= 0xd800 && prev <= 0xdbff) {
        pairs++;
        i++;
      }
    }
  }
  return s.length - pairs;
}

/** Sets an own property, so that a key such as `__proto__` is kept as data rather than changing the prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const compiledPatterns = new Map<string, RegExp>();
/**
 * The model's patterns are matched against the whole value. Smithy does not anchor patterns, but AWS services
 * check them with Java's `Pattern.matches`, which does: `bad name!` fails `[a-zA-Z0-9._-]{1,128}` on the real
 * service although it contains a matching run. The `u` flag makes the model's surrogate-pair ranges
 * (`\uD800\uDC00-\uDBFF\uDFFF`) mean code points, as they do in Java.
 */
function patternOf(source: string): RegExp {
  let re = compiledPatterns.get(source);
  if (!re) {
    re = new RegExp(`^(?:${source})$`, 'u');
    compiledPatterns.set(source, re);
  }
  return re;
}

function jsonKind(value: unknown): string {
  if (value === null) return 'VALUE_NULL';
  if (typeof value === 'string') return 'STRING_VALUE';
  if (typeof value === 'number') return 'NUMBER_VALUE';
  if (typeof value === 'boolean') return 'BOOLEAN_VALUE';
  if (Array.isArray(value)) return 'START_ARRAY';
  return 'START_OBJECT';
}

function typeMismatch(value: unknown, expected: string, path: string): SerializationError {
  return new SerializationError(`${jsonKind(value)} can not be converted to ${expected}${path ? ` (at '${path}')` : ''}`);
}

function lengthViolations(length: number, shape: { min?: number; max?: number }, path: string, out: Violation[]): void {
  if (shape.min !== undefined && length < shape.min) {
    out.push({ path, constraint: `Member must have length greater than or equal to ${shape.min}` });
  }
  if (shape.max !== undefined && length > shape.max) {
    out.push({ path, constraint: `Member must have length less than or equal to ${shape.max}` });
  }
}

/** A structure's member as the decoder walks it: its name, its shape's name and its name in messages. */
interface DecodedMember {
  member: string;
  target: string;
  camelName: string;
}

export class InputDecoder {
  /** Each structure's members, listed once on first use rather than on every request. */
  private readonly members = new Map<string, readonly DecodedMember[]>();

  constructor(private readonly shapes: ShapeTable) {}

  private membersOf(name: string, members: Record<string, string>): readonly DecodedMember[] {
    let list = this.members.get(name);
    if (!list) {
      list = Object.entries(members).map(([member, target]) => ({ member, target, camelName: camel(member) }));
      this.members.set(name, list);
    }
    return list;
  }

  /**
   * Decodes `value` as `shapeName`. Throws SerializationError on a type mismatch; returns the decoded value
   * and the constraint violations (empty when the input is valid).
   */
  decode(shapeName: string, value: unknown): { value: unknown; violations: Violation[] } {
    const violations: Violation[] = [];
    const decoded = this.decodeShape(shapeName, value, '', violations);
    return { value: decoded, violations };
  }

  private shape(name: string): Shape {
    const shape = this.shapes[name];
    if (!shape) throw new Error(`model has no shape ${name}`);
    return shape;
  }

  private decodeShape(name: string, value: unknown, path: string, out: Violation[]): unknown {
    const shape = this.shape(name);
    switch (shape.type) {
      case 'structure': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw typeMismatch(value, 'Structure', path);
        const input = value as Record<string, unknown>;
        const result: Record<string, unknown> = {};
        for (const { member, target, camelName } of this.membersOf(name, shape.members)) {
          const memberPath = path ? `${path}.${camelName}` : camelName;
          const v = input[member];
          if (v === undefined || v === null) {
            if (shape.required?.includes(member)) out.push({ path: memberPath, constraint: 'Member must not be null' });
            continue;
          }
          result[member] = this.decodeShape(target, v, memberPath, out);
        }
        return result;
      }
      case 'list': {
        if (!Array.isArray(value)) throw typeMismatch(value, 'List', path);
        lengthViolations(value.length, shape, path, out);
        return value.map((item, i) => {
          const itemPath = `${path}.${i + 1}.member`;
          if (item === null || item === undefined) {
            out.push({ path: itemPath, constraint: 'Member must not be null' });
            return item;
          }
          return this.decodeShape(shape.member, item, itemPath, out);
        });
      }
      case 'map': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw typeMismatch(value, 'Map', path);
        const entries = Object.entries(value as Record<string, unknown>);
        lengthViolations(entries.length, shape, path, out);
        const keyProblems: Violation[] = [];
        const valueProblems: Violation[] = [];
        const result: Record<string, unknown> = {};
        for (const [k, v] of entries) {
          this.decodeShape(shape.key, k, path, keyProblems);
          if (v === null || v === undefined) {
            valueProblems.push({ path, constraint: 'Member must not be null' });
            continue;
          }
          setOwn(result, k, this.decodeShape(shape.value, v, path, valueProblems));
        }
        const summarize = (label: string, problems: Violation[]): void => {
          if (problems.length === 0) return;
          const unique = [...new Set(problems.map((p) => p.constraint))];
          out.push({ path, constraint: `${label} must satisfy constraint: [${unique.join(', ')}]` });
        };
        summarize('Map keys', keyProblems);
        summarize('Map value', valueProblems);
        return result;
      }
      case 'string': {
        if (typeof value !== 'string') throw typeMismatch(value, 'String', path);
        lengthViolations(codePointLength(value), shape, path, out);
        if (shape.pattern !== undefined && !patternOf(shape.pattern).test(value)) {
          out.push({ path, constraint: `Member must satisfy regular expression pattern: ${shape.pattern}` });
        }
        if (shape.enum && !shape.enum.includes(value)) {
          out.push({ path, constraint: `Member must satisfy enum value set: [${shape.enum.join(', ')}]` });
        }
        return value;
      }
      case 'integer':
      case 'long': {
        // Coral reads these into Java's int and long; a number outside their range cannot be converted.
        const [low, high] = shape.type === 'integer' ? [-(2 ** 31), 2 ** 31 - 1] : [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
        if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
          throw typeMismatch(value, shape.type === 'long' ? 'Long' : 'Integer', path);
        }
        this.rangeViolations(value, shape, path, out);
        return value;
      }
      case 'double':
      case 'float': {
        if (typeof value !== 'number') throw typeMismatch(value, 'Double', path);
        this.rangeViolations(value, shape, path, out);
        return value;
      }
      case 'boolean':
        if (typeof value !== 'boolean') throw typeMismatch(value, 'Boolean', path);
        return value;
      case 'timestamp':
        if (typeof value !== 'number' || !Number.isFinite(value)) throw typeMismatch(value, 'Timestamp', path);
        return new Date(value * 1000);
      case 'blob': {
        if (typeof value !== 'string') throw typeMismatch(value, 'Blob', path);
        const bytes = Buffer.from(value, 'base64');
        lengthViolations(bytes.length, shape, path, out);
        return new Uint8Array(bytes);
      }
    }
  }

  private rangeViolations(value: number, shape: { min?: number; max?: number }, path: string, out: Violation[]): void {
    if (shape.min !== undefined && value < shape.min) {
      out.push({ path, constraint: `Member must have value greater than or equal to ${shape.min}` });
    }
    if (shape.max !== undefined && value > shape.max) {
      out.push({ path, constraint: `Member must have value less than or equal to ${shape.max}` });
    }
  }
}

/** Writes one value of a shape as JSON text. */
type JsonWriter = (value: unknown) => string;

const writeScalar: JsonWriter = (value) => JSON.stringify(value);

/**
 * Writes a handler's result as the JSON text the wire carries for a shape: only modelled members, unset ones
 * omitted, timestamps as epoch seconds, blobs as base64. Each shape's writer is prepared once, on first use
 * (its members, their writers and their quoted names `"Name":`), so that a request pays only for walking its
 * own value, and the text is written directly rather than built as an object for JSON.stringify.
 */
export class OutputEncoder {
  private readonly writers = new Map<string, JsonWriter>();

  constructor(private readonly shapes: ShapeTable) {}

  /** The JSON text of a handler's result for `shapeName`. */
  encodeJson(shapeName: string, value: unknown): string {
    return this.writerOf(shapeName)(value);
  }

  private writerOf(name: string): JsonWriter {
    const known = this.writers.get(name);
    if (known) return known;
    const shape = this.shapes[name];
    if (!shape) throw new Error(`model has no shape ${name}`);
    let writer: JsonWriter;
    switch (shape.type) {
      case 'structure': {
        const names: string[] = [];
        const keys: string[] = [];
        const writers: JsonWriter[] = [];
        writer = (value) => {
          const input = value as Record<string, unknown>;
          let out = '';
          for (let i = 0; i < names.length; i++) {
            const v = input[names[i]!];
            if (v === undefined || v === null) continue;
            out += `${out === '' ? '{' : ','}${keys[i]!}${writers[i]!(v)}`;
          }
          return out === '' ? '{}' : `${out}}`;
        };
        // Set before the members are prepared: a shape may contain itself.
        this.writers.set(name, writer);
        for (const [member, target] of Object.entries(shape.members)) {
          names.push(member);
          keys.push(`${JSON.stringify(member)}:`);
          writers.push(this.writerOf(target));
        }
        return writer;
      }
      case 'list': {
        let item: JsonWriter = writeScalar;
        writer = (value) => `[${(value as unknown[]).map((v) => item(v)).join(',')}]`;
        this.writers.set(name, writer);
        item = this.writerOf(shape.member);
        return writer;
      }
      case 'map': {
        let entry: JsonWriter = writeScalar;
        writer = (value) => {
          const parts: string[] = [];
          for (const [k, v] of Object.entries(value as Record<string, unknown>)) parts.push(`${JSON.stringify(k)}:${entry(v)}`);
          return `{${parts.join(',')}}`;
        };
        this.writers.set(name, writer);
        entry = this.writerOf(shape.value);
        return writer;
      }
      case 'timestamp':
        writer = (value) => JSON.stringify(epochSeconds(value as Date | number));
        break;
      case 'blob':
        writer = (value) => JSON.stringify(Buffer.from(value as Uint8Array).toString('base64'));
        break;
      default:
        writer = writeScalar;
    }
    this.writers.set(name, writer);
    return writer;
  }
}

/** Epoch seconds with millisecond precision, as AWS JSON services write timestamps. */
export function epochSeconds(value: Date | number): number {
  const ms = typeof value === 'number' ? value : value.getTime();
  return ms / 1000;
}
