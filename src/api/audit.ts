/**
 * The audit log, written from the HTTP edge where the principal is known: task created and cancelled,
 * approval decided, key created and revoked, policy changed, direct tool call, acting for another
 * tenant. A task's creation is audited in the transaction that creates it; other entries are written
 * after the action they record succeeded; should that write fail, the action stands and the failure is
 * logged as an error with the entry, for the operator to restore.
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../compose.js';
import type { Principal } from '../auth/principal.js';

export type AuditAction =
  | 'task.created'
  | 'task.cancelled'
  | 'approval.decided'
  | 'key.created'
  | 'key.revoked'
  | 'policy.changed'
  | 'tool.invoked'
  | 'tenant.act_as';

/** An entry of the request's principal (or `p`), without its tenant and target: for writes that store it themselves (task creation). */
export function auditEntry(request: FastifyRequest, action: AuditAction, details: Record<string, unknown> = {}, p: Principal = request.principal) {
  return {
    principal: p.id,
    principal_name: p.name,
    roles: [...p.roles],
    acting_from: p.actingFrom ?? null,
    action,
    details,
    request_id: String(request.id),
  };
}

/** Appends one entry for the request's principal (or `principal`); throws when it cannot be stored. */
export async function appendAudit(
  app: App,
  request: FastifyRequest,
  action: AuditAction,
  target: { type: string; id: string } | null,
  details: Record<string, unknown> = {},
  principal: Principal = request.principal,
): Promise<void> {
  await app.store.appendAudit({
    ...auditEntry(request, action, details, principal),
    tenant_id: principal.tenantId,
    target_type: target?.type ?? null,
    target_id: target?.id ?? null,
  });
}

/** Records an action that has happened: a failed write is logged with the whole entry, not thrown. */
export async function audit(
  app: App,
  request: FastifyRequest,
  action: AuditAction,
  target: { type: string; id: string } | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  try {
    await appendAudit(app, request, action, target, details);
  } catch (err) {
    request.log.error({ err: String(err), audit: { action, target, details, principal: request.principal.id } }, 'could not write an audit entry');
  }
}
