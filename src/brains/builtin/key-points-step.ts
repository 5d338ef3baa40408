/**
 * The analyst's key-points step (research rule): reads the passages the researcher found, searches
 * again for any sub-aspects the task listed, then extracts the sentences that say most about the
 * topic and ranks the documents by how much they contributed.
 */
import { keySentences, rankDocuments, uniquePassages } from './extract.js';
import { findingsOfKind, type KeyPoint, type KeyPointsFinding, type RankedDocument } from './findings.js';
import type { KeyPointsParams } from './params.js';
import { argOf, parseObservation, SearchResultSchema, type PassageResult } from './results.js';
import { dedupeSources, documentSource } from './sources.js';
import { finalOutcome, joinBlocks, notRunNote, problemsSection, type StepInput, type StepOutcome } from './step-input.js';
import { countOf, formatNumber, mdCell, quote } from './text.js';

interface AspectResult {
  aspect: string;
  passages: PassageResult[];
}

/** Passages of own sub-aspect searches, and failures of those searches. */
function aspectResults(input: StepInput<KeyPointsParams>): { aspects: AspectResult[]; failures: string[] } {
  const failures: string[] = [];
  const aspects = input.params.aspects.map((aspect) => {
    const passages: PassageResult[] = [];
    for (const o of input.observations.filter((x) => x.tool === 'knowledge_search' && argOf(x.args, 'query') === aspect)) {
      const parsed = parseObservation(SearchResultSchema, o);
      if (parsed.ok) passages.push(...parsed.value.passages);
      else failures.push(`${parsed.failure} (sub-aspect "${aspect}")`);
    }
    return { aspect, passages };
  });
  return { aspects, failures };
}

function pointLine(point: KeyPoint, index: number): string {
  return `${index + 1}. ${quote(point.text, 240)} — ${point.title} (\`${point.document_id}\`)`;
}

function rankingTable(ranking: readonly RankedDocument[]): string {
  if (ranking.length === 0) return '';
  const rows = ranking.map(
    (d, i) => `| ${i + 1} | ${mdCell(d.title)} | \`${d.document_id}\` | ${d.passages} | ${formatNumber(d.best_score)} |`,
  );
  return ['### Documents ranked', '', '| Rank | Document | Id | Passages | Best score |', '|---|---|---|---|---|', ...rows].join('\n');
}

function aspectLines(aspects: readonly AspectResult[], searched: boolean): string {
  if (aspects.length === 0 || !searched) return '';
  const lines = aspects.map((a) => {
    const best = a.passages[0];
    const detail = best ? `; best: ${quote(best.text, 140)} (\`${best.document_id}\`)` : '';
    return `- **${a.aspect}**: ${countOf(a.passages.length, 'passage')}${detail}`;
  });
  return ['### Sub-aspects', '', ...lines].join('\n');
}

/** One turn of the key-points step; its calls (if any) were made at turn 0, so this always finalizes. */
export function keyPointsStep(input: StepInput<KeyPointsParams>): StepOutcome {
  const { topic } = input.params;
  const handed = findingsOfKind(input.request.dependencies, 'search').flatMap((f) => f.results.flatMap((r) => r.passages));
  const own = aspectResults(input);
  const passages = uniquePassages([...handed, ...own.aspects.flatMap((a) => a.passages)]);
  const points = keySentences(passages, topic, 5);
  const ranking = rankDocuments(passages);
  const finding: KeyPointsFinding = { kind: 'key_points', topic, points, ranking, failures: own.failures };
  const about = topic || 'the task';
  const body =
    points.length === 0
      ? `No passages were found about ${about}, so there are no key points to report.`
      : [`### Key points about ${about}`, '', ...points.map(pointLine)].join('\n');
  const searched = input.observations.some((o) => o.tool === 'knowledge_search');
  const text = joinBlocks([
    notRunNote(input.notRun, 'the sub-aspects were not searched separately'),
    body,
    aspectLines(own.aspects, searched),
    rankingTable(ranking),
    problemsSection(own.failures),
  ]);
  const sources = dedupeSources(ranking.map(documentSource));
  return finalOutcome(`Extracted ${countOf(points.length, 'key point')} from ${countOf(ranking.length, 'document')}.`, text, sources, finding);
}
