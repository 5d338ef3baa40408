/**
 * Quotas, rate limits and stream caps, against real in-process services: a tenant's unfinished tasks
 * and tasks per minute (checked under a tenant lock when a task is created), its model tokens per UTC
 * day (reserved before each model call), the operator's maxima of task options, the request rate of
 * a credential, the open streams of a tenant and of a credential, and the idle-connection timeout.
 * Every refusal is checked for its reason: the code, the quota it names and the figures it gives.
 */
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseModelSpec, type Config } from '../src/config/index.js';
import { actAs, makeKey, type TestKey } from './support/access.js';
import { call, expectError, wsCollect, wsUrl, type Answer, type Json } from './support/http.js';
import { fixture, startFakeModelServer, type FakeModelServer, type RecordedResponse } from './support/model-server.js';
import { startTestServer, waitForTask, type TestServer } from './support/server.js';
import { until } from './support/wait.js';
import { sleepTool } from './support/tools.js';
import { createBuiltinTools, createToolRegistry } from '../src/tools/index.js';
import type { ToolRegistry } from '../src/tools/registry.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates a task with the seed route: it stays pending, unstarted, and so counts as unfinished. */
function seed(base: string, headers: Record<string, string>, text = 'A task that waits'): Promise<Answer> {
  return call(base, '/tasks', { json: { task_description: text }, headers });
}

/** Asserts a 429 QUOTA_EXCEEDED naming `quota`, with a Retry-After header that agrees with the details. */
function expectQuota(answer: Answer<unknown>, quota: string): Json {
  const error = expectError(answer, 429, 'QUOTA_EXCEEDED');
  expect(error.details.quota).toBe(quota);
  const header = answer.headers.get('retry-after');
  expect(header, 'Retry-After header').toMatch(/^\d+$/);
  expect(Number(header)).toBe(Math.ceil(error.details.retry_after_s as number));
  return error.details;
}

/** The database under an in-process App (what the store uses); for sums the API does not give. */
function db(s: TestServer): { query<T = Json>(sql: string, params?: unknown[]): Promise<T[]> } {
  return (s.app.store as unknown as { db: { query<T = Json>(sql: string, params?: unknown[]): Promise<T[]> } }).db;
}

const servers: TestServer[] = [];
/** An in-process service with these settings, closed at the end of the describe block that started it. */
async function server(config: Partial<Config>, tools?: ToolRegistry): Promise<TestServer> {
  const s = await startTestServer({ config, tools });
  servers.push(s);
  return s;
}
async function closeServers(): Promise<void> {
  for (const s of servers.splice(0)) await s.close();
}

describe('AGENTIC_TENANT_MAX_TASKS: unfinished tasks per tenant', () => {
  afterAll(closeServers);
  let s: TestServer;
  beforeAll(async () => {
    s = await server({ tenantMaxTasks: 2 });
  });

  it('refuses the third unfinished task with 429 QUOTA_EXCEEDED max_tasks, limit 2, current 2 and Retry-After; nothing is created', async () => {
    const h = actAs('mt-one');
    expect((await seed(s.url, h)).status).toBe(200);
    expect((await seed(s.url, h)).status).toBe(200);
    const third = await seed(s.url, h);
    const details = expectQuota(third, 'max_tasks');
    expect(details).toMatchObject({ quota: 'max_tasks', tenant: 'mt-one', limit: 2, current: 2 });
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    // The refused creation left nothing behind: the tenant still has its two tasks, both pending.
    expect(await s.app.store.countTasks({ tenantId: 'mt-one' })).toBe(2);
    expect(await s.app.store.countTasks({ tenantId: 'mt-one', status: ['pending'] })).toBe(2);
    // The same limit through POST /v1/tasks.
    expectQuota(await call(s.url, '/v1/tasks', { json: { input: 'What is 2 + 2?' }, headers: h }), 'max_tasks');
    expect(await s.app.store.countTasks({ tenantId: 'mt-one' })).toBe(2);
  });

  it('admits exactly the limit out of 10 concurrent creations of a fresh tenant', async () => {
    const h = actAs('mt-race');
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => seed(s.url, h, `race ${i}`)));
    const admitted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    expect(admitted).toHaveLength(2);
    expect(refused).toHaveLength(8);
    for (const r of refused) expect(expectQuota(r, 'max_tasks')).toMatchObject({ limit: 2, current: 2 });
    expect(await s.app.store.countTasks({ tenantId: 'mt-race' })).toBe(2);
  });

  it('leaves other tenants unaffected while one is at its limit', async () => {
    const full = actAs('mt-full');
    await seed(s.url, full);
    await seed(s.url, full);
    expectQuota(await seed(s.url, full), 'max_tasks');
    const other = actAs('mt-other');
    expect((await seed(s.url, other)).status).toBe(200);
    expect((await seed(s.url, other)).status).toBe(200);
    // The local user's own tenant is another tenant too.
    expect((await seed(s.url, {})).status).toBe(200);
    // And the full one is still full.
    expectQuota(await seed(s.url, full), 'max_tasks');
  });

  it('admits a new task once one is cancelled, and only one', async () => {
    const h = actAs('mt-cancel');
    const first = await seed(s.url, h);
    await seed(s.url, h);
    expectQuota(await seed(s.url, h), 'max_tasks');
    const cancelled = await call(s.url, `/v1/tasks/${first.body.task_id as string}/cancel`, { method: 'POST', headers: h });
    expect(cancelled.status, cancelled.text).toBe(202);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await seed(s.url, h)).status).toBe(200);
    expectQuota(await seed(s.url, h), 'max_tasks');
    expect(await s.app.store.countTasks({ tenantId: 'mt-cancel', status: ['pending'] })).toBe(2);
  });

  it('answers an Idempotency-Key retry with its task even when the tenant is at its limit', async () => {
    const h = actAs('mt-idem');
    const body = { input: 'What is 6 * 7?' };
    const first = await call<{ id: string }>(s.url, '/v1/tasks', { json: body, headers: { ...h, 'idempotency-key': 'idem-1' } });
    expect(first.status, first.text).toBe(202);
    expect(await waitForTask(s.app, first.body.id)).toBe('completed');
    // Fill the tenant up to its limit with unfinished tasks.
    expect((await seed(s.url, h)).status).toBe(200);
    expect((await seed(s.url, h)).status).toBe(200);
    expectQuota(await call(s.url, '/v1/tasks', { json: body, headers: { ...h, 'idempotency-key': 'idem-2' } }), 'max_tasks');

    const retry = await call<{ id: string }>(s.url, '/v1/tasks', { json: body, headers: { ...h, 'idempotency-key': 'idem-1' } });
    expect(retry.status, retry.text).toBe(202);
    expect(retry.body.id).toBe(first.body.id);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    // The same key with another body is still a conflict, not a quota refusal.
    expectError(await call(s.url, '/v1/tasks', { json: { input: 'Something else' }, headers: { ...h, 'idempotency-key': 'idem-1' } }), 409, 'IDEMPOTENCY_CONFLICT');
    expect(await s.app.store.countTasks({ tenantId: 'mt-idem' })).toBe(3);
  });

  it('does not let an Idempotency-Key retry take the place of a new task arriving at the same moment', async () => {
    // Through the engine, as the routes call it: submissions of one turn of the event loop go into one
    // write batch, as concurrent requests do; here that is certain rather than left to timing.
    const base = { tenantId: 'mt-idem-race', input: 'A task that waits', files: [], options: {}, start: false };
    const first = await s.app.engine.submit({ ...base, idempotencyKey: 'same', requestHash: 'same-body' });
    // The tenant has 1 unfinished task of its 2. A retry of that one creates nothing, so the new one fits.
    const [retry, fresh] = await Promise.allSettled([
      s.app.engine.submit({ ...base, idempotencyKey: 'same', requestHash: 'same-body' }),
      s.app.engine.submit({ ...base, input: 'A new task' }),
    ]);
    expect(retry).toMatchObject({ status: 'fulfilled', value: { created: false, task: { id: first.task.id } } });
    const refusal = fresh.status === 'rejected' ? (fresh.reason as { code: string; details: Json }) : null;
    const tasks = await s.app.store.countTasks({ tenantId: 'mt-idem-race' });
    expect({ refusal: refusal && { code: refusal.code, details: refusal.details }, tasks }).toEqual({ refusal: null, tasks: 2 });
  });
});

describe('AGENTIC_TENANT_QUOTAS: per-tenant overrides', () => {
  afterAll(closeServers);
  let s: TestServer;
  beforeAll(async () => {
    s = await server({
      tenantMaxTasks: 2,
      tenantUsdPerDay: 3,
      tenantQuotas: { acme: { max_tasks: 1, tokens_per_day: 5000 }, bigco: { max_tasks: null, usd_per_day: null } },
    });
  });

  it('applies {"max_tasks": 1} to acme only', async () => {
    expect((await seed(s.url, actAs('acme'))).status).toBe(200);
    expect(expectQuota(await seed(s.url, actAs('acme')), 'max_tasks')).toMatchObject({ tenant: 'acme', limit: 1, current: 1 });
    // Another tenant keeps the service-wide limit of 2.
    const plain = actAs('plain');
    expect((await seed(s.url, plain)).status).toBe(200);
    expect((await seed(s.url, plain)).status).toBe(200);
    expect(expectQuota(await seed(s.url, plain), 'max_tasks')).toMatchObject({ tenant: 'plain', limit: 2 });
  });

  it('lifts the service-wide limit for a tenant with {"max_tasks": null}', async () => {
    const h = actAs('bigco');
    for (let i = 0; i < 5; i++) expect((await seed(s.url, h, `big ${i}`)).status).toBe(200);
    expect(await s.app.store.countTasks({ tenantId: 'bigco', status: ['pending'] })).toBe(5);
  });

  it('shows each tenant its own figures in GET /v1/quota', async () => {
    const acme = await call(s.url, '/v1/quota', { headers: actAs('acme') });
    expect(acme.status).toBe(200);
    expect(acme.body).toMatchObject({ tenant: 'acme', max_tasks: 1, tasks_per_minute: null, tokens_per_day: 5000, usd_per_day: 3 });
    const bigco = await call(s.url, '/v1/quota', { headers: actAs('bigco') });
    expect(bigco.body).toMatchObject({ tenant: 'bigco', max_tasks: null, tasks_per_minute: null, tokens_per_day: null, usd_per_day: null });
    const plain = await call(s.url, '/v1/quota', { headers: actAs('plain') });
    expect(plain.body).toMatchObject({ tenant: 'plain', max_tasks: 2, tasks_per_minute: null, tokens_per_day: null, usd_per_day: 3 });
    // Local mode: no request rate limit applies.
    expect(plain.body.requests_per_minute).toBeNull();
  });
});

describe('AGENTIC_TENANT_TASKS_PER_MINUTE', () => {
  afterAll(closeServers);
  let s: TestServer;
  beforeAll(async () => {
    s = await server({ tenantTasksPerMinute: 3 });
  });

  it('refuses the fourth creation within a minute with quota tasks_per_minute and a Retry-After of 1-60 s; cancelling does not help', async () => {
    const h = actAs('pm');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await seed(s.url, h, `per minute ${i}`);
      expect(a.status).toBe(200);
      ids.push(a.body.task_id as string);
    }
    const fourth = await seed(s.url, h);
    const details = expectQuota(fourth, 'tasks_per_minute');
    expect(details).toMatchObject({ tenant: 'pm', limit: 3, current: 3 });
    const retryAfter = Number(fourth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // The rate counts creations, not unfinished tasks.
    expect((await call(s.url, `/v1/tasks/${ids[0]!}/cancel`, { method: 'POST', headers: h })).status).toBe(202);
    expectQuota(await call(s.url, '/v1/tasks', { json: { input: 'What is 1 + 1?' }, headers: h }), 'tasks_per_minute');
    expect(await s.app.store.countTasks({ tenantId: 'pm' })).toBe(3);
    // Another tenant has its own count.
    for (let i = 0; i < 3; i++) expect((await seed(s.url, actAs('pm-other'))).status).toBe(200);
  });
});

describe('AGENTIC_TENANT_TOKENS_PER_DAY with a model brain', () => {
  let fake: FakeModelServer | undefined;
  let s: TestServer | undefined;
  afterEach(async () => {
    await s?.close();
    await fake?.close();
    s = fake = undefined;
  });

  // Reported usage of each call. The engine reserves each call's worst case before it is made (the
  // prompt estimated at 4 characters a token plus at least 600 tokens of framing, and the output
  // limit); a real provider's count stays within that, so the recorded responses do too: prompts
  // under the estimate, outputs under the shortest output limit the engine ever sends (32).
  const PLAN_USAGE = { input: 3000, output: 30 };
  const ANSWER_USAGE = { input: 550, output: 30 };
  const PER_TASK = PLAN_USAGE.input + PLAN_USAGE.output + ANSWER_USAGE.input + ANSWER_USAGE.output;
  const TOKENS_PER_DAY = 16_000;

  /** The planner's answer (Anthropic Messages): one writer step without tools. */
  function planResponse(): RecordedResponse {
    const r = structuredClone(fixture('anthropic/plan-one-step'));
    const body = r.body as { content: Array<{ text: string }>; usage: Json };
    body.content[0]!.text = JSON.stringify({
      rationale: 'One writer step answers.',
      steps: [{ id: 'answer', agent: 'writer', title: 'Answer', instruction: 'Answer the question in one sentence.', depends_on: [], success_criteria: ['An answer is given'], tools: [] }],
    });
    body.usage = { input_tokens: PLAN_USAGE.input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: PLAN_USAGE.output, service_tier: 'standard' };
    return r;
  }

  /** The writer's streamed answer (OpenAI Chat Completions). */
  function answerResponse(): RecordedResponse {
    const r = structuredClone(fixture('openai/compute-final'));
    const last = r.sse!.find((e) => typeof e.data === 'object' && (e.data as { usage: unknown }).usage)!;
    (last.data as { usage: Json }).usage = {
      prompt_tokens: ANSWER_USAGE.input,
      completion_tokens: ANSWER_USAGE.output,
      total_tokens: ANSWER_USAGE.input + ANSWER_USAGE.output,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    };
    return r;
  }

  /** Agents on openai:gpt-4.1-mini, the planner on anthropic:claude-sonnet-4-5, both at the local model server. */
  async function boot(config: Partial<Config>): Promise<{ fake: FakeModelServer; s: TestServer }> {
    fake = await startFakeModelServer();
    s = await startTestServer({
      config: {
        model: parseModelSpec('openai:gpt-4.1-mini')!,
        modelPlanner: parseModelSpec('anthropic:claude-sonnet-4-5')!,
        openaiApiKey: 'sk-test',
        openaiBaseUrl: fake.openaiBaseUrl,
        anthropicApiKey: 'sk-ant-test',
        anthropicBaseUrl: fake.anthropicBaseUrl,
        retryBaseMs: 1,
        retryCapMs: 5,
        ...config,
      },
    });
    return { fake, s };
  }

  async function tenantUsage(srv: TestServer, tenant: string): Promise<number> {
    const [row] = await db(srv).query<{ tokens: number }>('SELECT COALESCE(sum(input_tokens + output_tokens), 0)::int AS tokens FROM usage WHERE tenant_id = $1', [tenant]);
    return Number(row!.tokens);
  }

  async function held(srv: TestServer, tenant: string): Promise<number> {
    const [row] = await db(srv).query<{ tokens: number }>(
      `SELECT (SELECT COALESCE(sum(reserved_tokens), 0) FROM tasks WHERE tenant_id = $1)
            + (SELECT COALESCE(sum(reserved_tokens), 0) FROM steps WHERE tenant_id = $1) AS tokens`,
      [tenant],
    );
    return Number(row!.tokens);
  }

  it('never lets concurrent tasks of a tenant pass its daily tokens; the ones that cannot go on fail with QUOTA_EXCEEDED model_per_day; another tenant is unaffected', async () => {
    // A planning call's worst case is 3 x (its ~3,830-token prompt estimate + the 200-token output
    // limit), about 12,100 tokens: two fit in the day at once, a third does not. Even one after another
    // at most four tasks could plan (a plan needs ~11,600 free at least, and each task uses 3,610), so at
    // least one of the five must be refused, whatever the timing.
    const quota = 25_000;
    const { fake, s } = await boot({ tenantTokensPerDay: quota, modelMaxOutputTokens: 200 });
    fake.whenEmpty('anthropic', planResponse()).whenEmpty('openai', answerResponse());
    const h = actAs('tok');
    const TASKS = 5;
    expect(quota - 4 * PER_TASK).toBeLessThan(3 * 3800);
    // What the tenant uses and holds, sampled all along: it must never pass the quota.
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await tenantUsage(s, 'tok')) + (await held(s, 'tok')));
        await sleep(10);
      }
    })();
    const created = await Promise.all(
      Array.from({ length: TASKS }, (_, i) => call<{ id: string }>(s.url, '/v1/tasks', { json: { input: `Say hello, politely (${i})` }, headers: h })),
    );
    for (const c of created) expect(c.status, c.text).toBe(202);
    const ids = created.map((c) => c.body.id);
    try {
      await Promise.all(ids.map((id) => waitForTask(s.app, id, 60_000)));
    } finally {
      sampling = false;
      await sampler;
    }

    const tasks = await Promise.all(ids.map(async (id) => (await call(s.url, `/v1/tasks/${id}`, { headers: h })).body as Json & { status: string; error: Json | null; usage: Json }));
    const outcome = JSON.stringify(tasks.map((t) => [t.status, t.usage.model_calls, t.error?.code ?? null]));
    const completed = tasks.filter((t) => t.status === 'completed');
    const failed = tasks.filter((t) => t.status !== 'completed');
    expect(completed.length, outcome).toBeGreaterThanOrEqual(1);
    expect(failed.length, outcome).toBeGreaterThanOrEqual(1);
    for (const t of failed) {
      expect(t.status).toBe('failed');
      expect(t.error).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: 'model_per_day', tenant: 'tok', tokens_per_day: quota } });
      expect((t.error!.details as Json).used_tokens as number).toBeLessThanOrEqual(quota);
    }
    // Used and held together never passed the quota, though the calls held a lot at times.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(quota);

    // The tenant's usage today, from the usage rows and from the tasks' own figures, is within the quota.
    const used = await tenantUsage(s, 'tok');
    const fromTasks = tasks.reduce((sum, t) => sum + (t.usage.input_tokens as number) + (t.usage.output_tokens as number), 0);
    expect(fromTasks).toBe(used);
    expect(used).toBe(completed.length * PER_TASK + tasks.filter((t) => t.status === 'failed' && (t.usage.model_calls as number) > 0).reduce((sum, t) => sum + (t.usage.input_tokens as number) + (t.usage.output_tokens as number), 0));
    expect(used).toBeLessThanOrEqual(quota);
    // Every call made was recorded: none went out past the quota unaccounted.
    const calls = tasks.reduce((sum, t) => sum + (t.usage.model_calls as number), 0);
    expect(fake.requests).toHaveLength(calls);
    // The output limit sent shrank to what the day left when it ran low, never below the shortest answer.
    const limits = fake.requests.map((r) => Number(r.body.max_tokens ?? r.body.max_completion_tokens));
    expect(limits.every((l) => l >= 32 && l <= 200), JSON.stringify(limits)).toBe(true);
    // Nothing stays held once every task has ended.
    expect(await held(s, 'tok')).toBe(0);

    // Another tenant has its own day's quota.
    const other = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'Say hello (other tenant)' }, headers: actAs('tok-other') });
    expect(other.status).toBe(202);
    expect(await waitForTask(s.app, other.body.id, 60_000)).toBe('completed');
    expect(await tenantUsage(s, 'tok-other')).toBe(PER_TASK);
  });

  it.each([
    { phase: 'planning', route: 'anthropic' as const },
    { phase: 'a step', route: 'openai' as const },
  ])('a task cancelled while its model call for $phase is in flight gives back what the call held of the daily quota', async ({ route }) => {
    const { fake, s } = await boot({ tenantTokensPerDay: TOKENS_PER_DAY });
    // The first call on the route never answers (the provider stalls); later calls answer normally.
    fake.queue(route, { status: 200, headers: route === 'anthropic' ? { 'content-type': 'application/json' } : {}, sse: [], hang: true });
    fake.whenEmpty('anthropic', planResponse()).whenEmpty('openai', answerResponse());
    const h = actAs('tok-cancel');
    const stuck = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'Say hello (stuck)' }, headers: h });
    expect(stuck.status).toBe(202);
    await until(() => fake.received(route).length === 1, 30_000);
    // The call in flight holds its worst case against the tenant's day.
    await until(async () => (await held(s, 'tok-cancel')) > 0, 10_000);
    const cancelled = await call(s.url, `/v1/tasks/${stuck.body.id}/cancel`, { method: 'POST', headers: h });
    expect(cancelled.status).toBe(202);
    expect(await waitForTask(s.app, stuck.body.id)).toBe('cancelled');
    // The engine aborted the call.
    await until(() => fake.aborted === 1, 30_000);
    const usedBefore = await tenantUsage(s, 'tok-cancel');
    await sleep(500);
    // The aborted call settled nothing, so nothing may stay held: the task has ended.
    const stillHeld = await held(s, 'tok-cancel');
    // The day still has room for a whole task: 16,000 less what the plan used (0, or 3,030 when the
    // stuck call was a step's) leaves more than a planning call's shortest worst case (~11,600).
    expect(usedBefore).toBeLessThanOrEqual(PLAN_USAGE.input + PLAN_USAGE.output);
    const next = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'Say hello (after the cancel)' }, headers: h });
    const status = await waitForTask(s.app, next.body.id, 60_000);
    const task = (await call(s.url, `/v1/tasks/${next.body.id}`, { headers: h })).body;
    expect({ stillHeld, status, error: task.error }).toEqual({ stillHeld: 0, status: 'completed', error: null });
  });
});

describe('operator maxima of task options', () => {
  afterAll(closeServers);
  it('caps budget_usd, budget_tokens, timeout_ms and retry_attempts above the maxima; keeps what is within them', async () => {
    const s = await server({
      taskMaxBudgetUsd: 2,
      taskMaxBudgetTokens: 50_000,
      taskTimeoutMs: 30_000,
      taskMaxTimeoutMs: 120_000,
      maxRetryAttempts: 5,
      maxSteps: 8,
    });
    const over = { budget_usd: 100, budget_tokens: 5_000_000, timeout_ms: 3_600_000, retry_attempts: 20, max_steps: 50 };
    const created = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 2 + 2?', options: over } });
    expect(created.status, created.text).toBe(202);
    const task = (await call(s.url, `/v1/tasks/${created.body.id}`)).body;
    expect(task.options).toEqual({ budget_usd: 2, budget_tokens: 50_000, timeout_ms: 120_000, retry_attempts: 5, max_steps: 8 });
    // The deadline follows the capped timeout (the builtin brain plans at once).
    await waitForTask(s.app, created.body.id);
    const started = (await s.app.store.getTask(created.body.id))!;
    expect(Date.parse(started.deadline_at!) - Date.parse(started.started_at!)).toBe(120_000);

    const under = { budget_usd: 0.5, budget_tokens: 1000, timeout_ms: 5_000, retry_attempts: 2 };
    const kept = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 3 + 3?', options: under } });
    expect((await call(s.url, `/v1/tasks/${kept.body.id}`)).body.options).toEqual(under);
  });

  it('with AGENTIC_TASK_BUDGET_USD / _TOKENS and no maximum, a caller may lower the default budget but not raise it', async () => {
    const s = await server({ taskBudgetUsd: 1, taskBudgetTokens: 20_000 });
    const raise = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 2 + 2?', options: { budget_usd: 10, budget_tokens: 1_000_000 } } });
    expect(raise.status).toBe(202);
    expect((await call(s.url, `/v1/tasks/${raise.body.id}`)).body.options).toEqual({ budget_usd: 1, budget_tokens: 20_000 });
    const lower = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 2 + 2?', options: { budget_usd: 0.25, budget_tokens: 500 } } });
    expect((await call(s.url, `/v1/tasks/${lower.body.id}`)).body.options).toEqual({ budget_usd: 0.25, budget_tokens: 500 });
  });
});

describe('AGENTIC_RATE_LIMIT: requests per minute of a credential', () => {
  afterAll(closeServers);
  it('refuses the 6th request of a key within the minute with 429 RATE_LIMITED and the RateLimit headers; another key of the tenant and /health pass', async () => {
    const s = await server({ auth: 'required', rateLimit: 5 });
    const [a, b] = [await makeKey(s.app, 'rl', 'member'), await makeKey(s.app, 'rl', 'member')];
    const remaining: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ok = await call(s.url, '/v1/whoami', { headers: a.headers });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.headers.get('ratelimit-limit')).toBe('5');
      remaining.push(Number(ok.headers.get('ratelimit-remaining')));
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const sixth = await call(s.url, '/v1/whoami', { headers: a.headers });
    const error = expectError(sixth, 429, 'RATE_LIMITED');
    expect(error.details).toMatchObject({ limit: 5, window_s: 60 });
    const retryAfter = Number(sixth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(sixth.headers.get('ratelimit-limit')).toBe('5');
    expect(sixth.headers.get('ratelimit-remaining')).toBe('0');
    const reset = Number(sixth.headers.get('ratelimit-reset'));
    expect(reset).toBeGreaterThanOrEqual(1);
    expect(reset).toBeLessThanOrEqual(60);
    // Refused requests do nothing: a creation over the limit creates no task.
    expectError(await seed(s.url, a.headers), 429, 'RATE_LIMITED');
    expect(await s.app.store.countTasks({ tenantId: 'rl' })).toBe(0);

    // The count is per credential: the tenant's other key has its own.
    const other = await call(s.url, '/v1/whoami', { headers: b.headers });
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit-remaining')).toBe('4');
    // Health is never limited, nor counted.
    for (let i = 0; i < 12; i++) expect((await call(s.url, '/health')).status).toBe(200);
    expectError(await call(s.url, '/v1/whoami', { headers: a.headers }), 429, 'RATE_LIMITED');
    // GET /v1/quota tells the limit.
    expect((await call(s.url, '/v1/quota', { headers: b.headers })).body).toMatchObject({ tenant: 'rl', requests_per_minute: 5 });
  });

  it('does not apply in local mode: more than rateLimit requests pass', async () => {
    const s = await server({ rateLimit: 5 });
    expect((await call(s.url, '/health')).body).toMatchObject({ auth: { mode: 'local' } });
    for (let i = 0; i < 12; i++) {
      const r = await call(s.url, '/v1/whoami');
      expect(r.status).toBe(200);
      expect(r.headers.get('ratelimit-limit')).toBeNull();
    }
  });
});

/** An open SSE stream, or the refusal. */
interface OpenStream {
  status: number;
  /** The refusal's body (empty for an open stream). */
  answer: Answer;
  close(): void;
}

async function openSse(base: string, path: string, headers: Record<string, string>): Promise<OpenStream> {
  const controller = new AbortController();
  const res = await fetch(`${base}${path}`, { headers, signal: controller.signal });
  if (res.status !== 200) {
    const text = await res.text();
    return { status: res.status, answer: { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Json }, close: () => undefined };
  }
  const reader = res.body!.getReader();
  // The stream begins at once (the retry line and the backlog): it is open, and counted.
  const first = await reader.read();
  expect(first.done).toBe(false);
  // Keep reading in the background so that the server never waits on a full buffer.
  void (async () => {
    for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) return;
  })();
  return { status: 200, answer: { status: 200, headers: res.headers, text: '', body: {} }, close: () => controller.abort() };
}

describe('stream caps (authenticated mode)', () => {
  afterAll(closeServers);
  let s: TestServer;
  const open: OpenStream[] = [];
  beforeAll(async () => {
    s = await server({ auth: 'required', maxStreamsPerCredential: 2, maxStreamsPerTenant: 3 });
  });
  afterEach(() => {
    for (const st of open.splice(0)) st.close();
  });
  const keep = (st: OpenStream) => {
    open.push(st);
    return st;
  };
  /** A tenant of its own (the caps count per tenant), and a seed-created task, never started, whose streams stay open. */
  async function tenant(name: string): Promise<{ member: TestKey; task: string }> {
    const member = await makeKey(s.app, name, 'member');
    const created = await seed(s.url, member.headers);
    expect(created.status).toBe(200);
    return { member, task: created.body.task_id as string };
  }
  /** Opens a stream, retrying while it is refused with STREAM_LIMIT (a closed stream's slot is freed once the server sees the client go). */
  async function openWhenFree(path: string, key: TestKey): Promise<OpenStream> {
    let st: OpenStream | undefined;
    await until(async () => {
      st = await openSse(s.url, path, key.headers);
      if (st.status !== 200) expectError(st.answer, 429, 'STREAM_LIMIT');
      return st.status === 200;
    }, 20_000);
    return keep(st!);
  }

  it('refuses a third stream of one key with 429 STREAM_LIMIT (credential); another key of the tenant opens one; closing a stream frees its slot', async () => {
    const { task } = await tenant('st-cred');
    const [a, b] = [await makeKey(s.app, 'st-cred', 'viewer'), await makeKey(s.app, 'st-cred', 'viewer')];
    const path = `/v1/tasks/${task}/events`;
    const first = keep(await openSse(s.url, path, a.headers));
    expect(first.status).toBe(200);
    expect(keep(await openSse(s.url, `/v1/tasks/${task}/stream`, a.headers)).status).toBe(200);
    const third = await openSse(s.url, path, a.headers);
    const error = expectError(third.answer, 429, 'STREAM_LIMIT');
    expect(error.details).toMatchObject({ scope: 'credential', limit: 2 });
    expect(third.answer.headers.get('retry-after')).toBe('1');
    // The tenant has 2 of its 3: the other key gets one.
    expect(keep(await openSse(s.url, path, b.headers)).status).toBe(200);
    // Closing one of a's streams frees its slot.
    first.close();
    await openWhenFree(path, a);
  });

  it('refuses a stream beyond the tenant cap across keys with STREAM_LIMIT (tenant); another tenant is unaffected', async () => {
    const { member, task } = await tenant('st-tenant');
    const keys = [await makeKey(s.app, 'st-tenant', 'viewer'), await makeKey(s.app, 'st-tenant', 'viewer'), await makeKey(s.app, 'st-tenant', 'viewer')];
    const path = `/v1/tasks/${task}/events`;
    const firsts = [];
    for (const k of keys) firsts.push(keep(await openSse(s.url, path, k.headers)));
    expect(firsts.map((st) => st.status)).toEqual([200, 200, 200]);
    // A key with no stream of its own is refused: the tenant has its 3.
    const fourth = await openSse(s.url, path, member.headers);
    expect(expectError(fourth.answer, 429, 'STREAM_LIMIT').details).toMatchObject({ scope: 'tenant', limit: 3 });
    // Another tenant's streams are counted apart.
    const other = await tenant('st-tenant-other');
    expect(keep(await openSse(s.url, `/v1/tasks/${other.task}/events`, other.member.headers)).status).toBe(200);
    // Once one closes, the tenant may open another.
    firsts[0]!.close();
    await openWhenFree(path, member);
  });

  it('counts WebSockets too, and closes one beyond the cap with 4429', async () => {
    const { task } = await tenant('st-ws');
    const a = await makeKey(s.app, 'st-ws', 'viewer');
    const path = `/v1/tasks/${task}/ws`;
    // One WebSocket held open (it has sent the backlog), and one SSE stream: the key's two.
    const socket = new WebSocket(wsUrl(s.url, path), { headers: a.headers });
    await new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve());
      socket.once('close', (code) => reject(new Error(`closed with ${code}`)));
      socket.once('error', reject);
    });
    try {
      expect(keep(await openSse(s.url, `/v1/tasks/${task}/events`, a.headers)).status).toBe(200);
      const refused = await openSse(s.url, `/v1/tasks/${task}/events`, a.headers);
      expect(expectError(refused.answer, 429, 'STREAM_LIMIT').details).toMatchObject({ scope: 'credential' });
      const session = await wsCollect(wsUrl(s.url, path), a.headers);
      expect(session.code).toBe(4429);
      expect(session.reason).toBe('STREAM_LIMIT');
      expect(session.messages).toEqual([{ error: expect.objectContaining({ code: 'STREAM_LIMIT', details: expect.objectContaining({ scope: 'credential', limit: 2 }) }) }]);
    } finally {
      socket.close();
    }
  });
});

describe('AGENTIC_IDLE_TIMEOUT_MS', () => {
  afterAll(closeServers);
  let s: TestServer;
  beforeAll(async () => {
    s = await server({ idleTimeoutMs: 1000, heartbeatMs: 200 }, createToolRegistry([...createBuiltinTools(), sleepTool({ aborted: 0 })]));
  });

  it('does not cut a request that takes longer than the idle timeout to answer, and keeps its connection for the next one', async () => {
    const started = Date.now();
    const slow = await call(s.url, '/v1/tools/sleep/invoke', { json: { args: { ms: 2500 } } });
    expect(slow.status, slow.text).toBe(200);
    expect(slow.body).toMatchObject({ ok: true, result: { slept: 2500 } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    expect((await call(s.url, '/v1/tools/sleep/invoke', { json: { args: { ms: 1500 } } })).status).toBe(200);
  });

  it('closes a TCP connection that sends nothing within a few seconds', async () => {
    const { port } = new URL(s.url);
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      const guard = setTimeout(() => {
        socket.destroy();
        reject(new Error('the idle connection was still open after 15 s'));
      }, 15_000);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(guard);
        resolve(Date.now() - started);
      });
    });
    // Not at once (it was accepted), and well within the guard.
    expect(closedAfter).toBeGreaterThanOrEqual(500);
    expect(closedAfter).toBeLessThan(15_000);
  });

  it('keeps an SSE stream of an unfinished task open past the idle timeout with heartbeats', async () => {
    const created = await seed(s.url, {});
    const controller = new AbortController();
    const res = await fetch(`${s.url}/v1/tasks/${created.body.task_id as string}/events`, { signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let ended = false;
    const reading = (async () => {
      for (;;) {
        const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (chunk.done) return void (ended = !controller.signal.aborted);
        text += decoder.decode(chunk.value, { stream: true });
      }
    })();
    await sleep(3000);
    expect(ended).toBe(false);
    const beats = text.split(': heartbeat\n\n').length - 1;
    // Every 200 ms while idle: many in 3 s (a busy machine may send fewer than 15).
    expect(beats).toBeGreaterThanOrEqual(4);
    // Still flowing at the end.
    const before = text.length;
    await until(() => text.length > before, 10_000);
    expect(ended).toBe(false);
    controller.abort();
    await reading;
  });
});
