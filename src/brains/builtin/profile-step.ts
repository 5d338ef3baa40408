/**
 * The analyst's CSV step. Turn 0 profiles every CSV (planned calls). If the task said "by <column>",
 * the next turn groups each file by the best-matching column with sums and means of its numeric
 * columns. If the calculator is at hand, one more turn derives the largest group's share of the
 * total. Then it reports. Each follow-up happens at most once, so the step always ends.
 */
import type { Observation, ToolCallRequest } from '../types.js';
import { headlineMeasure, matchColumn, measureColumns } from './columns.js';
import type { FileFinding, ProfileFinding } from './findings.js';
import type { ProfileParams } from './params.js';
import { groupKey, groupMeasures, groupSection, profileSection } from './profile-render.js';
import { argOf, CalcResultSchema, parseObservation, ProfileResultSchema, type ProfileResult } from './results.js';
import { dedupeSources, fileSource, toolSource } from './sources.js';
import { callOutcome, finalOutcome, joinBlocks, notRunNote, problemsSection, type StepInput, type StepOutcome } from './step-input.js';
import { countOf, formatNumber, formatPercent } from './text.js';

/** The derived figure's formula; its inputs travel as calculator variables so the report can show them. */
export const SHARE_EXPRESSION = 'part / total * 100';

interface ProfileState {
  /** Plain profiles, one per file that profiled. */
  profiles: ProfileResult[];
  /** Profiles that came back grouped. */
  grouped: ProfileResult[];
  failures: string[];
  groupTried: boolean;
  calculation: Observation | undefined;
}

interface ShareSpec {
  label: string;
  part: number;
  total: number;
}

function readState(observations: readonly Observation[]): ProfileState {
  const state: ProfileState = { profiles: [], grouped: [], failures: [], groupTried: false, calculation: undefined };
  for (const o of observations) {
    if (o.tool === 'calculator') state.calculation = o;
    if (o.tool !== 'data_profile') continue;
    const grouping = argOf(o.args, 'group_by');
    state.groupTried ||= grouping !== undefined;
    const parsed = parseObservation(ProfileResultSchema, o);
    if (!parsed.ok) state.failures.push(`${parsed.failure}${grouping ? ` (grouping by ${grouping})` : ''}`);
    else if (grouping !== undefined && parsed.value.groups) state.grouped.push(parsed.value);
    else state.profiles.push(parsed.value);
  }
  return state;
}

/** One grouping call per profiled file whose columns match the hint. */
function groupCalls(profiles: readonly ProfileResult[], hint: string): ToolCallRequest[] {
  return profiles.flatMap((p) => {
    const column = matchColumn(hint, p.columns.map((c) => c.name));
    if (column === null) return [];
    const aggregates = measureColumns(p.columns, column).flatMap((c) => [
      { column: c.name, op: 'sum' as const },
      { column: c.name, op: 'mean' as const },
    ]);
    return [{ tool: 'data_profile', args: { file_id: p.file_id, group_by: column, aggregates, top: 10 } }];
  });
}

/** The largest group's share of the first summed column, from the first grouping that has one. */
function shareSpec(state: ProfileState): ShareSpec | null {
  for (const g of state.grouped) {
    const measure = g.groups ? headlineMeasure(groupMeasures(g.groups)) : null;
    if (!g.groups || !measure) continue;
    const column = measure.slice(4, -1);
    const rows = g.groups.rows.filter((r) => typeof r.values[measure] === 'number');
    const top = rows.reduce<(typeof rows)[number] | undefined>((best, r) => (best && (best.values[measure] ?? 0) >= (r.values[measure] ?? 0) ? best : r), undefined);
    const profiled = state.profiles.find((p) => p.file_id === g.file_id)?.columns.find((c) => c.name === column)?.sum;
    const total = typeof profiled === 'number' ? profiled : rows.reduce((sum, r) => sum + (r.values[measure] ?? 0), 0);
    const part = top?.values[measure];
    if (top && typeof part === 'number' && total > 0) {
      return { label: `${groupKey(top.key)}'s share of total ${column} in ${g.file_name}`, part, total };
    }
  }
  return null;
}

/** The follow-up turn, if one is due: grouping first, then the derived share. */
function followUp(input: StepInput<ProfileParams>, state: ProfileState): StepOutcome | null {
  if (!input.canCall) return null;
  const hint = input.params.group_hint;
  if (hint && !state.groupTried && input.available.has('data_profile')) {
    const calls = groupCalls(state.profiles, hint);
    return calls.length > 0 ? callOutcome(`Grouping by the column matching "${hint}".`, calls) : null;
  }
  const share = state.calculation === undefined && input.available.has('calculator') ? shareSpec(state) : null;
  if (!share) return null;
  const args = { expression: SHARE_EXPRESSION, variables: { part: share.part, total: share.total } };
  return callOutcome(`Deriving ${share.label} with the calculator.`, [{ tool: 'calculator', args }]);
}

/** Says which files could not be grouped, and why: no column matched the hint, or no grouping ran. */
function groupNote(state: ProfileState, hint: string | null): string | undefined {
  if (!hint) return undefined;
  const notes = state.profiles.map((p) => {
    const names = p.columns.map((c) => c.name);
    if (matchColumn(hint, names) === null) {
      return `No column of ${p.file_name} matches "${hint}", so it was not grouped; its columns are ${names.join(', ')}.`;
    }
    return state.groupTried ? '' : `${p.file_name} was not grouped by "${hint}": no tool turn was left for it.`;
  });
  const text = notes.filter((n) => n.length > 0).join(' ');
  return text.length > 0 ? text : undefined;
}

function derivedFigure(state: ProfileState): ProfileFinding['derived'] {
  const share = shareSpec(state);
  if (!share || !state.calculation) return undefined;
  const parsed = parseObservation(CalcResultSchema, state.calculation);
  if (!parsed.ok) {
    state.failures.push(`${parsed.failure} (deriving ${share.label})`);
    return undefined;
  }
  return { label: share.label, expression: SHARE_EXPRESSION, variables: { part: share.part, total: share.total }, value: parsed.value.result };
}

function fileFinding(p: ProfileResult, grouped: readonly ProfileResult[]): FileFinding {
  const g = grouped.find((x) => x.file_id === p.file_id)?.groups;
  const base = { file_id: p.file_id, file_name: p.file_name, rows: p.rows, columns: p.columns.length };
  if (!g) return base;
  const measure = headlineMeasure(groupMeasures(g));
  const rows = g.rows.map((r) => ({ key: groupKey(r.key), count: r.count, values: r.values }));
  return { ...base, group: { by: g.by, measure, rows } };
}

function derivedLine(d: NonNullable<ProfileFinding['derived']>): string {
  const inputs = Object.entries(d.variables).map(([k, v]) => `${k} = ${formatNumber(v)}`).join(', ');
  return `**Derived:** ${d.label} = **${formatPercent(d.value)}** (calculator: \`${d.expression}\` with ${inputs}).`;
}

/** The step's report: a section per file, its grouping, the derived figure and any problems. */
function profileOutput(input: StepInput<ProfileParams>, state: ProfileState): StepOutcome {
  const derived = derivedFigure(state);
  const note = groupNote(state, input.params.group_hint);
  const finding: ProfileFinding = {
    kind: 'profile',
    files: state.profiles.map((p) => fileFinding(p, state.grouped)),
    ...(note ? { group_note: note } : {}),
    ...(derived ? { derived } : {}),
    failures: state.failures,
  };
  const sections = state.profiles.flatMap((p) => {
    const g = state.grouped.find((x) => x.file_id === p.file_id)?.groups;
    return [profileSection(p), g ? groupSection(p.file_name, g) : ''];
  });
  const text = joinBlocks([
    notRunNote(input.notRun, 'the files were not profiled'),
    ...sections,
    note,
    derived ? derivedLine(derived) : '',
    problemsSection(state.failures),
  ]);
  const sources = dedupeSources([
    ...state.profiles.map(fileSource),
    ...(derived ? [toolSource('calculator', SHARE_EXPRESSION, `calculator: ${derived.label} = ${formatPercent(derived.value)}`)] : []),
  ]);
  return finalOutcome(`Profiled ${countOf(state.profiles.length, 'file')}.`, text, sources, finding);
}

/** One turn of the CSV step. */
export function profileStep(input: StepInput<ProfileParams>): StepOutcome {
  const state = readState(input.observations);
  return followUp(input, state) ?? profileOutput(input, state);
}
