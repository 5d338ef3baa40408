/**
 * Chaos: N tasks, each making one side-effecting call to a local sink server, while workers are
 * killed with SIGKILL every few seconds, Redis is flushed and restarted once, and PostgreSQL is
 * restarted once. Afterwards every task has reached a terminal state, no side effect happened twice
 * (and each completed task's happened exactly once), and every event log is gap-free.
 *
 * `npm test` runs it small; `npm run test:chaos` runs it large (CHAOS_TASKS, CHAOS_KILL_EVERY_MS).
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../src/events/types.js';
import { chaosToolsAvailable, startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from './chaos/servers.js';
import { killHard, startServiceProcess, type ServiceProcess } from './support/process.js';

const TASKS = Number(process.env.CHAOS_TASKS ?? 30);
const KILL_EVERY_MS = Number(process.env.CHAOS_KILL_EVERY_MS ?? 2500);
const WORKERS = 3;
const available = chaosToolsAvailable();
if (!available && process.env.CI) throw new Error('the chaos test needs PostgreSQL and redis-server binaries in CI');

const ENTRY = join(import.meta.dirname, 'chaos', 'service.ts');
let pg: PrivatePostgres | undefined;
let redis: PrivateRedis | undefined;
let sink: Server | undefined;
const procs = new Set<ServiceProcess>();

afterAll(async () => {
  for (const p of procs) await killHard(p);
  await redis?.stop();
  pg?.stop();
  sink?.close();
});

async function retry<T>(what: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await what();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

describe.skipIf(!available)('chaos', () => {
  it(`${TASKS} tasks with side effects survive SIGKILLed workers, a Redis flush and a PostgreSQL restart`, async () => {
    const started = Date.now();
    pg = await startPrivatePostgres();
    redis = await startPrivateRedis();
    const deliveries = new Map<string, number>();
    const byTask = new Map<string, number>();
    sink = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const { task, key } = JSON.parse(body) as { task: string; key: string };
        deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
        byTask.set(task, (byTask.get(task) ?? 0) + 1);
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => sink!.listen(0, '127.0.0.1', r));
    const env = {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      CHAOS_SINK_URL: `http://127.0.0.1:${(sink.address() as { port: number }).port}/`,
      AGENTIC_LEASE_MS: '2000',
      AGENTIC_RECONCILE_MS: '1000',
      AGENTIC_WORKER_CONCURRENCY: '16',
      LOG_LEVEL: 'warn',
    };
    const start = async (role: 'api' | 'worker') => {
      const p = await startServiceProcess({ ...env, LOG_LEVEL: 'info' }, { args: [ENTRY, role] });
      procs.add(p);
      return p;
    };
    const api = await start('api');
    const workers: ServiceProcess[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(await start('worker'));

    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      ids.push(
        (
          await retry(() =>
            json<{ id: string }>(`${api.url}/v1/tasks`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'idempotency-key': `chaos-${i}` },
              body: JSON.stringify({ input: `chaos task ${i}` }),
            }),
          )
        ).id,
      );
    }

    // Chaos until every task has ended: kill a worker every few seconds and start a new one;
    // flush and restart Redis once, restart PostgreSQL once.
    let kills = 0;
    let redisRestarted = false;
    let pgRestarted = false;
    const unfinished = async () => {
      const page = await json<{ items: Array<{ status: string }> }>(`${api.url}/v1/tasks?limit=100&status=pending,planning,running`);
      return page.items.length;
    };
    const deadline = Date.now() + 240_000;
    let lastKill = Date.now();
    while ((await retry(unfinished)) > 0 || !redisRestarted || !pgRestarted) {
      if (Date.now() > deadline) throw new Error('tasks did not all finish under chaos');
      if (Date.now() - lastKill >= KILL_EVERY_MS) {
        lastKill = Date.now();
        const victim = workers.splice(Math.floor(Math.random() * workers.length), 1)[0]!;
        await killHard(victim);
        procs.delete(victim);
        kills++;
        workers.push(await start('worker'));
        if (!redisRestarted) {
          await redis.flushAndRestart();
          redisRestarted = true;
        } else if (!pgRestarted) {
          pg.restart();
          pgRestarted = true;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }

    // Every task ended; read their outcomes and logs.
    const outcomes = new Map<string, string>();
    let gapFree = 0;
    for (const id of ids) {
      const task = await retry(() => json<{ status: string; error: { code: string } | null }>(`${api.url}/v1/tasks/${id}`));
      outcomes.set(id, task.status === 'failed' ? `failed:${task.error?.code}` : task.status);
      const text = await retry(async () => (await fetch(`${api.url}/v1/tasks/${id}/events?format=ndjson`)).text());
      const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as TaskEvent);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => ['task_completed', 'task_failed', 'task_cancelled'].includes(e.type))).toHaveLength(1);
      if (task.status === 'failed') expect(JSON.stringify(events.at(-1))).toContain('not run again');
      gapFree++;
    }
    const counts = [...outcomes.values()].reduce((m, o) => m.set(o, (m.get(o) ?? 0) + 1), new Map<string, number>());
    const duplicates = [...deliveries.values()].filter((n) => n > 1).length;
    console.log(
      `chaos: ${TASKS} tasks in ${((Date.now() - started) / 1000).toFixed(1)} s; ${kills} workers killed; Redis flushed and restarted: ${redisRestarted}; ` +
        `PostgreSQL restarted: ${pgRestarted}; outcomes ${JSON.stringify(Object.fromEntries(counts))}; side effects ${deliveries.size}, ` +
        `duplicated ${duplicates}; gap-free logs ${gapFree}/${TASKS}`,
    );
    expect(duplicates).toBe(0);
    for (const [id, outcome] of outcomes) {
      // Completed: its side effect happened exactly once. Failed: only because an interrupted
      // side effect was not repeated blindly, and it happened at most once.
      if (outcome === 'completed') expect(byTask.get(id), id).toBe(1);
      else {
        expect(outcome).toBe('failed:SIDE_EFFECT_UNCERTAIN');
        expect(byTask.get(id) ?? 0).toBeLessThanOrEqual(1);
      }
    }
    expect(counts.get('completed') ?? 0).toBeGreaterThan(TASKS / 2);
  }, 300_000);
});
