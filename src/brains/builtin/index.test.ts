import { describe, expect, it } from 'vitest';
import { EMAIL_TOOLS, MESSAGE_ID, memoryFiles, runSqlQuery, SALES_CSV, sendEmailObservation, type MailOutcome } from './__fixtures__/data-tools.js';
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

describe('the seed example: analyse a CSV and email the summary', () => {
  const SEED = 'Analyze this CSV and email the summary to ops@example.com';
  const files = memoryFiles([{ file: SALES_FILE, data: SALES_CSV }]);
  const seed = (mail: MailOutcome, tools = EMAIL_TOOLS) =>
    runTask(SEED, {
      files: [SALES_FILE],
      tools,
      execute: async (call, id) =>
        call.tool === 'sql_query' ? runSqlQuery(call, id, files) : call.tool === 'send_email' ? sendEmailObservation(call, id, mail) : null,
    });

  it('profiles, queries with SQL, writes the summary and sends it; the answer is the summary with the email line', async () => {
    const run = await seed({ sent: true });
    expect(run.plan.steps.map((s) => [s.id, s.agent, s.tools, s.depends_on])).toEqual([
      ['s1', 'analyst', ['data_profile'], []],
      ['s2', 'analyst', ['sql_query'], []],
      ['s3', 'writer', [], ['s1', 's2']],
      ['s4', 'writer', ['send_email'], ['s3']],
    ]);
    const summary = run.outputs.get('s3')?.text ?? '';
    expect(summary).toContain('# Analyze this CSV\n\n');
    expect(summary).toContain('SQL over **sales.csv** (sql_query): 6 rows; total units 27 (average 4.5); total revenue 4,230 (average 705).');
    expect(summary).toContain('- File `file-sales`: sales.csv');
    const mail = run.histories.get('s4')?.[0]?.decision;
    expect(mail?.type === 'tool_calls' && mail.calls).toEqual([
      { tool: 'send_email', args: { to: ['ops@example.com'], subject: 'Summary: sales.csv', text: summary.trim() } },
    ]);
    const answer = reportOf(run);
    expect(answer).toBe(`${summary.trim()}\n\n## Email\n\nSent to ops@example.com with send_email, subject "Summary: sales.csv", message id \`${MESSAGE_ID}\`.\n`);
  });

  it('completes with the summary and a not-sent line when the approval is rejected', async () => {
    const run = await seed({ sent: false, code: 'APPROVAL_REJECTED', message: 'send_email was not approved (bob rejected it: not today); it did not run' });
    const answer = reportOf(run);
    expect(answer).toContain('SQL over **sales.csv** (sql_query): 6 rows');
    expect(answer).toMatch(/## Email\n\nNot sent to ops@example\.com: rejected at approval: send_email was not approved \(bob rejected it: not today\); it did not run\.\n$/);
    expect(run.histories.get('s4')).toHaveLength(1);
  });

  it('without send_email, plans as before and the report says email is not configured', async () => {
    const run = await seed({ sent: true }, EMAIL_TOOLS.filter((t) => t.name !== 'send_email'));
    expect(run.plan.steps.map((s) => s.agent)).toEqual(['analyst', 'writer']);
    const answer = reportOf(run);
    expect(answer).toContain('**sales.csv** has 6 rows and 5 columns.');
    expect(answer).toMatch(
      /## Sources\n\n- File `file-sales`: sales\.csv\n\n## Email\n\nNot sent: the task asks for this to be emailed to ops@example\.com, but email is not configured on this service \(set SMTP_URL and AGENTIC_EMAIL_FROM to offer send_email\)\.\n$/,
    );
  });
});
