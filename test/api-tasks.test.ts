/**
 * The /v1 task API over real HTTP: creation (aliases, options, files, idempotency), listing and
 * pagination, the task view, cancel, metrics, the three event transports and tenancy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  expectError,
  expectFinishedLog,
  ndjsonLines,
  sseFrames,
  upload,
  wsCollect,
  wsUrl,
  type Json,
} from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
let base: string;

beforeAll(async () => {
  server = await startTestServer();
  base = server.url;
});

afterAll(async () => {
  await server?.close();
});

interface Created {
  id: string;
  status: string;
  created_at: string;
  links: Record<string, string>;
}

/** Creates a task through POST /v1/tasks and returns its id. */
async function createTask(body: Json, headers: Record<string, string> = {}): Promise<string> {
  const res = await call<Created>(base, '/v1/tasks', { json: body, headers });
  expect(res.status, res.text).toBe(202);
  return res.body.id;
}

/** Follows the task's NDJSON stream to its end (the terminal event) and returns the whole log. */
async function finish(id: string, headers: Record<string, string> = {}): Promise<Json[]> {
  const res = await call(base, `/v1/tasks/${id}/events?format=ndjson`, { headers });
  expect(res.status).toBe(200);
  return ndjsonLines(res.text);
}

/** Creates a task that waits (seed POST /tasks): it stays pending until executed or cancelled. */
async function createPending(description: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await call<{ task_id: string }>(base, '/tasks', { json: { task_description: description }, headers });
  expect(res.status).toBe(200);
  return res.body.task_id;
}

const DOC = {
  title: 'Heron field guide',
  content:
    'Grey herons nest in colonies called heronries. A heron swallows fish whole after spearing them. Herons fly with their necks retracted.',
};

describe('POST /v1/tasks', () => {
  it('answers 202 with id, status, created_at and links, and a Location header', async () => {
    const res = await call<Created>(base, '/v1/tasks', { json: { input: 'What is 12 * 7?' } });
    expect(res.status).toBe(202);
    expect(Object.keys(res.body).sort()).toEqual(['created_at', 'id', 'links', 'status']);
    const { id } = res.body;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.status).toBe('pending');
    expect(Number.isNaN(Date.parse(res.body.created_at))).toBe(false);
    expect(res.body.links).toEqual({
      self: `/v1/tasks/${id}`,
      events: `/v1/tasks/${id}/events`,
      websocket: `/v1/tasks/${id}/ws`,
      cancel: `/v1/tasks/${id}/cancel`,
      metrics: `/v1/tasks/${id}/metrics`,
    });
    expect(res.headers.get('location')).toBe(`/v1/tasks/${id}`);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    const events = await finish(id);
    expect(events.at(-1)!.type).toBe('task_completed');
    expect((events.at(-1)!.data as { final_output: string }).final_output).toContain('84');
  });

  it.each([['input'], ['input_query'], ['task_description']])('takes the task in %s', async (field) => {
    const text = `What is 3 + ${field.length}?`;
    const id = await createTask({ [field]: text });
    const view = await call(base, `/v1/tasks/${id}`);
    expect(view.status).toBe(200);
    expect(view.body.input).toBe(text);
    await finish(id);
  });

  it('stores the options it was given', async () => {
    const options = { max_steps: 10, max_iterations: 5, max_parallel_steps: 2, timeout_ms: 120_000, retry_attempts: 2 };
    const id = await createTask({ input: 'What is 5 + 6?', options });
    await finish(id);
    const view = await call(base, `/v1/tasks/${id}`);
    expect(view.body.options).toEqual(options);
    expect(view.body.status).toBe('completed');
    const started = Date.parse(view.body.started_at as string);
    expect(Date.parse(view.body.deadline_at as string) - started).toBe(120_000);
  });

  it('refuses a task given in two fields, or in none', async () => {
    const two = expectError(await call(base, '/v1/tasks', { json: { input: 'a', input_query: 'b' } }), 400, 'VALIDATION_ERROR');
    expect(two.details.issues).toEqual([{ path: 'body', message: 'give the task in exactly one of input, input_query or task_description' }]);
    expectError(await call(base, '/v1/tasks', { json: { input: 'a', task_description: 'b' } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/tasks', { json: { options: {} } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/tasks', { json: { input: '   ' } }), 400, 'VALIDATION_ERROR');
  });

  it('attaches uploaded files and refuses unknown ones with 404 FILE_NOT_FOUND', async () => {
    const file = await upload(base, 'fruit.csv', 'fruit,kg\napple,4\npear,6\napple,5\n', 'text/csv');
    expect(file.status).toBe(201);
    const fileId = file.body.id as string;
    const id = await createTask({ input: 'Total kg by fruit', files: [fileId] });
    const events = await finish(id);
    expect(events.at(-1)!.type).toBe('task_completed');
    const view = await call(base, `/v1/tasks/${id}`);
    expect(view.body.files).toEqual([fileId]);
    // apple 4 + 5 = 9, pear 6: the profile of the real file.
    expect(view.body.final_output).toMatch(/apple[^\n]*\b9\b/);

    const missing = expectError(await call(base, '/v1/tasks', { json: { input: 'Profile it', files: [fileId, 'no-such-file'] } }), 404, 'FILE_NOT_FOUND');
    expect(missing.details).toEqual({ file_id: 'no-such-file' });
  });
});

describe('Idempotency-Key', () => {
  it('replays the same task for the same key and body, and refuses a different body with 409', async () => {
    const key = `key-${Date.now()}`;
    const body = { input: 'What is 40 + 2?', options: { retry_attempts: 2 } };
    const first = await call<Created>(base, '/v1/tasks', { json: body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const again = await call<Created>(base, '/v1/tasks', { json: body, headers: { 'idempotency-key': key } });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');

    // The alias with the same text is the same request.
    const alias = await call<Created>(base, '/v1/tasks', { json: { input_query: body.input, options: body.options }, headers: { 'idempotency-key': key } });
    expect(alias.body.id).toBe(first.body.id);

    const conflict = expectError(
      await call(base, '/v1/tasks', { json: { input: 'What is 40 + 3?' }, headers: { 'idempotency-key': key } }),
      409,
      'IDEMPOTENCY_CONFLICT',
    );
    expect(conflict.details.task_id).toBe(first.body.id);

    // Keys belong to a tenant: another tenant with the same key gets its own task.
    const other = await call<Created>(base, '/v1/tasks', { json: body, headers: { 'idempotency-key': key, 'x-act-as-tenant': 'idem-other' } });
    expect(other.status).toBe(202);
    expect(other.body.id).not.toBe(first.body.id);
    expect(other.headers.get('idempotent-replayed')).toBeNull();

    const events = await finish(first.body.id);
    expect(events.filter((e) => e.type === 'task_created')).toHaveLength(1);
    await finish(other.body.id, { 'x-act-as-tenant': 'idem-other' });
  });

  it('refuses a key that is not 1-255 visible ASCII characters', async () => {
    expectError(await call(base, '/v1/tasks', { json: { input: 'x' }, headers: { 'idempotency-key': 'has space' } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/tasks', { json: { input: 'x' }, headers: { 'idempotency-key': 'k'.repeat(256) } }), 400, 'VALIDATION_ERROR');
  });
});

describe('GET /v1/tasks', () => {
  const tenant = { 'x-act-as-tenant': 'lister' };
  const pending: string[] = [];
  const completed: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 5; i++) pending.push(await createPending(`Pending task ${i}`, tenant));
    for (let i = 0; i < 2; i++) {
      const id = await createTask({ input: `What is ${i} + 1?` }, tenant);
      await finish(id, tenant);
      completed.push(id);
    }
  });

  it('lists the tenant\'s tasks newest first, with their summary fields', async () => {
    const res = await call<{ items: Json[]; next_cursor: string | null }>(base, '/v1/tasks?limit=100', { headers: tenant });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'next_cursor']);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.items.map((t) => t.id)).toEqual([...completed].reverse().concat([...pending].reverse()));
    for (const item of res.body.items) {
      expect(Object.keys(item).sort()).toEqual(['completed_at', 'created_at', 'error', 'id', 'input', 'links', 'started_at', 'status']);
    }
    const created = res.body.items.map((t) => Date.parse(t.created_at as string));
    expect(created).toEqual([...created].sort((a, b) => b - a));
  });

  it('filters by one status or a comma-separated list', async () => {
    const onlyPending = await call<{ items: Json[] }>(base, '/v1/tasks?status=pending', { headers: tenant });
    expect(onlyPending.body.items.map((t) => t.id).sort()).toEqual([...pending].sort());
    expect(onlyPending.body.items.every((t) => t.status === 'pending')).toBe(true);

    const onlyCompleted = await call<{ items: Json[] }>(base, '/v1/tasks?status=completed', { headers: tenant });
    expect(onlyCompleted.body.items.map((t) => t.id).sort()).toEqual([...completed].sort());

    const both = await call<{ items: Json[] }>(base, '/v1/tasks?status=pending,completed', { headers: tenant });
    expect(both.body.items).toHaveLength(7);
    const none = await call<{ items: Json[] }>(base, '/v1/tasks?status=failed,cancelled', { headers: tenant });
    expect(none.body.items).toEqual([]);

    const bad = expectError(await call(base, '/v1/tasks?status=pending,sleeping', { headers: tenant }), 400, 'VALIDATION_ERROR');
    expect((bad.details.issues as Array<{ path: string }>)[0]!.path).toBe('query.status.1');
  });

  it('walks every page with the cursor, each task once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const res = await call<{ items: Json[]; next_cursor: string | null }>(base, `/v1/tasks${query}`, { headers: tenant });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((t) => t.id as string));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(4);
    expect(seen).toEqual([...completed].reverse().concat([...pending].reverse()));
  });

  // Rows within one millisecond: the cursor must keep created_at at full precision or it skips one.
  it('walks tasks created within the same millisecond without skipping any', async () => {
    const headers = { 'x-act-as-tenant': 'same-ms' };
    const older = await createPending('older', headers);
    const newer = await createPending('newer', headers);
    const db = (server.app.store as unknown as { db: { query(sql: string, params: unknown[]): Promise<unknown> } }).db;
    await db.query(`UPDATE tasks SET created_at = '2030-01-01T00:00:00.123400Z' WHERE id = $1`, [older]);
    await db.query(`UPDATE tasks SET created_at = '2030-01-01T00:00:00.123700Z' WHERE id = $1`, [newer]);
    const first = await call<{ items: Json[]; next_cursor: string }>(base, '/v1/tasks?limit=1', { headers });
    expect(first.body.items.map((t) => t.id)).toEqual([newer]);
    const second = await call<{ items: Json[] }>(base, `/v1/tasks?limit=1&cursor=${first.body.next_cursor}`, { headers });
    expect(second.body.items.map((t) => t.id)).toEqual([older]);
  });

  it('keeps limit within 1..100 and refuses a cursor it did not issue', async () => {
    expect((await call<{ items: Json[] }>(base, '/v1/tasks?limit=1', { headers: tenant })).body.items).toHaveLength(1);
    expect((await call(base, '/v1/tasks?limit=100', { headers: tenant })).status).toBe(200);
    expectError(await call(base, '/v1/tasks?limit=101'), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/tasks?limit=0'), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/tasks?limit=2.5'), 400, 'VALIDATION_ERROR');
    const bad = expectError(await call(base, '/v1/tasks?cursor=not-a-cursor'), 400, 'VALIDATION_ERROR');
    expect(bad.details).toEqual({ cursor: 'not-a-cursor' });
  });
});

describe('GET /v1/tasks/{id}', () => {
  let id: string;

  beforeAll(async () => {
    const doc = await call(base, '/v1/documents', { json: DOC });
    expect(doc.status).toBe(201);
    id = await createTask({ input: 'What do our documents say about herons?' });
    await finish(id);
  });

  it('shows the plan, the steps with attempts, outputs and timings, the final output and usage', async () => {
    const res = await call(base, `/v1/tasks/${id}`);
    expect(res.status).toBe(200);
    const t = res.body as Json & { plan: Json; steps: Json[]; usage: Json };
    expect(Object.keys(t).sort()).toEqual(
      [
        'brain', 'completed_at', 'created_at', 'created_by', 'deadline_at', 'duration_ms', 'error', 'files', 'final_output', 'id', 'input',
        'last_event_seq', 'links', 'options', 'plan', 'plans', 'queued_at', 'started_at', 'status', 'steps', 'updated_at', 'usage',
      ].sort(),
    );
    expect(t.status).toBe('completed');
    expect(t.brain).toBe('builtin');
    expect(t.created_by).toEqual({ id: 'local', name: null, roles: ['admin'] });
    expect(t.error).toBeNull();
    expect(t.final_output).toContain('Grey herons nest in colonies called heronries.');
    expect(typeof t.duration_ms).toBe('number');

    expect(Object.keys(t.plan).sort()).toEqual(['brain', 'created_at', 'rationale', 'reason', 'steps', 'version']);
    expect(t.plan.version).toBe(1);
    expect(t.plan.reason).toBeNull();
    expect(t.plans).toEqual([t.plan]);
    expect(t.plan.brain).toBe('builtin');
    expect(t.plan.steps).toEqual(t.steps.map((s) => s.id));
    expect(t.steps.length).toBeGreaterThanOrEqual(2);

    for (const step of t.steps) {
      expect(Object.keys(step).sort()).toEqual(
        ['agent', 'attempts', 'completed_at', 'depends_on', 'duration_ms', 'error', 'id', 'instruction', 'iterations', 'output', 'parent_id', 'plan_version', 'ready_at', 'started_at', 'status', 'title', 'tools'].sort(),
      );
      expect(step).toMatchObject({ plan_version: 1, parent_id: null });
      expect(step.status).toBe('completed');
      expect(step.attempts).toBe(1);
      expect(step.iterations as number).toBeGreaterThanOrEqual(1);
      expect(step.error).toBeNull();
      expect(typeof (step.output as { text: string }).text).toBe('string');
      expect(Date.parse(step.completed_at as string)).toBeGreaterThanOrEqual(Date.parse(step.started_at as string));
      expect(step.duration_ms).toBe(Date.parse(step.completed_at as string) - Date.parse(step.started_at as string));
    }
    const search = t.steps.find((s) => (s.tools as string[]).includes('knowledge_search'));
    expect(search, 'a step searched the documents').toBeDefined();
    expect((search!.output as { text: string }).text).toContain('Heron field guide');

    expect(t.usage).toEqual({ model_calls: expect.any(Number), input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0 });
    const events = await finish(id);
    expect(t.last_event_seq).toBe(events.length);
  });

  it('is 404 TASK_NOT_FOUND for an unknown id', async () => {
    const err = expectError(await call(base, '/v1/tasks/00000000-0000-0000-0000-000000000000'), 404, 'TASK_NOT_FOUND');
    expect(err.details).toEqual({ task_id: '00000000-0000-0000-0000-000000000000' });
  });
});

describe('POST /v1/tasks/{id}/cancel', () => {
  it('cancels a waiting task with 202, ending its log with task_cancelled', async () => {
    const id = await createPending('Wait for me');
    const res = await call(base, `/v1/tasks/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect(Object.keys(res.body).sort()).toEqual(['id', 'links', 'status']);
    expect(res.body).toMatchObject({ id, status: 'cancelled' });

    const view = await call(base, `/v1/tasks/${id}`);
    expect(view.body.status).toBe('cancelled');
    expect(view.body.error).toEqual({ code: 'CANCELLED', message: 'cancelled by request', details: { cancelled_by: 'local' } });
    const events = await finish(id);
    expect(events.map((e) => e.type)).toEqual(['task_created', 'task_cancelled']);
    expectFinishedLog(events, id);

    const again = expectError(await call(base, `/v1/tasks/${id}/cancel`, { method: 'POST' }), 409, 'TASK_NOT_CANCELLABLE');
    expect(again.details).toEqual({ task_id: id, status: 'cancelled' });
  });

  it('refuses to cancel a completed task with 409 TASK_NOT_CANCELLABLE', async () => {
    const id = await createTask({ input: 'What is 9 * 9?' });
    await finish(id);
    const err = expectError(await call(base, `/v1/tasks/${id}/cancel`, { method: 'POST' }), 409, 'TASK_NOT_CANCELLABLE');
    expect(err.details).toEqual({ task_id: id, status: 'completed' });
    expect((await call(base, `/v1/tasks/${id}`)).body.status).toBe('completed');
  });

  it('leaves a consistent log whether the cancel wins the race against the run or not', async () => {
    await call(base, '/v1/documents', { json: DOC });
    const id = await createTask({ input: 'What do our documents say about herons?', options: { timeout_ms: 600_000 } });
    const res = await call(base, `/v1/tasks/${id}/cancel`, { method: 'POST' });
    const events = await finish(id);
    expectFinishedLog(events, id);
    const view = await call(base, `/v1/tasks/${id}`);
    if (res.status === 202) {
      expect(events.at(-1)!.type).toBe('task_cancelled');
      expect(view.body.status).toBe('cancelled');
      for (const step of view.body.steps as Json[]) expect(['completed', 'cancelled']).toContain(step.status);
    } else {
      expectError(res, 409, 'TASK_NOT_CANCELLABLE');
      expect(events.at(-1)!.type).toBe('task_completed');
      expect(view.body.status).toBe('completed');
    }
  });

  it('is 404 for an unknown task', async () => {
    expectError(await call(base, '/v1/tasks/nope/cancel', { method: 'POST' }), 404, 'TASK_NOT_FOUND');
  });
});

describe('GET /v1/tasks/{id}/metrics', () => {
  it('reports latency per step and in total, queue wait, retries, tool calls, tokens and cost', async () => {
    const file = await upload(base, 'sizes.csv', 'size,count\nS,3\nM,5\nL,2\nM,1\n', 'text/csv');
    const id = await createTask({ input: 'Sum of count by size', files: [file.body.id] });
    const events = await finish(id);
    const res = await call<Json & { steps: Json[] }>(base, `/v1/tasks/${id}/metrics`);
    expect(res.status).toBe(200);
    const m = res.body;
    expect(Object.keys(m).sort()).toEqual(
      ['cached_tokens', 'cost_usd', 'input_tokens', 'model_calls', 'output_tokens', 'queue_wait_ms', 'retries', 'run_latency_ms', 'status', 'steps', 'task_id', 'tool_calls', 'total_latency_ms'].sort(),
    );
    expect(m.task_id).toBe(id);
    expect(m.status).toBe('completed');
    expect(m.total_latency_ms as number).toBeGreaterThanOrEqual(m.run_latency_ms as number);
    expect(m.queue_wait_ms as number).toBeGreaterThanOrEqual(0);
    expect(m.retries).toBe(0);
    expect(m.input_tokens).toBe(0);
    expect(m.cost_usd).toBe(0);
    const toolCalls = events.filter((e) => e.type === 'tool_call_started').length;
    expect(toolCalls).toBeGreaterThan(0);
    expect(m.tool_calls).toBe(toolCalls);

    const view = await call<{ steps: Json[] }>(base, `/v1/tasks/${id}`);
    expect(m.steps.map((s) => s.step_id)).toEqual(view.body.steps.map((s) => s.id));
    for (const s of m.steps) {
      expect(Object.keys(s).sort()).toEqual(
        ['agent', 'attempts', 'cached_tokens', 'cost_usd', 'input_tokens', 'iterations', 'latency_ms', 'output_tokens', 'queue_wait_ms', 'retries', 'status', 'step_id', 'tool_calls'].sort(),
      );
      const step = view.body.steps.find((v) => v.id === s.step_id)!;
      expect(s.latency_ms).toBe(step.duration_ms);
      expect(s.retries).toBe(0);
      expect(s.tool_calls).toBe(events.filter((e) => e.type === 'tool_call_started' && e.step_id === s.step_id).length);
    }
    expect(m.steps.reduce((n, s) => n + (s.tool_calls as number), 0)).toBe(m.tool_calls);
  });

  it('is 404 for an unknown task', async () => {
    expectError(await call(base, '/v1/tasks/nope/metrics'), 404, 'TASK_NOT_FOUND');
  });
});

describe('event streams', () => {
  let id: string;
  let log: Json[];

  beforeAll(async () => {
    await call(base, '/v1/documents', { json: DOC });
    id = await createTask({ input: 'What do our documents say about herons?' });
    log = await finish(id);
  });

  it('keeps the log invariants: seq 1..n, one task_created, one terminal event last, one ending per step', async () => {
    expectFinishedLog(log, id);
    expect(log.at(-1)!.type).toBe('task_completed');
    const types = new Set(log.map((e) => e.type));
    for (const t of ['planning_started', 'plan_created', 'step_started', 'tool_call_started', 'tool_call_completed', 'partial_output', 'step_completed']) {
      expect(types).toContain(t);
    }
  });

  it('sends SSE by default: id is the seq, event the type, and the stream ends after the terminal event', async () => {
    const res = await call(base, `/v1/tasks/${id}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const frames = sseFrames(res.text);
    expect(frames.map((f) => f.data)).toEqual(log);
    for (const f of frames) {
      expect(f.id).toBe(String(f.data.seq));
      expect(f.event).toBe(f.data.type);
    }
  });

  it('sends NDJSON for Accept: application/x-ndjson and for ?format=ndjson', async () => {
    const byHeader = await call(base, `/v1/tasks/${id}/events`, { headers: { accept: 'application/x-ndjson' } });
    expect(byHeader.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(ndjsonLines(byHeader.text)).toEqual(log);
    const byQuery = await call(base, `/v1/tasks/${id}/events?format=ndjson`, { headers: { accept: 'text/event-stream' } });
    expect(byQuery.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(ndjsonLines(byQuery.text)).toEqual(log);
    const sseByQuery = await call(base, `/v1/tasks/${id}/events?format=sse`, { headers: { accept: 'application/x-ndjson' } });
    expect(sseByQuery.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expectError(await call(base, `/v1/tasks/${id}/events?format=xml`), 400, 'VALIDATION_ERROR');
  });

  it('resumes with ?after=N and Last-Event-ID: N, sending exactly the events after seq N', async () => {
    const n = log.length;
    for (const after of [0, 1, 3, n - 1]) {
      const expected = log.filter((e) => (e.seq as number) > after);
      const byQuery = await call(base, `/v1/tasks/${id}/events?format=ndjson&after=${after}`);
      expect(ndjsonLines(byQuery.text)).toEqual(expected);
      const byHeader = await call(base, `/v1/tasks/${id}/events`, { headers: { 'last-event-id': String(after) } });
      expect(sseFrames(byHeader.text).map((f) => f.data)).toEqual(expected);
    }
  });

  it('ends at once, with no events, when resumed at or past the end of a finished task', async () => {
    const n = log.length;
    for (const after of [n, n + 1, 2_147_483_648, 99_999_999_999]) {
      const byQuery = await call(base, `/v1/tasks/${id}/events?format=ndjson&after=${after}`);
      expect(byQuery.status).toBe(200);
      expect(ndjsonLines(byQuery.text)).toEqual([]);
      const byHeader = await call(base, `/v1/tasks/${id}/stream`, { headers: { 'last-event-id': String(after) } });
      expect(byHeader.status).toBe(200);
      expect(sseFrames(byHeader.text)).toEqual([]);
    }
  });

  it('serves the same events as SSE on /stream', async () => {
    const res = await call(base, `/v1/tasks/${id}/stream`);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(sseFrames(res.text).map((f) => f.data)).toEqual(log);
    const resumed = await call(base, `/v1/tasks/${id}/stream?after=2`);
    expect(sseFrames(resumed.text).map((f) => f.data)).toEqual(log.slice(2));
  });

  it('follows a task live from its start to its terminal event', async () => {
    const live = await createTask({ input: 'What do our documents say about herons?' });
    // Opened at once: the stream replays whatever happened and follows the rest.
    const [sse, ws] = await Promise.all([call(base, `/v1/tasks/${live}/events`), wsCollect(wsUrl(base, `/v1/tasks/${live}/ws`))]);
    const events = sseFrames(sse.text).map((f) => f.data);
    expectFinishedLog(events, live);
    expect(events.at(-1)!.type).toBe('task_completed');
    expect(ws.messages).toEqual(events);
    expect(ws.code).toBe(1000);
    expect(await finish(live)).toEqual(events);
  });

  it('sends the same events over WebSocket, one JSON message each, and closes after the terminal one', async () => {
    const session = await wsCollect(wsUrl(base, `/v1/tasks/${id}/ws`));
    expect(session.messages).toEqual(log);
    expect(session.code).toBe(1000);
    expect(session.reason).toBe('task finished');

    const resumed = await wsCollect(wsUrl(base, `/v1/tasks/${id}/ws?after=4`));
    expect(resumed.messages).toEqual(log.filter((e) => (e.seq as number) > 4));
    expect(resumed.code).toBe(1000);

    const past = await wsCollect(wsUrl(base, `/v1/tasks/${id}/ws?after=${log.length}`));
    expect(past.messages).toEqual([]);
    expect(past.code).toBe(1000);
  });

  it('closes a WebSocket with an error message for an unknown task or a bad cursor', async () => {
    const unknown = await wsCollect(wsUrl(base, '/v1/tasks/nope/ws'));
    expect(unknown.messages).toEqual([{ error: { code: 'TASK_NOT_FOUND', message: 'No task nope', details: { task_id: 'nope' } } }]);
    expect(unknown.code).toBe(4404);
    expect(unknown.reason).toBe('TASK_NOT_FOUND');

    const badCursor = await wsCollect(wsUrl(base, `/v1/tasks/${id}/ws`), { 'last-event-id': 'abc' });
    expect((badCursor.messages[0] as { error: { code: string } }).error.code).toBe('VALIDATION_ERROR');
    expect(badCursor.code).toBe(4400);
  });

  it('answers a plain GET on the WebSocket route with a JSON error', async () => {
    expectError(await call(base, `/v1/tasks/${id}/ws`), 400, 'VALIDATION_ERROR');
  });

  it('is 404 TASK_NOT_FOUND on every stream of an unknown task', async () => {
    expectError(await call(base, '/v1/tasks/nope/events'), 404, 'TASK_NOT_FOUND');
    expectError(await call(base, '/v1/tasks/nope/events?format=ndjson'), 404, 'TASK_NOT_FOUND');
    expectError(await call(base, '/v1/tasks/nope/stream'), 404, 'TASK_NOT_FOUND');
  });

  it('refuses a cursor that is not a non-negative integer', async () => {
    for (const value of ['abc', '-1', '1.5', '0x10', '1e3', '+7']) {
      const err = expectError(await call(base, `/v1/tasks/${id}/events`, { headers: { 'last-event-id': value } }), 400, 'VALIDATION_ERROR');
      expect(err.details).toEqual({ value });
    }
    expectError(await call(base, `/v1/tasks/${id}/events?after=-1`), 400, 'VALIDATION_ERROR');
    expectError(await call(base, `/v1/tasks/${id}/events?after=abc`), 400, 'VALIDATION_ERROR');
    expectError(await call(base, `/v1/tasks/${id}/stream?after=1.5`), 400, 'VALIDATION_ERROR');
  });
});

describe('tenancy', () => {
  const a = { 'x-act-as-tenant': 'tenant-a' };
  const b = { 'x-act-as-tenant': 'tenant-b' };
  let done: string;
  let waiting: string;

  beforeAll(async () => {
    done = await createTask({ input: 'What is 8 + 8?' }, a);
    await finish(done, a);
    waiting = await createPending('Tenant A waits', a);
  });

  it('hides tenant A\'s task from tenant B on every task route', async () => {
    for (const id of [done, waiting]) {
      for (const [method, path] of [
        ['GET', `/v1/tasks/${id}`],
        ['POST', `/v1/tasks/${id}/cancel`],
        ['GET', `/v1/tasks/${id}/metrics`],
        ['GET', `/v1/tasks/${id}/events`],
        ['GET', `/v1/tasks/${id}/events?format=ndjson`],
        ['GET', `/v1/tasks/${id}/stream`],
        ['GET', `/tasks/${id}/status`],
        ['POST', `/tasks/${id}/execute`],
        ['GET', `/stream/${id}`],
        ['GET', `/metrics/${id}`],
      ] as const) {
        const err = expectError(await call(base, path, { method, headers: b }), 404, 'TASK_NOT_FOUND');
        expect(err.details).toEqual({ task_id: id });
      }
      const ws = await wsCollect(wsUrl(base, `/v1/tasks/${id}/ws`), b);
      expect(ws.code).toBe(4404);
      expect(ws.messages).toEqual([{ error: { code: 'TASK_NOT_FOUND', message: `No task ${id}`, details: { task_id: id } } }]);
    }
    // B's attempts changed nothing: A's waiting task is still waiting, its log untouched.
    const view = await call(base, `/v1/tasks/${waiting}`, { headers: a });
    expect(view.body.status).toBe('pending');
    expect(view.body.last_event_seq).toBe(1);
    expect((await call(base, `/v1/tasks/${done}`, { headers: a })).body.status).toBe('completed');
  });

  it('lists only the caller\'s tasks', async () => {
    const listB = await call<{ items: Json[] }>(base, '/v1/tasks?limit=100', { headers: b });
    expect(listB.body.items).toEqual([]);
    const seedB = await call<{ tasks: Json[]; total: number }>(base, '/tasks', { headers: b });
    expect(seedB.body).toEqual({ tasks: [], total: 0 });
    const listA = await call<{ items: Json[] }>(base, '/v1/tasks?limit=100', { headers: a });
    expect(listA.body.items.map((t) => t.id).sort()).toEqual([done, waiting].sort());
  });

  it('refuses a malformed X-Act-As-Tenant with 400 on every kind of route', async () => {
    for (const tenant of ['has space', 'x'.repeat(65), 'semi;colon', 'ünï']) {
      const headers = { 'x-act-as-tenant': tenant };
      expectError(await call(base, '/v1/tasks', { headers }), 400, 'VALIDATION_ERROR');
      expectError(await call(base, '/v1/tasks', { json: { input: 'x' }, headers }), 400, 'VALIDATION_ERROR');
      expectError(await call(base, `/v1/tasks/${done}`, { headers }), 400, 'VALIDATION_ERROR');
      expectError(await call(base, `/v1/tasks/${done}/events`, { headers }), 400, 'VALIDATION_ERROR');
      expectError(await call(base, '/tasks', { json: { task_description: 'x' }, headers }), 400, 'VALIDATION_ERROR');
      expectError(await call(base, '/v1/documents', { headers }), 400, 'VALIDATION_ERROR');
      expectError(await call(base, '/v1/files', { headers }), 400, 'VALIDATION_ERROR');
    }
    // Nothing was created under any of those names.
    expect((await call<{ items: Json[] }>(base, '/v1/tasks?limit=100', { headers: a })).body.items).toHaveLength(2);
  });
});
