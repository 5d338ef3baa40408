/** Backpressure (429 with Retry-After past the backlog limit) and fairness between tenants. */
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedBrain } from '../src/brains/scripted.js';
import { startTestServer, waitForTask, type TestServer } from './support/server.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function brain(planMs: number, stepMs: number, steps = 1) {
  return new ScriptedBrain({
    latencyMs: (kind) => (kind === 'plan' ? planMs : stepMs),
    plan: () => ({
      rationale: 'r',
      steps: Array.from({ length: steps }, (_, i) => ({ id: `s${i}`, agent: 'analyst', title: 't', instruction: 'i', depends_on: [], tools: [] })),
    }),
    decide: () => ({ type: 'final', output: { text: 'ok', sources: [] } }),
  });
}

async function post(url: string, body: object, headers: Record<string, string> = {}) {
  return fetch(`${url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

describe('backpressure', () => {
  it('answers 429 with Retry-After once the backlog passes its limit, and accepts again when it drains', async () => {
    const s = await startTestServer({ brain: brain(1500, 0), config: { maxBacklog: 2, workerConcurrency: 1 } });
    servers.push(s);
    const accepted: string[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const res = await post(s.url, { input: `task ${i}` });
      if (res.status === 202) accepted.push(((await res.json()) as { id: string }).id);
      else refused = res;
    }
    expect(refused?.status).toBe(429);
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await refused!.json()) as { error: { code: string; details: { backlog: number; max_backlog: number } } };
    expect(body.error.code).toBe('RATE_LIMITED');
    expect(body.error.details.max_backlog).toBe(2);
    expect(accepted.length).toBeGreaterThanOrEqual(2);
    for (const id of accepted) expect(await waitForTask(s.app, id, 60_000)).toBe('completed');
    expect((await post(s.url, { input: 'after the drain' })).status).toBe(202);
  });
});

describe('fairness', () => {
  it('caps the steps a tenant runs at once, so another tenant is not starved', async () => {
    const s = await startTestServer({ brain: brain(0, 300, 3), config: { tenantMaxRunning: 1, workerConcurrency: 8, maxParallelSteps: 3 } });
    servers.push(s);
    const big = ((await (await post(s.url, { input: 'big' }, { 'x-act-as-tenant': 'greedy' })).json()) as { id: string }).id;
    await new Promise((r) => setTimeout(r, 100));
    const small = ((await (await post(s.url, { input: 'small' }, { 'x-act-as-tenant': 'modest' })).json()) as { id: string }).id;
    expect(await waitForTask(s.app, big)).toBe('completed');
    expect(await waitForTask(s.app, small)).toBe('completed');
    const greedy = await s.app.store.listSteps(big);
    const t = (iso: string | null) => Date.parse(iso!);
    // The greedy tenant never ran two steps at once, although its plan allowed three in parallel.
    const spans = greedy.map((st) => [t(st.started_at), t(st.completed_at)] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    // The other tenant's step ran before the greedy task had finished.
    const modest = await s.app.store.listSteps(small);
    expect(t(modest[0]!.started_at)).toBeLessThan(Math.max(...spans.map((x) => x[1])));
  });
});
