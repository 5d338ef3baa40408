/**
 * Every route of the API × every kind of caller, in authenticated mode: no credential, a wrong one,
 * a malformed header, an expired key, a revoked key, each role of the tenant, and an admin of another
 * tenant. Each answers the documented status: 401 without a working credential, 403 when the roles
 * lack the route's permission, and for another tenant's ids 404, never 403 and never data. The routes
 * come from the server's own table, so a route added later without a row here fails this test.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeAccessTable, type RouteAccess } from '../src/api/access.js';
import { can, ROLES, type Permission, type Role } from '../src/auth/principal.js';
import { createBuiltinTools, createToolRegistry } from '../src/tools/index.js';
import { makeKey, type TestKey } from './support/access.js';
import { call, expectError, upload, type Answer, type Json } from './support/http.js';
import { startTestServer, waitForTask, type TestServer } from './support/server.js';
import { sinkTool } from './support/tools.js';

let s: TestServer;
const keys = {} as Record<Role | 'requester' | 'other' | 'expired' | 'revoked', TestKey>;
/** Tenant A's resources, made by its admin. */
const a = { task: '', seedTask: '', document: '', file: '', keyId: '' };

beforeAll(async () => {
  s = await startTestServer({ config: { auth: 'required' }, tools: createToolRegistry([...createBuiltinTools(), sinkTool(new Map())]) });
  for (const role of ROLES) keys[role] = await makeKey(s.app, 'alpha', role);
  keys.requester = await makeKey(s.app, 'alpha', 'member', { name: 'requester' });
  keys.other = await makeKey(s.app, 'beta', 'admin');
  keys.expired = await makeKey(s.app, 'alpha', 'admin', { expiresAt: new Date(Date.now() - 1000) });
  keys.revoked = await makeKey(s.app, 'alpha', 'admin');
  await s.app.store.revokeApiKey(keys.revoked.id, 'alpha', 'test');
  const admin = keys.admin.headers;
  a.task = (await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 2 + 3?' }, headers: admin })).body.id;
  expect(await waitForTask(s.app, a.task)).toBe('completed');
  a.seedTask = (await call<{ task_id: string }>(s.url, '/tasks', { json: { task_description: 'What is 4 + 4?' }, headers: admin })).body.task_id;
  a.document = (await call<{ id: string }>(s.url, '/v1/documents', { json: { title: 'Alpha notes', content: 'Tapirs are secret.' }, headers: admin })).body.id;
  a.file = ((await upload(s.url, 'alpha.csv', 'x\n1\n', 'text/csv', admin)).body as { id: string }).id;
  a.keyId = (await makeKey(s.app, 'alpha', 'viewer')).id;
  await s.app.store.saveArtifact({ taskId: a.task, tenantId: 'alpha', stepId: null, name: 'out.csv', contentType: 'text/csv', data: Buffer.from('x\n1\n') });
  // Direct calls of the side-effecting sink ask for approval in tenant alpha.
  const policy = await call(s.url, '/v1/policy', { method: 'PUT', json: { rules: [{ tool: 'sink', via: 'direct', decision: 'ask' }] }, headers: admin });
  expect(policy.status).toBe(200);
});

afterAll(async () => {
  await s?.close();
});

/** A pending approval of tenant alpha, requested by a member (so admins and approvers may decide it). */
async function pendingApproval(): Promise<string> {
  const res = await call<{ approval: { id: string } }>(s.url, '/v1/tools/sink/invoke', {
    json: { args: { value: 'v' } },
    headers: { ...keys.requester.headers, 'idempotency-key': randomBytes(8).toString('hex') },
  });
  expect(res.status).toBe(202);
  return res.body.approval.id;
}

interface Target {
  path: string;
  json?: unknown;
  /** Sent as is (multipart uploads). */
  form?: boolean;
}

/**
 * A request that exercises each route on tenant alpha's resources. Routes that destroy what they act
 * on (delete, revoke, cancel, decide) get a fresh resource each time.
 */
const TARGETS: Record<string, () => Promise<Target>> = {
  'GET /health': async () => ({ path: '/health' }),
  'GET /ready': async () => ({ path: '/ready' }),
  'GET /openapi.json': async () => ({ path: '/openapi.json' }),
  'POST /v1/tasks': async () => ({ path: '/v1/tasks', json: { input: 'What is 1 + 1?', files: [a.file] } }),
  'GET /v1/tasks': async () => ({ path: '/v1/tasks' }),
  'GET /v1/tasks/:id': async () => ({ path: `/v1/tasks/${a.task}` }),
  'POST /v1/tasks/:id/cancel': async () => {
    const { task } = await s.app.engine.submit({ tenantId: 'alpha', input: 'wait', files: [], options: {}, start: false });
    return { path: `/v1/tasks/${task.id}/cancel` };
  },
  'GET /v1/tasks/:id/metrics': async () => ({ path: `/v1/tasks/${a.task}/metrics` }),
  'GET /v1/tasks/:id/events': async () => ({ path: `/v1/tasks/${a.task}/events` }),
  'GET /v1/tasks/:id/stream': async () => ({ path: `/v1/tasks/${a.task}/stream` }),
  'GET /v1/tasks/:id/ws': async () => ({ path: `/v1/tasks/${a.task}/ws` }),
  'GET /v1/tasks/:id/artifacts': async () => ({ path: `/v1/tasks/${a.task}/artifacts` }),
  'GET /v1/tasks/:id/artifacts/:name': async () => ({ path: `/v1/tasks/${a.task}/artifacts/out.csv` }),
  'POST /tasks': async () => ({ path: '/tasks', json: { task_description: 'What is 2 + 2?' } }),
  'POST /tasks/:id/execute': async () => ({ path: `/tasks/${a.seedTask}/execute` }),
  'GET /tasks/:id/status': async () => ({ path: `/tasks/${a.task}/status` }),
  'GET /tasks': async () => ({ path: '/tasks' }),
  'POST /run-task': async () => ({ path: '/run-task', json: { user_input: 'What is 3 + 3?' } }),
  'GET /stream/:task_id': async () => ({ path: `/stream/${a.task}` }),
  'GET /metrics/:task_id': async () => ({ path: `/metrics/${a.task}` }),
  'POST /v1/documents': async () => ({ path: '/v1/documents', json: { title: 'More', content: 'Text.' } }),
  'GET /v1/documents': async () => ({ path: '/v1/documents' }),
  'GET /v1/documents/:id': async () => ({ path: `/v1/documents/${a.document}` }),
  'DELETE /v1/documents/:id': async () => {
    const doc = await s.app.store.insertDocument({ id: randomBytes(8).toString('hex'), tenantId: 'alpha', title: 'Doomed', content: 'x', metadata: {} });
    return { path: `/v1/documents/${doc.id}` };
  },
  'POST /v1/files': async () => ({ path: '/v1/files', form: true }),
  'GET /v1/files': async () => ({ path: '/v1/files' }),
  'GET /v1/files/:id': async () => ({ path: `/v1/files/${a.file}` }),
  'GET /v1/files/:id/content': async () => ({ path: `/v1/files/${a.file}/content` }),
  'GET /v1/tools': async () => ({ path: '/v1/tools' }),
  'POST /v1/tools/:name/invoke': async () => ({ path: '/v1/tools/calculator/invoke', json: { args: { expression: '2 * 21' } } }),
  'GET /v1/approvals': async () => ({ path: '/v1/approvals' }),
  'GET /v1/approvals/:id': async () => ({ path: `/v1/approvals/${await pendingApproval()}` }),
  'POST /v1/approvals/:id': async () => ({ path: `/v1/approvals/${await pendingApproval()}`, json: { decision: 'reject', reason: 'matrix' } }),
  'GET /v1/whoami': async () => ({ path: '/v1/whoami' }),
  'POST /v1/keys': async () => ({ path: '/v1/keys', json: { roles: ['viewer'], name: 'made by matrix' } }),
  'GET /v1/keys': async () => ({ path: '/v1/keys' }),
  'DELETE /v1/keys/:id': async () => ({ path: `/v1/keys/${(await makeKey(s.app, 'alpha', 'viewer')).id}` }),
  'POST /v1/stream-tickets': async () => ({ path: '/v1/stream-tickets', json: { task_id: a.task } }),
  'GET /v1/audit': async () => ({ path: '/v1/audit' }),
  'GET /v1/quota': async () => ({ path: '/v1/quota' }),
  'GET /v1/policy': async () => ({ path: '/v1/policy' }),
  'PUT /v1/policy': async () => ({ path: '/v1/policy', json: { rules: [{ tool: 'sink', via: 'direct', decision: 'ask' }] } }),
  'GET /v1/policy/versions': async () => ({ path: '/v1/policy/versions' }),
  'POST /v1/policy/check': async () => ({ path: '/v1/policy/check', json: { tool: 'sink', args: { value: 'v' } } }),
};

async function send(route: RouteAccess, target: Target, headers: Record<string, string>): Promise<Answer> {
  if (target.form) return upload(s.url, 'matrix.txt', 'hello', 'text/plain', headers);
  return call(s.url, target.path, { method: route.method, json: target.json, headers });
}

function routes(): RouteAccess[] {
  return routeAccessTable(s.server).filter((r) => !r.url.startsWith('/docs'));
}

describe('access matrix (authenticated mode)', () => {
  it('has a request for every route the server has, and every route declares its access', () => {
    const missing = routes().map((r) => `${r.method} ${r.url}`).filter((k) => !TARGETS[k]);
    expect(missing).toEqual([]);
    expect(routes().length).toBeGreaterThanOrEqual(40);
  });

  it('refuses every non-public route without a working credential (401), and serves the public ones', async () => {
    const wrong = { authorization: `Bearer agk_${randomBytes(32).toString('base64url')}` };
    for (const route of routes()) {
      const target = await TARGETS[`${route.method} ${route.url}`]!();
      const callers: Array<[string, Record<string, string>, string]> = [
        ['none', {}, 'missing'],
        ['wrong', wrong, 'invalid'],
        ['malformed', { authorization: 'Basic dXNlcjpwYXNz' }, 'malformed'],
        ['expired', keys.expired.headers, 'expired'],
        ['revoked', keys.revoked.headers, 'revoked'],
      ];
      for (const [who, headers, reason] of callers) {
        const res = await send(route, target, headers);
        const seen = { route: `${route.method} ${route.url}`, who, status: res.status };
        if (route.access === 'public') {
          expect(seen.status, JSON.stringify(seen)).toBeLessThan(400);
          continue;
        }
        expect(seen).toEqual({ ...seen, status: 401 });
        const body = res.body as { error: { code: string; details: Json } };
        expect(body.error.code).toBe('UNAUTHENTICATED');
        expect(body.error.details.reason).toBe(reason);
      }
    }
  });

  it('lets each role do what its permissions grant, and answers 403 FORBIDDEN for the rest', async () => {
    for (const route of routes().filter((r) => r.access !== 'public')) {
      for (const role of ROLES) {
        const target = await TARGETS[`${route.method} ${route.url}`]!();
        const res = await send(route, target, keys[role].headers);
        const seen = { route: `${route.method} ${route.url}`, role, status: res.status, body: res.text.slice(0, 300) };
        if (can({ roles: [role] }, route.access as Permission)) {
          expect([401, 403, 404], JSON.stringify(seen)).not.toContain(res.status);
          expect(res.status, JSON.stringify(seen)).toBeLessThan(500);
        } else {
          expect(seen.status, JSON.stringify(seen)).toBe(403);
          expect((res.body as { error: { code: string } }).error.code).toBe('FORBIDDEN');
        }
      }
    }
  });

  it('serves the seed routes with a credential, in their own shapes', async () => {
    const member = keys.member.headers;
    const created = await call<{ task_id: string; status: string }>(s.url, '/tasks', { json: { task_description: 'What is 7 * 6?' }, headers: member });
    expect(created.body).toEqual({ task_id: expect.any(String), status: 'pending' });
    const stream = await call(s.url, `/tasks/${created.body.task_id}/execute`, { method: 'POST', headers: member });
    expect(stream.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = stream.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
    expect(lines.at(-1)).toMatchObject({ event_type: 'task_completed', task_id: created.body.task_id });
    expect((await call(s.url, `/tasks/${created.body.task_id}/status`, { headers: member })).body).toMatchObject({ status: 'completed', user_input: 'What is 7 * 6?' });
    const run = await call<{ task_id: string; steps_created: number }>(s.url, '/run-task', { json: { user_input: 'What is 2 + 2?' }, headers: member });
    expect(run.body.steps_created).toBeGreaterThan(0);
    expect((await call<{ tasks: Json[]; total: number }>(s.url, '/tasks', { headers: member })).body.total).toBeGreaterThanOrEqual(2);
    expect((await call(s.url, `/metrics/${created.body.task_id}`, { headers: member })).body).toMatchObject({ task_id: created.body.task_id });
    // Without one, the seed routes are closed like the rest.
    expectError(await call(s.url, '/tasks', { json: { task_description: 'x' } }), 401, 'UNAUTHENTICATED');
  });

  it("answers another tenant's ids with 404, never 403 and never data; its lists hold none of them", async () => {
    const secrets = [a.task, a.seedTask, a.document, a.file, a.keyId];
    for (const route of routes().filter((r) => r.access !== 'public')) {
      const target = await TARGETS[`${route.method} ${route.url}`]!();
      const res = await send(route, target, keys.other.headers);
      const seen = { route: `${route.method} ${route.url}`, status: res.status, body: res.text.slice(0, 300) };
      const namesAlpha = route.url.includes(':') || JSON.stringify(target.json ?? {}).match(/[0-9a-f-]{20,}/);
      if (namesAlpha && route.url !== '/v1/tools/:name/invoke') {
        expect(seen.status, JSON.stringify(seen)).toBe(404);
      } else {
        expect(seen.status, JSON.stringify(seen)).not.toBe(403);
      }
      // An id the request itself carried may be echoed in the error; any other is a leak.
      const asked = target.path + JSON.stringify(target.json ?? {});
      for (const secret of secrets.filter((x) => !asked.includes(x))) expect(res.text.includes(secret), `${seen.route} leaks ${secret}`).toBe(false);
    }
  });
});
