/**
 * The seed documents' API with their exact field names (POST /tasks + execute, status, list, health,
 * /run-task, /stream, /metrics), and the service routes (/ready, /openapi.json, /docs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, expectError, expectFinishedLog, ndjsonLines, sseFrames, type Json } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
let base: string;

beforeAll(async () => {
  server = await startTestServer();
  base = server.url;
  const doc = await call(base, '/v1/documents', {
    json: {
      title: 'Async handbook',
      content:
        'Async programming lets one thread serve many connections while each waits for input and output. The event loop resumes a coroutine when its I/O completes. Blocking calls stall every task on the loop.',
    },
  });
  expect(doc.status).toBe(201);
});

afterAll(async () => {
  await server?.close();
});

const SEED_EVENT_TYPES = ['step_started', 'partial_output', 'step_completed', 'task_completed', 'error'];

/** The /v1 log of a task, read to its end. */
async function v1Events(id: string): Promise<Json[]> {
  return ndjsonLines((await call(base, `/v1/tasks/${id}/events?format=ndjson`)).text);
}

describe('POST /tasks and POST /tasks/{id}/execute', () => {
  it('creates a task that answers {task_id, status: "pending"} and waits for execute', async () => {
    const res = await call(base, '/tasks', { json: { task_description: 'Analyze the benefits of async programming' } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['status', 'task_id']);
    expect(res.body.status).toBe('pending');
    const id = res.body.task_id as string;

    // A task submitted after it runs to completion on the same worker; the waiting one is not touched.
    const other = await call<{ id: string }>(base, '/v1/tasks', { json: { input: 'What is 1 + 1?' } });
    expect((await v1Events(other.body.id)).at(-1)!.type).toBe('task_completed');

    const status = await call(base, `/tasks/${id}/status`);
    expect(status.body).toEqual({
      task_id: id,
      status: 'pending',
      user_input: 'Analyze the benefits of async programming',
      final_output: null,
      error_message: null,
    });
    const view = await call(base, `/v1/tasks/${id}`);
    expect(view.body).toMatchObject({ status: 'pending', queued_at: null, started_at: null, last_event_seq: 1, plan: null, steps: [] });
  });

  it('streams the run as NDJSON {event_type, task_id, timestamp, data} ending with task_completed', async () => {
    const created = await call(base, '/tasks', { json: { task_description: 'Research async programming and the event loop' } });
    const id = created.body.task_id as string;
    const res = await call(base, `/tasks/${id}/execute`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const lines = ndjsonLines(res.text);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(['data', 'event_type', 'task_id', 'timestamp']);
      expect(line.task_id).toBe(id);
      expect(Number.isNaN(Date.parse(line.timestamp as string))).toBe(false);
      expect(SEED_EVENT_TYPES).toContain(line.event_type);
    }
    const types = new Set(lines.map((l) => l.event_type));
    expect([...types].sort()).toEqual(['partial_output', 'step_completed', 'step_started', 'task_completed']);
    const last = lines.at(-1)!;
    expect(last.event_type).toBe('task_completed');
    expect(lines.filter((l) => l.event_type === 'task_completed')).toHaveLength(1);
    const finalOutput = (last.data as { final_output: string }).final_output;
    expect(last.data).toEqual({ status: 'completed', final_output: finalOutput });
    expect(finalOutput).toContain('The event loop resumes a coroutine when its I/O completes.');

    const view = await call<{ steps: Json[] }>(base, `/v1/tasks/${id}`);
    const stepIds = view.body.steps.map((s) => s.id);
    const started = lines.filter((l) => l.event_type === 'step_started').map((l) => l.data as Json);
    const completed = lines.filter((l) => l.event_type === 'step_completed').map((l) => l.data as Json);
    expect(started.map((d) => d.step_id)).toEqual(stepIds);
    expect(completed.map((d) => d.step_id)).toEqual(stepIds);
    for (const d of started) expect(Object.keys(d).sort()).toEqual(['agent', 'description', 'step_id']);
    for (const d of completed) {
      expect(Object.keys(d).sort()).toEqual(['output', 'status', 'step_id']);
      expect(d.status).toBe('completed');
    }
    for (const l of lines.filter((x) => x.event_type === 'partial_output')) {
      expect(Object.keys(l.data as Json).sort()).toEqual(['output', 'step_id']);
    }

    const status = await call(base, `/tasks/${id}/status`);
    expect(status.body).toEqual({
      task_id: id,
      status: 'completed',
      user_input: 'Research async programming and the event loop',
      final_output: finalOutput,
      error_message: null,
    });
    expectFinishedLog(await v1Events(id), id);
  });

  it('replays the same stream when executed again after it finished', async () => {
    const id = (await call(base, '/tasks', { json: { task_description: 'What is 6 * 7?' } })).body.task_id as string;
    const first = ndjsonLines((await call(base, `/tasks/${id}/execute`, { method: 'POST' })).text);
    const second = await call(base, `/tasks/${id}/execute`, { method: 'POST' });
    expect(second.status).toBe(200);
    expect(ndjsonLines(second.text)).toEqual(first);
    expect((first.at(-1)!.data as { final_output: string }).final_output).toContain('42');
  });

  it('reports a cancelled task as an error event and in error_message', async () => {
    const id = (await call(base, '/tasks', { json: { task_description: 'Never runs' } })).body.task_id as string;
    expect((await call(base, `/v1/tasks/${id}/cancel`, { method: 'POST' })).status).toBe(202);
    const lines = ndjsonLines((await call(base, `/tasks/${id}/execute`, { method: 'POST' })).text);
    expect(lines).toEqual([
      { event_type: 'error', task_id: id, timestamp: expect.any(String), data: { status: 'cancelled', error: 'cancelled by request', code: 'CANCELLED' } },
    ]);
    const status = await call(base, `/tasks/${id}/status`);
    expect(status.body).toMatchObject({ status: 'cancelled', final_output: null, error_message: 'cancelled by request' });
  });

  it('refuses a missing or empty task_description, and unknown ids', async () => {
    const missing = expectError(await call(base, '/tasks', { json: {} }), 400, 'VALIDATION_ERROR');
    expect((missing.details.issues as Array<{ path: string }>)[0]!.path).toBe('body.task_description');
    expectError(await call(base, '/tasks', { json: { task_description: '' } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/tasks', { json: { task_description: 42 } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/tasks/nope/execute', { method: 'POST' }), 404, 'TASK_NOT_FOUND');
    expectError(await call(base, '/tasks/nope/status'), 404, 'TASK_NOT_FOUND');
  });
});

describe('GET /tasks', () => {
  it('lists {tasks: [{task_id, status, user_input, created_at}], total}, newest first', async () => {
    const headers = { 'x-act-as-tenant': 'seed-list' };
    const ids: string[] = [];
    for (const text of ['first', 'second', 'third']) {
      ids.push((await call(base, '/tasks', { json: { task_description: text }, headers })).body.task_id as string);
    }
    const res = await call<{ tasks: Json[]; total: number }>(base, '/tasks', { headers });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['tasks', 'total']);
    expect(res.body.total).toBe(3);
    expect(res.body.tasks.map((t) => t.task_id)).toEqual([...ids].reverse());
    expect(res.body.tasks.map((t) => t.user_input)).toEqual(['third', 'second', 'first']);
    for (const t of res.body.tasks) {
      expect(Object.keys(t).sort()).toEqual(['created_at', 'status', 'task_id', 'user_input']);
      expect(t.status).toBe('pending');
      expect(Number.isNaN(Date.parse(t.created_at as string))).toBe(false);
    }
  });
});

describe('POST /run-task, GET /stream/{task_id}, GET /metrics/{task_id}', () => {
  let id: string;
  let steps: number;

  beforeAll(async () => {
    const res = await call(base, '/run-task', { json: { user_input: 'What do our documents say about the event loop?' } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['steps_created', 'task_id']);
    id = res.body.task_id as string;
    steps = res.body.steps_created as number;
  });

  it('answers {task_id, steps_created} once the task is planned', async () => {
    expect(steps).toBeGreaterThanOrEqual(2);
    const view = await call<{ plan: { steps: string[] } }>(base, `/v1/tasks/${id}`);
    expect(view.body.plan.steps).toHaveLength(steps);
  });

  it('streams SSE from seq 1 and ends after the terminal event', async () => {
    const res = await call(base, `/stream/${id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const frames = sseFrames(res.text);
    const events = frames.map((f) => f.data);
    expect(events[0]!.seq).toBe(1);
    expect(events[0]!.type).toBe('task_created');
    expectFinishedLog(events, id);
    expect(events.at(-1)!.type).toBe('task_completed');
    for (const f of frames) {
      expect(f.id).toBe(String(f.data.seq));
      expect(f.event).toBe(f.data.type);
    }
    expect(events).toEqual(await v1Events(id));
    expect(events.filter((e) => e.type === 'step_completed')).toHaveLength(steps);

    const resumed = await call(base, `/stream/${id}`, { headers: { 'last-event-id': '3' } });
    expect(sseFrames(resumed.text).map((f) => f.data)).toEqual(events.slice(3));
  });

  it('reports latency_ms and total_cost in /metrics', async () => {
    await v1Events(id);
    const res = await call(base, `/metrics/${id}`);
    expect(res.status).toBe(200);
    const v1 = await call(base, `/v1/tasks/${id}/metrics`);
    expect(res.body).toMatchObject({ task_id: id, status: 'completed', latency_ms: v1.body.total_latency_ms, total_cost: 0, cost_units: 0 });
    expect(typeof res.body.latency_ms).toBe('number');
    expect(res.body.steps).toEqual(v1.body.steps);
  });

  it('refuses a missing user_input and unknown ids', async () => {
    expectError(await call(base, '/run-task', { json: { input: 'wrong field' } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/run-task', { json: { user_input: ' ' } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/stream/nope'), 404, 'TASK_NOT_FOUND');
    expectError(await call(base, '/metrics/nope'), 404, 'TASK_NOT_FOUND');
  });
});

describe('service routes', () => {
  it('GET /health says healthy with the built-in brain', async () => {
    const res = await call(base, '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'healthy', brain: 'builtin', model: null, checks: { database: 'ok' } });
    expect(res.body.auth).toEqual({ mode: 'local', warnings: [] });
    expect(Object.keys(res.body).sort()).toEqual(['auth', 'brain', 'breakers', 'checks', 'instance', 'model', 'role', 'shape', 'status', 'version']);
    expect(res.body.breakers).toEqual([]);
  });

  it('GET /ready is 200 when the database answers', async () => {
    const res = await call(base, '/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ready: true, checks: { database: 'ok', started: true } });
  });

  it('GET /openapi.json is an OpenAPI 3 document listing the /v1 paths', async () => {
    const res = await call<{ openapi: string; info: Json; paths: Record<string, Record<string, unknown>> }>(base, '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.info.title).toBe('agentic');
    const paths = res.body.paths;
    for (const [path, methods] of Object.entries({
      '/v1/tasks': ['get', 'post'],
      '/v1/tasks/{id}': ['get'],
      '/v1/tasks/{id}/cancel': ['post'],
      '/v1/tasks/{id}/metrics': ['get'],
      '/v1/tasks/{id}/events': ['get'],
      '/v1/tasks/{id}/stream': ['get'],
      '/v1/documents': ['get', 'post'],
      '/v1/documents/{id}': ['delete', 'get'],
      '/v1/files': ['get', 'post'],
      '/v1/files/{id}': ['get'],
      '/v1/files/{id}/content': ['get'],
      '/tasks': ['get', 'post'],
      '/tasks/{id}/execute': ['post'],
      '/run-task': ['post'],
      '/health': ['get'],
    })) {
      expect(paths[path], path).toBeDefined();
      for (const m of methods) expect(paths[path]![m], `${m} ${path}`).toBeDefined();
    }
    const create = paths['/v1/tasks']!.post as { requestBody: { content: Record<string, { schema: { properties: Json } }> } };
    expect(Object.keys(create.requestBody.content['application/json']!.schema.properties).sort()).toEqual(
      ['files', 'input', 'input_query', 'options', 'task_description'],
    );
  });

  it('GET /docs answers with the API documentation', async () => {
    let res = await call(base, '/docs');
    if (res.status >= 300 && res.status < 400) res = await call(base, new URL(res.headers.get('location')!, `${base}/docs`).pathname);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toContain('swagger');
  });
});
