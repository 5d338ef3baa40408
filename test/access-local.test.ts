/**
 * Local mode: the default on loopback with no credentials. Every request is the local admin of
 * tenant `default`, but a web page cannot use that: a Host that is not loopback (DNS rebinding) is
 * refused with 421, and a foreign Origin (a cross-site form or fetch) with 403. X-Tenant-Id and
 * X-User-Id name nobody; an operator acts for another tenant only with X-Act-As-Tenant, audited.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeKey } from './support/access.js';
import { call, expectError, type Json } from './support/http.js';
import { startTestServer, waitForTask, type TestServer } from './support/server.js';

let s: TestServer;
let port: number;

beforeAll(async () => {
  s = await startTestServer({ config: { allowedOrigins: ['https://dashboard.example.com'] } });
  port = Number(new URL(s.url).port);
});
afterAll(async () => {
  await s?.close();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Json;
}

/** A request with any Host header (fetch would not send a foreign one). */
function raw(path: string, headers: Record<string, string>, options: { method?: string; body?: string } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, setHost: !('host' in headers) }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? (JSON.parse(text) as Json) : {} }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('local mode', () => {
  it('says so in /health and /v1/whoami', async () => {
    expect((await call(s.url, '/health')).body).toMatchObject({ auth: { mode: 'local', warnings: [] } });
    expect((await call(s.url, '/v1/whoami')).body).toMatchObject({ principal: 'local', tenant: 'default', roles: ['admin'], kind: 'local', mode: 'local' });
  });

  it('answers only to a loopback Host: a DNS-rebound name gets 421 and creates nothing', async () => {
    const before = (await s.app.store.countTasks({}));
    for (const host of ['evil.example.com', `evil.example.com:${port}`, '192.168.1.20', `10.0.0.1:${port}`, '127.0.0.1.evil.example', 'localhost.evil.example']) {
      const res = await raw('/v1/tasks', { host, 'content-type': 'application/json' }, { method: 'POST', body: JSON.stringify({ input: 'What is 2 + 2?' }) });
      expect({ host, status: res.status, code: (res.body.error as Json | undefined)?.code }).toEqual({ host, status: 421, code: 'HOST_NOT_ALLOWED' });
    }
    // Health and the API documents are refused too: a rebound page learns nothing.
    expect((await raw('/health', { host: 'evil.example.com' })).status).toBe(421);
    expect(await s.app.store.countTasks({})).toBe(before);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'localhost', '127.0.0.2']) {
      expect({ host, status: (await raw('/v1/tasks', { host })).status }).toEqual({ host, status: 200 });
    }
  });

  it('refuses a request from a foreign web page (Origin), and serves its own pages and the allowed origins', async () => {
    const form = { host: `127.0.0.1:${port}`, 'content-type': 'text/plain' };
    for (const origin of ['https://evil.example.com', 'null', `http://localhost:${port + 1}`, `http://127.0.0.1:${port}.evil.example`]) {
      const res = await raw('/v1/tasks', { ...form, origin }, { method: 'POST', body: '{"input":"x"}' });
      expect({ origin, status: res.status, code: (res.body.error as Json | undefined)?.code }).toEqual({ origin, status: 403, code: 'ORIGIN_NOT_ALLOWED' });
      expect((await raw('/v1/tasks', { host: `127.0.0.1:${port}`, origin })).status).toBe(403);
    }
    expect((await raw('/v1/tasks', { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect((await raw('/v1/tasks', { host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(200);
    expect((await raw('/v1/tasks', { host: `127.0.0.1:${port}`, origin: 'https://dashboard.example.com' })).status).toBe(200);
  });

  it('refuses a WebSocket upgrade from a foreign origin', async () => {
    const task = (await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 2 + 3?' } })).body.id;
    await waitForTask(s.app, task);
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/tasks/${task}/ws`, { headers: { origin: 'https://evil.example.com' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
      ws.on('open', () => reject(new Error('upgrade accepted')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });

  it('ignores X-Tenant-Id and X-User-Id: the task is the local admin\'s, in tenant default', async () => {
    const res = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 6 * 7?' }, headers: { 'x-tenant-id': 'victim', 'x-user-id': 'ceo' } });
    expect(res.status).toBe(202);
    const task = await s.app.store.getTask(res.body.id);
    expect(task).toMatchObject({ tenant_id: 'default', created_by: { id: 'local', name: null, roles: ['admin'] } });
    expect((await call(s.url, `/v1/tasks/${res.body.id}`, { headers: { 'x-tenant-id': 'someone-else' } })).status).toBe(200);
  });

  it('acts for another tenant only through X-Act-As-Tenant, and audits each such request', async () => {
    const created = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 1 + 2?' }, headers: { 'x-act-as-tenant': 'acme' } });
    expect(created.status).toBe(202);
    expect((await s.app.store.getTask(created.body.id))!.tenant_id).toBe('acme');
    expect((await call(s.url, `/v1/tasks/${created.body.id}`)).status).toBe(404);
    expect((await call(s.url, '/v1/whoami', { headers: { 'x-act-as-tenant': 'acme' } })).body).toMatchObject({ tenant: 'acme', acting_from: 'default' });
    const audit = (await call<{ items: Json[] }>(s.url, '/v1/audit?action=tenant.act_as,task.created', { headers: { 'x-act-as-tenant': 'acme' } })).body.items;
    expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['tenant.act_as', 'task.created']));
    expect(audit.every((e) => e.principal === 'local' && e.acting_from === 'default' && e.tenant_id === 'acme')).toBe(true);
    expect(audit.find((e) => e.action === 'task.created')).toMatchObject({ target_type: 'task', target_id: created.body.id });
    expectError(await call(s.url, '/v1/tasks', { headers: { 'x-act-as-tenant': 'bad name' } }), 400, 'VALIDATION_ERROR');
  });

  it('checks a credential that is presented: a wrong one is refused, a key acts as its own principal', async () => {
    const wrong = await call(s.url, '/v1/tasks', { headers: { authorization: 'Bearer agk_not-a-real-key' } });
    expect(expectError(wrong, 401, 'UNAUTHENTICATED').details).toMatchObject({ reason: 'invalid' });
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    const viewer = await makeKey(s.app, 'acme', 'viewer');
    expect((await call(s.url, '/v1/whoami', { headers: viewer.headers })).body).toMatchObject({ principal: `key:${viewer.id}`, tenant: 'acme', roles: ['viewer'] });
    expectError(await call(s.url, '/v1/tasks', { json: { input: 'x' }, headers: viewer.headers }), 403, 'FORBIDDEN');
    // A key that is not an operator's may not act for another tenant.
    expectError(await call(s.url, '/v1/tasks', { headers: { ...viewer.headers, 'x-act-as-tenant': 'default' } }), 403, 'FORBIDDEN');
  });
});
