/**
 * The analyst's SQL step over the task's CSV files, with sql_query. Turn 0 (planned) reads each
 * file's columns and DuckDB types (SCHEMA_QUERY, one call per file so each file's table stands
 * alone); the next turn runs, per file, the row count with sums and averages of its numeric columns
 * and, when the task said "by <column>", the same per group. Then it reports the figures with the
 * queries that produced them. The analysis runs at most once, so the step always ends.
 */
import type { Observation, ToolCallRequest } from '../types.js';
import type { SqlCell, SqlFileFinding, SqlFinding } from './findings.js';
import type { SqlParams } from './params.js';
import { cellValue, groupKey } from './profile-render.js';
import { listArgOf, argOf, parseObservation, SqlResultSchema, type SqlResult } from './results.js';
import { dedupeSources, fileSource, toolSource } from './sources.js';
import { analysisFor, avgKey, MAX_GROUPS, SCHEMA_QUERY, sumKey, type SqlAnalysis, type TableSchema } from './sql-build.js';
import { callOutcome, finalOutcome, joinBlocks, notRunNote, problemsSection, type StepInput, type StepOutcome } from './step-input.js';
import { countOf, mdCell } from './text.js';

type FileRef = SqlParams['files'][number];

/** What is known about one file after the turns so far. */
interface FileState {
  file: FileRef;
  schema: TableSchema | null;
  analysis: SqlAnalysis | null;
  /** The analysis queries' observations, once they ran. */
  totals: Observation | undefined;
  group: Observation | undefined;
}

function callsFor(observations: readonly Observation[], fileId: string): Observation[] {
  return observations.filter((o) => o.tool === 'sql_query' && listArgOf(o.args, 'files')[0] === fileId);
}

/** The file's table and columns from the schema query's rows (table_name, column_name, data_type). */
function schemaOf(result: SqlResult, fileId: string): TableSchema | null {
  const table = result.tables?.find((t) => t.file_id === fileId)?.name ?? (typeof result.rows[0]?.[0] === 'string' ? result.rows[0][0] : null);
  if (!table) return null;
  const columns = result.rows
    .filter((r) => r[0] === table && typeof r[1] === 'string' && typeof r[2] === 'string')
    .map((r) => ({ name: r[1] as string, type: r[2] as string }));
  return columns.length > 0 ? { table, columns } : null;
}

function readFile(file: FileRef, observations: readonly Observation[], hint: string | null, failures: string[]): FileState {
  const calls = callsFor(observations, file.id);
  const schemaCall = calls.find((o) => argOf(o.args, 'query') === SCHEMA_QUERY);
  const state: FileState = { file, schema: null, analysis: null, totals: undefined, group: undefined };
  if (!schemaCall) return state;
  const parsed = parseObservation(SqlResultSchema, schemaCall);
  if (!parsed.ok) {
    failures.push(`${parsed.failure} (reading the columns of ${file.name})`);
    return state;
  }
  state.schema = schemaOf(parsed.value, file.id);
  if (!state.schema) {
    failures.push(`\`sql_query\` found no table with columns for ${file.name}`);
    return state;
  }
  const analysis = analysisFor(state.schema, hint);
  state.analysis = analysis;
  state.totals = calls.find((o) => argOf(o.args, 'query') === analysis.totals);
  state.group = analysis.group ? calls.find((o) => argOf(o.args, 'query') === analysis.group?.query) : undefined;
  return state;
}

/** The analysis calls for files whose columns are known and whose analysis has not run yet. */
function analysisCalls(states: readonly FileState[]): ToolCallRequest[] {
  return states.flatMap((s) => {
    if (!s.analysis || s.totals || s.group) return [];
    const files = [s.file.id];
    const totals = { tool: 'sql_query', args: { query: s.analysis.totals, files, max_rows: 1 } };
    const group = s.analysis.group ? [{ tool: 'sql_query', args: { query: s.analysis.group.query, files, max_rows: MAX_GROUPS } }] : [];
    return [totals, ...group];
  });
}

function cell(value: unknown): SqlCell {
  return typeof value === 'number' || typeof value === 'string' ? value : null;
}

function cellText(value: SqlCell): string {
  return value === null ? '—' : cellValue(value);
}

function totalsFinding(s: FileState, analysis: SqlAnalysis, failures: string[]): Pick<SqlFileFinding, 'rows' | 'measures'> | null {
  if (!s.totals) return null;
  const parsed = parseObservation(SqlResultSchema, s.totals);
  if (!parsed.ok) {
    failures.push(`${parsed.failure} (totals of ${s.file.name})`);
    return null;
  }
  const row = parsed.value.rows[0] ?? [];
  const measures = analysis.measures.map((column, i) => ({ column, sum: cell(row[1 + 2 * i]), avg: cell(row[2 + 2 * i]) }));
  return { rows: cell(row[0]), measures };
}

function groupFinding(s: FileState, analysis: SqlAnalysis, failures: string[]): SqlFileFinding['group'] {
  if (!s.group || !analysis.group) return undefined;
  const parsed = parseObservation(SqlResultSchema, s.group);
  if (!parsed.ok) {
    failures.push(`${parsed.failure} (grouping ${s.file.name} by ${analysis.group.by})`);
    return undefined;
  }
  const rows = parsed.value.rows.map((r) => {
    const values: Record<string, SqlCell> = {};
    analysis.measures.forEach((m, i) => {
      values[sumKey(m)] = cell(r[2 + 2 * i]);
      values[avgKey(m)] = cell(r[3 + 2 * i]);
    });
    return { key: groupKey(r[0]), count: cell(r[1]), values };
  });
  return { by: analysis.group.by, rows, truncated: parsed.value.truncated };
}

function fileFinding(s: FileState, failures: string[]): SqlFileFinding | null {
  if (!s.schema || !s.analysis) return null;
  const totals = totalsFinding(s, s.analysis, failures);
  const group = groupFinding(s, s.analysis, failures);
  if (!totals && !group) return null;
  const base = { file_id: s.file.id, file_name: s.file.name, table: s.schema.table, rows: totals?.rows ?? null, measures: totals?.measures ?? [] };
  return group ? { ...base, group } : base;
}

function measuresTable(f: SqlFileFinding): string {
  if (f.measures.length === 0) return 'No numeric columns to sum.';
  const rows = f.measures.map((m) => `| ${mdCell(m.column)} | ${cellText(m.sum)} | ${cellText(m.avg)} |`);
  return ['| Column | Sum | Average |', '|---|---|---|', ...rows].join('\n');
}

function groupTable(f: SqlFileFinding): string {
  const g = f.group;
  if (!g) return '';
  const header = [mdCell(g.by), 'Rows', ...f.measures.flatMap((m) => [`Sum of ${mdCell(m.column)}`, `Average of ${mdCell(m.column)}`])];
  const keys = f.measures.flatMap((m) => [sumKey(m.column), avgKey(m.column)]);
  const rows = g.rows.map((r) => `| ${[mdCell(r.key), cellText(r.count), ...keys.map((k) => cellText(r.values[k] ?? null))].join(' | ')} |`);
  const more = g.truncated ? `\n\nOnly the ${MAX_GROUPS} largest groups are listed.` : '';
  return `Grouped by ${mdCell(g.by)} (${countOf(g.rows.length, 'group')}):\n\n${[`| ${header.join(' | ')} |`, `|${header.map(() => '---|').join('')}`, ...rows].join('\n')}${more}`;
}

function fileSection(f: SqlFileFinding, queries: readonly string[]): string {
  const rows = f.rows === null ? 'The row count could not be read.' : `**${cellText(f.rows)} rows.**`;
  const sql = queries.map((q) => `\`\`\`sql\n${q}\n\`\`\``).join('\n\n');
  return joinBlocks([`### ${f.file_name} (\`${f.file_id}\`), table \`${f.table}\``, rows, measuresTable(f), groupTable(f), `Queries run:\n\n${sql}`]);
}

function queriesOf(s: FileState): string[] {
  return [s.totals && s.analysis?.totals, s.group && s.analysis?.group?.query].filter((q): q is string => typeof q === 'string');
}

/** Says which files could not be grouped: no column matches the hint. */
function groupNote(states: readonly FileState[], hint: string | null): string | undefined {
  if (!hint) return undefined;
  const notes = states
    .filter((s) => s.schema && s.analysis && !s.analysis.group)
    .map((s) => `No column of ${s.file.name} matches "${hint}", so the SQL was not grouped; its columns are ${s.schema?.columns.map((c) => c.name).join(', ')}.`);
  return notes.length > 0 ? notes.join(' ') : undefined;
}

function sqlOutput(input: StepInput<SqlParams>, states: readonly FileState[], failures: string[]): StepOutcome {
  const analysed = states.map((s) => ({ s, f: fileFinding(s, failures) }));
  const done = analysed.filter((x): x is { s: FileState; f: SqlFileFinding } => x.f !== null);
  const skipped = states.filter((s) => s.analysis && !s.totals && !s.group).map((s) => s.file.name);
  const note = groupNote(states, input.params.group_hint);
  const finding: SqlFinding = {
    kind: 'sql',
    files: done.map((x) => x.f),
    queries: done.flatMap((x) => queriesOf(x.s)),
    ...(note ? { group_note: note } : {}),
    failures,
  };
  const text = joinBlocks([
    notRunNote(input.notRun, 'the files were not queried'),
    skipped.length > 0 ? `${skipped.join(', ')} ${skipped.length === 1 ? 'was' : 'were'} not analysed with SQL: no tool turn was left for it.` : '',
    ...done.map((x) => fileSection(x.f, queriesOf(x.s))),
    note,
    problemsSection(failures),
  ]);
  const sources = dedupeSources(
    done.flatMap((x) => [
      fileSource(x.f),
      toolSource('sql_query', x.f.table, `sql_query on ${x.f.file_name}: row count, sums and averages${x.f.group ? `, grouped by ${x.f.group.by}` : ''}`),
    ]),
  );
  return finalOutcome(`Queried ${countOf(done.length, 'file')} with SQL.`, text.length > 0 ? text : 'No file was analysed with SQL.', sources, finding);
}

/** One turn of the SQL step. */
export function sqlStep(input: StepInput<SqlParams>): StepOutcome {
  const failures: string[] = [];
  const states = input.params.files.map((f) => readFile(f, input.observations, input.params.group_hint, failures));
  const calls = input.canCall && input.available.has('sql_query') ? analysisCalls(states) : [];
  if (calls.length > 0) return callOutcome(`Running the SQL analysis of ${countOf(calls.length, 'query', 'queries')}.`, calls);
  return sqlOutput(input, states, failures);
}
