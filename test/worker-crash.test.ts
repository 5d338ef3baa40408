/**
 * A worker killed with SIGKILL in the middle of a step: another worker takes the step over once the
 * lease expires and continues from the last journaled turn; the decisions already journaled are not
 * requested from the model again (one model call per journaled turn, recorded in the usage table).
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { dropSchema, POSTGRES_URL, requirePostgres, uniqueSchema } from './support/postgres.js';
import { killHard, startServiceProcess, type ServiceProcess } from './support/process.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './support/redis.js';

const run = (await requirePostgres()) && (await requireRedis());
const ENTRY = join(import.meta.dirname, 'support', 'slow-service.ts');
const schema = uniqueSchema('crash');
const prefix = uniquePrefix('crash');
const env = {
  DATABASE_URL: POSTGRES_URL,
  AGENTIC_DB_SCHEMA: schema,
  REDIS_URL,
  AGENTIC_REDIS_PREFIX: prefix,
  AGENTIC_LEASE_MS: '1500',
  AGENTIC_RECONCILE_MS: '500',
  SLOW_TURN_MS: '700',
};
const procs: ServiceProcess[] = [];

afterAll(async () => {
  for (const p of procs) await killHard(p);
  if (run) {
    await dropSchema(schema);
    await dropPrefix(prefix);
  }
});

describe.skipIf(!run)('worker crash mid-step', () => {
  it('another worker continues from the journal without asking for journaled decisions again', async () => {
    const api = await startServiceProcess(env, { args: [ENTRY, 'api'] });
    procs.push(api);
    const first = await startServiceProcess(env, { args: [ENTRY, 'worker'] });
    procs.push(first);
    const res = await fetch(`${api.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"input":"add up slowly"}' });
    const { id } = (await res.json()) as { id: string };
    const db = new pg.Client({ connectionString: POSTGRES_URL });
    await db.connect();
    try {
      await db.query(`SET search_path TO ${schema}`);
      // Wait until two turns are journaled with their results, then kill the worker mid-step.
      for (let i = 0; ; i++) {
        const { rows } = await db.query('SELECT count(*)::int AS n FROM turns WHERE task_id = $1 AND observations IS NOT NULL', [id]);
        if (rows[0].n >= 2) break;
        if (i > 400) throw new Error('the step did not get going');
        await new Promise((r) => setTimeout(r, 25));
      }
      await killHard(first);
      const second = await startServiceProcess(env, { args: [ENTRY, 'worker'] });
      procs.push(second);
      const text = await (await fetch(`${api.url}/v1/tasks/${id}/events?format=ndjson`)).text();
      const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seq: number; type: string; data: Record<string, unknown> });
      expect(events.at(-1)?.type).toBe('task_completed');
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(String(events.at(-1)?.data.final_output)).toBe('turns 0,1,2');
      // One model call for each of the turns journaled before the kill: none was asked again.
      const { rows: calls } = await db.query('SELECT turn, count(*)::int AS n FROM usage WHERE task_id = $1 AND turn IS NOT NULL GROUP BY turn ORDER BY turn', [id]);
      expect(calls.filter((c: { turn: number }) => c.turn < 2).map((c: { n: number }) => c.n)).toEqual([1, 1]);
      expect(calls.map((c: { turn: number }) => c.turn)).toEqual([0, 1, 2, 3]);
      // The step ran on both workers: the second took over under a new lease.
      const { rows: steps } = await db.query('SELECT status, attempt FROM steps WHERE task_id = $1', [id]);
      expect(steps).toEqual([{ status: 'completed', attempt: 1 }]);
    } finally {
      await db.end();
    }
  });
});
