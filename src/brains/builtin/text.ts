/**
 * Plain-text helpers of the built-in brain: words, topics, sentences, clipping and markdown escaping.
 * Everything here is deterministic and locale-independent, so the same task always gives the same
 * plan and the same report.
 */

/**
 * Words that carry no topic: grammar, imperatives ("research", "summarize") and words about the
 * documents themselves ("our documents say"). Stripping them leaves what to search for.
 */
const STOP_LIST = `
a about above according across after again against all also am an and any are as at based be been
before being below between both brief but by can could did do does doing don't done during each either
every few for from further give had has have having he her here hers him his how however i if in into
is it its just kindly know let like me might more most much must my need no nor not now of off on once
only or other our ours out over own please provide regarding same say says said she should show so some
such tell than that the their theirs them then there these they this those through to too under until
up us very via vs versus want was we were what whats what's when where which while who whom whose why
will with within without would you your yours
research researching investigate look find search explain describe summarize summarise summarized
summarised summary summaries summarization overview recap gist digest write draft prepare create make
generate produce compose compare comparison analyze analyse analysis compute calculate evaluate
documents document docs doc files file information info details detail key points main learn
`;

/** Lower-case words that carry no topic; see STOP_LIST for why each group is there. */
export const STOP_WORDS: ReadonlySet<string> = new Set(STOP_LIST.split(/\s+/).filter((w) => w.length > 0));

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’._+#-]*/gu;
const FILE_NAME = /\b[\w.-]+\.(?:csv|tsv|txt|md|pdf|json|xlsx?|docx?)\b/giu;

/** The words of a text in order, case kept, with trailing punctuation and possessive "'s" dropped. */
export function wordsOf(text: string): string[] {
  return [...text.matchAll(WORD)]
    .map((m) => m[0].replace(/['’]s$/u, '').replace(/[._'’+#-]+$/u, ''))
    .filter((w) => w.length > 0);
}

/** True for words that carry no topic. */
export function isStopWord(word: string): boolean {
  return STOP_WORDS.has(word.toLowerCase());
}

/** Content words: stop words and single letters dropped, repeats (ignoring case) dropped, order and case kept. */
export function contentWords(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const word of wordsOf(text)) {
    const key = word.toLowerCase();
    if (isStopWord(key) || (word.length < 2 && !/\d/.test(word)) || seen.has(key)) continue;
    seen.add(key);
    out.push(word);
  }
  return out;
}

/**
 * What a task is about: its content words in order, with file names removed.
 * @example topicOf('What do our documents say about vacation policy?') // 'vacation policy'
 */
export function topicOf(text: string): string {
  return contentWords(text.replace(FILE_NAME, ' ')).join(' ');
}

/** A crude stem so that "policies", "policy" and "caching", "cache" meet when counting terms. */
export function stem(word: string): string {
  const w = word.toLowerCase();
  if (w.length > 5 && w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.length > 5 && w.endsWith('ing')) return w.slice(0, -3);
  if (w.length > 4 && w.endsWith('ed')) return w.slice(0, -2);
  if (w.length > 4 && w.endsWith('es') && /(?:ch|sh|x|ss)es$/.test(w)) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) return w.slice(0, -1);
  if (w.length > 4 && w.endsWith('e')) return w.slice(0, -1);
  return w;
}

/** Stems of the content words of a text, repeats kept (for counting). Numbers are left out. */
export function termsOf(text: string): string[] {
  return wordsOf(text)
    .filter((w) => !isStopWord(w) && w.length > 2 && !/^[\d.,-]+$/.test(w))
    .map(stem);
}

/** Splits text into sentences; list items and lines count as sentences too. */
export function splitSentences(text: string): string[] {
  return text
    .split(/\n+/)
    .flatMap((line) => line.replace(/\s+/g, ' ').trim().split(/(?<=[.!?])\s+(?=["“'([]?[\p{Lu}\p{N}])/u))
    .map((s) => s.replace(/^[-*•\d.)\s]+(?=\S)/u, '').trim())
    .filter((s) => s.split(' ').length >= 3);
}

/**
 * Splits a task into clauses, so that "Research X and compute 15% of 2400" gives two: sentence ends
 * split, and so does "and" when a new request verb follows it (but not "3, 5 and 10").
 */
export function splitClauses(text: string): string[] {
  const verbs =
    'then|also|compute|calculate|evaluate|what|how|research|summari[sz]e|write|compare|analy[sz]e|tell|find|explain|give|list|show|search|look|report';
  return text
    // A full stop ends a clause, except in abbreviations like "vs." and "e.g.".
    .split(new RegExp(`[?!;]+|(?<!\\b(?:vs|e\\.g|i\\.e|etc|approx))\\.(?=\\s|$)|\\s+and\\s+(?=(?:${verbs})\\b)`, 'iu'))
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
}

/** Shortens text to at most `max` characters at a word boundary, marking the cut with "…". */
export function clip(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.]+$/u, '')}…`;
}

/** A short quotation of a passage for a report. */
export function quote(text: string, max = 200): string {
  return `"${clip(text, max).replace(/"/g, "'")}"`;
}

/** Escapes text for a markdown table cell. */
export function mdCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

const NUMBER_FORMAT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 6 });

/** A number for a report: grouped thousands, up to six decimals, exponent form for extremes. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e15 || magnitude < 1e-6)) return value.toPrecision(6);
  return NUMBER_FORMAT.format(value);
}

/** "1 passage", "3 passages". */
export function countOf(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

/** A report title from the task: its first sentence, capitalised, without end punctuation, at most 80 characters. */
export function titleFromTask(input: string): string {
  const first = input.trim().split(/(?<=[.!?])\s+|\n/)[0] ?? '';
  const bare = clip(first.replace(/[\s.!?:;]+$/u, ''), 80);
  if (bare.length === 0) return 'Report';
  return bare.charAt(0).toUpperCase() + bare.slice(1);
}

/** How often each term (by stem) occurs in some texts, with the first spelling seen, for display. */
export interface TermCount {
  stem: string;
  word: string;
  count: number;
}

/** Counts the content terms of some texts by stem, leaving out the stems in `exclude`. */
export function countTerms(texts: readonly string[], exclude: ReadonlySet<string> = new Set()): Map<string, TermCount> {
  const counts = new Map<string, TermCount>();
  for (const text of texts) {
    for (const word of wordsOf(text)) {
      if (isStopWord(word) || word.length < 3 || /^[\d.,-]+$/.test(word)) continue;
      const key = stem(word);
      if (exclude.has(key)) continue;
      const entry = counts.get(key) ?? { stem: key, word: word.toLowerCase(), count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
  }
  return counts;
}

/** The most frequent terms, ties broken by spelling so the order never depends on input order alone. */
export function topTerms(counts: ReadonlyMap<string, TermCount>, n: number): TermCount[] {
  return [...counts.values()].sort((a, b) => b.count - a.count || (a.word < b.word ? -1 : a.word > b.word ? 1 : 0)).slice(0, n);
}

/** A percentage for a report, to two decimals: 55.56. */
export function formatPercent(value: number): string {
  return `${new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 }).format(value)}%`;
}
