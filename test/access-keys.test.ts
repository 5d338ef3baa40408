/**
 * Credentials end to end: API keys made with `agentic keys` before any key exists (embedded and
 * PostgreSQL), the mode the service chooses at start, revocation taking effect at once, operator keys
 * acting for a tenant, keys made through the API, and the start-up refusal to listen beyond loopback
 * with no way to authenticate. The `keys` command runs in this process (it is a function of the
 * settings and its arguments); one real service process and one real `agentic run` prove the whole path.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { commandKeys } from '../src/cli/keys.js';
import { serve, type RunningService } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/index.js';
import { call, expectError, type Json } from './support/http.js';
import { dropSchema, POSTGRES_URL, requirePostgres, uniqueSchema } from './support/postgres.js';
import { killHard, startServiceProcess } from './support/process.js';
import { startTestServer, type TestServer } from './support/server.js';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'agentic-keys-'));
const pg = await requirePostgres();
const schema = uniqueSchema('keys');

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (pg) await dropSchema(schema);
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `agentic keys …` with these settings; returns what it printed and its exit code (errors as main.ts prints them). */
async function keys(env: Record<string, string>, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void out.push(parts.join(' ')));
  try {
    const code = await commandKeys(loadConfig({ LOG_LEVEL: 'silent', ...env }), args);
    return { code, stdout: out.join('\n'), stderr: '' };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: 1, stdout: out.join('\n'), stderr: `agentic: ${e.code ? `${e.code}: ` : ''}${e.message}` };
  } finally {
    vi.restoreAllMocks();
  }
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
    const r = await keys(env, ['create', '--tenant', 'acme', '--role', 'admin', '--name', 'ops', '--json']);
    expect(r.code, r.stderr).toBe(0);
    created = JSON.parse(r.stdout) as CreatedKey;
    expect(created).toMatchObject({ tenant: 'acme', role: 'admin', id: expect.stringMatching(/^key_[0-9a-f]{16}$/) });
    expect(created.key).toMatch(/^agk_[A-Za-z0-9_-]{43}$/);
    const list = await keys(env, ['list', '--json']);
    const listed = JSON.parse(list.stdout) as Json[];
    expect(listed).toEqual([expect.objectContaining({ id: created.id, name: 'ops', tenant: 'acme', roles: ['admin'], status: 'active', prefix: `${created.key.slice(0, 10)}…` })]);
    expect(list.stdout).not.toContain(created.key);
    const human = await keys(env, ['list']);
    expect(human.stdout).toContain(created.id);
    expect(human.stdout).not.toContain(created.key);
    const shown = await keys(env, ['create', '--tenant', 'acme', '--role', 'viewer']);
    expect(shown.stdout).toMatch(/The key is shown this once[^\n]*\n\n {2}agk_[A-Za-z0-9_-]{43}\n/);
  });

  it('refuses bad input with a clear message and changes nothing', async () => {
    const before = (JSON.parse((await keys(env, ['list', '--json'])).stdout) as Json[]).length;
    const cases: Array<[string[], RegExp]> = [
      [['create', '--tenant', 'acme', '--role', 'superuser'], /VALIDATION_ERROR: Unknown role superuser; roles are viewer, member, approver, admin/],
      [['create', '--tenant', 'a b', '--role', 'admin'], /tenant must be 1-64/],
      [['create', '--tenant', 'acme', '--role', 'admin', '--expires', '2001-01-01'], /expiry is in the past/],
      [['create', '--tenant', 'acme', '--role', 'admin', '--expires', 'soon'], /Cannot read the expiry "soon"/],
      [['create', '--role', 'admin'], /needs --tenant and --role/],
      [['revoke', 'key_nope'], /KEY_NOT_FOUND: No key key_nope/],
      [['rotate'], /Usage:/],
    ];
    for (const [args, message] of cases) {
      const r = await keys(env, args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toMatch(message);
    }
    expect((JSON.parse((await keys(env, ['list', '--json'])).stdout) as Json[]).length).toBe(before);
  });

  it('starts authenticated once a key exists, and the command line sends AGENTIC_API_KEY over --url', { timeout: 180_000 }, async () => {
    const p = await startServiceProcess(env);
    try {
      expect(p.output()).toMatch(/"auth":"authenticated"/);
      expect((await call(p.url, '/health')).body).toMatchObject({ auth: { mode: 'authenticated' } });
      expectError(await call(p.url, '/v1/tasks'), 401, 'UNAUTHENTICATED');
      const bearer = { authorization: `Bearer ${created.key}` };
      expect((await call(p.url, '/v1/whoami', { headers: { ...bearer, 'x-tenant-id': 'other' } })).body).toMatchObject({ tenant: 'acme', principal: `key:${created.id}`, name: 'ops' });
      const run = await exec(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', 'What is 2 + 2?', '--url', p.url, '--json'], {
        cwd: ROOT,
        env: { ...process.env, LOG_LEVEL: 'silent', AGENTIC_API_KEY: created.key },
        timeout: 120_000,
      });
      const events = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: Json });
      expect(events[0]).toMatchObject({ type: 'task_created', data: { created_by: { id: `key:${created.id}`, name: 'ops' } } });
      expect(events.at(-1)!.type).toBe('task_completed');
    } finally {
      await killHard(p);
    }
  });

  it('points to the API while a service holds the embedded database', { timeout: 180_000 }, async () => {
    // The data directory's lock is per process: the command runs as a process of its own here.
    const running = await serve(loadConfig({ AGENTIC_DATA_DIR: env.AGENTIC_DATA_DIR, PORT: '0', LOG_LEVEL: 'silent' }), 'all');
    try {
      const r = await exec(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'keys', 'list'], {
        cwd: ROOT,
        env: { ...process.env, LOG_LEVEL: 'silent', ...env },
        timeout: 120_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code?: number; stderr?: string }) => ({ code: e.code ?? 1, stderr: e.stderr ?? '' }),
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/is in use by process \d+\. Stop the service to manage keys here, or use the API \(POST \/v1\/keys/);
    } finally {
      await running.stop();
    }
  });

  it('revokes on the command line, and shows when the key was last used', async () => {
    const revoke = await keys(env, ['revoke', created.id, '--json']);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(JSON.parse(revoke.stdout)).toMatchObject({ id: created.id, status: 'revoked', revoked_by: 'cli' });
    const list = JSON.parse((await keys(env, ['list', '--json'])).stdout) as Json[];
    expect(list.find((k) => k.id === created.id)).toMatchObject({ status: 'revoked', last_used_at: expect.any(String) });
  });
});

describe.skipIf(!pg)('API keys on PostgreSQL, with the service running', () => {
  const env = { DATABASE_URL: POSTGRES_URL, AGENTIC_DB_SCHEMA: schema };
  let s: TestServer;
  let operator: CreatedKey;

  afterAll(async () => {
    await s?.close();
  });

  it('lets an operator key act for a named tenant only, each request audited', async () => {
    operator = JSON.parse((await keys(env, ['create', '--tenant', '*', '--role', 'admin', '--name', 'operator', '--json'])).stdout) as CreatedKey;
    expect(operator.tenant).toBe('*');
    s = await startTestServer({ config: { databaseUrl: POSTGRES_URL, databaseSchema: schema } });
    expect(s.app.auth?.mode).toBe('authenticated');
    const bearer = { authorization: `Bearer ${operator.key}` };
    expectError(await call(s.url, '/v1/tasks', { headers: bearer }), 400, 'VALIDATION_ERROR');
    const acme = { ...bearer, 'x-act-as-tenant': 'acme' };
    expect((await call(s.url, '/v1/whoami', { headers: acme })).body).toMatchObject({ tenant: 'acme', acting_from: '*', operator: true });
    const audit = (await call<{ items: Json[] }>(s.url, '/v1/audit?action=tenant.act_as', { headers: acme })).body.items;
    expect(audit.length).toBeGreaterThanOrEqual(1);
    expect(audit[0]).toMatchObject({ tenant_id: 'acme', principal: `key:${operator.id}`, acting_from: '*' });
  });

  it("makes keys through the API for the tenant's admins, shows each once, and revokes them at once", async () => {
    const acme = { authorization: `Bearer ${operator.key}`, 'x-act-as-tenant': 'acme' };
    const admin = await call<Json & { key: string; id: string }>(s.url, '/v1/keys', { json: { roles: ['admin'], name: 'acme admin' }, headers: acme });
    expect(admin.status, admin.text).toBe(201);
    expect(admin.body).toMatchObject({ tenant: 'acme', roles: ['admin'], status: 'active', key: expect.stringMatching(/^agk_/) });
    const adminHeaders = { authorization: `Bearer ${admin.body.key}` };
    const member = await call<Json & { key: string; id: string }>(s.url, '/v1/keys', { json: { roles: ['member'], name: 'ci bot', expires: '30d' }, headers: adminHeaders });
    expect(member.status).toBe(201);
    expect(Date.parse(member.body.expires_at as string)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const memberHeaders = { authorization: `Bearer ${member.body.key}` };
    // A member may not make keys; no key may grant more than its creator holds.
    expectError(await call(s.url, '/v1/keys', { json: { roles: ['viewer'] }, headers: memberHeaders }), 403, 'FORBIDDEN');
    const listed = (await call<{ items: Json[] }>(s.url, '/v1/keys', { headers: adminHeaders })).body.items;
    expect(listed.map((k) => k.id).sort()).toEqual([admin.body.id, member.body.id].sort());
    expect(JSON.stringify(listed)).not.toContain(admin.body.key);
    expect(JSON.stringify(listed)).not.toContain(member.body.key);
    expect((await call(s.url, '/v1/tasks', { headers: memberHeaders })).status).toBe(200);
    // Revoked on the command line while the service runs: refused from the next request on.
    expect((await keys(env, ['revoke', member.body.id])).code).toBe(0);
    const refused = expectError(await call(s.url, '/v1/tasks', { headers: memberHeaders }), 401, 'UNAUTHENTICATED');
    expect(refused.details).toMatchObject({ reason: 'revoked', key_id: member.body.id });
    // Revoked through the API: the same.
    const revoked = await call(s.url, `/v1/keys/${admin.body.id}`, { method: 'DELETE', headers: adminHeaders });
    expect(revoked.body).toMatchObject({ status: 'revoked', revoked_by: `key:${admin.body.id}` });
    expectError(await call(s.url, '/v1/keys', { headers: adminHeaders }), 401, 'UNAUTHENTICATED');
    const audit = (await call<{ items: Json[] }>(s.url, '/v1/audit?action=key.created,key.revoked', { headers: acme })).body.items;
    expect(audit.map((e) => `${e.action} ${e.target_id} ${e.principal}`).sort()).toEqual(
      [
        `key.created ${admin.body.id} key:${operator.id}`,
        `key.created ${member.body.id} key:${admin.body.id}`,
        `key.revoked ${admin.body.id} key:${admin.body.id}`,
        `key.revoked ${member.body.id} cli`,
      ].sort(),
    );
    // Another tenant's key id is simply not found.
    const beta = { authorization: `Bearer ${operator.key}`, 'x-act-as-tenant': 'beta' };
    expectError(await call(s.url, `/v1/keys/${admin.body.id}`, { method: 'DELETE', headers: beta }), 404, 'KEY_NOT_FOUND');
  });
});

describe('start-up', () => {
  const started: RunningService[] = [];
  afterAll(async () => {
    for (const p of started) await p.stop();
  });
  const start = async (env: Record<string, string>) => {
    const p = await serve(loadConfig({ PORT: '0', LOG_LEVEL: 'silent', ...env }), 'all');
    started.push(p);
    return p;
  };

  it('refuses to listen beyond loopback with no way to authenticate', async () => {
    await expect(start({ AGENTIC_DATA_DIR: join(dir, 'open'), HOST: '0.0.0.0' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/^HOST=0\.0\.0\.0 is reachable from other machines, and no way to authenticate is configured: create an API key \(npx agentic keys create/),
    });
    // Nothing was left holding the data directory: a start with a key now succeeds.
    await keys({ AGENTIC_DATA_DIR: join(dir, 'open') }, ['create', '--tenant', 'default', '--role', 'admin']);
    const p = await start({ AGENTIC_DATA_DIR: join(dir, 'open'), HOST: '0.0.0.0' });
    expectError(await call(p.url.replace('0.0.0.0', '127.0.0.1'), '/v1/tasks'), 401, 'UNAUTHENTICATED');
  });

  it('runs without authentication only when told to, and says so', async () => {
    const p = await start({ AGENTIC_DATA_DIR: join(dir, 'none'), HOST: '0.0.0.0', AGENTIC_AUTH: 'none' });
    const url = p.url.replace('0.0.0.0', '127.0.0.1');
    const health = (await call<{ auth: { mode: string; warnings: string[] } }>(url, '/health')).body;
    expect(health.auth.mode).toBe('none');
    expect(health.auth.warnings[0]).toMatch(/^AGENTIC_AUTH=none: no authentication\. Anyone who can reach 0\.0\.0\.0 acts as the admin of tenant "default", from any machine/);
    expect((await call(url, '/v1/whoami')).body).toMatchObject({ principal: 'local', tenant: 'default', kind: 'none' });
  });
});
