import type { FastifyRequest } from 'fastify';
import type { App } from '../compose.js';
import { AppError } from '../errors.js';
import type { Principal } from '../auth/principal.js';
import type { Creator, TaskRecord } from '../store/types.js';

/**
 * The caller's tenant, from its credential (src/api/access.ts); every read and write is scoped by it,
 * so one tenant never sees another's data: another tenant's ids are simply not found.
 */
export function tenantOf(request: FastifyRequest): string {
  return request.principal.tenantId;
}

/** The task, if it exists and belongs to the caller's tenant; else TASK_NOT_FOUND. */
export async function findTask(app: App, request: FastifyRequest, id: string): Promise<TaskRecord> {
  const task = await app.store.getTask(id, tenantOf(request));
  if (!task) throw new AppError('TASK_NOT_FOUND', `No task ${id}`, { details: { task_id: id } });
  return task;
}

/** The Idempotency-Key header, when sent: 1-255 visible ASCII characters, else VALIDATION_ERROR. */
export function idempotencyKey(raw: string | string[] | undefined): string | undefined {
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw new AppError('VALIDATION_ERROR', 'Idempotency-Key must be 1-255 visible ASCII characters');
  }
  return value;
}

/** The principal as recorded on a task it creates. */
export function creatorOf(p: Principal): Creator {
  return { id: p.id, name: p.name, roles: [...p.roles] };
}
