/**
 * Kill the service with SIGKILL while tasks run, start it again on the same data directory: every
 * task finishes, and every task's event log is gap-free with one terminal event.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../src/events/types.js';
import { killHard, startServiceProcess, type ServiceProcess } from './support/process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'agentic-restart-'));
const running: ServiceProcess[] = [];

afterAll(async () => {
  for (const p of running) await killHard(p);
  rmSync(dataDir, { recursive: true, force: true });
});

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

function csv(rows: number): string {
  const regions = ['north', 'south', 'east', 'west'];
  const lines = ['region,product,units,revenue'];
  for (let i = 0; i < rows; i++) lines.push(`${regions[i % 4]},p${i % 17},${(i * 7) % 50},${((i * 37) % 1000) / 10}`);
  return `${lines.join('\n')}\n`;
}

describe('restart after SIGKILL', () => {
  it('finishes every task that was running, with gap-free event logs', async () => {
    const first = await startServiceProcess({ AGENTIC_DATA_DIR: dataDir });
    running.push(first);
    await json(`${first.url}/v1/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Vacation policy', content: 'Employees receive 25 days of paid vacation. Unused days carry over until March.' }),
    });
    const form = new FormData();
    form.append('file', new Blob([csv(20_000)], { type: 'text/csv' }), 'sales.csv');
    const file = await json<{ id: string }>(`${first.url}/v1/files`, { method: 'POST', body: form });

    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const body = i % 2 === 0 ? { input: `Analyze sales.csv by region (${i})`, files: [file.id] } : { input: `What does the vacation policy say about carry over? (${i})` };
      ids.push((await json<{ id: string }>(`${first.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).id);
    }
    // Kill while some tasks have finished and others have not.
    const counts = async () => {
      const page = await json<{ items: Array<{ status: string }> }>(`${first.url}/v1/tasks?limit=100`);
      return {
        done: page.items.filter((t) => t.status === 'completed').length,
        open: page.items.filter((t) => ['pending', 'planning', 'running'].includes(t.status)).length,
      };
    };
    for (let c = await counts(); c.done < 1 && c.open > 0; c = await counts()) await new Promise((r) => setTimeout(r, 25));
    const before = await counts();
    await killHard(first);
    expect(before.open).toBeGreaterThan(0);

    const second = await startServiceProcess({ AGENTIC_DATA_DIR: dataDir });
    running.push(second);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const page = await json<{ items: Array<{ status: string }> }>(`${second.url}/v1/tasks?limit=100`);
      if (page.items.every((t) => t.status === 'completed')) break;
      expect(page.items.some((t) => t.status === 'failed' || t.status === 'cancelled')).toBe(false);
      if (Date.now() > deadline) throw new Error(`tasks did not finish: ${JSON.stringify(page.items.map((t) => t.status))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    let resumed = 0;
    for (const id of ids) {
      const text = await (await fetch(`${second.url}/v1/tasks/${id}/events?format=ndjson`)).text();
      const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as TaskEvent);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === 'task_created')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'task_completed')).toHaveLength(1);
      expect(events.at(-1)?.type).toBe('task_completed');
      const task = await json<{ steps: Array<{ id: string }> }>(`${second.url}/v1/tasks/${id}`);
      for (const step of task.steps) {
        expect(events.filter((e) => e.step_id === step.id && (e.type === 'step_completed' || e.type === 'step_failed'))).toHaveLength(1);
      }
      if (events.some((e) => e.type === 'task_resumed')) resumed++;
    }
    expect(resumed).toBeGreaterThan(0);
  });
});
