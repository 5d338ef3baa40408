/**
 * Event streams over SSE, NDJSON and WebSocket. All three follow the task's log the same way
 * (`followTask`: subscribe, read backlog, merge by seq) and send the same event objects through the
 * one serializer; they differ only in framing. A client that disconnects stops its stream, never the task.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { App } from '../compose.js';
import { followTask, formatNdjson, formatSse, type TaskEvent } from '../events/index.js';
import { AppError } from '../errors.js';
import { TERMINAL_TASK_STATUSES, type TaskRecord } from '../store/types.js';
import type { Principal } from '../auth/principal.js';

/** Streams open in this process, per tenant and per credential. */
class StreamGate {
  readonly #open = new Map<string, number>();

  /** Counts a new stream, or refuses it (STREAM_LIMIT) when its tenant or credential has as many as allowed; returns its release. */
  enter(app: App, p: Principal): () => void {
    const keys: Array<[string, number]> = [[`tenant ${p.tenantId}`, app.config.maxStreamsPerTenant]];
    if (p.credentialId) keys.push([`credential ${p.credentialId}`, app.config.maxStreamsPerCredential]);
    for (const [key, max] of keys) {
      if ((this.#open.get(key) ?? 0) >= max) {
        throw new AppError('STREAM_LIMIT', `Too many open event streams for this ${key.split(' ')[0]} (${max}); close one and retry`, {
          details: { limit: max, scope: key.split(' ')[0], retry_after_s: 1 },
        });
      }
    }
    for (const [key] of keys) this.#open.set(key, (this.#open.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const [key] of keys) {
        const n = (this.#open.get(key) ?? 1) - 1;
        if (n > 0) this.#open.set(key, n);
        else this.#open.delete(key);
      }
    };
  }
}

const gates = new WeakMap<App, StreamGate>();

/** Opens a stream slot for the principal in this App's process; call the returned function when the stream ends. */
export function enterStream(app: App, principal: Principal): () => void {
  let gate = gates.get(app);
  if (!gate) gates.set(app, (gate = new StreamGate()));
  return gate.enter(app, principal);
}

/** The seq to resume after: `Last-Event-ID` header, else `?after=`, else 0 (everything). */
export function resumeCursor(request: FastifyRequest): number {
  const header = request.headers['last-event-id'];
  const query = (request.query as { after?: unknown } | undefined)?.after;
  const raw = (Array.isArray(header) ? header[0] : header) ?? (query === undefined ? undefined : String(query));
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  // Digits only for the header: Number() would also take "0x10", "1e3" and " 7".
  if ((header !== undefined && !/^\d+$/.test(raw)) || !Number.isSafeInteger(n) || n < 0) {
    throw new AppError('VALIDATION_ERROR', 'Last-Event-ID / after must be a non-negative integer (an event seq)', { details: { value: raw } });
  }
  return n;
}

/**
 * Where a stream of `task`'s events starts, or null when there is nothing left to send. A cursor
 * past the last event is pulled back to it: following from beyond the log would skip every event to
 * come, the terminal one included, and so never end. A finished task whose log the client has
 * already read needs no stream at all.
 */
function startAfter(task: TaskRecord, after: number): number | null {
  if (after < task.last_seq) return after;
  return TERMINAL_TASK_STATUSES.has(task.status) ? null : task.last_seq;
}

/** Aborts when the client goes away. */
function clientGone(request: FastifyRequest, reply: FastifyReply): AbortController {
  const controller = new AbortController();
  const abort = () => controller.abort();
  request.raw.on('close', abort);
  reply.raw.on('close', abort);
  return controller;
}

async function pump(
  app: App,
  request: FastifyRequest,
  reply: FastifyReply,
  task: TaskRecord,
  after: number,
  write: { event(e: TaskEvent): string | null; idle(): string | null },
  /** Frees the stream's slot (enterStream, taken before the response began). */
  leave: () => void,
): Promise<void> {
  const gone = clientGone(request, reply);
  const from = startAfter(task, after);
  try {
    if (from === null) return;
    for await (const item of followTask(app.store, app.bus, task.id, from, { idleMs: app.config.heartbeatMs, signal: gone.signal })) {
      const chunk = item.kind === 'event' ? write.event(item.event) : write.idle();
      if (chunk !== null && !reply.raw.write(chunk)) await waitDrain(reply, gone.signal);
    }
  } catch (err) {
    request.log.warn({ err: String(err), task_id: task.id }, 'event stream ended with an error');
  } finally {
    leave();
    reply.raw.end();
  }
}

function waitDrain(reply: FastifyReply, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      reply.raw.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    reply.raw.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function streamSse(app: App, request: FastifyRequest, reply: FastifyReply, task: TaskRecord, after: number): Promise<void> {
  const leave = enterStream(app, request.principal);
  reply.hijack();
  reply.raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  reply.raw.write(`retry: 2000\n: following task ${task.id} after seq ${after}\n\n`);
  await pump(app, request, reply, task, after, { event: formatSse, idle: () => ': heartbeat\n\n' }, leave);
}

export async function streamNdjson(
  app: App,
  request: FastifyRequest,
  reply: FastifyReply,
  task: TaskRecord,
  after: number,
  map: (e: TaskEvent) => object | null = (e) => e,
  /** A slot the caller took already (enterStream), e.g. to refuse before acting; else one is taken here. */
  slot?: () => void,
): Promise<void> {
  const leave = slot ?? enterStream(app, request.principal);
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  await pump(app, request, reply, task, after, {
    event: (e) => {
      const mapped = map(e);
      return mapped === e ? formatNdjson(e) : mapped ? `${JSON.stringify(mapped)}\n` : null;
    },
    // A blank line keeps proxies from closing an idle stream; NDJSON readers skip empty lines.
    idle: () => '\n',
  }, leave);
}

export async function streamWebSocket(app: App, socket: WebSocket, task: TaskRecord, after: number, principal: Principal): Promise<void> {
  const leave = enterStream(app, principal);
  const gone = new AbortController();
  socket.on('close', () => gone.abort());
  socket.on('error', () => gone.abort());
  const from = startAfter(task, after);
  try {
    if (from === null) return socket.close(1000, 'task finished');
    for await (const item of followTask(app.store, app.bus, task.id, from, { idleMs: app.config.heartbeatMs, signal: gone.signal })) {
      if (socket.readyState !== socket.OPEN) break;
      if (item.kind === 'event') socket.send(JSON.stringify(item.event));
      else socket.ping();
    }
    if (socket.readyState === socket.OPEN) socket.close(1000, 'task finished');
  } catch (err) {
    if (socket.readyState === socket.OPEN) socket.close(1011, String(err).slice(0, 120));
  } finally {
    leave();
  }
}

/** Which framing the client asked for on /events. */
export function wantsNdjson(request: FastifyRequest): boolean {
  const format = (request.query as { format?: string } | undefined)?.format;
  if (format) return format === 'ndjson';
  const accept = request.headers.accept ?? '';
  return accept.includes('application/x-ndjson') && !accept.includes('text/event-stream');
}
