/**
 * What the tools leave outside a task's own transaction: approvals (decided by people, expired by
 * the clock), artifacts (files a tool produced), and the ledger rows of direct invocations. Each
 * statement is atomic on its own: deciding an approval is one conditional UPDATE, so two deciders
 * cannot both win.
 */
import { createHash } from 'node:crypto';
import type { ErrorInfo } from '../errors.js';
import type { Artifact, ToolEffect } from '../tools/types.js';
import type { Queryable, Row } from './database.js';
import { iso, isoOrNull } from './rows.js';
import type { ApprovalRecord, ApprovalStatus, NewApproval } from './types.js';

export function toApproval(r: Row): ApprovalRecord {
  return {
    id: r.id as string,
    tenant_id: r.tenant_id as string,
    task_id: (r.task_id as string | null) ?? null,
    step_id: (r.step_id as string | null) ?? null,
    turn: (r.turn as number | null) ?? null,
    call_index: (r.call_index as number | null) ?? null,
    idempotency_key: r.idempotency_key as string,
    tool: r.tool as string,
    args: r.args,
    args_hash: r.args_hash as string,
    rule: (r.rule as string | null) ?? null,
    requested_by: (r.requested_by as string | null) ?? null,
    status: r.status as ApprovalStatus,
    reason: (r.reason as string | null) ?? null,
    decided_by: (r.decided_by as string | null) ?? null,
    decided_at: isoOrNull(r.decided_at),
    expired: Boolean(r.expired),
    expires_at: iso(r.expires_at),
    default_decision: r.default_decision as ApprovalRecord['default_decision'],
    created_at: iso(r.created_at),
  };
}

export async function requestApproval(db: Queryable, a: NewApproval): Promise<ApprovalRecord> {
  const inserted = await db.query(
    `INSERT INTO approvals (id, tenant_id, task_id, step_id, turn, call_index, idempotency_key, tool, args, args_hash, rule, status,
                            expires_at, default_decision, requested_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $13, $14)
     ON CONFLICT (idempotency_key, args_hash) DO NOTHING RETURNING *`,
    [a.id, a.tenant_id, a.task_id, a.step_id, a.turn, a.call_index, a.idempotency_key, a.tool, JSON.stringify(a.args ?? null), a.args_hash, a.rule, a.expires_at, a.default_decision, a.requested_by],
  );
  if (inserted[0]) return toApproval(inserted[0]);
  const existing = await db.query('SELECT * FROM approvals WHERE idempotency_key = $1 AND args_hash = $2', [a.idempotency_key, a.args_hash]);
  return toApproval(existing[0]!);
}

export async function decideApproval(
  db: Queryable,
  id: string,
  tenantId: string,
  d: { status: 'approved' | 'rejected'; reason: string | null; decidedBy: string },
): Promise<ApprovalRecord | null> {
  const rows = await db.query(
    `UPDATE approvals SET status = $3, reason = $4, decided_by = $5, decided_at = now()
      WHERE id = $1 AND tenant_id = $2 AND status = 'pending' AND expires_at > now() RETURNING *`,
    [id, tenantId, d.status, d.reason, d.decidedBy],
  );
  return rows[0] ? toApproval(rows[0]) : null;
}

export async function expireApprovals(db: Queryable, limit: number): Promise<ApprovalRecord[]> {
  const rows = await db.query(
    `UPDATE approvals SET status = CASE WHEN default_decision = 'approve' THEN 'approved' ELSE 'rejected' END,
            expired = true, decided_by = 'expiry', decided_at = now(),
            reason = 'No decision before ' || to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '; the default applies'
      WHERE id IN (SELECT id FROM approvals WHERE status = 'pending' AND expires_at < now() ORDER BY expires_at LIMIT $1)
        AND status = 'pending'
      RETURNING *`,
    [limit],
  );
  return rows.map(toApproval);
}

/** Whether anything waits on a decision: a pending request, or a parked step (one indexed look each). */
export async function hasApprovalWork(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ work: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM approvals WHERE status = 'pending') OR EXISTS (SELECT 1 FROM steps WHERE status = 'waiting') AS work`,
  );
  return rows[0]?.work === true;
}

/** Closes pending requests whose task ended or whose step will never run the call (cancelled, failed, superseded). */
export async function closeOrphanedApprovals(db: Queryable): Promise<number> {
  const rows = await db.query(
    `UPDATE approvals a SET status = 'rejected', decided_by = 'system', decided_at = now(),
            reason = 'Closed without a decision: its ' || CASE WHEN t.status IN ('completed', 'failed', 'cancelled') THEN 'task ended (' || t.status || ')' ELSE 'step ended (' || s.status || ')' END
       FROM tasks t, steps s
      WHERE a.status = 'pending' AND t.id = a.task_id AND s.task_id = a.task_id AND s.id = a.step_id
        AND (t.status IN ('completed', 'failed', 'cancelled') OR s.status IN ('completed', 'failed', 'cancelled'))
      RETURNING a.id`,
  );
  return rows.length;
}

export async function findDecidedWaits(db: Queryable, limit: number): Promise<Array<{ task_id: string; step_id: string }>> {
  return db.query<{ task_id: string; step_id: string }>(
    `SELECT s.task_id, s.id AS step_id FROM steps s
      WHERE s.status = 'waiting'
        AND EXISTS (SELECT 1 FROM approvals a WHERE a.task_id = s.task_id AND a.step_id = s.id)
        AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.task_id = s.task_id AND a.step_id = s.id AND a.status = 'pending')
        AND NOT EXISTS (SELECT 1 FROM steps c WHERE c.task_id = s.task_id AND c.parent_id = s.id AND c.status <> 'completed')
      LIMIT $1`,
    [limit],
  );
}

export function toArtifact(r: Row): Artifact {
  return { name: r.name as string, content_type: r.content_type as string, size: r.size as number, sha256: r.sha256 as string };
}

export async function saveArtifact(
  db: Queryable,
  a: { taskId: string; tenantId: string; stepId: string | null; name: string; contentType: string; data: Buffer },
): Promise<Artifact> {
  const sha256 = createHash('sha256').update(a.data).digest('hex');
  const rows = await db.query(
    `INSERT INTO artifacts (task_id, name, tenant_id, step_id, content_type, size, sha256, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (task_id, name) DO UPDATE SET step_id = EXCLUDED.step_id, content_type = EXCLUDED.content_type, size = EXCLUDED.size,
       sha256 = EXCLUDED.sha256, data = EXCLUDED.data, created_at = now()
     RETURNING name, content_type, size, sha256`,
    [a.taskId, a.name, a.tenantId, a.stepId, a.contentType, a.data.length, sha256, a.data],
  );
  return toArtifact(rows[0]!);
}

export async function startDirectCall(
  db: Queryable,
  e: { idempotency_key: string; tenant_id: string; tool: string; effect: ToolEffect; args: unknown },
): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO tool_calls (idempotency_key, tenant_id, attempt, turn, call_index, tool, effect, args, status)
     VALUES ($1, $2, 1, 0, 0, $3, $4, $5, 'started') ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key`,
    [e.idempotency_key, e.tenant_id, e.tool, e.effect, JSON.stringify(e.args ?? null)],
  );
  return rows.length > 0;
}

export async function finishDirectCall(db: Queryable, key: string, o: { ok: boolean; result?: unknown; error?: ErrorInfo; duration_ms: number }): Promise<void> {
  await db.query(
    `UPDATE tool_calls SET status = $2, result = $3, error = $4, finished_at = now(), duration_ms = $5 WHERE idempotency_key = $1`,
    [key, o.ok ? 'completed' : 'failed', o.ok ? JSON.stringify(o.result ?? null) : null, o.ok ? null : JSON.stringify(o.error ?? null), o.duration_ms],
  );
}
