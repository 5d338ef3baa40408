/**
 * The built-in brain end to end: different tasks get different plans, driven through the real
 * engine, store and tools, and the writer's report cites the documents and data it used.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_NOTICE } from '../src/brains/builtin/index.js';
import { startTestServer, waitForTask, type TestServer } from './support/server.js';

let s: TestServer;
const docs: Record<string, string> = {};

beforeAll(async () => {
  s = await startTestServer();
  const add = async (title: string, content: string) => {
    const res = await fetch(`${s.url}/v1/documents`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title, content }) });
    docs[title] = ((await res.json()) as { id: string }).id;
  };
  await add('PostgreSQL notes', 'PostgreSQL is a relational database with transactions, indexes and full-text search. It stores data durably on disk.');
  await add('Redis notes', 'Redis is an in-memory data store used for caching, queues and pub/sub. Data lives in memory and persistence is optional.');
  await add('Onboarding guide', 'New employees get a laptop on day one. The onboarding buddy explains the tools. Security training is due in the first week.\n\nEvery new hire meets their manager on day two.');
});
afterAll(async () => {
  await s?.close();
});

async function runTask(input: string, files: string[] = []) {
  const res = await fetch(`${s.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input, files }) });
  const { id } = (await res.json()) as { id: string };
  expect(await waitForTask(s.app, id)).toBe('completed');
  const task = (await (await fetch(`${s.url}/v1/tasks/${id}`)).json()) as {
    final_output: string;
    steps: Array<{ id: string; agent: string; depends_on: string[]; tools: string[] }>;
  };
  const calls = await s.app.store.listToolCalls(id);
  return { task, calls, tools: [...new Set(calls.map((c) => c.tool))].sort() };
}

describe('built-in brain', () => {
  it('research from the documents: search, key points, report citing the document', async () => {
    const { task, tools } = await runTask('What do our documents say about onboarding security training?');
    expect(task.steps.map((st) => st.agent)).toEqual(['researcher', 'analyst', 'writer']);
    expect(tools).toContain('knowledge_search');
    expect(task.final_output).toContain(BUILTIN_NOTICE);
    expect(task.final_output).toContain('Security training is due in the first week');
    expect(task.final_output).toContain(docs['Onboarding guide']);
  });

  it('analyse an attached CSV: profile and group by a column, with the real figures', async () => {
    const form = new FormData();
    form.append('file', new Blob(['region,units,revenue\nnorth,5,100.5\nsouth,7,80\nnorth,3,19.5\n'], { type: 'text/csv' }), 'sales.csv');
    const file = (await (await fetch(`${s.url}/v1/files`, { method: 'POST', body: form })).json()) as { id: string };
    const { task, calls } = await runTask('Analyze sales.csv by region', [file.id]);
    expect(task.steps[0]?.agent).toBe('analyst');
    expect(task.steps.at(-1)?.agent).toBe('writer');
    const profiles = calls.filter((c) => c.tool === 'data_profile');
    expect(profiles.some((c) => (c.args as { group_by?: string }).group_by === 'region')).toBe(true);
    expect(task.final_output).toContain('sales.csv');
    expect(task.final_output).toContain('north');
    expect(task.final_output).toMatch(/120(\.0+)?/); // revenue of north: 100.5 + 19.5
    expect(task.final_output).toContain(file.id);
  });

  it('compute a quantity with the calculator', async () => {
    const { task, calls } = await runTask('What is 15% of 2400 plus 12?');
    expect(calls.map((c) => c.tool)).toEqual(['calculator']);
    expect(calls[0]?.result).toMatchObject({ result: 372 });
    expect(task.final_output).toContain('372');
  });

  it('compare two things: two searches in parallel, a comparison, a side-by-side report', async () => {
    const { task } = await runTask('Compare PostgreSQL and Redis for caching');
    const researchers = task.steps.filter((st) => st.agent === 'researcher');
    expect(researchers).toHaveLength(2);
    for (const r of researchers) expect(r.depends_on).toEqual([]);
    expect(task.steps.some((st) => st.agent === 'analyst')).toBe(true);
    expect(task.final_output).toContain('PostgreSQL');
    expect(task.final_output).toContain('Redis');
    expect(task.final_output).toContain('|');
    expect(task.final_output).toContain(docs['Redis notes']);
  });

  it('write a summary of the documents', async () => {
    const { task, calls } = await runTask('Summarize our onboarding documents');
    expect(task.steps.map((st) => st.agent)).toEqual(['researcher', 'writer']);
    expect((calls[0]?.args as { limit?: number }).limit).toBe(10);
    expect(task.final_output).toContain('laptop');
    expect(task.final_output).toContain(docs['Onboarding guide']);
  });

  it('gives different plans to different kinds of task', async () => {
    const shapes = new Set<string>();
    for (const input of ['Research Redis persistence', 'What is 2^10 - 24?', 'Compare PostgreSQL vs Redis', 'Summarize the Redis notes']) {
      const { task } = await runTask(input);
      shapes.add(task.steps.map((st) => `${st.agent}:${st.tools.join('+')}`).join(' > '));
    }
    expect(shapes.size).toBe(4);
  });
});
