/**
 * The SQL the built-in brain writes for sql_query (DuckDB over the task's files). Every query is
 * built from a fixed template; the only things taken from the data are column and table names, and
 * those always go through quoteIdentifier, so a header like `Unit Price` or `"weird"; DROP …` is a
 * name and never SQL. No value from the task or the file is ever inlined.
 */
import { headlineMeasure, matchColumn, pickMeasures } from './columns.js';

/**
 * Lists the columns of the table sql_query made for the file, with DuckDB's types. Run with
 * `files: [one file id]`, so the file's table is the only one in `main` and the query needs no name.
 */
export const SCHEMA_QUERY =
  "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' ORDER BY table_name, ordinal_position";

/** Groups listed at most, largest first; sql_query's `truncated` says whether there were more. */
export const MAX_GROUPS = 20;

/** A table's name and its columns in order, as SCHEMA_QUERY returns them. */
export interface TableSchema {
  table: string;
  columns: Array<{ name: string; type: string }>;
}

/** The analysis of one table: totals always, a grouping when the task named a column that matches. */
export interface SqlAnalysis {
  /** Columns summed and averaged. */
  measures: string[];
  /** `SELECT COUNT(*), SUM(m), AVG(m), … FROM t`. */
  totals: string;
  group: { by: string; query: string } | null;
}

/**
 * A DuckDB identifier in double quotes, inner quotes doubled: `Unit Price` → `"Unit Price"`,
 * `"weird"` → `"""weird"""`. Throws for a NUL, which no identifier may hold.
 */
export function quoteIdentifier(name: string): string {
  if (name.includes('\u0000')) throw new Error('An SQL identifier cannot contain a NUL character');
  return `"${name.replace(/"/g, '""')}"`;
}

const NUMERIC_TYPE = /^(?:U?(?:TINY|SMALL|BIG|HUGE)?INT(?:EGER)?|FLOAT|DOUBLE|REAL|(?:DECIMAL|NUMERIC)(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?)$/i;

/** True for DuckDB's numeric types (INTEGER, BIGINT, DOUBLE, DECIMAL(18,3), …), whose columns can be summed. */
export function isNumericSqlType(type: string): boolean {
  return NUMERIC_TYPE.test(type.trim());
}

function usable(name: string): boolean {
  return !name.includes('\u0000');
}

/** Output names of a measure's aggregates, as data_profile names them, so the same helpers read both. */
export function sumKey(column: string): string {
  return `sum(${column})`;
}

export function avgKey(column: string): string {
  return `avg(${column})`;
}

function aggregates(measures: readonly string[]): string[] {
  return measures.flatMap((m) => [
    `SUM(${quoteIdentifier(m)}) AS ${quoteIdentifier(sumKey(m))}`,
    `AVG(${quoteIdentifier(m)}) AS ${quoteIdentifier(avgKey(m))}`,
  ]);
}

/** The row count and, per measure, its sum and average. */
export function totalsQuery(table: string, measures: readonly string[]): string {
  return `SELECT ${['COUNT(*) AS "row_count"', ...aggregates(measures)].join(', ')} FROM ${quoteIdentifier(table)}`;
}

/**
 * Rows, sums and averages per value of `by`, largest first by the headline sum (a money-like column
 * if there is one), ties and the rest by the group's value. Ordered by position, since output names
 * may repeat a column's name.
 */
export function groupQuery(table: string, by: string, measures: readonly string[]): string {
  const headline = headlineMeasure(measures.map(sumKey));
  const position = headline ? 3 + 2 * measures.map(sumKey).indexOf(headline) : 2;
  const columns = [quoteIdentifier(by), 'COUNT(*) AS "row_count"', ...aggregates(measures)];
  return `SELECT ${columns.join(', ')} FROM ${quoteIdentifier(table)} GROUP BY ${quoteIdentifier(by)} ORDER BY ${position} DESC NULLS LAST, 1`;
}

/** The queries for one table: its numeric, non-identifier columns (at most four), grouped by the column the hint names. */
export function analysisFor(schema: TableSchema, groupHint: string | null): SqlAnalysis {
  const columns = schema.columns.filter((c) => usable(c.name));
  const by = groupHint ? matchColumn(groupHint, columns.map((c) => c.name)) : null;
  const measures = pickMeasures(columns, by, isNumericSqlType).map((c) => c.name);
  return {
    measures,
    totals: totalsQuery(schema.table, measures),
    group: by === null ? null : { by, query: groupQuery(schema.table, by, measures) },
  };
}
