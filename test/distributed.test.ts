/**
 * The distributed shape with real processes: two API instances and three workers on the real
 * PostgreSQL and Redis, nginx round-robin in front. A task created through the balancer is seen
 * consistently through each instance, and its stream resumes on one instance where another stopped.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../src/events/types.js';
import { startNginx, requireNginx, type Balancer } from './support/nginx.js';
import { dropSchema, POSTGRES_URL, requirePostgres, uniqueSchema } from './support/postgres.js';
import { killHard, startServiceProcess, stopWith, type ServiceProcess } from './support/process.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './support/redis.js';
import { startSmtpSink } from './support/smtp-server.js';
import { until } from './support/wait.js';

const run = (await requirePostgres()) && (await requireRedis()) && requireNginx();
const ROOT = join(import.meta.dirname, '..');
const schema = uniqueSchema('dist');
const prefix = uniquePrefix('dist');
const smtp = await startSmtpSink();
const env = {
  DATABASE_URL: POSTGRES_URL,
  AGENTIC_DB_SCHEMA: schema,
  REDIS_URL,
  AGENTIC_REDIS_PREFIX: prefix,
  AGENTIC_LEASE_MS: '3000',
  // Code tools are not part of these scenarios; send_email is (approvals across instances).
  AGENTIC_SANDBOX: 'false',
  SMTP_URL: smtp.url,
  AGENTIC_EMAIL_FROM: 'agent@example.com',
};
const apis: ServiceProcess[] = [];
const workers: ServiceProcess[] = [];
let lb: Balancer | undefined;

beforeAll(async () => {
  if (!run) return;
  // Migrations run once first, then every process starts against the same schema.
  const cli = join(ROOT, 'src/cli/main.ts');
  apis.push(await startServiceProcess(env, { args: [cli, 'serve', '--role', 'api'] }));
  apis.push(await startServiceProcess(env, { args: [cli, 'serve', '--role', 'api'] }));
  workers.push(...(await Promise.all([0, 1, 2].map(() => startServiceProcess(env, { args: [cli, 'worker'] })))));
  lb = await startNginx(apis.map((a) => a.url));
}, 120_000);

afterAll(async () => {
  await lb?.stop();
  for (const p of [...apis, ...workers]) await killHard(p);
  await smtp.stop();
  if (run) {
    await dropSchema(schema);
    await dropPrefix(prefix);
  }
});

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function events(base: string, id: string, headers: Record<string, string> = {}): Promise<TaskEvent[]> {
  const text = await (await fetch(`${base}/v1/tasks/${id}/events?format=ndjson`, { headers })).text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as TaskEvent);
}

describe.skipIf(!run)('distributed: 2 API instances, 3 workers, nginx', () => {
  it('balances across both API instances', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await json<{ instance: string; shape: string }>(`${lb!.url}/health`)).instance);
    expect(seen.size).toBe(2);
    expect((await json<{ shape: string }>(`${lb!.url}/health`)).shape).toBe('distributed');
  });

  it('creates through the balancer; status, steps and streams agree on every instance', async () => {
    await json(`${lb!.url}/v1/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Queue notes', content: 'Redis streams deliver each message at least once to a consumer group.' }),
    });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const body = { input: i % 3 === 0 ? `Compare Redis and PostgreSQL for queues (${i})` : `What do our notes say about redis streams? (${i})` };
      ids.push((await json<{ id: string }>(`${lb!.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).id);
    }
    // Follow each task live on one instance while it runs; the stream ends after the terminal event.
    const logs = await Promise.all(ids.map((id, i) => events(apis[i % 2]!.url, id)));
    for (const [i, id] of ids.entries()) {
      const log = logs[i]!;
      expect(log.at(-1)?.type).toBe('task_completed');
      expect(log.map((e) => e.seq)).toEqual(log.map((_, k) => k + 1));
      const [a, b] = await Promise.all(apis.map((api) => json<{ status: string; steps: unknown[]; final_output: string }>(`${api.url}/v1/tasks/${id}`)));
      expect(a).toEqual(b);
      expect(a?.status).toBe('completed');
      expect(await events(apis[(i + 1) % 2]!.url, id)).toEqual(log);
      const seed = await json<{ status: string; final_output: string }>(`${lb!.url}/tasks/${id}/status`);
      expect(seed.final_output).toBe(a?.final_output);
    }
    const listed = await json<{ items: Array<{ id: string }> }>(`${apis[1]!.url}/v1/tasks?limit=100`);
    expect(new Set(listed.items.map((t) => t.id))).toEqual(new Set(ids));
  });

  it('resumes a stream on the other instance with Last-Event-ID, with no gap and no duplicate', async () => {
    const { id } = await json<{ id: string }>(`${lb!.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'Summarize the queue notes' }),
    });
    const full = await events(apis[0]!.url, id);
    const cut = Math.floor(full.length / 2);
    const rest = await events(apis[1]!.url, id, { 'last-event-id': String(full[cut - 1]!.seq) });
    expect([...full.slice(0, cut), ...rest]).toEqual(full);
  });

  it('an approval asked for on one instance is decided on the other; exactly one email goes out', async () => {
    const form = new FormData();
    form.append('file', new Blob(['region,amount\nnorth,10\nsouth,4\n'], { type: 'text/csv' }), 'sales.csv');
    const file = await json<{ id: string }>(`${lb!.url}/v1/files`, { method: 'POST', body: form });
    const { id } = await json<{ id: string }>(`${lb!.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'Analyze this CSV and email the summary to ops@example.com', files: [file.id] }),
    });
    await until(async () => (await json<{ status: string }>(`${apis[0]!.url}/v1/tasks/${id}`)).status === 'awaiting_approval', 60_000);
    const pending = await json<{ items: Array<{ id: string; tool: string }> }>(`${apis[0]!.url}/v1/approvals?task_id=${id}`);
    expect(pending.items.map((a) => a.tool)).toEqual(['send_email']);
    const before = smtp.messages.length;
    const decided = await json<{ decided_by: string }>(`${apis[1]!.url}/v1/approvals/${pending.items[0]!.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve' }),
    });
    expect(decided.decided_by).toBe('local');
    const log = await events(apis[0]!.url, id);
    expect(log.at(-1)?.type).toBe('task_completed');
    expect(log.map((e) => e.seq)).toEqual(log.map((_, k) => k + 1));
    await smtp.waitForMessages(before + 1);
    expect(smtp.messages.length).toBe(before + 1);
    expect(smtp.messages.at(-1)!.envelope.to).toEqual(['ops@example.com']);
  });

  it('a worker that stops gracefully hands its work to the others', async () => {
    const victim = workers.pop()!;
    await stopWith(victim, 'SIGTERM');
    expect(victim.child.exitCode).toBe(0);
    expect(victim.output()).toContain('shutting down');
    const { id } = await json<{ id: string }>(`${lb!.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'What is 2^10 - 24?' }),
    });
    const log = await events(lb!.url, id);
    expect(log.at(-1)?.type).toBe('task_completed');
    expect(String((log.at(-1)?.data as { final_output: string }).final_output)).toContain('1,000');
  });
});

describe.skipIf(!run)('PostgreSQL without Redis: separate API and worker processes', () => {
  const pgSchema = uniqueSchema('pgonly');
  const procs: ServiceProcess[] = [];
  afterAll(async () => {
    for (const p of procs) await killHard(p);
    await dropSchema(pgSchema);
  });

  it('the worker finds work the API left in the store, and backpressure counts it', async () => {
    const pgEnv = { DATABASE_URL: POSTGRES_URL, AGENTIC_DB_SCHEMA: pgSchema, AGENTIC_RECONCILE_MS: '300', AGENTIC_MAX_BACKLOG: '3' };
    const cli = join(ROOT, 'src/cli/main.ts');
    const api = await startServiceProcess(pgEnv, { args: [cli, 'serve', '--role', 'api'] });
    procs.push(api);
    expect((await json<{ shape: string }>(`${api.url}/health`)).shape).toBe('postgres');
    const post = () => fetch(`${api.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"input":"What is 6 * 7?"}' });
    // No worker yet: the backlog grows in the store until it refuses more.
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post()).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    procs.push(await startServiceProcess(pgEnv, { args: [cli, 'worker'] }));
    const listed = await json<{ items: Array<{ id: string }> }>(`${api.url}/v1/tasks?limit=10`);
    for (const t of listed.items) {
      const log = await events(api.url, t.id);
      expect(log.at(-1)?.type).toBe('task_completed');
    }
    expect((await post()).status).toBe(202);
  });
});
