import { describe, expect, it } from 'vitest';
import type { StoredFile } from '../../tools/types.js';
import type { Decision, Observation, PlanProposal, TurnRecord } from '../types.js';
import { EMAIL_TOOLS, memoryFiles, runSqlQuery } from './__fixtures__/data-tools.js';
import { SALES_FILE } from './__fixtures__/fake-tools.js';
import { decideRequest, planRequest, recordingContext, task } from './__fixtures__/harness.js';
import { decideStep } from './decide.js';
import { buildPlan } from './planner.js';
import { analysisFor, groupQuery, isNumericSqlType, quoteIdentifier, SCHEMA_QUERY, totalsQuery } from './sql-build.js';

describe('quoteIdentifier', () => {
  it.each([
    ['units', '"units"'],
    ['Unit Price', '"Unit Price"'],
    ['"weird"', '"""weird"""'],
    ['a"; DROP TABLE x; --', '"a""; DROP TABLE x; --"'],
    ['sum(Unit Price)', '"sum(Unit Price)"'],
  ])('%s → %s', (name, quoted) => {
    expect(quoteIdentifier(name)).toBe(quoted);
  });

  it('refuses a NUL, which no identifier may hold', () => {
    expect(() => quoteIdentifier('a\u0000b')).toThrow(/NUL/);
  });
});

describe('isNumericSqlType', () => {
  it.each(['INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'DOUBLE', 'FLOAT', 'DECIMAL(18,3)', 'decimal(9, 2)', 'NUMERIC'])('%s is numeric', (type) => {
    expect(isNumericSqlType(type)).toBe(true);
  });

  it.each(['VARCHAR', 'DATE', 'TIMESTAMP', 'BOOLEAN', 'INTERVAL', 'BIGINT[]', 'STRUCT(a INTEGER)'])('%s is not', (type) => {
    expect(isNumericSqlType(type)).toBe(false);
  });
});

const ODD_SCHEMA = {
  table: 'odd_sales',
  columns: [
    { name: 'order_id', type: 'BIGINT' },
    { name: 'Sales Region', type: 'VARCHAR' },
    { name: 'Unit Price', type: 'DOUBLE' },
    { name: '"weird"', type: 'BIGINT' },
    { name: 'when', type: 'DATE' },
  ],
};

describe('the SQL built from a schema', () => {
  it('sums and averages the numeric columns, leaving out identifiers, every name quoted', () => {
    const analysis = analysisFor(ODD_SCHEMA, null);
    expect(analysis.measures).toEqual(['Unit Price', '"weird"']);
    expect(analysis.totals).toBe(
      'SELECT COUNT(*) AS "row_count", SUM("Unit Price") AS "sum(Unit Price)", AVG("Unit Price") AS "avg(Unit Price)", ' +
        'SUM("""weird""") AS "sum(""weird"")", AVG("""weird""") AS "avg(""weird"")" FROM "odd_sales"',
    );
    expect(analysis.group).toBeNull();
  });

  it('groups by the column the hint names, largest money-like sum first', () => {
    const analysis = analysisFor(ODD_SCHEMA, 'region');
    expect(analysis.group).toEqual({
      by: 'Sales Region',
      query:
        'SELECT "Sales Region", COUNT(*) AS "row_count", SUM("Unit Price") AS "sum(Unit Price)", AVG("Unit Price") AS "avg(Unit Price)", ' +
        'SUM("""weird""") AS "sum(""weird"")", AVG("""weird""") AS "avg(""weird"")" FROM "odd_sales" GROUP BY "Sales Region" ORDER BY 3 DESC NULLS LAST, 1',
    });
  });

  it('orders by the row count when there is nothing to sum', () => {
    expect(groupQuery('t', 'k', [])).toBe('SELECT "k", COUNT(*) AS "row_count" FROM "t" GROUP BY "k" ORDER BY 2 DESC NULLS LAST, 1');
    expect(totalsQuery('t', [])).toBe('SELECT COUNT(*) AS "row_count" FROM "t"');
  });
});

const ODD_FILE: StoredFile = { ...SALES_FILE, id: 'file-odd', name: 'Odd Sales.csv' };
const ODD_CSV = [
  'order_id,Sales Region,Unit Price,"""weird""",when',
  '1,North,2.5,10,2024-01-15',
  '2,South,4,5,2024-01-16',
  '3,North,4,7,2024-02-01',
  '4,East,2.5,,2024-02-03',
].join('\n');

function finalOf(decision: Decision) {
  if (decision.type !== 'final') throw new Error(`expected a final decision, got ${JSON.stringify(decision)}`);
  return decision.output;
}

/** Drives the SQL step (s2 of an emailed CSV analysis) against the real sql_query over ODD_CSV. */
async function runSqlStep(input: string, observe?: (o: Observation) => Observation) {
  const files = memoryFiles([{ file: ODD_FILE, data: ODD_CSV }]);
  const plan: PlanProposal = buildPlan(planRequest(input, { files: [ODD_FILE], tools: EMAIL_TOOLS }));
  const brief = task(input, [ODD_FILE]);
  const history: TurnRecord[] = [];
  for (let turn = 0; turn < 4; turn += 1) {
    const decision = decideStep(decideRequest(plan, 's2', brief, { history, tools: EMAIL_TOOLS }), recordingContext());
    if (decision.type === 'final') return { plan, history, output: finalOf(decision) };
    const observations = await Promise.all(decision.calls.map(async (c, i) => (observe ?? ((o) => o))(await runSqlQuery(c, `c${turn}-${i}`, files))));
    history.push({ turn, decision, observations });
  }
  throw new Error('the SQL step did not finish');
}

describe('SQL step against the real sql_query', () => {
  it('reads the columns, then runs its queries on odd column names and reports real figures', async () => {
    const { plan, history, output } = await runSqlStep('Analyze this CSV by sales region and email the summary to ops@example.com');
    expect(plan.steps[1]?.params).toMatchObject({ kind: 'sql', group_hint: 'sales region' });
    expect(history[0]?.decision).toMatchObject({ calls: [{ tool: 'sql_query', args: { query: SCHEMA_QUERY, files: ['file-odd'] } }] });
    expect(history[1]?.observations.map((o) => o.ok)).toEqual([true, true]);
    expect(output.text).toContain('### Odd Sales.csv (`file-odd`), table `odd_sales`');
    expect(output.text).toContain('**4 rows.**');
    expect(output.text).toContain('| Unit Price | 13 | 3.25 |');
    expect(output.text).toContain('| "weird" | 22 | 7.333333 |');
    expect(output.text).toContain('Grouped by Sales Region (3 groups):');
    expect(output.text).toContain('| North | 2 | 6.5 | 3.25 | 17 | 8.5 |');
    expect(output.text).toContain('```sql\nSELECT "Sales Region", COUNT(*)');
    expect(output.sources).toEqual([
      { kind: 'file', id: 'file-odd', title: 'Odd Sales.csv' },
      { kind: 'tool', id: 'sql_query:odd_sales', title: 'sql_query on Odd Sales.csv: row count, sums and averages, grouped by Sales Region' },
    ]);
    expect(output.data).toMatchObject({
      kind: 'sql',
      files: [{ rows: 4, measures: [{ column: 'Unit Price', sum: 13, avg: 3.25 }, { column: '"weird"', sum: 22 }], group: { by: 'Sales Region' } }],
      failures: [],
    });
  });

  it('says so when no column matches the "by" hint, and still reports the totals', async () => {
    const { output } = await runSqlStep('Analyze this CSV by month and email it to ops@example.com');
    expect(output.text).toContain('No column of Odd Sales.csv matches "month", so the SQL was not grouped; its columns are order_id, Sales Region, Unit Price, "weird", when.');
    expect(output.text).toContain('| Unit Price | 13 | 3.25 |');
  });

  it('reports a failed query instead of hiding it', async () => {
    const failing = (o: Observation): Observation =>
      argQuery(o) === SCHEMA_QUERY ? o : { ...o, ok: false, result: undefined, error: { code: 'SQL_ERROR', message: 'Out of memory' } };
    const { output } = await runSqlStep('Analyze this CSV and email it to ops@example.com', failing);
    expect(output.text).toContain('`sql_query` failed (SQL_ERROR): Out of memory (totals of Odd Sales.csv)');
    expect(output.data).toMatchObject({ kind: 'sql', files: [], failures: [expect.stringContaining('SQL_ERROR')] });
  });

  it('finalizes without the analysis when no turn is left', () => {
    const plan = buildPlan(planRequest('Analyze this CSV and email it to ops@example.com', { files: [ODD_FILE], tools: EMAIL_TOOLS }));
    const schema: Observation = {
      call_id: 'c0',
      tool: 'sql_query',
      args: { query: SCHEMA_QUERY, files: ['file-odd'], max_rows: 1000 },
      ok: true,
      result: { columns: [], rows: [['odd_sales', 'Unit Price', 'DOUBLE']], row_count: 1, truncated: false },
    };
    const first = decideStep(decideRequest(plan, 's2', task('x', [ODD_FILE]), { tools: EMAIL_TOOLS, maxIterations: 2 }), recordingContext());
    const history: TurnRecord[] = [{ turn: 0, decision: first, observations: [schema] }];
    const done = finalOf(decideStep(decideRequest(plan, 's2', task('x', [ODD_FILE]), { history, tools: EMAIL_TOOLS, maxIterations: 2 }), recordingContext()));
    expect(done.text).toContain('Odd Sales.csv was not analysed with SQL: no tool turn was left for it.');
  });
});

function argQuery(o: Observation): unknown {
  return (o.args as { query?: unknown }).query;
}
