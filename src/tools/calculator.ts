/**
 * The `calculator` tool: a safe arithmetic and statistics evaluator. Models are poor at arithmetic,
 * so agents hand formulas here instead of guessing. Expressions go through a hand-written tokenizer,
 * a recursive-descent parser and a tree-walking evaluator; nothing is ever passed to `eval` or
 * `Function`, and identifiers resolve only against fixed tables (never object prototypes), so an
 * input such as `constructor` or `process.exit(1)` is just an unknown name or a syntax error.
 *
 * Grammar, loosest binding first:
 * ```
 * expression := term (('+' | '-') term)*
 * term       := unary (('*' | '/' | '%') unary | '%' 'of' unary)*
 * unary      := ('-' | '+') unary | power
 * power      := primary (('^' | '**') unary)?          right-associative; -2^2 = -4, 2^-1 = 0.5
 * primary    := number | name | name '(' args? ')' | '(' expression ')' | '[' args? ']'
 * ```
 * Positions in error messages are 1-based character offsets into the expression.
 */
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { ToolDefinition } from './types.js';

/** Limits that keep a hostile expression from exhausting the stack or the CPU. */
export const CALCULATOR_LIMITS = Object.freeze({
  /** Characters accepted by the input schema. */
  maxExpressionLength: 2000,
  /** Tokens accepted by the tokenizer. */
  maxTokens: 10_000,
  /** Nesting levels of parentheses, brackets, calls, unary signs and powers. */
  maxDepth: 100,
  /** The largest n for which n! is a finite double. */
  maxFactorial: 170,
});

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const calculatorInputSchema = z.object({
  expression: z
    .string()
    .min(1)
    .max(CALCULATOR_LIMITS.maxExpressionLength)
    .describe('Arithmetic expression, e.g. "(3 + 4) * 2^3", "mean([1, 2, 3])", "15% of 80".'),
  variables: z
    .record(z.string().regex(IDENTIFIER, 'Variable names must be identifiers (letters, digits, _)'), z.number())
    .optional()
    .describe('Named numbers usable in the expression, e.g. {"price": 12.5}. Names are case-insensitive.'),
});

export const calculatorOutputSchema = z.object({
  expression: z.string(),
  result: z.number(),
});

export type CalculatorInput = z.infer<typeof calculatorInputSchema>;
export type CalculatorOutput = z.infer<typeof calculatorOutputSchema>;

// ---------------------------------------------------------------------------------------------
// Tokenizer

type Punct = '+' | '-' | '*' | '/' | '%' | '^' | '**' | '(' | ')' | '[' | ']' | ',';

type Token =
  | { kind: 'number'; value: number; text: string; pos: number }
  | { kind: 'name'; name: string; text: string; pos: number }
  | { kind: 'punct'; op: Punct; text: string; pos: number }
  | { kind: 'end'; text: string; pos: number };

const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const PUNCT = new Set(['+', '-', '*', '/', '%', '^', '(', ')', '[', ']', ',']);

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw new AppError('TOOL_ERROR', message, { details: { tool: 'calculator', ...details } });
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    if (tokens.length >= CALCULATOR_LIMITS.maxTokens) {
      fail(`Expression has more than ${CALCULATOR_LIMITS.maxTokens} tokens`, { limit: CALCULATOR_LIMITS.maxTokens });
    }
    const token = readToken(source, i);
    tokens.push(token);
    i += token.text.length;
  }
  tokens.push({ kind: 'end', text: '', pos: source.length });
  return tokens;
}

function readToken(source: string, i: number): Token {
  const ch = source[i] as string;
  if (/[0-9.]/.test(ch)) return readNumber(source, i);
  NAME.lastIndex = i;
  const name = NAME.exec(source);
  if (name) return { kind: 'name', name: name[0].toLowerCase(), text: name[0], pos: i };
  if (ch === '*' && source[i + 1] === '*') return { kind: 'punct', op: '**', text: '**', pos: i };
  if (PUNCT.has(ch)) return { kind: 'punct', op: ch as Punct, text: ch, pos: i };
  return fail(`Unexpected character '${ch}' at position ${i + 1}`, { position: i + 1 });
}

function readNumber(source: string, i: number): Token {
  NUMBER.lastIndex = i;
  const match = NUMBER.exec(source);
  if (!match) return fail(`Unexpected character '.' at position ${i + 1}`, { position: i + 1 });
  const text = match[0];
  const next = source[i + text.length];
  if (next !== undefined && /[eE.]/.test(next)) {
    fail(`Malformed number '${text}${next}' at position ${i + 1}`, { position: i + 1 });
  }
  // "1,000" would otherwise read as the two arguments 1 and 0 inside a call.
  if (/^0\d/.test(text)) {
    fail(`Number '${text}' at position ${i + 1} has a leading zero; thousands separators are not supported`, {
      position: i + 1,
    });
  }
  const value = Number(text);
  if (!Number.isFinite(value)) fail(`Number '${text}' at position ${i + 1} is too large`, { position: i + 1 });
  return { kind: 'number', value, text, pos: i };
}

// ---------------------------------------------------------------------------------------------
// Parser

type BinaryOp = '+' | '-' | '*' | '/' | '%' | '^' | 'of';

interface Link {
  op: BinaryOp;
  operand: Node;
  pos: number;
}

type Node =
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'name'; name: string; pos: number }
  | { kind: 'unary'; op: '+' | '-'; operand: Node; pos: number }
  /** `first op1 x1 op2 x2 ...`, applied left to right. */
  | { kind: 'chain'; first: Node; rest: Link[]; pos: number }
  | { kind: 'call'; name: string; args: Node[]; pos: number }
  | { kind: 'list'; items: Node[]; pos: number };

function chain(first: Node, rest: Link[]): Node {
  return rest.length === 0 ? first : { kind: 'chain', first, rest, pos: first.pos };
}

class Parser {
  readonly #tokens: Token[];
  #index = 0;
  #depth = 0;

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  parse(): Node {
    const node = this.#expression();
    const token = this.#peek();
    if (token.kind !== 'end') this.#unexpected(token, 'an operator or the end of the expression');
    return node;
  }

  #peek(offset = 0): Token {
    return this.#tokens[Math.min(this.#index + offset, this.#tokens.length - 1)] as Token;
  }

  #next(): Token {
    const token = this.#peek();
    if (token.kind !== 'end') this.#index += 1;
    return token;
  }

  #isPunct(token: Token, ...ops: Punct[]): boolean {
    return token.kind === 'punct' && ops.includes(token.op);
  }

  #expect(op: Punct, what: string): void {
    const token = this.#peek();
    if (!this.#isPunct(token, op)) this.#unexpected(token, what);
    this.#next();
  }

  /** Runs `parse` one nesting level deeper, refusing to go past the limit. */
  #nested<T>(pos: number, parse: () => T): T {
    this.#depth += 1;
    if (this.#depth > CALCULATOR_LIMITS.maxDepth) {
      fail(`Expression is nested more than ${CALCULATOR_LIMITS.maxDepth} levels deep at position ${pos + 1}`, {
        position: pos + 1,
        limit: CALCULATOR_LIMITS.maxDepth,
      });
    }
    try {
      return parse();
    } finally {
      this.#depth -= 1;
    }
  }

  #expression(): Node {
    const first = this.#term();
    const rest: Link[] = [];
    for (let token = this.#peek(); this.#isPunct(token, '+', '-'); token = this.#peek()) {
      this.#next();
      rest.push({ op: (token as { op: '+' | '-' }).op, operand: this.#term(), pos: token.pos });
    }
    return chain(first, rest);
  }

  #term(): Node {
    const first = this.#unary();
    const rest: Link[] = [];
    for (let token = this.#peek(); this.#isPunct(token, '*', '/', '%'); token = this.#peek()) {
      this.#next();
      const after = this.#peek();
      let op = (token as { op: '*' | '/' | '%' }).op as BinaryOp;
      if (op === '%' && after.kind === 'name' && after.name === 'of') {
        this.#next();
        op = 'of';
      }
      rest.push({ op, operand: this.#unary(), pos: token.pos });
    }
    return chain(first, rest);
  }

  #unary(): Node {
    const token = this.#peek();
    if (token.kind === 'punct' && (token.op === '+' || token.op === '-')) {
      this.#next();
      const op = token.op;
      return this.#nested(token.pos, () => ({ kind: 'unary', op, operand: this.#unary(), pos: token.pos }));
    }
    return this.#power();
  }

  #power(): Node {
    const base = this.#primary();
    const token = this.#peek();
    if (!this.#isPunct(token, '^', '**')) return base;
    this.#next();
    // The exponent is a unary so that 2^-1 works; recursing through it makes ^ right-associative.
    return this.#nested(token.pos, () => chain(base, [{ op: '^', operand: this.#unary(), pos: token.pos }]));
  }

  #primary(): Node {
    const token = this.#next();
    if (token.kind === 'number') return { kind: 'number', value: token.value, pos: token.pos };
    if (token.kind === 'name') {
      if (!this.#isPunct(this.#peek(), '(')) return { kind: 'name', name: token.name, pos: token.pos };
      this.#next();
      return this.#nested(token.pos, () => ({
        kind: 'call',
        name: token.name,
        args: this.#list(')', `',' or ')' to close the call to ${token.text}`),
        pos: token.pos,
      }));
    }
    if (this.#isPunct(token, '(')) {
      return this.#nested(token.pos, () => {
        const inner = this.#expression();
        this.#expect(')', `')' to close the '(' at position ${token.pos + 1}`);
        return inner;
      });
    }
    if (this.#isPunct(token, '[')) {
      return this.#nested(token.pos, () => ({
        kind: 'list',
        items: this.#list(']', `',' or ']' to close the list at position ${token.pos + 1}`),
        pos: token.pos,
      }));
    }
    return this.#unexpected(token, 'a number, a name, a function call, "(" or "["');
  }

  /** Comma-separated expressions up to `close`; the opening bracket is already consumed. */
  #list(close: ')' | ']', what: string): Node[] {
    const items: Node[] = [];
    if (this.#isPunct(this.#peek(), close)) {
      this.#next();
      return items;
    }
    for (;;) {
      items.push(this.#expression());
      const token = this.#peek();
      if (this.#isPunct(token, close)) {
        this.#next();
        return items;
      }
      if (!this.#isPunct(token, ',')) this.#unexpected(token, what);
      this.#next();
    }
  }

  #unexpected(token: Token, expected: string): never {
    const found = token.kind === 'end' ? 'the end of the expression' : `'${token.text}'`;
    const where = token.kind === 'end' ? '' : ` at position ${token.pos + 1}`;
    const previous = this.#tokens[this.#index - 1];
    const hint =
      this.#isPunct(token, ',') && previous?.kind === 'number'
        ? ' (thousands separators are not supported; write 1000, not 1,000)'
        : '';
    return fail(`Syntax error: expected ${expected} but found ${found}${where}${hint}`, {
      position: token.pos + 1,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Functions and constants

type Value = number | number[];

const CONSTANTS = new Map<string, number>([
  ['pi', Math.PI],
  ['e', Math.E],
]);

interface CallSite {
  name: string;
  pos: number;
}

interface FunctionSpec {
  minArgs: number;
  maxArgs: number;
  apply(args: Value[], call: CallSite): number;
}

function callError(call: CallSite, problem: string): never {
  return fail(`${call.name}() at position ${call.pos + 1} ${problem}`, { position: call.pos + 1, function: call.name });
}

/** A function of plain numbers; a list argument is an error. */
function scalar(minArgs: number, maxArgs: number, fn: (args: number[], call: CallSite) => number): FunctionSpec {
  return {
    minArgs,
    maxArgs,
    apply(args, call) {
      const numbers = args.map((a) => (typeof a === 'number' ? a : callError(call, 'takes numbers, not a list')));
      return fn(numbers, call);
    },
  };
}

function unary(fn: (x: number) => number): FunctionSpec {
  return scalar(1, 1, ([x]) => fn(x as number));
}

/** A statistics function: any mix of numbers and lists, seen as one flat list of values. */
function stat(fn: (values: number[]) => number, minValues = 1): FunctionSpec {
  return {
    minArgs: 1,
    maxArgs: Infinity,
    apply(args, call) {
      const values = args.flat();
      if (values.length < minValues) {
        callError(call, `needs at least ${minValues} value${minValues === 1 ? '' : 's'}, got ${values.length}`);
      }
      return fn(values);
    },
  };
}

/** Half away from zero, on the decimal representation so that round(1.005, 2) is 1.01. */
function roundTo(x: number, digits: number, call: CallSite): number {
  if (!Number.isInteger(digits) || Math.abs(digits) > 15) {
    callError(call, `needs digits to be an integer from -15 to 15, got ${digits}`);
  }
  const shift = (value: number, by: number): number => {
    const [mantissa, exponent = '0'] = String(value).split('e');
    return Number(`${mantissa}e${Number(exponent) + by}`);
  };
  const sign = x < 0 ? -1 : 1;
  return sign * shift(Math.round(shift(Math.abs(x), digits)), -digits);
}

function factorial(n: number, call: CallSite): number {
  if (!Number.isInteger(n) || n < 0 || n > CALCULATOR_LIMITS.maxFactorial) {
    callError(call, `needs an integer from 0 to ${CALCULATOR_LIMITS.maxFactorial}, got ${n}`);
  }
  let result = 1;
  for (let i = 2; i <= n; i += 1) result *= i;
  return result;
}

const sumOf = (values: number[]): number => values.reduce((acc, v) => acc + v, 0);
const meanOf = (values: number[]): number => sumOf(values) / values.length;
const sumOfSquares = (values: number[]): number => {
  const mean = meanOf(values);
  return values.reduce((acc, v) => acc + (v - mean) ** 2, 0);
};
const sampleVariance = (values: number[]): number => sumOfSquares(values) / (values.length - 1);
const populationVariance = (values: number[]): number => sumOfSquares(values) / values.length;

/** Linear interpolation between closest ranks (numpy's default, Excel's PERCENTILE.INC); p from 0 to 100. */
export function percentileOf(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const low = sorted[lo] as number;
  return low + ((sorted[Math.ceil(rank)] as number) - low) * (rank - lo);
}

/** The most frequent value; among equally frequent values, the smallest. */
function modeOf(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = Number.NaN;
  let bestCount = 0;
  for (const [v, count] of counts) {
    if (count > bestCount || (count === bestCount && v < best)) {
      best = v;
      bestCount = count;
    }
  }
  return best;
}

const percentile: FunctionSpec = {
  minArgs: 2,
  maxArgs: 2,
  apply([list, p], call) {
    if (typeof p !== 'number') return callError(call, 'needs p, a number from 0 to 100, as its second argument');
    const values = typeof list === 'number' ? [list] : (list ?? []);
    if (values.length === 0) callError(call, 'needs at least 1 value, got 0');
    if (p < 0 || p > 100) callError(call, `needs p from 0 to 100, got ${p}`);
    return percentileOf(values, p);
  },
};

const mean = stat(meanOf);
const stdev = stat((v) => Math.sqrt(sampleVariance(v)), 2);

const FUNCTIONS = new Map<string, FunctionSpec>([
  ['sqrt', unary(Math.sqrt)],
  ['cbrt', unary(Math.cbrt)],
  ['abs', unary(Math.abs)],
  ['round', scalar(1, 2, ([x, digits = 0], call) => roundTo(x as number, digits, call))],
  ['floor', unary(Math.floor)],
  ['ceil', unary(Math.ceil)],
  ['pow', scalar(2, 2, ([x, y]) => (x as number) ** (y as number))],
  // log(x) is base 10 as on a pocket calculator; log(x, b) takes an explicit base.
  ['log', scalar(1, 2, ([x, b]) => (b === undefined ? Math.log10(x as number) : Math.log(x as number) / Math.log(b)))],
  ['ln', unary(Math.log)],
  ['log2', unary(Math.log2)],
  ['exp', unary(Math.exp)],
  ['sin', unary(Math.sin)],
  ['cos', unary(Math.cos)],
  ['tan', unary(Math.tan)],
  ['asin', unary(Math.asin)],
  ['acos', unary(Math.acos)],
  ['atan', unary(Math.atan)],
  ['factorial', scalar(1, 1, ([n], call) => factorial(n as number, call))],
  ['min', stat((v) => v.reduce((a, b) => Math.min(a, b)))],
  ['max', stat((v) => v.reduce((a, b) => Math.max(a, b)))],
  ['range', stat((v) => v.reduce((a, b) => Math.max(a, b)) - v.reduce((a, b) => Math.min(a, b)))],
  ['sum', stat(sumOf, 0)],
  ['count', stat((v) => v.length, 0)],
  ['mean', mean],
  ['avg', mean],
  ['average', mean],
  ['median', stat((v) => percentileOf(v, 50))],
  ['mode', stat(modeOf)],
  ['variance', stat(sampleVariance, 2)],
  ['pvariance', stat(populationVariance)],
  ['stdev', stdev],
  ['std', stdev],
  ['pstdev', stat((v) => Math.sqrt(populationVariance(v)))],
  ['percentile', percentile],
]);

/** Every function name the calculator knows, for descriptions and error messages. */
export const CALCULATOR_FUNCTIONS: readonly string[] = Object.freeze([...FUNCTIONS.keys()].sort());

// ---------------------------------------------------------------------------------------------
// Evaluator

class Evaluator {
  readonly #variables: Map<string, number>;

  constructor(variables: Map<string, number>) {
    this.#variables = variables;
  }

  number(node: Node): number {
    const value = this.#value(node);
    if (typeof value !== 'number') {
      return fail(
        `A list at position ${node.pos + 1} can only be used as an argument of a statistics function such as sum or mean`,
        { position: node.pos + 1 },
      );
    }
    return value;
  }

  #value(node: Node): Value {
    switch (node.kind) {
      case 'number':
        return node.value;
      case 'name':
        return this.#name(node.name, node.pos);
      case 'unary':
        return node.op === '-' ? -this.number(node.operand) : this.number(node.operand);
      case 'chain':
        return this.#chain(node);
      case 'list':
        return node.items.map((item) => this.number(item));
      case 'call':
        return this.#call(node.name, node.args, node.pos);
    }
  }

  /** Left-associative runs are evaluated in a loop so a long sum cannot exhaust the stack. */
  #chain(node: Extract<Node, { kind: 'chain' }>): number {
    let acc = this.number(node.first);
    for (const link of node.rest) {
      acc = checkFinite(binary(link.op, acc, this.number(link.operand), link.pos), link.pos);
    }
    return acc;
  }

  #name(name: string, pos: number): number {
    const value = this.#variables.get(name) ?? CONSTANTS.get(name);
    if (value !== undefined) return value;
    const hint = FUNCTIONS.has(name) ? `; ${name} is a function, call it as ${name}(...)` : '';
    const known = ['pi', 'e', ...this.#variables.keys()].join(', ');
    return fail(`Unknown identifier '${name}' at position ${pos + 1}${hint} (known names: ${known})`, {
      position: pos + 1,
      identifier: name,
    });
  }

  #call(name: string, argNodes: Node[], pos: number): number {
    const spec = FUNCTIONS.get(name);
    if (!spec) {
      return fail(
        `Unknown function '${name}' at position ${pos + 1}. Known functions: ${CALCULATOR_FUNCTIONS.join(', ')}`,
        { position: pos + 1, function: name },
      );
    }
    const call = { name, pos };
    checkArity(spec, argNodes.length, call);
    return checkFinite(spec.apply(argNodes.map((a) => this.#value(a)), call), pos, name);
  }
}

function checkArity(spec: { minArgs: number; maxArgs: number }, count: number, call: CallSite): void {
  if (count >= spec.minArgs && count <= spec.maxArgs) return;
  const expected =
    spec.maxArgs === Infinity
      ? `at least ${spec.minArgs}`
      : spec.minArgs === spec.maxArgs
        ? `${spec.minArgs}`
        : `${spec.minArgs} to ${spec.maxArgs}`;
  const noun = expected === '1' ? 'argument' : 'arguments';
  fail(`${call.name}() at position ${call.pos + 1} takes ${expected} ${noun}, got ${count}`, {
    position: call.pos + 1,
    function: call.name,
  });
}

function binary(op: BinaryOp, left: number, right: number, pos: number): number {
  switch (op) {
    case '+':
      return left + right;
    case '-':
      return left - right;
    case '*':
      return left * right;
    case '/':
    case '%':
      if (right === 0) fail(`Division by zero at position ${pos + 1}`, { position: pos + 1 });
      return op === '/' ? left / right : left % right;
    case '^':
      return left ** right;
    case 'of':
      return (left / 100) * right;
  }
}

function checkFinite(value: number, pos: number, fn?: string): number {
  if (Number.isFinite(value)) return value;
  const what = fn ? `${fn}() at position ${pos + 1}` : `The operation at position ${pos + 1}`;
  const why = Number.isNaN(value)
    ? 'is undefined for these arguments (not a real number)'
    : 'overflows (result is not finite)';
  return fail(`${what} ${why}`, { position: pos + 1 });
}

function variableMap(variables: Record<string, number> | undefined): Map<string, number> {
  const map = new Map<string, number>();
  for (const [name, value] of Object.entries(variables ?? {})) {
    const key = name.toLowerCase();
    if (map.has(key)) fail(`Variable '${name}' is defined twice (names are case-insensitive)`, { variable: name });
    if (!Number.isFinite(value)) fail(`Variable '${name}' is not a finite number`, { variable: name });
    map.set(key, value);
  }
  return map;
}

/**
 * Evaluates an expression to a finite number, or throws AppError TOOL_ERROR with the position of
 * the problem. Variables shadow the constants `pi` and `e`.
 * @example evaluateExpression('2 * pi * r', { r: 3 }) // 18.84955592153876
 */
export function evaluateExpression(expression: string, variables?: Record<string, number>): number {
  const vars = variableMap(variables);
  const ast = new Parser(tokenize(expression)).parse();
  const result = checkFinite(new Evaluator(vars).number(ast), 0);
  return result === 0 ? 0 : result; // no -0 in results
}

/** The `calculator` tool. */
export const calculatorTool: ToolDefinition<CalculatorInput, CalculatorOutput> = {
  name: 'calculator',
  description:
    'Evaluates an arithmetic or statistics expression exactly and safely. Operators: + - * / % (modulo) ^ or ** ' +
    '(power), parentheses, "x% of y". Constants: pi, e. Functions: sqrt, cbrt, abs, round(x[, digits]), floor, ' +
    'ceil, min, max, pow, log (base 10; log(x, b) for base b), ln, log2, exp, sin, cos, tan, asin, acos, atan ' +
    '(radians), factorial. Statistics over arguments or a list [1, 2, 3]: sum, mean/avg/average, median, mode, ' +
    'stdev/std (sample), pstdev, variance (sample), pvariance, count, range, percentile(list, p) with p from 0 to 100. ' +
    'Use `variables` to pass named numbers. No thousands separators.',
  input: calculatorInputSchema,
  output: calculatorOutputSchema,
  timeoutMs: 2000,
  effect: 'read_only',
  async run(input) {
    return { expression: input.expression, result: evaluateExpression(input.expression, input.variables) };
  },
};
