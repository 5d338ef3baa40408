/**
 * What the CLI needs from the service, two ways: over HTTP (`--url`), or in this process on the
 * configured database. Commands are written once against `TaskClient`.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { randomUUID } from 'node:crypto';
import { taskView } from '../api/views.js';
import { createApp, type App } from '../compose.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
import { followTask, type TaskEvent } from '../events/index.js';
import type { TaskStatus } from '../store/types.js';
import { CLI, cliAuditEntry } from './operator.js';

export type TaskView = Awaited<ReturnType<typeof taskView>>;

export interface TaskClient {
  uploadFile(path: string): Promise<{ id: string; name: string }>;
  createTask(input: string, files: string[]): Promise<{ id: string }>;
  getTask(id: string): Promise<TaskView>;
  listTasks(status: TaskStatus[] | undefined, limit: number): Promise<Array<{ id: string; status: string; input: string; created_at: string }>>;
  cancel(id: string): Promise<{ id: string; status: string }>;
  events(id: string, after?: number): AsyncIterable<TaskEvent>;
  close(): Promise<void>;
}

export class HttpTaskClient implements TaskClient {
  /** `apiKey`: the bearer credential of a service in authenticated mode (AGENTIC_API_KEY). */
  constructor(
    private readonly base: string,
    private readonly apiKey?: string,
  ) {}

  #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.apiKey) headers.set('authorization', `Bearer ${this.apiKey}`);
    return fetch(new URL(path, this.base), { ...init, headers });
  }

  async #json<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await this.#fetch(path, init);
    const body = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) {
      const err = (body as { error?: { code?: string; message?: string } } | null)?.error;
      throw new AppError('INTERNAL_ERROR', `${res.status} ${err?.code ?? ''} ${err?.message ?? res.statusText}`.trim());
    }
    return body as T;
  }

  async uploadFile(path: string) {
    const form = new FormData();
    form.append('file', new Blob([await readFile(path)], { type: guessType(path) }), basename(path));
    return this.#json<{ id: string; name: string }>('/v1/files', { method: 'POST', body: form });
  }

  createTask(input: string, files: string[]) {
    return this.#json<{ id: string }>('/v1/tasks', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ input, files }),
    });
  }

  getTask(id: string) {
    return this.#json<TaskView>(`/v1/tasks/${encodeURIComponent(id)}`);
  }

  async listTasks(status: TaskStatus[] | undefined, limit: number) {
    const q = new URLSearchParams({ limit: String(limit), ...(status ? { status: status.join(',') } : {}) });
    return (await this.#json<{ items: Array<{ id: string; status: string; input: string; created_at: string }> }>(`/v1/tasks?${q}`)).items;
  }

  cancel(id: string) {
    return this.#json<{ id: string; status: string }>(`/v1/tasks/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  }

  async *events(id: string, after = 0): AsyncIterable<TaskEvent> {
    const res = await this.#fetch(`/v1/tasks/${encodeURIComponent(id)}/events?format=ndjson&after=${after}`);
    if (!res.ok || !res.body) throw new AppError('INTERNAL_ERROR', `${res.status} while opening the event stream`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) yield JSON.parse(line) as TaskEvent;
      }
    }
  }

  async close(): Promise<void> {}
}

/** Runs the engine in this process, on the configured database (the data directory must not be in use). */
export class InProcessTaskClient implements TaskClient {
  private constructor(private readonly app: App) {}

  static async open(config: Config): Promise<InProcessTaskClient> {
    const app = await createApp({ config, role: 'all' });
    await app.startWorker();
    return new InProcessTaskClient(app);
  }

  async uploadFile(path: string) {
    const data = await readFile(path);
    return this.app.store.insertFile({ id: randomUUID(), tenantId: 'default', name: basename(path), contentType: guessType(path), data });
  }

  async createTask(input: string, files: string[]) {
    const { task } = await this.app.engine.submit({
      tenantId: 'default',
      input,
      files,
      options: {},
      start: true,
      createdBy: CLI,
      audit: cliAuditEntry('task.created', { input: input.slice(0, 200) }),
    });
    return { id: task.id };
  }

  async getTask(id: string) {
    const task = await this.app.store.getTask(id, 'default');
    if (!task) throw new AppError('TASK_NOT_FOUND', `No task ${id}`);
    return taskView(this.app.store, task);
  }

  async listTasks(status: TaskStatus[] | undefined, limit: number) {
    return (await this.app.store.listTasks({ tenantId: 'default', status, limit })).items;
  }

  async cancel(id: string) {
    if (!(await this.app.store.getTask(id, 'default'))) throw new AppError('TASK_NOT_FOUND', `No task ${id}`);
    const task = await this.app.engine.cancel(id, 'cancelled from the command line', CLI.id);
    return { id: task.id, status: task.status };
  }

  async *events(id: string, after = 0): AsyncIterable<TaskEvent> {
    for await (const item of followTask(this.app.store, this.app.bus, id, after, { idleMs: 60_000 })) {
      if (item.kind === 'event') yield item.event;
    }
  }

  close(): Promise<void> {
    return this.app.close(2_000);
  }
}

function guessType(path: string): string {
  const ext = path.toLowerCase().split('.').pop();
  const types: Record<string, string> = { csv: 'text/csv', tsv: 'text/tab-separated-values', json: 'application/json', txt: 'text/plain', md: 'text/markdown', parquet: 'application/vnd.apache.parquet' };
  return types[ext ?? ''] ?? 'application/octet-stream';
}
