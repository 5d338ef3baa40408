/**
 * The original APIs of the seed documents, with their exact shapes, so their clients work unchanged.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { App } from '../../compose.js';
import { followTask, isTerminalEvent, toSeedEvent } from '../../events/index.js';
import { auditEntry } from '../audit.js';
import { creatorOf, findTask, tenantOf } from '../context.js';
import { idParams, seedCreateTaskBody, seedRunTaskBody, taskIdParams } from '../schemas.js';
import { enterStream, resumeCursor, streamNdjson, streamSse } from '../streaming.js';
import { schemaOf } from '../validation.js';
import { taskMetrics } from '../views.js';

const SEED_LIST_LIMIT = 1000;

export function seedRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.post<{ Body: z.infer<typeof seedCreateTaskBody> }>(
      '/tasks',
      { config: { access: 'write' }, schema: { tags: ['seed'], summary: 'Create a task that waits for /tasks/{id}/execute', body: schemaOf(seedCreateTaskBody) } },
      async (request) => {
        const input = request.body.task_description;
        const { task } = await app.engine.submit({ tenantId: tenantOf(request), input, files: [], options: {}, start: false, createdBy: creatorOf(request.principal), audit: created(request, input) });
        return { task_id: task.id, status: 'pending' };
      },
    );

    f.post<{ Params: { id: string } }>(
      '/tasks/:id/execute',
      { config: { access: 'write' }, schema: { tags: ['seed'], summary: 'Start the task and stream its events as NDJSON {event_type, task_id, timestamp, data}', params: schemaOf(idParams) } },
      async (request, reply) => {
        const found = await findTask(app, request, request.params.id);
        // The stream's slot first: a refused stream does not start the task.
        const slot = enterStream(app, request.principal);
        let task;
        try {
          task = await app.engine.start(found);
        } catch (err) {
          slot();
          throw err;
        }
        return streamNdjson(app, request, reply, task, 0, toSeedEvent, slot);
      },
    );

    f.get<{ Params: { id: string } }>(
      '/tasks/:id/status',
      { config: { access: 'read' }, schema: { tags: ['seed'], summary: 'Task status in the seed shape', params: schemaOf(idParams) } },
      async (request) => {
        const t = await findTask(app, request, request.params.id);
        return { task_id: t.id, status: t.status, user_input: t.input, final_output: t.final_output, error_message: t.error?.message ?? null };
      },
    );

    f.get('/tasks', { config: { access: 'read' }, schema: { tags: ['seed'], summary: 'All tasks in the seed shape (newest 1000)' } }, async (request) => {
      const tenantId = tenantOf(request);
      const [page, total] = await Promise.all([
        app.store.listTasks({ tenantId, limit: SEED_LIST_LIMIT }),
        app.store.countTasks({ tenantId }),
      ]);
      return { tasks: page.items.map((t) => ({ task_id: t.id, status: t.status, user_input: t.input, created_at: t.created_at })), total };
    });

    f.post<{ Body: z.infer<typeof seedRunTaskBody> }>(
      '/run-task',
      { config: { access: 'write' }, schema: { tags: ['seed'], summary: 'Create and start a task; answers once it is planned', body: schemaOf(seedRunTaskBody) } },
      async (request) => {
        const input = request.body.user_input;
        const { task } = await app.engine.submit({ tenantId: tenantOf(request), input, files: [], options: {}, start: true, createdBy: creatorOf(request.principal), audit: created(request, input) });
        const steps = await stepsOncePlanned(app, task.id, request.raw);
        return { task_id: task.id, steps_created: steps };
      },
    );

    f.get<{ Params: { task_id: string } }>(
      '/stream/:task_id',
      { config: { access: 'read', ticket: true }, schema: { tags: ['seed'], summary: 'The task\'s events as SSE, from the first', params: schemaOf(taskIdParams) } },
      async (request, reply) => {
        const task = await findTask(app, request, request.params.task_id);
        return streamSse(app, request, reply, task, resumeCursor(request));
      },
    );

    f.get<{ Params: { task_id: string } }>(
      '/metrics/:task_id',
      { config: { access: 'read' }, schema: { tags: ['seed'], summary: 'Latency and cost of a task', params: schemaOf(taskIdParams) } },
      async (request) => {
        const t = await findTask(app, request, request.params.task_id);
        const m = await taskMetrics(app.store, t);
        return { ...m, latency_ms: m.total_latency_ms, total_cost: m.cost_usd, cost_units: m.input_tokens + m.output_tokens };
      },
    );
  };
}

function created(request: FastifyRequest, input: string) {
  return auditEntry(request, 'task.created', { input: input.slice(0, 200) });
}

/** Waits for plan_created (or the end of the task) and returns how many steps the plan has. */
async function stepsOncePlanned(app: App, taskId: string, raw: { on(e: 'close', f: () => void): void }): Promise<number> {
  const gone = new AbortController();
  raw.on('close', () => gone.abort());
  for await (const item of followTask(app.store, app.bus, taskId, 0, { idleMs: app.config.heartbeatMs, signal: gone.signal })) {
    if (item.kind !== 'event') continue;
    if (item.event.type === 'plan_created') return item.event.data.steps.length;
    if (isTerminalEvent(item.event)) break;
  }
  return (await app.store.listSteps(taskId)).length;
}
