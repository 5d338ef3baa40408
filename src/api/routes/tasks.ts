import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { App } from '../../compose.js';
import { AppError } from '../../errors.js';
import type { TaskStatus } from '../../store/types.js';
import { audit, auditEntry } from '../audit.js';
import { creatorOf, findTask, idempotencyKey, tenantOf } from '../context.js';
import { createTaskBody, eventsQuery, idParams, listTasksQuery, streamQuery } from '../schemas.js';
import { resumeCursor, streamNdjson, streamSse, streamWebSocket, wantsNdjson } from '../streaming.js';
import { responses, schemaOf } from '../validation.js';
import { taskLinks, taskMetrics, taskSummary, taskView } from '../views.js';

type CreateBody = z.infer<typeof createTaskBody>;

export function taskRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.post<{ Body: CreateBody }>(
      '/v1/tasks',
      {
        config: { access: 'write' }, schema: {
          tags: ['tasks'],
          summary: 'Create a task; it is planned and run at once',
          description: 'Send `Idempotency-Key` to make retries safe: the same key and body return the same task; a different body with the same key is a 409.',
          body: schemaOf(createTaskBody),
          response: responses(202, 'Accepted: the task is queued. `{id, status, created_at, links}`'),
        },
      },
      async (request, reply) => {
        const tenantId = tenantOf(request);
        const body = request.body;
        const input = (body.input ?? body.input_query ?? body.task_description)!;
        await checkFiles(app, tenantId, body.files ?? []);
        const key = idempotencyKey(request.headers['idempotency-key']);
        const { task, created } = await app.engine.submit({
          tenantId,
          input,
          files: body.files ?? [],
          options: body.options ?? {},
          idempotencyKey: key,
          requestHash: key ? hashRequest({ input, files: body.files ?? [], options: body.options ?? {} }) : undefined,
          start: true,
          createdBy: creatorOf(request.principal),
          audit: auditEntry(request, 'task.created', { input: input.slice(0, 200) }),
        });
        if (!created) void reply.header('idempotent-replayed', 'true');
        void reply.header('location', `/v1/tasks/${task.id}`);
        return reply.status(202).send({ id: task.id, status: task.status, created_at: task.created_at, links: taskLinks(task.id) });
      },
    );

    f.get<{ Querystring: z.infer<typeof listTasksQuery> }>(
      '/v1/tasks',
      { config: { access: 'read' }, schema: { tags: ['tasks'], summary: 'List tasks, newest first', querystring: schemaOf(listTasksQuery), response: responses(200, '`{items: [task summary], next_cursor}`') } },
      async (request) => {
        const q = request.query;
        const page = await app.store.listTasks({
          tenantId: tenantOf(request),
          status: q.status as TaskStatus[] | undefined,
          limit: q.limit,
          cursor: q.cursor,
        });
        return { items: page.items.map(taskSummary), next_cursor: page.next_cursor };
      },
    );

    f.get<{ Params: { id: string } }>(
      '/v1/tasks/:id',
      { config: { access: 'read' }, schema: { tags: ['tasks'], summary: 'A task with its plan, steps, outputs, timings, error and usage', params: schemaOf(idParams), response: responses(200, 'The task') } },
      async (request) => taskView(app.store, await findTask(app, request, request.params.id)),
    );

    f.post<{ Params: { id: string } }>(
      '/v1/tasks/:id/cancel',
      { config: { access: 'write' }, schema: { tags: ['tasks'], summary: 'Cancel a task; running work stops promptly', params: schemaOf(idParams), response: responses(202, '`{id, status, links}`; 409 TASK_NOT_CANCELLABLE when it already ended') } },
      async (request, reply) => {
        const task = await findTask(app, request, request.params.id);
        const cancelled = await app.engine.cancel(task.id, 'cancelled by request', request.principal.id);
        await audit(app, request, 'task.cancelled', { type: 'task', id: task.id });
        return reply.status(202).send({ id: cancelled.id, status: cancelled.status, links: taskLinks(task.id) });
      },
    );

    f.get<{ Params: { id: string } }>(
      '/v1/tasks/:id/metrics',
      { config: { access: 'read' }, schema: { tags: ['tasks'], summary: 'Latency per step and in total, queue wait, retries, tokens and cost', params: schemaOf(idParams), response: responses(200, 'The metrics') } },
      async (request) => taskMetrics(app.store, await findTask(app, request, request.params.id)),
    );

    f.get<{ Params: { id: string }; Querystring: z.infer<typeof eventsQuery> }>(
      '/v1/tasks/:id/events',
      {
        config: { access: 'read', ticket: true }, schema: {
          tags: ['events'],
          summary: 'The task\'s events: SSE by default, NDJSON with Accept: application/x-ndjson or ?format=ndjson',
          description: 'Replays from the first event (or after `Last-Event-ID` / `?after=`), follows live, and ends after the terminal event.',
          params: schemaOf(idParams),
          querystring: schemaOf(eventsQuery),
        },
      },
      async (request, reply) => {
        const task = await findTask(app, request, request.params.id);
        const after = resumeCursor(request);
        if (wantsNdjson(request)) return streamNdjson(app, request, reply, task, after);
        return streamSse(app, request, reply, task, after);
      },
    );

    f.get<{ Params: { id: string }; Querystring: z.infer<typeof eventsQuery> }>(
      '/v1/tasks/:id/stream',
      { config: { access: 'read', ticket: true }, schema: { tags: ['events'], summary: 'The task\'s events as SSE', params: schemaOf(idParams), querystring: schemaOf(streamQuery) } },
      async (request, reply) => {
        const task = await findTask(app, request, request.params.id);
        return streamSse(app, request, reply, task, resumeCursor(request));
      },
    );

    f.route<{ Params: { id: string }; Querystring: z.infer<typeof eventsQuery> }>({
      method: 'GET',
      url: '/v1/tasks/:id/ws',
      config: { access: 'read', ticket: true }, schema: {
        hide: true,
        tags: ['events'],
        summary: 'The task\'s events over WebSocket (one JSON event per message); resume with ?after=',
        params: schemaOf(idParams),
      },
      // A plain GET (no Upgrade) gets an error in the usual shape rather than an empty 404 (after the task is found: another tenant's is not).
      handler: async (request) => {
        await findTask(app, request, request.params.id);
        throw new AppError('VALIDATION_ERROR', 'This route speaks WebSocket: send a GET with Upgrade: websocket');
      },
      wsHandler: async (socket, request) => {
        try {
          const task = await findTask(app, request, request.params.id);
          await streamWebSocket(app, socket, task, resumeCursor(request), request.principal);
        } catch (err) {
          const e = err instanceof AppError ? err : new AppError('INTERNAL_ERROR', 'Internal error');
          socket.send(JSON.stringify({ error: e.toInfo() }));
          // 4000 + the HTTP status the error would have had (4404, 4429, …); 4400 for the rest.
          socket.close([404, 429].includes(e.status) ? 4000 + e.status : 4400, e.code);
        }
      },
    });
  };
}

async function checkFiles(app: App, tenantId: string, files: string[]): Promise<void> {
  for (const id of files) {
    if (!(await app.store.getFile(id, tenantId))) {
      throw new AppError('FILE_NOT_FOUND', `No file ${id}; upload it with POST /v1/files first`, { details: { file_id: id } });
    }
  }
}

function hashRequest(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}
