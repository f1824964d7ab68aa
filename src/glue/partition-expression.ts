// The partition filter of Glue's GetPartitions `Expression`: the Hive Metastore's filter syntax, a SQL WHERE
// clause over the partition keys (AWS Glue API reference, GetPartitions: =, >, <, >=, <=, <>, BETWEEN, IN, LIKE,
// combined with AND, OR, NOT and parentheses). Values are compared as the key's type says: the numeric Hive types
// as numbers, everything else (string, date, timestamp, ...) as text, which orders ISO dates and timestamps
// correctly.
import type { CatalogColumn } from '../catalog/catalog-store.js';

export type PartitionPredicate = (values: readonly string[]) => boolean;

/** The expression cannot be read, or names a column that is not a partition key. */
export class PartitionExpressionError extends Error {}

type Token =
  | { kind: 'word'; text: string }
  | { kind: 'name'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'number'; text: string }
  | { kind: 'op'; text: string };

const NUMERIC_TYPES = new Set(['tinyint', 'smallint', 'int', 'integer', 'bigint', 'long', 'float', 'double', 'decimal']);

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      // A quote inside a literal is written twice, as in SQL.
      let text = '';
      i++;
      for (;;) {
        if (i >= source.length) throw new PartitionExpressionError(`Unterminated string literal in the expression: ${source}`);
        if (source[i] === c) {
          if (source[i + 1] === c) {
            text += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += source[i];
        i++;
      }
      tokens.push({ kind: 'string', text });
    } else if (c === '`') {
      const end = source.indexOf('`', i + 1);
      if (end < 0) throw new PartitionExpressionError(`Unterminated quoted name in the expression: ${source}`);
      tokens.push({ kind: 'name', text: source.slice(i + 1, end) });
      i = end + 1;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9.]/.test(source[i + 1] ?? ''))) {
      const m = /^-?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?/.exec(source.slice(i));
      if (!m) throw new PartitionExpressionError(`Cannot read a number at position ${i} of the expression: ${source}`);
      tokens.push({ kind: 'number', text: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: 'word', text: m[0] });
      i += m[0].length;
    } else {
      const two = source.slice(i, i + 2);
      if (two === '<=' || two === '>=' || two === '<>' || two === '!=') {
        tokens.push({ kind: 'op', text: two });
        i += 2;
      } else if ('=<>(),'.includes(c)) {
        tokens.push({ kind: 'op', text: c });
        i++;
      } else {
        throw new PartitionExpressionError(`Unexpected character '${c}' at position ${i} of the expression: ${source}`);
      }
    }
  }
  return tokens;
}

type Literal = { kind: 'string' | 'number'; text: string };

class Parser {
  private position = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
    private readonly keys: readonly CatalogColumn[],
  ) {}

  parse(): PartitionPredicate {
    const predicate = this.or();
    if (this.position < this.tokens.length) this.fail(`unexpected '${this.tokens[this.position]!.text}'`);
    return predicate;
  }

  private fail(what: string): never {
    throw new PartitionExpressionError(`Unsupported expression: ${what} in ${this.source}`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t?.kind === 'word' && t.text.toUpperCase() === word;
  }

  private expectOp(op: string): void {
    const t = this.peek();
    if (t?.kind !== 'op' || t.text !== op) this.fail(`expected '${op}'`);
    this.position++;
  }

  private or(): PartitionPredicate {
    const parts = [this.and()];
    while (this.isKeyword('OR')) {
      this.position++;
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0]! : (values) => parts.some((p) => p(values));
  }

  private and(): PartitionPredicate {
    const parts = [this.not()];
    while (this.isKeyword('AND')) {
      this.position++;
      parts.push(this.not());
    }
    return parts.length === 1 ? parts[0]! : (values) => parts.every((p) => p(values));
  }

  private not(): PartitionPredicate {
    if (this.isKeyword('NOT')) {
      this.position++;
      const inner = this.not();
      return (values) => !inner(values);
    }
    return this.primary();
  }

  private literal(): Literal {
    const t = this.peek();
    if (t?.kind !== 'string' && t?.kind !== 'number') this.fail(`expected a value${t ? ` at '${t.text}'` : ' at the end'}`);
    this.position++;
    return t;
  }

  private primary(): PartitionPredicate {
    const t = this.peek();
    if (t?.kind === 'op' && t.text === '(') {
      this.position++;
      const inner = this.or();
      this.expectOp(')');
      return inner;
    }
    if (t?.kind !== 'word' && t?.kind !== 'name') this.fail(`expected a partition key${t ? ` at '${t.text}'` : ' at the end'}`);
    this.position++;
    const index = this.keys.findIndex((k) => k.name.toLowerCase() === t.text.toLowerCase());
    if (index < 0) this.fail(`'${t.text}' is not a partition key`);
    const numeric = NUMERIC_TYPES.has(this.keys[index]!.type.toLowerCase().replace(/\(.*$/, ''));
    const compare = (value: string, literal: Literal): number => {
      if (numeric) {
        const a = Number(value);
        const b = Number(literal.text);
        return a < b ? -1 : a > b ? 1 : a === b ? 0 : Number.NaN;
      }
      return value < literal.text ? -1 : value > literal.text ? 1 : 0;
    };
    const at = (values: readonly string[]): string => values[index] ?? '';

    let negated = false;
    if (this.isKeyword('NOT')) {
      negated = true;
      this.position++;
    }
    const apply = (p: PartitionPredicate): PartitionPredicate => (negated ? (values) => !p(values) : p);
    if (this.isKeyword('BETWEEN')) {
      this.position++;
      const low = this.literal();
      if (!this.isKeyword('AND')) this.fail("expected AND after BETWEEN's lower bound");
      this.position++;
      const high = this.literal();
      return apply((values) => compare(at(values), low) >= 0 && compare(at(values), high) <= 0);
    }
    if (this.isKeyword('IN')) {
      this.position++;
      this.expectOp('(');
      const list = [this.literal()];
      while (this.peek()?.kind === 'op' && this.peek()!.text === ',') {
        this.position++;
        list.push(this.literal());
      }
      this.expectOp(')');
      return apply((values) => list.some((l) => compare(at(values), l) === 0));
    }
    if (this.isKeyword('LIKE')) {
      this.position++;
      const pattern = this.literal();
      const re = likePattern(pattern.text);
      return apply((values) => re.test(at(values)));
    }
    if (negated) this.fail('NOT must be followed by BETWEEN, IN or LIKE here');
    const op = this.peek();
    if (op?.kind !== 'op' || !['=', '<', '>', '<=', '>=', '<>', '!='].includes(op.text)) {
      this.fail(`expected a comparison after '${t.text}'`);
    }
    this.position++;
    const literal = this.literal();
    switch (op.text) {
      case '=':
        return (values) => compare(at(values), literal) === 0;
      case '<':
        return (values) => compare(at(values), literal) < 0;
      case '>':
        return (values) => compare(at(values), literal) > 0;
      case '<=':
        return (values) => compare(at(values), literal) <= 0;
      case '>=':
        return (values) => compare(at(values), literal) >= 0;
      default:
        return (values) => compare(at(values), literal) !== 0;
    }
  }
}

/** SQL LIKE: `%` any run, `_` any one character, everything else itself. */
function likePattern(pattern: string): RegExp {
  let source = '';
  for (const c of pattern) {
    if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/** Compiles a partition filter over a table's partition keys; throws PartitionExpressionError when it cannot. */
export function compilePartitionExpression(expression: string, keys: readonly CatalogColumn[]): PartitionPredicate {
  const tokens = tokenize(expression);
  if (tokens.length === 0) return () => true;
  return new Parser(tokens, expression, keys).parse();
}
