/**
 * The analyst's compare step (compare rule): reads the two researchers' findings and sets the
 * subjects side by side. It uses no tools, so it finalizes at its first turn.
 */
import { compareSubjects } from './comparison.js';
import { findingsOfKind, type CompareFinding, type SubjectSummary } from './findings.js';
import type { CompareParams } from './params.js';
import { dedupeSources, documentSource } from './sources.js';
import { finalOutcome, joinBlocks, type StepInput, type StepOutcome } from './step-input.js';
import { countOf, quote } from './text.js';

function subjectBlock(s: SubjectSummary): string {
  const docs = s.documents.map((d) => `${d.title} (\`${d.document_id}\`)`).join(', ');
  const lines = [
    `### ${s.name}`,
    '',
    `- ${countOf(s.passages, 'passage')} in ${countOf(s.documents.length, 'document')}${docs ? `: ${docs}` : ''}`,
    `- Frequent terms: ${s.top_terms.join(', ') || '—'}`,
    `- Only around ${s.name}: ${s.distinct_terms.join(', ') || '—'}`,
  ];
  if (s.best) lines.push(`- Best passage: ${quote(s.best.text, 200)} (\`${s.best.document_id}\`)`);
  return lines.join('\n');
}

function sharedBlock(finding: Omit<CompareFinding, 'failures'>): string {
  return [
    '### In common',
    '',
    `- Terms around both: ${finding.shared_terms.join(', ') || 'none'}`,
    `- Documents mentioning both: ${finding.shared_documents.map((id) => `\`${id}\``).join(', ') || 'none'}`,
  ].join('\n');
}

/** One turn of the compare step: always final. */
export function compareStep(input: StepInput<CompareParams>): StepOutcome {
  const searches = findingsOfKind(input.request.dependencies, 'search');
  const results = searches.flatMap((f) => f.results);
  const compared = compareSubjects(results, input.params.subjects, input.params.aspect);
  const finding: CompareFinding = { ...compared, failures: [] };
  const empty = compared.subjects.every((s) => s.passages === 0);
  const text = joinBlocks([
    empty ? 'The searches found no passages for either subject, so there is nothing to compare.' : '',
    ...compared.subjects.map(subjectBlock),
    sharedBlock(compared),
  ]);
  const sources = dedupeSources(compared.subjects.flatMap((s) => s.documents.map(documentSource)));
  const counts = compared.subjects.map((s) => `${s.name}: ${s.passages}`).join(', ');
  return finalOutcome(`Compared the subjects (${counts} passages).`, text, sources, finding);
}
