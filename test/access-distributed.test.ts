/**
 * Access control in the distributed shape, with real processes: two API instances on the real
 * PostgreSQL and Redis behind nginx (round-robin), started in authenticated mode by an admin key the
 * CLI made in the database beforehand. A credential's request rate is counted once for both
 * instances (through Redis), and a tenant's task quota holds across them (a tenant lock in PostgreSQL).
 * No worker runs: seed-created tasks stay pending, so they stay unfinished.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from './support/access.js';
import { call, expectError, type Answer } from './support/http.js';
import { startNginx, requireNginx, type Balancer } from './support/nginx.js';
import { dropSchema, POSTGRES_URL, requirePostgres, uniqueSchema } from './support/postgres.js';
import { killHard, startServiceProcess, type ServiceProcess } from './support/process.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './support/redis.js';

const run = (await requirePostgres()) && (await requireRedis()) && requireNginx();
const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'src/cli/main.ts');
const schema = uniqueSchema('accdist');
const prefix = uniquePrefix('accdist');
const RATE_LIMIT = 10;
const MAX_TASKS = 3;
const env = {
  DATABASE_URL: POSTGRES_URL,
  AGENTIC_DB_SCHEMA: schema,
  REDIS_URL,
  AGENTIC_REDIS_PREFIX: prefix,
  AGENTIC_SANDBOX: 'false',
  AGENTIC_RATE_LIMIT: String(RATE_LIMIT),
  AGENTIC_TENANT_QUOTAS: JSON.stringify({ acme: { max_tasks: MAX_TASKS } }),
};
const apis: ServiceProcess[] = [];
let lb: Balancer | undefined;
/** Admin keys of tenant acme, made with `agentic keys create`: one for the rate limit, one for the quota. */
const keys: Array<{ id: string; key: string; tenant: string; role: string }> = [];

/** `agentic keys create --json`, on the database directly (it applies the migrations first). */
async function cliKey(tenant: string, role: string): Promise<{ id: string; key: string; tenant: string; role: string }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLI, 'keys', 'create', '--tenant', tenant, '--role', role, '--json'], {
    cwd: ROOT,
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
  });
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`keys create printed no JSON:\n${stdout}`);
  return JSON.parse(line) as { id: string; key: string; tenant: string; role: string };
}

beforeAll(async () => {
  if (!run) return;
  // The first creates the schema; then the second key, then both API instances at once.
  keys.push(await cliKey('acme', 'admin'));
  keys.push(await cliKey('acme', 'admin'));
  apis.push(...(await Promise.all([0, 1].map(() => startServiceProcess(env, { args: [CLI, 'serve', '--role', 'api'] })))));
  lb = await startNginx(apis.map((a) => a.url));
}, 60_000);

afterAll(async () => {
  await lb?.stop();
  for (const p of apis) await killHard(p);
  if (run) {
    await dropSchema(schema);
    await dropPrefix(prefix);
  }
});

describe.skipIf(!run)('access control across 2 API instances behind nginx (PostgreSQL + Redis)', () => {
  it('made the keys with the CLI, and both instances run in authenticated mode', () => {
    expect(keys.map((k) => [k.tenant, k.role])).toEqual([
      ['acme', 'admin'],
      ['acme', 'admin'],
    ]);
    for (const k of keys) expect(k.key).toMatch(/^agk_/);
  });

  it('reports auth mode "authenticated" on both instances through nginx, and refuses a request without a credential', async () => {
    const modes = new Map<string, string>();
    for (let i = 0; i < 10 && modes.size < 2; i++) {
      const health = await call<{ instance: string; shape: string; role: string; auth: { mode: string } }>(lb!.url, '/health');
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ shape: 'distributed', role: 'api' });
      modes.set(health.body.instance, health.body.auth.mode);
    }
    expect([...modes.values()]).toEqual(['authenticated', 'authenticated']);
    // Each instance on its own, too.
    for (const api of apis) expect((await call(api.url, '/health')).body).toMatchObject({ auth: { mode: 'authenticated' } });
    expectError(await call(lb!.url, '/v1/whoami'), 401, 'UNAUTHENTICATED');
  });

  it(`lets exactly ${RATE_LIMIT} of 15 requests of a key through nginx: the count is shared through Redis`, async () => {
    const key = bearer(keys[0]!.key);
    const answers: Answer[] = [];
    // One after another: nginx alternates them between the two instances.
    for (let i = 0; i < 15; i++) answers.push(await call(lb!.url, '/v1/whoami', { headers: key }));
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    expect(ok).toHaveLength(RATE_LIMIT);
    expect(refused).toHaveLength(15 - RATE_LIMIT);
    for (const a of ok) expect(a.body).toMatchObject({ tenant: 'acme', mode: 'authenticated' });
    // One count, whichever instance answered: the remaining requests go down one by one.
    expect(ok.map((a) => Number(a.headers.get('ratelimit-remaining')))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    for (const r of refused) {
      expect(expectError(r, 429, 'RATE_LIMITED').details).toMatchObject({ limit: RATE_LIMIT, window_s: 60 });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    }
    // Each instance, asked directly, refuses the key: both see the shared count.
    for (const api of apis) expectError(await call(api.url, '/v1/whoami', { headers: key }), 429, 'RATE_LIMITED');
  });

  it(`admits exactly ${MAX_TASKS} of 8 concurrent task creations of tenant acme through nginx; the rest are 429 QUOTA_EXCEEDED`, async () => {
    // The second key: the first is out of requests for this minute.
    const key = bearer(keys[1]!.key);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => call(lb!.url, '/tasks', { json: { task_description: `Quota race ${i}` }, headers: key })));
    const admitted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    expect(admitted, JSON.stringify(answers.map((a) => [a.status, a.text.slice(0, 120)]))).toHaveLength(MAX_TASKS);
    for (const a of admitted) expect(a.body).toMatchObject({ status: 'pending' });
    expect(refused).toHaveLength(8 - MAX_TASKS);
    for (const r of refused) {
      expect(expectError(r, 429, 'QUOTA_EXCEEDED').details).toMatchObject({ quota: 'max_tasks', tenant: 'acme', limit: MAX_TASKS, current: MAX_TASKS });
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    // In the database: exactly the admitted tasks, all pending.
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; status: string }>(`SELECT id, status FROM ${schema}.tasks WHERE tenant_id = 'acme'`);
      expect(rows.map((r) => r.status)).toEqual(Array(MAX_TASKS).fill('pending'));
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(admitted.map((a) => a.body.task_id as string)));
    } finally {
      await client.end();
    }
    // The tenant sees its quota (the key's 9th request of the minute).
    expect((await call(lb!.url, '/v1/quota', { headers: key })).body).toMatchObject({ tenant: 'acme', max_tasks: MAX_TASKS, requests_per_minute: RATE_LIMIT });
  });
});
