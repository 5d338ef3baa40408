/** Markdown for CSV profiles and groupings, from data_profile results. */
import type { ProfileColumn, ProfileGroups, ProfileResult } from './results.js';
import { countOf, formatNumber, mdCell } from './text.js';

/** A profile value for a table cell: numbers formatted, text as is, nothing as blank. */
export function cellValue(value: unknown): string {
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return mdCell(value);
  if (typeof value === 'boolean') return String(value);
  return '';
}

/** A group key as text; an empty key reads "(empty)". */
export function groupKey(key: unknown): string {
  if (key === null || key === undefined || key === '') return '(empty)';
  return typeof key === 'number' ? formatNumber(key) : String(key);
}

function columnRow(c: ProfileColumn): string {
  return tableRow([mdCell(c.name), c.type, String(c.missing), String(c.distinct), cellValue(c.min), cellValue(c.max), cellValue(c.mean), cellValue(c.sum)]);
}

function columnsTable(columns: readonly ProfileColumn[]): string {
  return ['| Column | Type | Missing | Distinct | Min | Max | Mean | Sum |', '|---|---|---|---|---|---|---|---|', ...columns.map(columnRow)].join('\n');
}

function commonValues(columns: readonly ProfileColumn[]): string {
  const parts = columns
    .filter((c) => (c.type === 'string' || c.type === 'boolean') && c.top.length > 0)
    .slice(0, 4)
    .map((c) => `**${c.name}**: ${c.top.slice(0, 3).map((t) => `${groupKey(t.value)} (${t.count})`).join(', ')}`);
  return parts.length > 0 ? `Most common values: ${parts.join('; ')}.` : '';
}

/** The section for one profiled file: size, a column table and the most common values. */
export function profileSection(p: ProfileResult): string {
  const malformed = p.malformed_rows > 0 ? ` ${countOf(p.malformed_rows, 'malformed row')} could not be read.` : '';
  return [
    `### ${p.file_name} (\`${p.file_id}\`)`,
    '',
    `${countOf(p.rows, 'row')} and ${countOf(p.columns.length, 'column')} (delimiter ${JSON.stringify(p.delimiter)}).${malformed}`,
    '',
    columnsTable(p.columns),
    '',
    commonValues(p.columns),
  ]
    .join('\n')
    .trim();
}

/** The value columns of a grouping, in the order the tool returned them. */
export function groupMeasures(groups: ProfileGroups): string[] {
  const keys: string[] = [];
  for (const row of groups.rows) for (const k of Object.keys(row.values)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

function tableRow(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** A table of a grouping: one row per group with its row count and aggregates. */
export function groupSection(fileName: string, groups: ProfileGroups): string {
  const measures = groupMeasures(groups);
  const header = tableRow([mdCell(groups.by), 'Rows', ...measures.map(mdCell)]);
  const rule = tableRow(['---', '---', ...measures.map(() => '---')]);
  const rows = groups.rows.map((r) => tableRow([mdCell(groupKey(r.key)), String(r.count), ...measures.map((m) => cellValue(r.values[m]))]));
  const note = groups.truncated ? '\n\n_Only the first groups are shown; the tool truncated the list._' : '';
  return `#### ${fileName} grouped by ${groups.by}\n\n${[header, rule, ...rows].join('\n')}${note}`;
}
