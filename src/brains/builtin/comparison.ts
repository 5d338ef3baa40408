/**
 * Sets two subjects' search results side by side: how much the documents say about each, which
 * terms recur around both, and which only around one. Used by the analyst's compare step and, when
 * the plan had no room for it, by the writer directly.
 */
import type { CompareFinding, SearchFinding, SubjectSummary } from './findings.js';
import { keySentences, uniquePassages } from './extract.js';
import type { PassageResult } from './results.js';
import { countTerms, mdCell, quote, termsOf, topTerms, type TermCount } from './text.js';

type SearchResults = SearchFinding['results'];

/** Passages found for one subject: results tagged with it, else the result at its position. */
function passagesFor(results: SearchResults, subject: string, index: number): PassageResult[] {
  const tagged = results.filter((r) => r.subject?.toLowerCase() === subject.toLowerCase());
  const chosen = tagged.length > 0 ? tagged : results.slice(index, index + 1);
  return uniquePassages(chosen.flatMap((r) => r.passages));
}

function summarise(name: string, passages: PassageResult[], counts: Map<string, TermCount>, other: Map<string, TermCount>): SubjectSummary {
  const documents = new Map(passages.map((p) => [p.document_id, { document_id: p.document_id, title: p.title }]));
  const best = keySentences(passages, name, 1)[0] ?? null;
  return {
    name,
    passages: passages.length,
    documents: [...documents.values()],
    top_terms: topTerms(counts, 8).map((t) => t.word),
    distinct_terms: topTerms(new Map([...counts].filter(([k]) => !other.has(k))), 5).map((t) => t.word),
    best,
  };
}

function sharedTerms(a: Map<string, TermCount>, b: Map<string, TermCount>): string[] {
  const both = new Map<string, TermCount>();
  for (const [key, entry] of a) {
    const match = b.get(key);
    if (match) both.set(key, { ...entry, count: entry.count + match.count });
  }
  return topTerms(both, 6).map((t) => t.word);
}

/**
 * Compares the search results of two subjects. Terms naming either subject or the aspect are left
 * out of the term lists, since every passage found for a subject mentions it.
 */
export function compareSubjects(results: SearchResults, subjects: readonly string[], aspect: string): Omit<CompareFinding, 'failures'> {
  const names = subjects.slice(0, 2);
  const exclude = new Set([...names, aspect].flatMap((s) => termsOf(s)));
  const passages = names.map((name, i) => passagesFor(results, name, i));
  const counts = passages.map((ps) => countTerms(ps.map((p) => p.text), exclude));
  const summaries = names.map((name, i) => summarise(name, passages[i] ?? [], counts[i] ?? new Map(), counts[1 - i] ?? new Map()));
  const docSets = summaries.map((s) => new Set(s.documents.map((d) => d.document_id)));
  const shared_documents = [...(docSets[0] ?? [])].filter((id) => docSets[1]?.has(id));
  return { kind: 'compare', subjects: summaries, shared_terms: sharedTerms(counts[0] ?? new Map(), counts[1] ?? new Map()), shared_documents };
}

function list(items: readonly string[]): string {
  return items.length > 0 ? items.join(', ') : '—';
}

/** A markdown table with one column per subject. */
export function sideBySideTable(finding: Omit<CompareFinding, 'failures'>): string {
  const subjects = finding.subjects;
  const header = `| | ${subjects.map((s) => mdCell(s.name)).join(' | ')} |`;
  const rule = `|---|${subjects.map(() => '---').join('|')}|`;
  const row = (label: string, cell: (s: SubjectSummary) => string): string =>
    `| ${label} | ${subjects.map((s) => mdCell(cell(s))).join(' | ')} |`;
  return [
    header,
    rule,
    row('Passages found', (s) => String(s.passages)),
    row('Documents', (s) => list(s.documents.map((d) => `${d.title} (\`${d.document_id}\`)`))),
    row('Frequent terms', (s) => list(s.top_terms)),
    row('Only here', (s) => list(s.distinct_terms)),
    row('Best passage', (s) => (s.best ? `${quote(s.best.text, 120)} (\`${s.best.document_id}\`)` : '—')),
  ].join('\n');
}
