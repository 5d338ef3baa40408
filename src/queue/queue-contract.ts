/**
 * The work queue's contract test suite, run against every implementation (in-process and Redis
 * Streams) by `queue.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { trackFixtures } from '../../test/support/fixtures.js';
import type { Job, WorkQueue } from './types.js';
import { until } from '../../test/support/wait.js';

export interface QueueFixture {
  /** A queue; calls with the same `shared` name reach the same underlying queue (another process, for Redis). */
  open(shared: string): Promise<WorkQueue>;
  cleanup(): Promise<void>;
}

const job = (i: number): Job => ({ kind: 'step', taskId: `t${i}`, stepId: `s${i}` });


export function runWorkQueueContract(name: string, fixture: () => Promise<QueueFixture>): void {
  describe(`WorkQueue contract: ${name}`, () => {
    const setup = trackFixtures(fixture);

    it('delivers every job, with no more in flight than the concurrency', async () => {
      const fx = await setup();
      const q = await fx.open('a');
      const seen: string[] = [];
      let inFlight = 0;
      let peak = 0;
      const consumer = q.consume(async (j) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        seen.push(j.kind === 'step' ? j.taskId : '');
        inFlight--;
      }, { concurrency: 3 });
      await q.enqueue(Array.from({ length: 40 }, (_, i) => job(i)));
      await until(() => seen.length === 40);
      expect(new Set(seen).size).toBe(40);
      expect(peak).toBeLessThanOrEqual(3);
      expect(peak).toBeGreaterThan(1);
      await consumer.stop(1000);
      await q.close();
    });

    it('shares the work between consumers, each job once', async () => {
      const fx = await setup();
      const q1 = await fx.open('b');
      const q2 = await fx.open('b');
      const by = new Map<string, string[]>();
      const handler = (who: string) => async (j: Job) => {
        await new Promise((r) => setTimeout(r, 3));
        by.set(j.taskId, [...(by.get(j.taskId) ?? []), who]);
      };
      const c1 = q1.consume(handler('one'), { concurrency: 2 });
      const c2 = q2.consume(handler('two'), { concurrency: 2 });
      await q1.enqueue(Array.from({ length: 60 }, (_, i) => job(i)));
      await until(() => by.size === 60);
      await new Promise((r) => setTimeout(r, 50));
      expect([...by.values()].every((w) => w.length === 1)).toBe(true);
      const counts = [...by.values()].flat().reduce((m, w) => m.set(w, (m.get(w) ?? 0) + 1), new Map<string, number>());
      expect(counts.get('one')).toBeGreaterThan(0);
      expect(counts.get('two')).toBeGreaterThan(0);
      await Promise.all([c1.stop(1000), c2.stop(1000)]);
      await q1.close();
      await q2.close();
    });

    it('reports the backlog, which drains to zero', async () => {
      const fx = await setup();
      const q = await fx.open('c');
      await q.enqueue(Array.from({ length: 7 }, (_, i) => job(i)));
      expect(await q.depth()).toBe(7);
      let done = 0;
      const consumer = q.consume(async () => void done++, { concurrency: 4 });
      await until(() => done === 7);
      await until(() => true);
      const end = Date.now() + 5000;
      while ((await q.depth()) > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      expect(await q.depth()).toBe(0);
      await consumer.stop(1000);
      await q.close();
    });

    it('stop waits for jobs in flight and takes no new ones', async () => {
      const fx = await setup();
      const q = await fx.open('d');
      let finished = 0;
      let started = 0;
      const consumer = q.consume(async () => {
        started++;
        await new Promise((r) => setTimeout(r, 200));
        finished++;
      }, { concurrency: 2 });
      await q.enqueue([job(1), job(2), job(3), job(4)]);
      await until(() => started === 2);
      await consumer.stop(5000);
      expect(finished).toBe(started);
      await new Promise((r) => setTimeout(r, 300));
      expect(started).toBe(2);
      await q.close();
    });
  });
}
