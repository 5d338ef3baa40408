import { describe, expect, it } from 'vitest';
import { SALES_FILE } from './__fixtures__/fake-tools.js';
import { planRequest, recordingContext, reportOf, runTask } from './__fixtures__/harness.js';
import { BUILTIN_NOTICE, BuiltinBrain, createBuiltinBrain } from './index.js';

/** Every "## Sources" line, for checking that each source is listed once. */
function sourceLines(report: string): string[] {
  return (report.split('## Sources\n\n')[1] ?? '').trim().split('\n');
}

describe('BuiltinBrain', () => {
  it('is named builtin and reports zero usage', async () => {
    const brain = createBuiltinBrain();
    expect(brain).toBeInstanceOf(BuiltinBrain);
    expect(brain.name).toBe('builtin');
    const result = await brain.plan(planRequest('Research X'), recordingContext());
    expect(result.usage).toEqual({ model: 'builtin', input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0 });
  });

  it('rejects when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(new BuiltinBrain().plan(planRequest('Research X'), recordingContext(controller.signal))).rejects.toThrow();
  });
});

describe('whole tasks against fake tools', () => {
  it('research: quotes key points with document ids', async () => {
    const report = reportOf(await runTask('What do our documents say about vacation policy?'));
    expect(report).toContain(BUILTIN_NOTICE);
    expect(report).toContain('"Our vacation policy gives every employee 25 days of paid vacation per year." — Employee Handbook (`doc-handbook`)');
    expect(report).toContain('## Extract key points about vacation policy');
    expect(sourceLines(report)).toEqual(['- Document `doc-handbook`: Employee Handbook', '- Document `doc-faq`: HR FAQ']);
  });

  it('CSV: reports the grouped figures and the derived share', async () => {
    const run = await runTask('Analyze sales.csv by region', { files: [SALES_FILE] });
    const report = reportOf(run);
    expect(run.histories.get('s1')).toHaveLength(3);
    expect(report).toContain('**sales.csv** has 6 rows and 5 columns. Grouped by region (3 groups), the largest sum(revenue) is North at 2,460.');
    expect(report).toContain("North's share of total revenue in sales.csv is **58.16%**.");
    expect(sourceLines(report)).toEqual(['- File `file-sales`: sales.csv', "- Tool: calculator: North's share of total revenue in sales.csv = 58.16%"]);
  });

  it('compute: states the result and the expression', async () => {
    const report = reportOf(await runTask('What is 15% of 2400 plus 12?'));
    expect(report).toContain('## Answer\n\n- `15 / 100 * 2400 + 12` = **372** (for "What is 15% of 2400 plus 12")');
  });

  it('compare: has a side-by-side table and cites both sides', async () => {
    const report = reportOf(await runTask('Compare PostgreSQL and Redis for caching'));
    expect(report).toContain('## Side by side\n\n| | PostgreSQL | Redis |');
    expect(report).toContain('| Passages found | 1 | 2 |');
    expect(report).toContain('The documents say more about Redis (2 passages in 1 document) than about PostgreSQL (1 passage in 1 document).');
    expect(sourceLines(report)).toEqual(['- Document `doc-postgres`: PostgreSQL Operations', '- Document `doc-redis`: Redis Guide']);
  });

  it('summary: lists extracted sentences as bullets', async () => {
    const report = reportOf(await runTask('Summarize our onboarding documents'));
    expect(report).toContain('Summary of 3 passages from 2 documents:');
    expect(report).toContain('- "The onboarding checklist covers laptop setup, accounts and security training." — Onboarding Guide (`doc-onboarding`)');
  });

  it('fallback: says plainly that nothing matched', async () => {
    const report = reportOf(await runTask('Draft a welcome note for new hires'));
    expect(report).toContain('The documents contain no passages matching "welcome note new hires".');
    expect(report).toContain('No documents, files or tools were used.');
  });

  it('mixed: CSV plus a computation, with a failed calculator reported', async () => {
    const run = await runTask('Analyze sales.csv and compute the average of 3, 5 and 10', {
      files: [SALES_FILE],
      failures: { calculator: { code: 'TOOL_TIMEOUT', message: 'calculator did not finish within 1000 ms' } },
    });
    const report = reportOf(run);
    expect(run.plan.steps.map((s) => s.agent)).toEqual(['analyst', 'analyst', 'writer']);
    expect(report).toContain('**sales.csv** has 6 rows and 5 columns.');
    expect(report).toContain('`mean(3, 5, 10)` (for "compute the average of 3, 5 and 10") could not be computed');
    expect(report).toContain('**Note:** 1 tool call failed');
    expect(report).toContain('`calculator` failed (TOOL_TIMEOUT): calculator did not finish within 1000 ms');
  });

  it('is deterministic end to end', async () => {
    const a = await runTask('Compare PostgreSQL and Redis for caching');
    const b = await runTask('Compare PostgreSQL and Redis for caching');
    expect(reportOf(a)).toBe(reportOf(b));
    expect(a.partials).toEqual(b.partials);
  });
});
