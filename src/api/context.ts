import type { FastifyRequest } from 'fastify';
import type { App } from '../compose.js';
import { AppError } from '../errors.js';
import type { TaskRecord } from '../store/types.js';

const TENANT = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The caller's tenant. Until authentication exists, the `X-Tenant-Id` header names it (default
 * `default`); every read and write is scoped by it, so one tenant never sees another's data.
 */
export function tenantOf(request: FastifyRequest): string {
  const raw = request.headers['x-tenant-id'];
  if (raw === undefined) return 'default';
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value || !TENANT.test(value)) {
    throw new AppError('VALIDATION_ERROR', 'X-Tenant-Id must be 1-64 letters, digits, ".", "_" or "-"');
  }
  return value;
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
