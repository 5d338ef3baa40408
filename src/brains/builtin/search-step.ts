/**
 * The researcher's search step: run the planned knowledge_search calls, retry once with a broader
 * query when a search finds nothing, then report the passages with their document ids.
 */
import type { Observation, Source } from '../types.js';
import { uniquePassages } from './extract.js';
import type { SearchFinding } from './findings.js';
import type { SearchParams, SearchQuery } from './params.js';
import { argOf, parseObservation, SearchResultSchema, type PassageResult } from './results.js';
import { dedupeSources, documentSource } from './sources.js';
import { callOutcome, finalOutcome, joinBlocks, notRunNote, problemsSection, type StepInput, type StepOutcome } from './step-input.js';
import { contentWords, countOf, formatNumber, quote } from './text.js';

const SHOWN_PER_QUERY = 6;

/**
 * A broader query for one that found nothing: the comparison subject alone, else the longest
 * content word. Null when there is nothing broader to try.
 */
export function broaderQuery(q: SearchQuery): string | null {
  if (q.subject && q.subject.toLowerCase() !== q.query.toLowerCase()) return q.subject;
  const words = contentWords(q.query);
  if (words.length < 2) return null;
  return words.reduce((best, w) => (w.length > best.length ? w : best));
}

interface QueryOutcome {
  query: SearchQuery;
  passages: PassageResult[];
  /** The broader query searched after the planned one found nothing, if any. */
  broadened: string | null;
  failures: string[];
  searched: boolean;
}

function searchesFor(observations: readonly Observation[], text: string): Observation[] {
  return observations.filter((o) => o.tool === 'knowledge_search' && argOf(o.args, 'query') === text);
}

/** What the planned query and its broader retry returned. */
function outcomeOf(q: SearchQuery, observations: readonly Observation[]): QueryOutcome {
  const broader = broaderQuery(q);
  const first = searchesFor(observations, q.query);
  const retry = broader ? searchesFor(observations, broader) : [];
  const passages: PassageResult[] = [];
  const failures: string[] = [];
  for (const o of [...first, ...retry]) {
    const parsed = parseObservation(SearchResultSchema, o);
    if (parsed.ok) passages.push(...parsed.value.passages);
    else failures.push(`${parsed.failure} (query "${argOf(o.args, 'query') ?? ''}")`);
  }
  return { query: q, passages: uniquePassages(passages), broadened: retry.length > 0 ? broader : null, failures, searched: first.length > 0 };
}

/** Retry calls for planned queries that ran, succeeded and found nothing, unless already retried. */
function retryCalls(input: StepInput<SearchParams>, outcomes: readonly QueryOutcome[]) {
  return outcomes
    .filter((o) => o.searched && o.failures.length === 0 && o.passages.length === 0 && o.broadened === null)
    .map((o) => broaderQuery(o.query))
    .filter((q): q is string => q !== null)
    .map((query) => ({ tool: 'knowledge_search', args: { query, limit: input.params.limit } }));
}

function passageLine(p: PassageResult, index: number): string {
  return `${index + 1}. **${p.title}** (\`${p.document_id}\`, chunk ${p.chunk}, score ${formatNumber(p.score)}): ${quote(p.text, 220)}`;
}

function renderOutcome(o: QueryOutcome): string {
  const heading = `### ${o.query.subject ? `${o.query.subject}: ` : ''}"${o.query.query}"`;
  if (!o.searched) return joinBlocks([heading, 'Not searched.']);
  const documents = new Set(o.passages.map((p) => p.document_id)).size;
  const broadened = o.broadened ? `Nothing matched "${o.query.query}", so the broader "${o.broadened}" was searched too. ` : '';
  const found =
    o.passages.length === 0
      ? `${broadened}No passages matched.`
      : `${broadened}Found ${countOf(o.passages.length, 'passage')} in ${countOf(documents, 'document')}.`;
  const list = o.passages.slice(0, SHOWN_PER_QUERY).map(passageLine).join('\n');
  const more = o.passages.length > SHOWN_PER_QUERY ? `_…and ${o.passages.length - SHOWN_PER_QUERY} more._` : '';
  return joinBlocks([heading, found, list, more]);
}

/** The final output of a search step. */
function searchOutput(input: StepInput<SearchParams>, outcomes: readonly QueryOutcome[]): StepOutcome {
  const failures = outcomes.flatMap((o) => o.failures);
  const finding: SearchFinding = {
    kind: 'search',
    results: outcomes.map((o) => ({ query: o.query.query, ...(o.query.subject ? { subject: o.query.subject } : {}), passages: o.passages })),
    failures,
  };
  const sources: Source[] = dedupeSources(outcomes.flatMap((o) => o.passages.map(documentSource)));
  const text = joinBlocks([
    notRunNote(input.notRun, 'the documents were not searched'),
    ...outcomes.map(renderOutcome),
    problemsSection(failures),
  ]);
  const total = outcomes.reduce((n, o) => n + o.passages.length, 0);
  return finalOutcome(`Searched ${countOf(outcomes.length, 'query', 'queries')}; ${countOf(total, 'passage')} found.`, text, sources, finding);
}

/** One turn of a search step. */
export function searchStep(input: StepInput<SearchParams>): StepOutcome {
  const outcomes = input.params.queries.map((q) => outcomeOf(q, input.observations));
  const retries = input.canCall && input.available.has('knowledge_search') ? retryCalls(input, outcomes) : [];
  if (retries.length > 0) return callOutcome('Some searches found nothing; trying broader queries once.', retries);
  return searchOutput(input, outcomes);
}
