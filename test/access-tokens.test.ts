/**
 * Sign-in with an identity provider's JWTs (a local JWKS server), and the single-use stream tickets
 * browsers use for SSE and WebSocket, through the HTTP API.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeKey, type TestKey } from './support/access.js';
import { call, expectError, sseFrames, wsCollect, wsUrl, type Json } from './support/http.js';
import { startTestServer, waitForTask, type TestServer } from './support/server.js';

const ISSUER = 'https://login.example.test/';
const AUDIENCE = 'agentic';

let jwks: Server;
let jwksUrl: string;
let signing: CryptoKey;
let stranger: CryptoKey;
const published: JWK[] = [];

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signing = pair.privateKey;
  published.push({ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' });
  stranger = (await generateKeyPair('RS256')).privateKey;
  jwks = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(async () => {
  await new Promise((resolve) => jwks.close(resolve));
});

interface Claims {
  tenant?: string;
  role?: string | string[];
  sub?: string;
  iss?: string;
  aud?: string;
  exp?: number;
  name?: string;
}

async function token(claims: Claims = {}, key: CryptoKey = signing, kid = 'k1'): Promise<string> {
  const c = { tenant: 'acme', role: 'member', sub: 'user-1', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600, name: 'Ana', ...claims };
  return new SignJWT({ tenant: c.tenant, role: c.role, name: c.name })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setSubject(c.sub)
    .setIssuer(c.iss)
    .setAudience(c.aud)
    .setIssuedAt()
    .setExpirationTime(c.exp)
    .sign(key);
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('JWT sign-in', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ config: { jwtIssuer: ISSUER, jwtAudience: AUDIENCE, jwtJwksUrl: jwksUrl } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('turns on authenticated mode, and takes the tenant, roles and name from the token\'s claims', async () => {
    expect((await call(s.url, '/health')).body).toMatchObject({ auth: { mode: 'authenticated' } });
    expectError(await call(s.url, '/v1/tasks'), 401, 'UNAUTHENTICATED');
    const t = await token({ role: ['approver', 'member'] });
    const me = await call(s.url, '/v1/whoami', { headers: { ...bearer(t), 'x-tenant-id': 'other', 'x-user-id': 'root' } });
    expect(me.body).toMatchObject({ principal: 'jwt:user-1', name: 'Ana', kind: 'jwt', tenant: 'acme', roles: ['member', 'approver'] });
    const created = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 2 + 3?' }, headers: bearer(t) });
    expect(created.status).toBe(202);
    expect((await s.app.store.getTask(created.body.id))).toMatchObject({ tenant_id: 'acme', created_by: { id: 'jwt:user-1', name: 'Ana' } });
    // A viewer's token reads but does not create.
    expectError(await call(s.url, '/v1/tasks', { json: { input: 'x' }, headers: bearer(await token({ role: 'viewer' })) }), 403, 'FORBIDDEN');
    // Another tenant's token does not see the task.
    expect((await call(s.url, `/v1/tasks/${created.body.id}`, { headers: bearer(await token({ tenant: 'beta', sub: 'user-2' })) })).status).toBe(404);
  });

  it('refuses a wrong issuer, audience, signature, algorithm none, or an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 'x', tenant: 'acme', role: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now + 600 }),
    ).toString('base64url')}.`;
    const cases: Array<[string, string, string]> = [
      ['issuer', await token({ iss: 'https://evil.example/' }), 'issuer'],
      ['audience', await token({ aud: 'someone-else' }), 'audience'],
      ['signature', await token({}, stranger), 'signature'],
      ['none', none, 'algorithm'],
      ['expired', await token({ exp: now - 120 }), 'expired'],
      ['no tenant', await token({ tenant: '' }), 'claims'],
      ['unknown role', await token({ role: 'root' }), 'claims'],
      ['garbage', 'not.a.jwt', 'malformed'],
    ];
    for (const [name, t, reason] of cases) {
      const res = await call(s.url, '/v1/tasks', { headers: bearer(t) });
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect({ name, reason: (res.body as { error: { details: Json } }).error.details.reason }).toEqual({ name, reason });
    }
  });
  // Key rotation (a new kid fetched from the JWKS) is proven in src/auth/jwt.test.ts, with a clock it can move past the refetch cooldown.
});

describe('stream tickets', () => {
  let s: TestServer;
  let alice: TestKey;
  let beta: TestKey;
  let task: string;
  let port: number;

  beforeAll(async () => {
    s = await startTestServer({ config: { auth: 'required', allowedOrigins: ['https://dashboard.example.com'] } });
    port = Number(new URL(s.url).port);
    alice = await makeKey(s.app, 'acme', 'viewer,member');
    beta = await makeKey(s.app, 'beta', 'admin');
    task = (await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 2 + 3?' }, headers: alice.headers })).body.id;
    await waitForTask(s.app, task);
  });
  afterAll(async () => {
    await s?.close();
  });

  async function ticket(headers = alice.headers, taskId = task): Promise<{ ticket: string; links: { events: string; websocket: string } }> {
    const res = await call<{ ticket: string; links: { events: string; websocket: string } }>(s.url, '/v1/stream-tickets', { json: { task_id: taskId }, headers });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }

  it('opens one stream of one task, once, without a header', async () => {
    const t = await ticket();
    expect(t.ticket).toMatch(/^agt_/);
    const stream = await call(s.url, t.links.events);
    expect(stream.status).toBe(200);
    const frames = sseFrames(stream.text);
    expect(frames[0]!.event).toBe('task_created');
    expect(frames.at(-1)!.event).toBe('task_completed');
    const again = expectError(await call(s.url, t.links.events), 401, 'UNAUTHENTICATED');
    expect(again.details.reason).toBe('ticket');
  });

  it('is refused for another task, on another route, after its minute, and for another tenant\'s task', async () => {
    const other = (await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'What is 1 + 1?' }, headers: alice.headers })).body.id;
    const t = await ticket();
    expectError(await call(s.url, `/v1/tasks/${other}/events?ticket=${t.ticket}`), 401, 'UNAUTHENTICATED');
    // Only stream routes take tickets: elsewhere the request simply has no credential.
    expect(expectError(await call(s.url, `/v1/tasks/${task}?ticket=${t.ticket}`), 401, 'UNAUTHENTICATED').details.reason).toBe('missing');
    const late = await ticket();
    await (s.app.store as unknown as { db: { query(sql: string): Promise<unknown> } }).db.query(`UPDATE stream_tickets SET expires_at = now() - interval '1 second'`);
    expectError(await call(s.url, late.links.events), 401, 'UNAUTHENTICATED');
    expectError(await call(s.url, '/v1/stream-tickets', { json: { task_id: task }, headers: beta.headers }), 404, 'TASK_NOT_FOUND');
  });

  it('opens a WebSocket from the service\'s own page or an allowed origin, never from a foreign one', async () => {
    const own = await wsCollect(wsUrl(s.url, (await ticket()).links.websocket), { origin: `http://127.0.0.1:${port}` });
    expect(own.messages.at(-1)).toMatchObject({ type: 'task_completed' });
    const allowed = await wsCollect(wsUrl(s.url, (await ticket()).links.websocket), { origin: 'https://dashboard.example.com' });
    expect(allowed.messages.at(-1)).toMatchObject({ type: 'task_completed' });
    const foreign = await ticket();
    const status = await new Promise<number>((resolve, reject) => {
      const refused = new WebSocket(wsUrl(s.url, foreign.links.websocket), { headers: { origin: 'https://evil.example' } });
      refused.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode!);
        refused.terminate();
      });
      refused.on('open', () => reject(new Error('upgrade accepted')));
      refused.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });
});
