/**
 * The "Answer" section of a built-in report: the figures, key points, comparison or summary the
 * earlier steps produced, stated first and briefly, with document ids. Built from the steps'
 * findings only, so every statement traces back to a tool result.
 */
import type { DependencyOutput } from '../types.js';
import { headlineMeasure } from './columns.js';
import { compareSubjects } from './comparison.js';
import { summarySentences, uniquePassages } from './extract.js';
import { findingOf, findingsOfKind, type CompareFinding, type KeyPoint } from './findings.js';
import type { ReportStyle } from './params.js';
import { countOf, formatNumber, formatPercent, quote } from './text.js';

type Deps = readonly DependencyOutput[];

function pointBullet(p: KeyPoint): string {
  return `- ${quote(p.text, 220)} — ${p.title} (\`${p.document_id}\`)`;
}

function computeAnswer(deps: Deps): string {
  const lines = findingsOfKind(deps, 'compute').flatMap((f) =>
    f.results.map((r) =>
      r.result === null
        ? `- \`${r.expression}\` (for "${r.wording}") could not be computed; see below.`
        : `- \`${r.expression}\` = **${formatNumber(r.result)}** (for "${r.wording}")`,
    ),
  );
  return lines.join('\n');
}

function profileAnswer(deps: Deps): string {
  const sentences = findingsOfKind(deps, 'profile').flatMap((f) => [
    ...f.files.map((file) => {
      const head = `**${file.file_name}** has ${countOf(file.rows, 'row')} and ${countOf(file.columns, 'column')}.`;
      const g = file.group;
      const measure = g?.measure;
      if (!g || !measure) return g ? `${head} Grouped by ${g.by}: ${countOf(g.rows.length, 'group')}.` : head;
      const top = [...g.rows].sort((a, b) => (b.values[measure] ?? 0) - (a.values[measure] ?? 0))[0];
      const leader = top ? ` the largest ${measure} is ${top.key} at ${formatNumber(top.values[measure] ?? 0)}` : '';
      return `${head} Grouped by ${g.by} (${countOf(g.rows.length, 'group')}),${leader}.`;
    }),
    f.derived ? `${f.derived.label} is **${formatPercent(f.derived.value)}**.` : '',
    f.group_note ?? '',
  ]);
  return sentences.filter((s) => s.length > 0).join(' ');
}

function sqlValue(value: number | string | null): string {
  return typeof value === 'number' ? formatNumber(value) : (value ?? 'unknown');
}

/** One sentence per file the SQL step analysed: rows, each measure's total and average, the largest group. */
function sqlAnswer(deps: Deps): string {
  const sentences = findingsOfKind(deps, 'sql').flatMap((f) => [
    ...f.files.map((file) => {
      const rows = file.rows === null ? '' : ` ${sqlValue(file.rows)} rows`;
      const totals = file.measures.map((m) => `total ${m.column} ${sqlValue(m.sum)} (average ${sqlValue(m.avg)})`);
      const parts = [rows.trim(), ...totals].filter((p) => p.length > 0);
      const g = file.group;
      const measure = g ? headlineMeasure(Object.keys(g.rows[0]?.values ?? {})) : null;
      const top = g && measure ? g.rows[0] : undefined;
      const leader = g && top && measure ? ` By ${g.by}, the largest ${measure} is ${top.key} at ${sqlValue(top.values[measure] ?? null)}.` : '';
      return `SQL over **${file.file_name}** (sql_query): ${parts.join('; ')}.${leader}`;
    }),
    f.group_note ?? '',
  ]);
  return sentences.filter((s) => s.length > 0).join(' ');
}

/** The comparison finding, from the analyst if it ran, else worked out here from the two searches. */
export function comparisonOf(deps: Deps): Omit<CompareFinding, 'failures'> | null {
  const analysed = findingsOfKind(deps, 'compare')[0];
  if (analysed) return analysed;
  const results = findingsOfKind(deps, 'search').flatMap((f) => f.results);
  const subjects = [...new Set(results.map((r) => r.subject).filter((s): s is string => s !== undefined))];
  return subjects.length >= 2 ? compareSubjects(results, subjects, '') : null;
}

function comparisonAnswer(deps: Deps): string {
  const c = comparisonOf(deps);
  const [a, b] = c?.subjects ?? [];
  if (!c || !a || !b) return '';
  const describe = (s: typeof a): string => `${s.name} (${countOf(s.passages, 'passage')} in ${countOf(s.documents.length, 'document')})`;
  const verdict =
    a.passages === b.passages
      ? `The documents say about as much about ${describe(a)} as about ${describe(b)}.`
      : `The documents say more about ${describe(a.passages > b.passages ? a : b)} than about ${describe(a.passages > b.passages ? b : a)}.`;
  const shared = c.shared_terms.length > 0 ? ` Terms around both: ${c.shared_terms.join(', ')}.` : '';
  return `${verdict}${shared} The table below sets them side by side.`;
}

function allPassages(deps: Deps) {
  return uniquePassages(findingsOfKind(deps, 'search').flatMap((f) => f.results.flatMap((r) => r.passages)));
}

function summaryAnswer(deps: Deps): string {
  const passages = allPassages(deps);
  if (passages.length === 0) return findingsOfKind(deps, 'search').length > 0 ? 'No passages were found to summarise.' : '';
  const documents = new Set(passages.map((p) => p.document_id)).size;
  const bullets = summarySentences(passages, 5).map(pointBullet);
  return [`Summary of ${countOf(passages.length, 'passage')} from ${countOf(documents, 'document')}:`, '', ...bullets].join('\n');
}

function pointsAnswer(deps: Deps): string {
  const keyPoints = findingsOfKind(deps, 'key_points')[0];
  if (keyPoints && keyPoints.points.length > 0) {
    const lead = keyPoints.ranking[0];
    const most = lead ? ` The most relevant document is ${lead.title} (\`${lead.document_id}\`).` : '';
    return [`The documents say:`, '', ...keyPoints.points.slice(0, 3).map(pointBullet), '', most.trim()].join('\n').trim();
  }
  const searches = findingsOfKind(deps, 'search');
  const passages = allPassages(deps);
  if (passages.length > 0) {
    return ['The most relevant passages:', '', ...passages.slice(0, 3).map((p) => pointBullet({ text: p.text, document_id: p.document_id, title: p.title }))].join('\n');
  }
  if (searches.length === 0) return '';
  const queries = searches.flatMap((f) => f.results.map((r) => `"${r.query}"`)).join(', ');
  return `The documents contain no passages matching ${queries}.`;
}

function failureNote(deps: Deps): string {
  const failures = deps.flatMap((d) => findingOf(d)?.failures ?? []);
  return failures.length > 0 ? `**Note:** ${countOf(failures.length, 'tool call')} failed; the sections below say which and why.` : '';
}

/** The answer section's body for a report of the given style. */
export function answerFor(deps: Deps, style: ReportStyle): string {
  const blocks = [
    computeAnswer(deps),
    profileAnswer(deps),
    sqlAnswer(deps),
    style === 'comparison' ? comparisonAnswer(deps) : '',
    style === 'summary' ? summaryAnswer(deps) : style === 'report' ? pointsAnswer(deps) : '',
    failureNote(deps),
  ].filter((b) => b.length > 0);
  if (blocks.length > 0) return blocks.join('\n\n');
  return deps.length > 0 ? 'The earlier steps produced no figures or passages of their own; their output follows.' : 'There were no earlier steps to report on.';
}
