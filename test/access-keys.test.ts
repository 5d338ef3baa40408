/**
 * Credentials end to end, with the real `agentic` command and service processes: API keys made on the
 * command line before any key exists (embedded and PostgreSQL), the mode the service chooses at
 * start, revocation taking effect at once, operator keys acting for a tenant, keys made through the
 * API, and the start-up refusal to listen beyond loopback with no way to authenticate.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { call, expectError, type Json } from './support/http.js';
import { dropSchema, POSTGRES_URL, requirePostgres, uniqueSchema } from './support/postgres.js';
import { killHard, startServiceProcess, type ServiceProcess } from './support/process.js';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'agentic-keys-'));
const pg = await requirePostgres();
const schema = uniqueSchema('keys');
const started: ServiceProcess[] = [];

afterAll(async () => {
  for (const p of started) await killHard(p);
  rmSync(dir, { recursive: true, force: true });
  if (pg) await dropSchema(schema);
});

function agentic(args: string[], env: Record<string, string>) {
  return exec(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    timeout: 120_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );
}

async function serve(env: Record<string, string>): Promise<ServiceProcess> {
  const p = await startServiceProcess(env);
  started.push(p);
  return p;
}

async function stop(p: ServiceProcess): Promise<void> {
  await killHard(p);
  started.splice(started.indexOf(p), 1);
}

interface CreatedKey {
  id: string;
  key: string;
  tenant: string;
  role: string;
}

describe('API keys on the command line, embedded', () => {
  const env = { AGENTIC_DATA_DIR: join(dir, 'embedded') };
  let created: CreatedKey;

  it('makes the first admin key before any exists, shows it once, and lists it without the secret', async () => {
    const r = await agentic(['keys', 'create', '--tenant', 'acme', '--role', 'admin', '--name', 'ops', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    created = JSON.parse(r.stdout) as CreatedKey;
    expect(created).toMatchObject({ tenant: 'acme', role: 'admin', id: expect.stringMatching(/^key_[0-9a-f]{16}$/) });
    expect(created.key).toMatch(/^agk_[A-Za-z0-9_-]{43}$/);
    const list = await agentic(['keys', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const keys = JSON.parse(list.stdout) as Json[];
    expect(keys).toEqual([expect.objectContaining({ id: created.id, name: 'ops', tenant: 'acme', roles: ['admin'], status: 'active', prefix: `${created.key.slice(0, 10)}…` })]);
    expect(list.stdout).not.toContain(created.key);
    const human = await agentic(['keys', 'list'], env);
    expect(human.stdout).toContain(created.id);
    expect(human.stdout).not.toContain(created.key);
  });

  it('refuses bad input with a clear message and changes nothing', async () => {
    const role = await agentic(['keys', 'create', '--tenant', 'acme', '--role', 'superuser'], env);
    expect(role.code).toBe(1);
    expect(role.stderr).toMatch(/Unknown role superuser; roles are viewer, member, approver, admin/);
    const tenant = await agentic(['keys', 'create', '--tenant', 'a b', '--role', 'admin'], env);
    expect(tenant.stderr).toMatch(/tenant must be 1-64/);
    const past = await agentic(['keys', 'create', '--tenant', 'acme', '--role', 'admin', '--expires', '2001-01-01'], env);
    expect(past.stderr).toMatch(/expiry is in the past/);
    const unreadable = await agentic(['keys', 'create', '--tenant', 'acme', '--role', 'admin', '--expires', 'soon'], env);
    expect(unreadable.stderr).toMatch(/Cannot read the expiry "soon"/);
    expect((await agentic(['keys', 'revoke', 'key_nope'], env)).stderr).toMatch(/KEY_NOT_FOUND: No key key_nope/);
    expect(JSON.parse((await agentic(['keys', 'list', '--json'], env)).stdout)).toHaveLength(1);
  });

  it('starts authenticated once a key exists: the key is the only way in, and names the tenant', async () => {
    const p = await serve(env);
    expect(p.output()).toMatch(/"auth":"authenticated"/);
    expect((await call(p.url, '/health')).body).toMatchObject({ auth: { mode: 'authenticated' } });
    expectError(await call(p.url, '/v1/tasks'), 401, 'UNAUTHENTICATED');
    const bearer = { authorization: `Bearer ${created.key}` };
    expect((await call(p.url, '/v1/whoami', { headers: { ...bearer, 'x-tenant-id': 'other' } })).body).toMatchObject({ tenant: 'acme', principal: `key:${created.id}`, name: 'ops' });
    // The command line's --url client sends AGENTIC_API_KEY.
    const r = await agentic(['run', 'What is 2 + 2?', '--url', p.url, '--json'], { AGENTIC_API_KEY: created.key });
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: Json });
    expect(events[0]).toMatchObject({ type: 'task_created', data: { created_by: { id: `key:${created.id}`, name: 'ops' } } });
    expect(events.at(-1)!.type).toBe('task_completed');
    const without = await agentic(['tasks', 'list', '--url', p.url], {});
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('UNAUTHENTICATED');
    await stop(p);
  });

  it('revokes on the command line, and shows when the key was last used', async () => {
    const revoke = await agentic(['keys', 'revoke', created.id, '--json'], env);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(JSON.parse(revoke.stdout)).toMatchObject({ id: created.id, status: 'revoked', revoked_by: 'cli' });
    const list = JSON.parse((await agentic(['keys', 'list', '--json'], env)).stdout) as Json[];
    expect(list[0]).toMatchObject({ status: 'revoked', last_used_at: expect.any(String) });
  });
});

describe.skipIf(!pg)('API keys on PostgreSQL, with the service running', () => {
  const env = { DATABASE_URL: POSTGRES_URL, AGENTIC_DB_SCHEMA: schema };
  let p: ServiceProcess;
  let operator: CreatedKey;

  it('lets an operator key act for a named tenant only, each request audited', async () => {
    operator = JSON.parse((await agentic(['keys', 'create', '--tenant', '*', '--role', 'admin', '--name', 'operator', '--json'], env)).stdout) as CreatedKey;
    expect(operator.tenant).toBe('*');
    p = await serve(env);
    const bearer = { authorization: `Bearer ${operator.key}` };
    expectError(await call(p.url, '/v1/tasks', { headers: bearer }), 400, 'VALIDATION_ERROR');
    const acme = { ...bearer, 'x-act-as-tenant': 'acme' };
    expect((await call(p.url, '/v1/whoami', { headers: acme })).body).toMatchObject({ tenant: 'acme', acting_from: '*', operator: true });
    const audit = (await call<{ items: Json[] }>(p.url, '/v1/audit?action=tenant.act_as', { headers: acme })).body.items;
    expect(audit.length).toBeGreaterThanOrEqual(1);
    expect(audit[0]).toMatchObject({ tenant_id: 'acme', principal: `key:${operator.id}`, acting_from: '*' });
  });

  it('makes keys through the API for the tenant\'s admins, shows each once, and revokes them at once', async () => {
    const acme = { authorization: `Bearer ${operator.key}`, 'x-act-as-tenant': 'acme' };
    const admin = await call<Json & { key: string; id: string }>(p.url, '/v1/keys', { json: { roles: ['admin'], name: 'acme admin' }, headers: acme });
    expect(admin.status, admin.text).toBe(201);
    expect(admin.body).toMatchObject({ tenant: 'acme', roles: ['admin'], status: 'active', key: expect.stringMatching(/^agk_/) });
    const adminHeaders = { authorization: `Bearer ${admin.body.key}` };
    const member = await call<Json & { key: string; id: string }>(p.url, '/v1/keys', { json: { roles: ['member'], name: 'ci bot', expires: '30d' }, headers: adminHeaders });
    expect(member.status).toBe(201);
    expect(Date.parse(member.body.expires_at as string)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const memberHeaders = { authorization: `Bearer ${member.body.key}` };
    // A member may not make keys; no key may grant more than its creator holds.
    expectError(await call(p.url, '/v1/keys', { json: { roles: ['viewer'] }, headers: memberHeaders }), 403, 'FORBIDDEN');
    const listed = (await call<{ items: Json[] }>(p.url, '/v1/keys', { headers: adminHeaders })).body.items;
    expect(listed.map((k) => k.id).sort()).toEqual([admin.body.id, member.body.id].sort());
    expect(JSON.stringify(listed)).not.toContain(admin.body.key);
    expect(JSON.stringify(listed)).not.toContain(member.body.key);
    expect((await call(p.url, '/v1/tasks', { headers: memberHeaders })).status).toBe(200);
    // Revoked on the command line while the service runs: refused from the next request on.
    expect((await agentic(['keys', 'revoke', member.body.id], env)).code).toBe(0);
    const refused = expectError(await call(p.url, '/v1/tasks', { headers: memberHeaders }), 401, 'UNAUTHENTICATED');
    expect(refused.details).toMatchObject({ reason: 'revoked', key_id: member.body.id });
    // Revoked through the API: the same.
    const revoked = await call(p.url, `/v1/keys/${admin.body.id}`, { method: 'DELETE', headers: adminHeaders });
    expect(revoked.body).toMatchObject({ status: 'revoked', revoked_by: `key:${admin.body.id}` });
    expectError(await call(p.url, '/v1/keys', { headers: adminHeaders }), 401, 'UNAUTHENTICATED');
    const audit = (await call<{ items: Json[] }>(p.url, '/v1/audit?action=key.created,key.revoked', { headers: acme })).body.items;
    expect(audit.map((e) => `${e.action} ${e.target_id}`).sort()).toEqual(
      [`key.created ${admin.body.id}`, `key.created ${member.body.id}`, `key.revoked ${admin.body.id}`, `key.revoked ${member.body.id}`].sort(),
    );
    // Another tenant's key id is simply not found.
    const beta = { authorization: `Bearer ${operator.key}`, 'x-act-as-tenant': 'beta' };
    expectError(await call(p.url, `/v1/keys/${admin.body.id}`, { method: 'DELETE', headers: beta }), 404, 'KEY_NOT_FOUND');
    await stop(p);
  });
});

describe('start-up', () => {
  it('refuses to listen beyond loopback with no way to authenticate', async () => {
    const env = { AGENTIC_DATA_DIR: join(dir, 'open'), HOST: '0.0.0.0' };
    const failure = await serve(env).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/service exited with 1/);
    expect(failure).toMatch(/HOST=0\.0\.0\.0 is reachable from other machines, and no way to authenticate is configured/);
    expect(failure).toContain('agentic keys create');
  });

  it('runs without authentication only when told to, and says so loudly', async () => {
    const p = await serve({ AGENTIC_DATA_DIR: join(dir, 'none'), HOST: '0.0.0.0', AGENTIC_AUTH: 'none' });
    expect(p.output()).toMatch(/"level":40[^\n]*AGENTIC_AUTH=none: no authentication/);
    expect(p.output()).toMatch(/auth: NONE \(no authentication\)/);
    const url = p.url.replace('0.0.0.0', '127.0.0.1');
    const health = (await call<{ auth: { mode: string; warnings: string[] } }>(url, '/health')).body;
    expect(health.auth.mode).toBe('none');
    expect(health.auth.warnings[0]).toMatch(/no authentication/);
    expect((await call(url, '/v1/whoami')).body).toMatchObject({ principal: 'local', tenant: 'default', kind: 'none' });
    await stop(p);
  });

  it('starts in local mode on loopback with no credentials, and prints it in the ready line', async () => {
    const p = await serve({ AGENTIC_DATA_DIR: join(dir, 'local') });
    expect(p.output()).toMatch(/"auth":"local"[^\n]*auth: local/);
    await stop(p);
  });
});
