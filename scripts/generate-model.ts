// Generates src/generated/<service>-model.ts from the service models in the pinned botocore package (Athena's and
// Glue's): TypeScript types for every shape, the runtime shape table the protocol layer validates and serializes
// with, and the operation table. Documentation strings are deliberately not carried over.
//
//   node dist/scripts/generate-model.js          writes the file
//   node dist/scripts/generate-model.js --check  exits 1 when a committed file is stale
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { projectRoot } from '../src/config/paths.js';

interface BotocoreMemberRef {
  shape: string;
  deprecated?: boolean;
  idempotencyToken?: boolean;
}
interface BotocoreShape {
  type: string;
  members?: Record<string, BotocoreMemberRef>;
  required?: string[];
  member?: BotocoreMemberRef;
  key?: BotocoreMemberRef;
  value?: BotocoreMemberRef;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  exception?: boolean;
  fault?: boolean;
}
interface BotocoreModel {
  metadata: { apiVersion: string; targetPrefix: string; signingName?: string; endpointPrefix: string };
  operations: Record<string, { name: string; input?: { shape: string }; output?: { shape: string }; errors?: { shape: string }[] }>;
  shapes: Record<string, BotocoreShape>;
}

/** The services generated: botocore's folder of each model and the file it becomes. */
export const generatedServices = [
  { title: 'Athena', model: join('athena', '2017-05-18'), path: join(projectRoot, 'src', 'generated', 'athena-model.ts') },
  { title: 'Glue', model: join('glue', '2017-03-31'), path: join(projectRoot, 'src', 'generated', 'glue-model.ts') },
] as const;

function locateBotocore(): { dir: string; version: string } {
  const python = join(projectRoot, '.venv', 'bin', 'python');
  const out = execFileSync(python, ['-c', 'import botocore; print(botocore.__path__[0]); print(botocore.__version__)'], {
    encoding: 'utf8',
  });
  const [dir, version] = out.trim().split('\n');
  if (!dir || !version) throw new Error('could not locate botocore in .venv (run `make setup`)');
  return { dir, version };
}

function readModel(botocoreDir: string, modelDir: string): BotocoreModel {
  const base = join(botocoreDir, 'data', modelDir, 'service-2.json');
  let text: string;
  try {
    text = gunzipSync(readFileSync(`${base}.gz`)).toString('utf8');
  } catch {
    text = readFileSync(base, 'utf8');
  }
  return JSON.parse(text) as BotocoreModel;
}

const json = (value: unknown): string => JSON.stringify(value);

/** TypeScript's own names that a shape may carry (Glue has a `Record` shape); such a type is named `<Name>Shape`. */
const RESERVED_TYPE_NAMES = new Set(['Array', 'Boolean', 'Date', 'Error', 'Function', 'Map', 'Number', 'Object', 'Partial', 'Promise', 'Record', 'Set', 'String', 'Uint8Array']);

export const typeName = (shapeName: string): string => (RESERVED_TYPE_NAMES.has(shapeName) ? `${shapeName}Shape` : shapeName);

function tsTypeOf(model: BotocoreModel, shapeName: string): string {
  const shape = model.shapes[shapeName];
  if (!shape) throw new Error(`unknown shape ${shapeName}`);
  switch (shape.type) {
    case 'structure':
      return typeName(shapeName);
    case 'string':
      return shape.enum ? typeName(shapeName) : 'string';
    case 'integer':
    case 'long':
    case 'double':
    case 'float':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'timestamp':
      return 'Date';
    case 'blob':
      return 'Uint8Array';
    case 'list':
      return `${tsTypeOf(model, shape.member!.shape)}[]`;
    case 'map':
      return `Record<string, ${tsTypeOf(model, shape.value!.shape)}>`;
    default:
      throw new Error(`shape ${shapeName} has unsupported type ${shape.type}`);
  }
}

/**
 * Java's regular expressions (what AWS services check patterns with) let any punctuation be escaped (`\:`, `\_`,
 * `\#`); with the `u` flag JavaScript accepts only the escapes of syntax characters, and `\-` inside a class.
 * The others stand for the character itself in Java, so they are written as that character.
 */
export function javaPatternToJs(pattern: string): string {
  const syntax = new Set([...'^$\\.*+?()[]{}|/']);
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      const next = pattern[i + 1]!;
      const identity = /[!-\/:-@[-`{-~]/.test(next) && !syntax.has(next) && !(inClass && next === '-');
      out += identity ? next : c + next;
      i++;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return out;
}

/** Checks that every pattern compiles as the protocol layer will compile it (anchored, with the `u` flag). */
function checkPattern(shapeName: string, pattern: string): void {
  try {
    new RegExp(`^(?:${pattern})$`, 'u');
  } catch (error) {
    throw new Error(`pattern of ${shapeName} does not compile: ${String(error)}`);
  }
}

export function renderModel(title: string, model: BotocoreModel, botocoreVersion: string): string {
  const names = Object.keys(model.shapes).sort();
  const lines: string[] = [];
  lines.push(
    `// Generated by scripts/generate-model.ts from the ${title} service model of botocore ${botocoreVersion}.`,
    '// Do not edit: run `make generate`. A test fails when this file is stale.',
    '/* eslint-disable */',
    "import type { ShapeTable } from '../protocol/shapes.js';",
    '',
    `export const botocoreVersion = ${json(botocoreVersion)};`,
    `export const apiVersion = ${json(model.metadata.apiVersion)};`,
    `export const targetPrefix = ${json(model.metadata.targetPrefix)};`,
    `export const signingName = ${json(model.metadata.signingName ?? model.metadata.endpointPrefix)};`,
    '',
  );

  // Types.
  for (const name of names) {
    const shape = model.shapes[name]!;
    if (shape.type === 'string' && shape.enum) {
      lines.push(`export type ${typeName(name)} = ${shape.enum.map(json).join(' | ')};`);
    } else if (shape.type === 'structure') {
      const required = new Set(shape.required ?? []);
      const members = Object.entries(shape.members ?? {});
      if (members.length === 0) {
        lines.push(`export type ${typeName(name)} = Record<string, never>;`);
        continue;
      }
      lines.push(`export interface ${typeName(name)} {`);
      for (const [member, ref] of members) {
        lines.push(`  ${member}${required.has(member) ? '' : '?'}: ${tsTypeOf(model, ref.shape)};`);
      }
      lines.push('}');
    }
  }
  lines.push('');

  // The runtime shape table.
  lines.push('export const shapes: ShapeTable = {');
  for (const name of names) {
    const shape = model.shapes[name]!;
    const entry: Record<string, unknown> = { type: shape.type };
    if (shape.members) entry.members = Object.fromEntries(Object.entries(shape.members).map(([m, ref]) => [m, ref.shape]));
    if (shape.required?.length) entry.required = shape.required;
    if (shape.member) entry.member = shape.member.shape;
    if (shape.key) entry.key = shape.key.shape;
    if (shape.value) entry.value = shape.value.shape;
    if (shape.min !== undefined) entry.min = shape.min;
    if (shape.max !== undefined) entry.max = shape.max;
    if (shape.pattern !== undefined) {
      const pattern = javaPatternToJs(shape.pattern);
      checkPattern(name, pattern);
      entry.pattern = pattern;
    }
    if (shape.enum) entry.enum = shape.enum;
    if (shape.exception) entry.error = shape.fault ? 'server' : 'client';
    lines.push(`  ${name}: ${json(entry)},`);
  }
  lines.push('};', '');

  // Operations.
  const operations = Object.keys(model.operations).sort();
  lines.push('export const operations = {');
  for (const op of operations) {
    const o = model.operations[op]!;
    const entry = { input: o.input?.shape ?? null, output: o.output?.shape ?? null, errors: (o.errors ?? []).map((e) => e.shape) };
    lines.push(`  ${op}: ${json(entry)},`);
  }
  lines.push('} as const;', '');
  lines.push('export type OperationName = keyof typeof operations;', '');
  lines.push('export interface OperationTypes {');
  for (const op of operations) {
    const o = model.operations[op]!;
    const input = o.input ? typeName(o.input.shape) : 'Record<string, never>';
    const output = o.output ? typeName(o.output.shape) : 'Record<string, never>';
    lines.push(`  ${op}: { input: ${input}; output: ${output} };`);
  }
  lines.push('}', '');
  lines.push('export const serviceModel = { targetPrefix, signingName, shapes, operations };', '');
  return lines.join('\n');
}

function main(): void {
  const { dir, version } = locateBotocore();
  for (const service of generatedServices) {
    const text = renderModel(service.title, readModel(dir, service.model), version);
    if (process.argv.includes('--check')) {
      const current = readFileSync(service.path, 'utf8');
      if (current !== text) {
        console.error(`${service.path} is stale: run \`make generate\``);
        process.exit(1);
      }
      continue;
    }
    writeFileSync(service.path, text);
    console.log(`wrote ${service.path} from botocore ${version}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
