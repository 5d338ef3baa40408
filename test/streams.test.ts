/**
 * Resumable streams: a client disconnects mid-task, reconnects with its cursor, and gets exactly the
 * rest. The union equals the task's full event log: no gap, no duplicate. Disconnecting does not
 * cancel the task, and many clients can follow one task.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { Decision } from '../src/brains/types.js';
import type { TaskEvent } from '../src/events/types.js';
import { readEvents, startTestServer, waitForTask, type TestServer } from './support/server.js';

/** Five steps (two parallel chains), each three turns of 60 ms: long enough to disconnect mid-way. */
const brain = new ScriptedBrain({
  latencyMs: 60,
  plan: () => ({
    rationale: 'long',
    steps: ['a', 'b', 'c', 'd', 'e'].map((id, i) => ({
      id, agent: 'analyst', title: id, instruction: id, depends_on: i >= 2 ? [['a', 'b', 'c', 'd', 'e'][i - 2]!] : [], tools: ['calculator'],
    })),
  }),
  decide: (req, ctx): Decision => {
    if (req.turn < 2) return { type: 'tool_calls', calls: [{ tool: 'calculator', args: { expression: `${req.turn}+1` } }] };
    ctx.emitPartial(`result of ${req.step.id}`);
    return { type: 'final', output: { text: `done ${req.step.id}`, sources: [] } };
  },
});

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ brain, config: { heartbeatMs: 200 } });
});
afterAll(async () => {
  await s?.close();
});

async function createTask(): Promise<string> {
  const res = await fetch(`${s.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'long task' }) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** Reads a streamed response line by line until `count` events arrived, then disconnects. */
async function readSome(url: string, headers: Record<string, string>, count: number, parse: (chunk: string) => TaskEvent[]): Promise<TaskEvent[]> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  expect(res.status).toBe(200);
  const decoder = new TextDecoder();
  let buffer = '';
  const events: TaskEvent[] = [];
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    const cut = buffer.lastIndexOf(url.includes('ndjson') ? '\n' : '\n\n');
    if (cut < 0) continue;
    events.push(...parse(buffer.slice(0, cut)));
    buffer = buffer.slice(cut + 1);
    if (events.length >= count) break;
  }
  controller.abort();
  return events;
}

const parseSse = (text: string): TaskEvent[] =>
  text
    .split('\n\n')
    .map((f) => f.split('\n').find((l) => l.startsWith('data: ')))
    .filter((l): l is string => !!l)
    .map((l) => JSON.parse(l.slice(6)) as TaskEvent);
const parseNdjson = (text: string): TaskEvent[] =>
  text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as TaskEvent);

async function fullLog(id: string): Promise<TaskEvent[]> {
  return s.app.store.listEvents(id, 0, 100_000);
}

function expectExactUnion(parts: TaskEvent[][], log: TaskEvent[]): void {
  const seqs = parts.flat().map((e) => e.seq);
  expect(seqs).toEqual(log.map((e) => e.seq));
  expect(parts.flat()).toEqual(log);
}

describe('resumable streams', () => {
  it('SSE: reconnect with Last-Event-ID gets exactly the rest', async () => {
    const id = await createTask();
    const first = await readSome(`${s.url}/v1/tasks/${id}/events`, { accept: 'text/event-stream' }, 6, parseSse);
    expect((await s.app.store.getTask(id))?.status).not.toBe('cancelled');
    const last = first[first.length - 1]!.seq;
    const rest = await readEvents(await fetch(`${s.url}/v1/tasks/${id}/events`, { headers: { 'last-event-id': String(last) } }));
    expect(await waitForTask(s.app, id)).toBe('completed');
    expectExactUnion([first, rest as unknown as TaskEvent[]], await fullLog(id));
  });

  it('NDJSON: reconnect with ?after= gets exactly the rest', async () => {
    const id = await createTask();
    const first = await readSome(`${s.url}/v1/tasks/${id}/events?format=ndjson`, {}, 5, parseNdjson);
    const last = first[first.length - 1]!.seq;
    const rest = await readEvents(await fetch(`${s.url}/v1/tasks/${id}/events?after=${last}`, { headers: { accept: 'application/x-ndjson' } }));
    expect(await waitForTask(s.app, id)).toBe('completed');
    expectExactUnion([first, rest as unknown as TaskEvent[]], await fullLog(id));
  });

  it('WebSocket: reconnect with ?after= gets exactly the rest', async () => {
    const id = await createTask();
    const wsUrl = `${s.url.replace('http', 'ws')}/v1/tasks/${id}/ws`;
    const first = await wsRead(wsUrl, 4);
    const last = first[first.length - 1]!.seq;
    const rest = await wsRead(`${wsUrl}?after=${last}`, Infinity);
    expect(await waitForTask(s.app, id)).toBe('completed');
    expectExactUnion([first, rest], await fullLog(id));
  });

  it('many clients follow one task and each gets the whole log; disconnects do not cancel it', async () => {
    const id = await createTask();
    const dropped = readSome(`${s.url}/v1/tasks/${id}/events`, {}, 2, parseSse);
    const followers = Array.from({ length: 5 }, (_, i) =>
      i % 2 === 0
        ? fetch(`${s.url}/v1/tasks/${id}/events`).then(readEvents)
        : fetch(`${s.url}/v1/tasks/${id}/events?format=ndjson`).then(readEvents),
    );
    await dropped;
    const results = await Promise.all(followers);
    expect(await waitForTask(s.app, id)).toBe('completed');
    const log = await fullLog(id);
    for (const r of results) expect(r).toEqual(log);
    expect(log.filter((e) => e.type === 'partial_output').length).toBeGreaterThanOrEqual(5);
  });

  it('sends heartbeat comments while a task is idle', async () => {
    const res = await fetch(`${s.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task_description: 'waits' }) });
    const { task_id } = (await res.json()) as { task_id: string };
    const controller = new AbortController();
    const stream = await fetch(`${s.url}/v1/tasks/${task_id}/events`, { signal: controller.signal });
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of stream.body!) {
      text += decoder.decode(chunk as Uint8Array);
      if (text.includes(': heartbeat')) break;
    }
    controller.abort();
    expect(text).toContain('id: 1\nevent: task_created');
    expect(text).toContain(': heartbeat');
  });
});

function wsRead(url: string, count: number): Promise<TaskEvent[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const events: TaskEvent[] = [];
    ws.on('message', (data) => {
      events.push(JSON.parse(String(data)) as TaskEvent);
      if (events.length >= count) ws.close();
    });
    ws.on('close', () => resolve(events));
    ws.on('error', reject);
  });
}
