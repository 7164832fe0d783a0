/**
 * The SOQL and SOSL subsets the Salesforce stand-in understands, parsed for real (a tokenizer and
 * a recursive-descent parser), so a malformed statement from the adapter fails here as it would
 * against an org:
 *
 *   SELECT f1, f2 | COUNT() FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC], …] [LIMIT n]
 *     cond: f = v | f != v | f < v | f > v | f <= v | f >= v | f [NOT] IN (v, …) | f LIKE 'x%'
 *           combined with AND, OR, NOT and parentheses; v: 'string', number, TRUE, FALSE, NULL,
 *           a dateTime (2026-11-25T14:03:00.000Z, unquoted) or a date (2026-11-25)
 *   FIND {term [OR term]} IN PHONE FIELDS RETURNING Obj(f1, f2 [WHERE cond] [LIMIT n]), …
 *
 * Contract: ../../../../shared/reference/salesforce-contract.md §3.1, §3.3 and checklist items 9, 12.
 */

export class SoqlError extends Error {
  constructor(
    readonly errorCode: 'MALFORMED_QUERY' | 'MALFORMED_SEARCH' | 'INVALID_FIELD' | 'INVALID_TYPE',
    message: string,
  ) {
    super(message);
  }
}

export type Literal =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'datetime'; value: number; text: string }
  | { kind: 'date'; value: string };

export type Condition =
  | { kind: 'and'; parts: Condition[] }
  | { kind: 'or'; parts: Condition[] }
  | { kind: 'not'; part: Condition }
  | { kind: 'compare'; field: string; op: '=' | '!=' | '<' | '>' | '<=' | '>='; value: Literal }
  | { kind: 'in'; field: string; negated: boolean; values: Literal[] }
  | { kind: 'like'; field: string; pattern: string };

export interface SoqlQuery {
  count: boolean;
  fields: string[];
  sobject: string;
  where: Condition | null;
  orderBy: { field: string; desc: boolean }[];
  limit: number | null;
}

export interface SoslReturning {
  sobject: string;
  fields: string[];
  where: Condition | null;
  limit: number | null;
}

export interface SoslSearch {
  /** Terms with escapes resolved. */
  terms: string[];
  returning: SoslReturning[];
}

type Token = { type: 'word' | 'string' | 'punct'; text: string; pos: number };

const PUNCT = ['!=', '<>', '<=', '>=', '=', '<', '>', '(', ')', ','];

function tokenize(input: string, code: 'MALFORMED_QUERY' | 'MALFORMED_SEARCH'): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= input.length) throw new SoqlError(code, `unterminated string at ${i}`);
        const d = input[j]!;
        if (d === '\\') {
          const e = input[j + 1];
          if (e === undefined) throw new SoqlError(code, `bad escape at ${j}`);
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
          continue;
        }
        if (d === "'") break;
        value += d;
        j++;
      }
      tokens.push({ type: 'string', text: value, pos: i });
      i = j + 1;
      continue;
    }
    const p = PUNCT.find((x) => input.startsWith(x, i));
    if (p) {
      tokens.push({ type: 'punct', text: p === '<>' ? '!=' : p, pos: i });
      i += p.length;
      continue;
    }
    const m = /^[A-Za-z0-9_.:+\-]+/.exec(input.slice(i));
    if (!m) throw new SoqlError(code, `unexpected character ${JSON.stringify(c)} at ${i}`);
    tokens.push({ type: 'word', text: m[0], pos: i });
    i += m[0].length;
  }
  return tokens;
}

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly code: 'MALFORMED_QUERY' | 'MALFORMED_SEARCH',
  ) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  done(): boolean {
    return this.i >= this.tokens.length;
  }

  fail(what: string): never {
    const t = this.peek();
    throw new SoqlError(this.code, `${what}${t ? ` near ${JSON.stringify(t.text)} at ${t.pos}` : ' at the end'}`);
  }

  isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t?.type === 'word' && t.text.toUpperCase() === word;
  }

  keyword(word: string): void {
    if (!this.isKeyword(word)) this.fail(`expected ${word}`);
    this.i++;
  }

  punct(p: string): void {
    const t = this.peek();
    if (t?.type !== 'punct' || t.text !== p) this.fail(`expected ${p}`);
    this.i++;
  }

  isPunct(p: string): boolean {
    const t = this.peek();
    return t?.type === 'punct' && t.text === p;
  }

  field(): string {
    const t = this.peek();
    if (t?.type !== 'word' || !FIELD.test(t.text)) this.fail('expected a field name');
    this.i++;
    return t.text;
  }

  integer(): number {
    const t = this.peek();
    if (t?.type !== 'word' || !/^\d+$/.test(t.text)) this.fail('expected a number');
    this.i++;
    return Number(t.text);
  }

  literal(): Literal {
    const t = this.peek();
    if (!t) this.fail('expected a value');
    this.i++;
    if (t.type === 'string') return { kind: 'string', value: t.text };
    if (t.type === 'word') {
      const u = t.text.toUpperCase();
      if (u === 'TRUE' || u === 'FALSE') return { kind: 'boolean', value: u === 'TRUE' };
      if (u === 'NULL') return { kind: 'null' };
      if (DATETIME.test(t.text)) return { kind: 'datetime', value: Date.parse(t.text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')), text: t.text };
      if (DATE.test(t.text)) return { kind: 'date', value: t.text };
      if (/^-?\d+(\.\d+)?$/.test(t.text)) return { kind: 'number', value: Number(t.text) };
    }
    this.i--;
    return this.fail('expected a value');
  }

  condition(): Condition {
    const parts = [this.conjunction()];
    while (this.isKeyword('OR')) {
      this.i++;
      parts.push(this.conjunction());
    }
    return parts.length === 1 ? parts[0]! : { kind: 'or', parts };
  }

  private conjunction(): Condition {
    const parts = [this.unary()];
    while (this.isKeyword('AND')) {
      this.i++;
      parts.push(this.unary());
    }
    return parts.length === 1 ? parts[0]! : { kind: 'and', parts };
  }

  private unary(): Condition {
    if (this.isKeyword('NOT')) {
      this.i++;
      return { kind: 'not', part: this.unary() };
    }
    if (this.isPunct('(')) {
      this.i++;
      const c = this.condition();
      this.punct(')');
      return c;
    }
    const field = this.field();
    if (this.isKeyword('NOT') && this.isKeyword('IN', 1)) {
      this.i += 2;
      return { kind: 'in', field, negated: true, values: this.valueList() };
    }
    if (this.isKeyword('IN')) {
      this.i++;
      return { kind: 'in', field, negated: false, values: this.valueList() };
    }
    if (this.isKeyword('LIKE')) {
      this.i++;
      const v = this.literal();
      if (v.kind !== 'string') this.fail('LIKE needs a string');
      return { kind: 'like', field, pattern: v.value };
    }
    const t = this.peek();
    if (t?.type !== 'punct' || !['=', '!=', '<', '>', '<=', '>='].includes(t.text)) this.fail('expected an operator');
    this.i++;
    return { kind: 'compare', field, op: t.text as '=', value: this.literal() };
  }

  private valueList(): Literal[] {
    this.punct('(');
    const values = [this.literal()];
    while (this.isPunct(',')) {
      this.i++;
      values.push(this.literal());
    }
    this.punct(')');
    return values;
  }

  fieldList(): string[] {
    const fields = [this.field()];
    while (this.isPunct(',')) {
      this.i++;
      fields.push(this.field());
    }
    return fields;
  }
}

export function parseSoql(text: string): SoqlQuery {
  const p = new Parser(tokenize(text, 'MALFORMED_QUERY'), 'MALFORMED_QUERY');
  p.keyword('SELECT');
  let count = false;
  let fields: string[] = [];
  if (p.isKeyword('COUNT') && p.peek(1)?.text === '(') {
    p.keyword('COUNT');
    p.punct('(');
    p.punct(')');
    count = true;
  } else {
    fields = p.fieldList();
  }
  p.keyword('FROM');
  const sobject = p.field();
  let where: Condition | null = null;
  if (p.isKeyword('WHERE')) {
    p.keyword('WHERE');
    where = p.condition();
  }
  const orderBy: { field: string; desc: boolean }[] = [];
  if (p.isKeyword('ORDER')) {
    p.keyword('ORDER');
    p.keyword('BY');
    do {
      if (orderBy.length > 0) p.punct(',');
      const field = p.field();
      let desc = false;
      if (p.isKeyword('ASC')) p.keyword('ASC');
      else if (p.isKeyword('DESC')) {
        p.keyword('DESC');
        desc = true;
      }
      orderBy.push({ field, desc });
    } while (p.isPunct(','));
  }
  let limit: number | null = null;
  if (p.isKeyword('LIMIT')) {
    p.keyword('LIMIT');
    limit = p.integer();
  }
  if (!p.done()) p.fail('unexpected token');
  return { count, fields, sobject, where, orderBy, limit };
}

/** SOSL reserved characters (contract §3.2): each must be escaped with a backslash in a term. */
const SOSL_RESERVED = new Set(['&', '|', '!', '(', ')', '{', '}', '[', ']', '^', '"', '~', '*', '?', ':', '\\', "'", '+', '-']);

export function parseSosl(text: string): SoslSearch {
  const m = /^\s*FIND\s*\{((?:\\.|[^\\}])*)\}\s*(.*)$/is.exec(text);
  if (!m) throw new SoqlError('MALFORMED_SEARCH', 'expected FIND {…}');
  const terms: string[] = [];
  for (const raw of m[1]!.split(/\s+OR\s+/i)) {
    let term = '';
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (c === '\\') {
        const next = raw[i + 1];
        if (next === undefined) throw new SoqlError('MALFORMED_SEARCH', 'dangling backslash');
        term += next;
        i++;
        continue;
      }
      if (SOSL_RESERVED.has(c)) throw new SoqlError('MALFORMED_SEARCH', `reserved character ${JSON.stringify(c)} must be escaped with a backslash`);
      term += c;
    }
    term = term.trim();
    if (term === '') throw new SoqlError('MALFORMED_SEARCH', 'empty search term');
    terms.push(term);
  }
  const p = new Parser(tokenize(m[2]!, 'MALFORMED_SEARCH'), 'MALFORMED_SEARCH');
  p.keyword('IN');
  p.keyword('PHONE');
  p.keyword('FIELDS');
  const returning: SoslReturning[] = [];
  p.keyword('RETURNING');
  do {
    if (returning.length > 0) p.punct(',');
    const sobject = p.field();
    p.punct('(');
    const fields = p.fieldList();
    let where: Condition | null = null;
    let limit: number | null = null;
    if (p.isKeyword('WHERE')) {
      p.keyword('WHERE');
      where = p.condition();
    }
    if (p.isKeyword('LIMIT')) {
      p.keyword('LIMIT');
      limit = p.integer();
    }
    p.punct(')');
    returning.push({ sobject, fields, where, limit });
  } while (p.isPunct(','));
  if (!p.done()) p.fail('unexpected token');
  return { terms, returning };
}

/** Field names a condition uses (to check them against the object). */
export function conditionFields(c: Condition | null, out: string[] = []): string[] {
  if (!c) return out;
  if (c.kind === 'and' || c.kind === 'or') for (const p of c.parts) conditionFields(p, out);
  else if (c.kind === 'not') conditionFields(c.part, out);
  else out.push(c.field);
  return out;
}
