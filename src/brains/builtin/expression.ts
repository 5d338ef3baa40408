/**
 * Turns the wording of a quantity ("15% of 2400 plus 12", "the average of 3, 5 and 10") into an
 * expression for the calculator tool. Words become operators and functions by fixed rewrites; then
 * the longest stretch that parses as an expression is kept, formatted canonically. Nothing is
 * evaluated here: the calculator does that, so the report shows a tool's result, not a guess.
 */

/** A quantity the task asks for: the calculator expression and the words it came from. */
export interface Computation {
  expression: string;
  wording: string;
}

const NUM = String.raw`\d+(?:\.\d+)?`;
const LIST_NUM = String.raw`-?\d+(?:\.\d+)?`;
const LIST = String.raw`${LIST_NUM}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*)${LIST_NUM})+`;

/** Words that name a calculator statistic; "product" has no function and becomes a chain of "*". */
const STATISTICS: Record<string, string> = {
  average: 'mean',
  mean: 'mean',
  median: 'median',
  sum: 'sum',
  total: 'sum',
  'standard deviation': 'stdev',
  stdev: 'stdev',
  variance: 'variance',
  minimum: 'min',
  min: 'min',
  smallest: 'min',
  lowest: 'min',
  maximum: 'max',
  max: 'max',
  largest: 'max',
  highest: 'max',
  range: 'range',
  mode: 'mode',
  product: '*',
};

const FUNCTIONS = new Set([
  'sqrt', 'cbrt', 'abs', 'round', 'floor', 'ceil', 'min', 'max', 'pow', 'log', 'ln', 'log2', 'exp', 'sin', 'cos',
  'tan', 'factorial', 'sum', 'mean', 'avg', 'median', 'mode', 'stdev', 'variance', 'count', 'range', 'percentile',
]);
const CONSTANTS = new Set(['pi', 'e']);

/**
 * Signs that a clause wants a number, which licenses reading unspaced "10-4" or "24/7" as arithmetic:
 * a request word, an unambiguous operator, or a clause made of nothing but an expression.
 */
const COMPUTE_CUE = /\b(?:calculate|compute|evaluate|what(?:'s|\s+is|\s+are)|how\s+much|solve|work\s+out|equals?)\b|[=+*^]/i;
const PURE_EXPRESSION = /^[\d\s.,+\-*/%^()[\]x×÷−]+$/;

type Rewrite = [RegExp, string | ((...groups: string[]) => string)];

function statisticOf(word: string, list: string): string {
  const numbers = list.match(/-?\d+(?:\.\d+)?/g) ?? [];
  const fn = STATISTICS[word.replace(/\s+/g, ' ')] ?? 'sum';
  return fn === '*' ? ` (${numbers.join(' * ')}) ` : ` ${fn}(${numbers.join(', ')}) `;
}

/** Word rewrites, in order: lists first (they contain "and"), then phrases, then single operator words. */
const REWRITES: Rewrite[] = [
  [
    new RegExp(String.raw`(\d+)(?:st|nd|rd|th)\s+percentile\s+of\s+(?:the\s+)?\[?(${LIST})\]?`, 'g'),
    (_m, p = '', list = '') => ` percentile([${(list.match(/-?\d+(?:\.\d+)?/g) ?? []).join(', ')}], ${p}) `,
  ],
  [
    new RegExp(
      String.raw`\b(${Object.keys(STATISTICS).join('|')})\s+(?:value\s+)?of\s+(?:the\s+)?(?:numbers\s+|values\s+)?\[?(${LIST})\]?`,
      'g',
    ),
    (_m, word = '', list = '') => statisticOf(word, list),
  ],
  [new RegExp(String.raw`\bwhat\s+percent(?:age)?\s+of\s+(${NUM})\s+is\s+(${NUM})`, 'g'), ' $2 / $1 * 100 '],
  [new RegExp(String.raw`\b(${NUM})\s+is\s+what\s+percent(?:age)?\s+of\s+(${NUM})`, 'g'), ' $1 / $2 * 100 '],
  [new RegExp(String.raw`\bwhat\s+percent(?:age)?\s+is\s+(${NUM})\s+of\s+(${NUM})`, 'g'), ' $1 / $2 * 100 '],
  [new RegExp(String.raw`\b(?:increase\s+)?(${NUM})\s+(?:increased\s+)?by\s+(${NUM})\s*(?:%|percent)`, 'g'), (m, a = '', b = '') =>
    /increase/.test(m) ? ` ${a} * (1 + ${b} / 100) ` : m],
  [new RegExp(String.raw`\b(?:decrease\s+|reduce\s+)?(${NUM})\s+(?:decreased\s+|reduced\s+)?by\s+(${NUM})\s*(?:%|percent)`, 'g'), (m, a = '', b = '') =>
    /decrease|reduce/.test(m) ? ` ${a} * (1 - ${b} / 100) ` : m],
  [new RegExp(String.raw`\b(${NUM})\s*(?:%|percent|per\s+cent)\s+of\s+(?=[\d(.])`, 'g'), ' $1 / 100 * '],
  [new RegExp(String.raw`\bdifference\s+between\s+(${NUM})\s+and\s+(${NUM})`, 'g'), ' $1 - $2 '],
  [new RegExp(String.raw`\bproduct\s+of\s+(${NUM})\s+and\s+(${NUM})`, 'g'), ' $1 * $2 '],
  [new RegExp(String.raw`\bquotient\s+of\s+(${NUM})\s+and\s+(${NUM})`, 'g'), ' $1 / $2 '],
  [new RegExp(String.raw`\bsubtract\s+(${NUM})\s+from\s+(${NUM})`, 'g'), ' $2 - $1 '],
  [new RegExp(String.raw`\badd\s+(${NUM})\s+(?:and|to)\s+(${NUM})`, 'g'), ' $1 + $2 '],
  [new RegExp(String.raw`\bmultiply\s+(${NUM})\s+(?:by|and)\s+(${NUM})`, 'g'), ' $1 * $2 '],
  [new RegExp(String.raw`\bdivide\s+(${NUM})\s+by\s+(${NUM})`, 'g'), ' $1 / $2 '],
  [new RegExp(String.raw`\bhalf\s+of\s+(${NUM})`, 'g'), ' $1 / 2 '],
  [new RegExp(String.raw`\b(?:twice|double)\s+(${NUM})`, 'g'), ' 2 * $1 '],
  [new RegExp(String.raw`\b(?:the\s+)?square\s+root\s+of\s+(${NUM})`, 'g'), ' sqrt($1) '],
  [new RegExp(String.raw`\b(?:the\s+)?cube\s+root\s+of\s+(${NUM})`, 'g'), ' cbrt($1) '],
  [new RegExp(String.raw`\b(?:the\s+)?(?:natural\s+log(?:arithm)?|ln)\s+of\s+(${NUM})`, 'g'), ' ln($1) '],
  [new RegExp(String.raw`\b(?:the\s+)?log(?:arithm)?\s+(?:base\s+10\s+)?of\s+(${NUM})`, 'g'), ' log($1) '],
  [new RegExp(String.raw`\b(?:the\s+)?absolute\s+value\s+of\s+(-?${NUM})`, 'g'), ' abs($1) '],
  [new RegExp(String.raw`\b(?:the\s+)?factorial\s+of\s+(\d+)`, 'g'), ' factorial($1) '],
  [new RegExp(String.raw`\b(\d+)\s+factorial\b`, 'g'), ' factorial($1) '],
  [/\b(\d+)!(?!=)/g, ' factorial($1) '],
  [new RegExp(String.raw`\b(sqrt|cbrt|sin|cos|tan|ln|log|exp|abs)\s+(${NUM})`, 'g'), ' $1($2) '],
  [new RegExp(String.raw`(\d|\))\s+squared\b`, 'g'), '$1 ^ 2 '],
  [new RegExp(String.raw`(\d|\))\s+cubed\b`, 'g'), '$1 ^ 3 '],
  [new RegExp(String.raw`(\d|\))\s+to\s+the\s+(${NUM})(?:st|nd|rd|th)?\s+power\b`, 'g'), '$1 ^ $2 '],
  [/\s+(?:to\s+the\s+power\s+of|raised\s+to(?:\s+the\s+power\s+of)?|to\s+the\s+power)\s+/g, ' ^ '],
  [/\s+(?:plus|added\s+to)\s+/g, ' + '],
  [/\s+minus\s+/g, ' - '],
  [/\s+(?:times|multiplied\s+by)\s+/g, ' * '],
  [/(\d)\s+x\s+(?=\d)/g, '$1 * '],
  [/\s+(?:divided\s+by|over)\s+/g, ' / '],
  [/\s+(?:mod|modulo)\s+/g, ' % '],
  // A bare "15%" right after an operator ("2400 * 15%") is a percentage; elsewhere "%" stays modulo.
  [new RegExp(String.raw`([-+*/^]\s*)(${NUM})\s*(?:%|percent)(?!\s*[\d(])`, 'g'), '$1($2 / 100)'],
];

/**
 * Marks characters that look like operators but are not: hyphens in words ("covid-19"), dates, year
 * ranges, and, unless the clause asks for a number, unspaced "10-4", "24/7" and "1920x1080".
 */
function protectNonOperators(text: string): string {
  const cue = COMPUTE_CUE.test(text) || PURE_EXPRESSION.test(text.trim());
  let out = text
    .replace(/\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b/g, ' ~ ')
    .replace(/\b((?:19|20)\d{2})[-–]((?:19|20)?\d{2})\b/g, '$1 ~ $2')
    .replace(/(?<=\p{L})-|-(?=\p{L})/gu, ' ~ ')
    .replace(/[$€£¥]/g, '')
    .replace(/[×]/g, ' * ')
    .replace(/[÷]/g, ' / ')
    .replace(/[−–]/g, '-');
  if (!cue) out = out.replace(/(?<=\d)[-/x](?=\d)/g, ' ~ ');
  else out = out.replace(/(?<=\d)x(?=\d)/g, ' * ');
  return out;
}

/** Removes thousands separators ("2,400" → "2400"); a comma followed by a space separates list items instead. */
function dropThousandsSeparators(text: string): string {
  let out = text;
  let previous = '';
  while (out !== previous) {
    previous = out;
    out = out.replace(/(\d),(\d{3})(?!\d)/g, '$1$2');
  }
  return out;
}

/** Applies the word rewrites to a lower-cased clause. */
function rewriteWords(clause: string): string {
  let text = ` ${dropThousandsSeparators(protectNonOperators(clause.toLowerCase()))} `;
  for (const [pattern, replacement] of REWRITES) {
    if (typeof replacement === 'string') text = text.replace(pattern, replacement);
    else text = text.replace(pattern, replacement);
  }
  return text;
}

type TokenKind = 'num' | 'op' | 'lparen' | 'rparen' | 'lbrack' | 'rbrack' | 'comma' | 'fn' | 'const' | 'break';

interface Token {
  kind: TokenKind;
  text: string;
}

const TOKEN = /\s*(?:(\d+(?:\.\d+)?|\.\d+)|(\*\*|[-+*/%^])|([()[\],])|([a-z_][a-z0-9_]*)|(\S))/gy;
const PUNCT: Record<string, TokenKind> = { '(': 'lparen', ')': 'rparen', '[': 'lbrack', ']': 'rbrack', ',': 'comma' };

function classifyWord(word: string, rest: string): TokenKind {
  if (FUNCTIONS.has(word) && /^\s*\(/.test(rest)) return 'fn';
  return CONSTANTS.has(word) ? 'const' : 'break';
}

/** Splits rewritten text into tokens; any word that is not a function or constant is a break. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m !== null; m = TOKEN.exec(text)) {
    const [, num, op, punct, word, other] = m;
    if (num !== undefined) tokens.push({ kind: 'num', text: num.startsWith('.') ? `0${num}` : num });
    else if (op !== undefined) tokens.push({ kind: 'op', text: op });
    else if (punct !== undefined) tokens.push({ kind: PUNCT[punct] ?? 'break', text: punct });
    else if (word !== undefined) tokens.push({ kind: classifyWord(word, text.slice(TOKEN.lastIndex)), text: word });
    else if (other !== undefined) tokens.push({ kind: 'break', text: other });
  }
  return tokens;
}

/**
 * A small recursive-descent reader over a run of tokens. It accepts what the calculator accepts
 * (numbers, constants, unary minus, binary operators, calls, parentheses, lists) and formats it
 * canonically: "2^10-24" becomes "2 ^ 10 - 24".
 */
class ExpressionReader {
  pos = 0;
  binaryOps = 0;
  calls = 0;

  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private take(kind: TokenKind): Token | undefined {
    const token = this.peek();
    if (token?.kind !== kind) return undefined;
    this.pos += 1;
    return token;
  }

  expression(): string | null {
    let out = this.unary();
    if (out === null) return null;
    for (;;) {
      const mark = this.pos;
      const op = this.take('op');
      const right = op ? this.unary() : null;
      if (!op || right === null) {
        this.pos = mark;
        return out;
      }
      this.binaryOps += 1;
      out = `${out} ${op.text} ${right}`;
    }
  }

  private unary(): string | null {
    const mark = this.pos;
    if (this.peek()?.kind === 'op' && this.peek()?.text === '-') {
      this.pos += 1;
      const operand = this.primary();
      if (operand !== null) return `-${operand}`;
      this.pos = mark;
      return null;
    }
    return this.primary();
  }

  private primary(): string | null {
    const token = this.peek();
    if (token?.kind === 'num' || token?.kind === 'const') {
      this.pos += 1;
      return token.text;
    }
    if (token?.kind === 'fn') return this.call(token.text);
    if (token?.kind === 'lparen') return this.enclosed('lparen', 'rparen', '(', ')');
    if (token?.kind === 'lbrack') return this.enclosed('lbrack', 'rbrack', '[', ']');
    return null;
  }

  private call(name: string): string | null {
    const mark = this.pos;
    this.pos += 1;
    const args = this.enclosed('lparen', 'rparen', '(', ')');
    if (args === null) {
      this.pos = mark;
      return null;
    }
    this.calls += 1;
    return `${name}${args}`;
  }

  private enclosed(open: TokenKind, close: TokenKind, left: string, right: string): string | null {
    const mark = this.pos;
    if (!this.take(open)) return null;
    const items: string[] = [];
    for (let item = this.expression(); item !== null; item = this.take('comma') ? this.expression() : null) {
      items.push(item);
    }
    if (items.length === 0 || !this.take(close)) {
      this.pos = mark;
      return null;
    }
    return `${left}${items.join(', ')}${right}`;
  }
}

interface Candidate {
  expression: string;
  length: number;
}

/** Reads every expression in a run of tokens; keeps those that actually compute something. */
function candidatesIn(run: Token[]): Candidate[] {
  const found: Candidate[] = [];
  let start = 0;
  while (start < run.length) {
    const reader = new ExpressionReader(run.slice(start));
    const expression = reader.expression();
    if (expression === null || reader.pos === 0) {
      start += 1;
      continue;
    }
    if (reader.binaryOps > 0 || reader.calls > 0) found.push({ expression, length: reader.pos });
    start += reader.pos;
  }
  return found;
}

/** Splits tokens into runs at every break token. */
function runsOf(tokens: Token[]): Token[][] {
  const runs: Token[][] = [[]];
  for (const token of tokens) {
    if (token.kind === 'break') runs.push([]);
    else runs[runs.length - 1]?.push(token);
  }
  return runs.filter((run) => run.length > 0);
}

/**
 * The calculator expression a clause asks for, or null when it asks for none.
 * @example toExpression('What is 15% of 2400 plus 12?') // '15 / 100 * 2400 + 12'
 * @example toExpression('compute the average of 3, 5 and 10') // 'mean(3, 5, 10)'
 */
export function toExpression(clause: string): string | null {
  const candidates = runsOf(tokenize(rewriteWords(clause))).flatMap(candidatesIn);
  let best: Candidate | null = null;
  for (const candidate of candidates) {
    if (best === null || candidate.length > best.length) best = candidate;
  }
  return best?.expression ?? null;
}

/** The computations in a list of clauses, one per clause at most, in order. */
export function findComputations(clauses: string[]): Computation[] {
  const out: Computation[] = [];
  for (const clause of clauses) {
    const expression = toExpression(clause);
    if (expression !== null) out.push({ expression, wording: clause.replace(/[\s?.!]+$/u, '') });
  }
  return out;
}
