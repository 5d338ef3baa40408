import { describe, expect, it } from 'vitest';
import { AGENTS } from '../../agents/index.js';
import { ALL_TOOLS, PDF_FILE, SALES_FILE, descriptor } from './__fixtures__/fake-tools.js';
import { callsOf, expectWellFormed, planRequest } from './__fixtures__/harness.js';
import { buildPlan } from './planner.js';
import { SCHEMA_QUERY } from './sql-build.js';

function plan(input: string, options: Parameters<typeof planRequest>[1] = {}) {
  const request = planRequest(input, options);
  const proposal = buildPlan(request);
  expectWellFormed(proposal, request);
  return proposal;
}

const shape = (p: ReturnType<typeof plan>) => p.steps.map((s) => [s.id, s.agent, s.tools, s.depends_on]);

describe('research rule', () => {
  it('searches, extracts key points, then writes', () => {
    const p = plan('What do our documents say about vacation policy?');
    expect(shape(p)).toEqual([
      ['s1', 'researcher', ['knowledge_search'], []],
      ['s2', 'analyst', [], ['s1']],
      ['s3', 'writer', [], ['s1', 's2']],
    ]);
    expect(callsOf(p, 's1')).toEqual([{ tool: 'knowledge_search', args: { query: 'vacation policy', limit: 8 } }]);
    expect(p.rationale).toMatch(/^Research rule/);
  });

  it('searches again for listed sub-aspects in the analyst step', () => {
    const p = plan('What do our documents say about vacation and sick leave?');
    expect(callsOf(p, 's1')).toEqual([{ tool: 'knowledge_search', args: { query: 'vacation sick leave', limit: 8 } }]);
    expect(callsOf(p, 's2')).toEqual([
      { tool: 'knowledge_search', args: { query: 'vacation', limit: 3 } },
      { tool: 'knowledge_search', args: { query: 'sick leave', limit: 3 } },
    ]);
  });
});

describe('CSV rule', () => {
  it('profiles every attached CSV and plans grouping when the task says "by <column>"', () => {
    const p = plan('Analyze sales.csv by region', { files: [SALES_FILE, PDF_FILE] });
    expect(shape(p)).toEqual([
      ['s1', 'analyst', ['data_profile', 'calculator'], []],
      ['s2', 'writer', [], ['s1']],
    ]);
    expect(callsOf(p, 's1')).toEqual([{ tool: 'data_profile', args: { file_id: 'file-sales', top: 5, sample_rows: 3 } }]);
    expect(p.steps[0]?.params).toMatchObject({ kind: 'profile', group_hint: 'region' });
    expect(p.rationale).toMatch(/^CSV rule: sales\.csv is attached/);
  });

  it('fires on any task with a CSV by content type, without a group hint', () => {
    const file = { ...SALES_FILE, name: 'export', content_type: 'text/csv; charset=utf-8' };
    const p = plan('Tell me what is interesting here', { files: [file] });
    expect(p.steps[0]?.params).toMatchObject({ kind: 'profile', group_hint: null });
    expect(p.steps[0]?.tools).toEqual(['data_profile']);
  });
});

describe('compute rule', () => {
  it.each([
    ['What is 15% of 2400 plus 12?', '15 / 100 * 2400 + 12'],
    ['compute the average of 3, 5 and 10', 'mean(3, 5, 10)'],
    ['square root of 144', 'sqrt(144)'],
    ['2^10 - 24', '2 ^ 10 - 24'],
  ])('evaluates "%s" as %s, then writes', (input, expression) => {
    const p = plan(input);
    expect(shape(p)).toEqual([
      ['s1', 'analyst', ['calculator'], []],
      ['s2', 'writer', [], ['s1']],
    ]);
    expect(callsOf(p, 's1')).toEqual([{ tool: 'calculator', args: { expression } }]);
    expect(p.rationale).toMatch(/^Compute rule/);
  });
});

describe('compare rule', () => {
  it('runs two researchers in parallel, then an analyst, then the writer', () => {
    const p = plan('Compare PostgreSQL and Redis for caching');
    expect(shape(p)).toEqual([
      ['s1', 'researcher', ['knowledge_search'], []],
      ['s2', 'researcher', ['knowledge_search'], []],
      ['s3', 'analyst', [], ['s1', 's2']],
      ['s4', 'writer', [], ['s1', 's2', 's3']],
    ]);
    expect(callsOf(p, 's1')).toEqual([{ tool: 'knowledge_search', args: { query: 'PostgreSQL caching', limit: 6 } }]);
    expect(callsOf(p, 's2')).toEqual([{ tool: 'knowledge_search', args: { query: 'Redis caching', limit: 6 } }]);
    expect(p.steps[3]?.params).toMatchObject({ kind: 'report', style: 'comparison' });
  });

  it('reads "X vs Y" too', () => {
    const p = plan('Kafka vs RabbitMQ');
    expect(p.steps[2]?.params).toMatchObject({ kind: 'compare', subjects: ['Kafka', 'RabbitMQ'], aspect: '' });
  });

  it('drops the analyst, then merges the searches, as the budget shrinks', () => {
    expect(shape(plan('Compare PostgreSQL and Redis', { maxSteps: 3 }))).toEqual([
      ['s1', 'researcher', ['knowledge_search'], []],
      ['s2', 'researcher', ['knowledge_search'], []],
      ['s3', 'writer', [], ['s1', 's2']],
    ]);
    const two = plan('Compare PostgreSQL and Redis', { maxSteps: 2 });
    expect(shape(two)).toEqual([
      ['s1', 'researcher', ['knowledge_search'], []],
      ['s2', 'writer', [], ['s1']],
    ]);
    expect(callsOf(two, 's1')).toHaveLength(2);
  });
});

describe('summary rule', () => {
  it('gathers broadly, then writes an extractive summary', () => {
    const p = plan('Summarize our onboarding documents');
    expect(shape(p)).toEqual([
      ['s1', 'researcher', ['knowledge_search'], []],
      ['s2', 'writer', [], ['s1']],
    ]);
    expect(callsOf(p, 's1')).toEqual([{ tool: 'knowledge_search', args: { query: 'onboarding', limit: 10 } }]);
    expect(p.steps[1]?.params).toMatchObject({ kind: 'report', style: 'summary' });
  });
});

describe('fallback rule', () => {
  it('searches, then writes', () => {
    const p = plan('Draft a welcome note for new hires');
    expect(shape(p)).toEqual([
      ['s1', 'researcher', ['knowledge_search'], []],
      ['s2', 'writer', [], ['s1']],
    ]);
    expect(callsOf(p, 's1')).toEqual([{ tool: 'knowledge_search', args: { query: 'welcome note new hires', limit: 5 } }]);
    expect(p.rationale).toMatch(/^Fallback rule/);
  });
});

describe('mixed tasks', () => {
  it('adds a parallel compute step to a CSV analysis', () => {
    const p = plan('Analyze sales.csv by region and compute 15% of 2400', { files: [SALES_FILE] });
    expect(shape(p)).toEqual([
      ['s1', 'analyst', ['data_profile', 'calculator'], []],
      ['s2', 'analyst', ['calculator'], []],
      ['s3', 'writer', [], ['s1', 's2']],
    ]);
    expect(callsOf(p, 's2')).toEqual([{ tool: 'calculator', args: { expression: '15 / 100 * 2400' } }]);
    expect(p.rationale).toMatch(/computation/);
  });

  it('adds a parallel compute step to research and keeps at most six steps', () => {
    const p = plan('Compare PostgreSQL and Redis and what is 2^10 - 24?');
    expect(p.steps.map((s) => s.params?.['kind'])).toEqual(['search', 'search', 'compare', 'compute', 'report']);
    expect(p.steps[3]?.depends_on).toEqual([]);
  });
});

describe('constraints', () => {
  it('is deterministic', () => {
    const input = 'Analyze sales.csv per region and compute the average of 3, 5 and 10';
    expect(plan(input, { files: [SALES_FILE] })).toEqual(plan(input, { files: [SALES_FILE] }));
  });

  it('plans no call to a tool the registry lacks, and says so', () => {
    const p = plan('What is 15% of 2400?', { tools: [descriptor('knowledge_search')] });
    expect(p.steps[0]?.tools).toEqual([]);
    expect(callsOf(p, 's1')).toEqual([]);
    expect(p.rationale).toMatch(/`calculator` is not available/);
  });

  it('uses only the agents it is given', () => {
    const agents = AGENTS.filter((a) => a.name !== 'analyst' && a.name !== 'writer');
    const request = { ...planRequest('What is 15% of 2400?'), agents };
    const p = buildPlan(request);
    expectWellFormed(p, request);
    expect(p.steps.map((s) => s.agent)).toEqual(['coder', 'manager']);
    expect(callsOf(p, 's1')).toEqual([{ tool: 'calculator', args: { expression: '15 / 100 * 2400' } }]);
  });

  it('folds the plan into one reporting step under a budget of one', () => {
    const p = plan('Summarize our onboarding documents', { maxSteps: 1 });
    expect(p.steps).toHaveLength(1);
    expect(p.steps[0]?.params).toMatchObject({ kind: 'search', report_style: 'summary' });
  });

  it('ignores tools other than its own', () => {
    const p = plan('Research our travel policy', { tools: ALL_TOOLS });
    expect(p.steps.flatMap((s) => s.tools)).not.toContain('run_python');
  });
});

describe('email requests', () => {
  const SEED = 'Analyze this CSV and email the summary to ops@example.com';
  const withTools = (...names: string[]) => [...ALL_TOOLS, ...names.map(descriptor)];

  it('CSV: profile and SQL in parallel, the writer, then the email step reading the report', () => {
    const p = plan(SEED, { files: [SALES_FILE], tools: withTools('sql_query', 'send_email') });
    expect(shape(p)).toEqual([
      ['s1', 'analyst', ['data_profile'], []],
      ['s2', 'analyst', ['sql_query'], []],
      ['s3', 'writer', [], ['s1', 's2']],
      ['s4', 'writer', ['send_email'], ['s3']],
    ]);
    expect(callsOf(p, 's2')).toEqual([{ tool: 'sql_query', args: { query: SCHEMA_QUERY, files: ['file-sales'], max_rows: 1000 } }]);
    expect(p.steps[3]?.params).toEqual({ kind: 'email', to: ['ops@example.com'], cc: [], subject: 'Summary: sales.csv' });
    expect(p.rationale).toContain('another analyst queries it with sql_query');
    expect(p.rationale).toContain('Email: the task asks for the result to be sent to ops@example.com, so a last step sends');
  });

  it('groups the SQL too when the task says "by <column>"', () => {
    const p = plan('Analyze sales.csv by region and send it to ops@example.com', { files: [SALES_FILE], tools: withTools('sql_query', 'send_email') });
    expect(p.steps.map((s) => s.params?.['group_hint'])).toEqual(['region', 'region', undefined, undefined]);
  });

  it('without sql_query, keeps the profile alone and still sends', () => {
    const p = plan(SEED, { files: [SALES_FILE], tools: withTools('send_email') });
    expect(shape(p)).toEqual([
      ['s1', 'analyst', ['data_profile'], []],
      ['s2', 'writer', [], ['s1']],
      ['s3', 'writer', ['send_email'], ['s2']],
    ]);
  });

  it('without send_email, plans as before and has the report say email is not configured', () => {
    const p = plan(SEED, { files: [SALES_FILE], tools: withTools('sql_query') });
    expect(shape(p)).toEqual([
      ['s1', 'analyst', ['data_profile'], []],
      ['s2', 'writer', [], ['s1']],
    ]);
    expect(p.steps[1]?.params).toEqual({ kind: 'report', style: 'report', unsent_email: { to: ['ops@example.com'], reason: 'not_configured' } });
    expect(p.rationale).toContain('but `send_email` is not available (SMTP_URL is not set), so nothing is sent and the report says so.');
  });

  it('adds no SQL step to a CSV task that asks for no email', () => {
    const p = plan('Analyze sales.csv', { files: [SALES_FILE], tools: withTools('sql_query', 'send_email') });
    expect(shape(p)).toEqual([
      ['s1', 'analyst', ['data_profile'], []],
      ['s2', 'writer', [], ['s1']],
    ]);
    expect(p.steps[1]?.params).toEqual({ kind: 'report', style: 'report' });
  });

  it('emails the report of other kinds of task too, with the task as the subject', () => {
    const p = plan('Summarize our onboarding documents and email it to ops@example.com', { tools: withTools('send_email') });
    expect(shape(p)).toEqual([
      ['s1', 'researcher', ['knowledge_search'], []],
      ['s2', 'writer', [], ['s1']],
      ['s3', 'writer', ['send_email'], ['s2']],
    ]);
    expect(callsOf(p, 's1')).toEqual([{ tool: 'knowledge_search', args: { query: 'onboarding', limit: 10 } }]);
    expect(p.steps[2]?.params).toMatchObject({ subject: 'Summary: Summarize our onboarding documents' });
  });

  it('keeps the email step as the budget shrinks: SQL goes first, then the writer folds into the first step', () => {
    const tools = withTools('sql_query', 'send_email');
    expect(shape(plan(SEED, { files: [SALES_FILE], tools, maxSteps: 3 }))).toEqual([
      ['s1', 'analyst', ['data_profile'], []],
      ['s2', 'writer', [], ['s1']],
      ['s3', 'writer', ['send_email'], ['s2']],
    ]);
    const two = plan(SEED, { files: [SALES_FILE], tools, maxSteps: 2 });
    expect(shape(two)).toEqual([
      ['s1', 'analyst', ['data_profile'], []],
      ['s2', 'writer', ['send_email'], ['s1']],
    ]);
    expect(two.steps[0]?.params).toMatchObject({ kind: 'profile', report_style: 'report' });
  });

  it('under a budget of one, sends nothing and says why in the report', () => {
    const one = plan(SEED, { files: [SALES_FILE], tools: withTools('sql_query', 'send_email'), maxSteps: 1 });
    expect(one.steps).toHaveLength(1);
    expect(one.steps[0]?.params).toMatchObject({ kind: 'profile', report_style: 'report', unsent_email: { to: ['ops@example.com'], reason: 'no_step' } });
    expect(one.rationale).toContain('the step budget leaves no step to send it');
  });
});
