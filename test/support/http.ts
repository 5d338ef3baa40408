/**
 * Small HTTP helpers for the API tests: requests with JSON bodies, the error shape, SSE frames,
 * WebSocket sessions and the invariants every finished task's event log must hold.
 */
import { expect } from 'vitest';
import WebSocket from 'ws';

export type Json = Record<string, unknown>;

/** What fetch takes as a body (Node's types have no global BodyInit). */
export type Body = NonNullable<RequestInit['body']>;

export interface Answer<T = Json> {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  body: T;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as JSON with `content-type: application/json`. */
  json?: unknown;
  /** Sent as is (no content type added). */
  body?: Body;
}

/** One request; reads the whole body. */
export async function call<T = Json>(base: string, path: string, options: CallOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  const res = await fetch(`${base}${path}`, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed as T };
}

/** Asserts the status and the exact error shape `{error: {code, message, details}}`. */
export function expectError(answer: Answer<unknown>, status: number, code: string): { code: string; message: string; details: Json } {
  expect({ status: answer.status, body: answer.text.slice(0, 500) }).toMatchObject({ status });
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  const body = answer.body as { error: { code: string; message: string; details: Json } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'details', 'message']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(typeof body.error.details).toBe('object');
  expect(body.error.details).not.toBeNull();
  return body.error;
}

/** A parsed SSE frame carrying an event. */
export interface SseFrame {
  id: string | undefined;
  event: string | undefined;
  data: Json;
}

/** The event frames of an SSE body (comments, `retry:` and heartbeats skipped). */
export function sseFrames(text: string): SseFrame[] {
  const frames: SseFrame[] = [];
  for (const block of text.split('\n\n')) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
    }
    const data = fields.get('data');
    if (data !== undefined) frames.push({ id: fields.get('id'), event: fields.get('event'), data: JSON.parse(data) as Json });
  }
  return frames;
}

/** The events of an NDJSON body (blank keep-alive lines skipped). */
export function ndjsonLines(text: string): Json[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Json);
}

export interface WsSession {
  messages: Json[];
  code: number;
  reason: string;
}

/** Opens a WebSocket and collects every message until the server closes it. */
export function wsCollect(url: string, headers: Record<string, string> = {}): Promise<WsSession> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const messages: Json[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Json));
    socket.on('close', (code, reason) => resolve({ messages, code, reason: reason.toString() }));
    socket.on('unexpected-response', (_req, res) => reject(new Error(`WebSocket upgrade refused with ${res.statusCode}`)));
    socket.on('error', reject);
  });
}

/** ws:// form of an http:// base URL. */
export function wsUrl(base: string, path: string): string {
  return `${base.replace(/^http/, 'ws')}${path}`;
}

const TERMINAL = new Set(['task_completed', 'task_failed', 'task_cancelled']);

/**
 * The invariants of a finished task's log: seq 1..n without gaps, task_created first and only once,
 * exactly one terminal event and it is last, every event names the task, and every step the plan
 * announced ends exactly once (step_completed or step_failed).
 */
export function expectFinishedLog(events: Json[], taskId: string): void {
  expect(events.length).toBeGreaterThanOrEqual(2);
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  for (const e of events) {
    expect(e.task_id).toBe(taskId);
    expect(typeof e.timestamp).toBe('string');
    expect(Number.isNaN(Date.parse(e.timestamp as string))).toBe(false);
  }
  expect(events.filter((e) => e.type === 'task_created')).toHaveLength(1);
  expect(events[0]!.type).toBe('task_created');
  const terminal = events.filter((e) => TERMINAL.has(e.type as string));
  expect(terminal).toHaveLength(1);
  expect(events[events.length - 1]).toBe(terminal[0]);
  const planned = events
    .filter((e) => e.type === 'plan_created')
    .flatMap((e) => ((e.data as { steps: Array<{ id: string }> }).steps ?? []).map((s) => s.id));
  for (const stepId of planned) {
    const endings = events.filter((e) => e.step_id === stepId && (e.type === 'step_completed' || e.type === 'step_failed'));
    expect({ stepId, endings: endings.length }).toEqual({ stepId, endings: 1 });
  }
}

/** Uploads bytes as multipart/form-data in the field `file`. */
export async function upload(base: string, name: string, content: NonNullable<ConstructorParameters<typeof Blob>[0]>[number], type: string, headers: Record<string, string> = {}): Promise<Answer> {
  const form = new FormData();
  form.append('file', new Blob([content], { type }), name);
  return call(base, '/v1/files', { method: 'POST', body: form, headers });
}
