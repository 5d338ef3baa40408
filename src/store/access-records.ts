/**
 * Who may do what, and what they did: API keys (hashes only), single-use stream tickets, each
 * tenant's versioned tool policy, and the append-only audit log. Every statement that must not race
 * is one conditional statement: redeeming a ticket is one UPDATE … WHERE used_at IS NULL, so a ticket
 * opens one stream however many API processes see it.
 */
import { AppError } from '../errors.js';
import type { Role } from '../auth/principal.js';
import type { Queryable, Row } from './database.js';
import { iso, isoOrNull } from './rows.js';
import type { ApiKeyRecord, AuditQuery, AuditRecord, NewApiKey, NewAudit, Page, ToolPolicyRecord } from './types.js';

export function toApiKey(r: Row): ApiKeyRecord {
  return {
    id: r.id as string,
    tenant_id: r.tenant_id as string,
    roles: r.roles as Role[],
    name: r.name as string,
    prefix: r.prefix as string,
    created_at: iso(r.created_at),
    created_by: (r.created_by as string | null) ?? null,
    expires_at: isoOrNull(r.expires_at),
    last_used_at: isoOrNull(r.last_used_at),
    revoked_at: isoOrNull(r.revoked_at),
    revoked_by: (r.revoked_by as string | null) ?? null,
  };
}

const KEY_COLUMNS = 'id, tenant_id, roles, name, prefix, created_at, created_by, expires_at, last_used_at, revoked_at, revoked_by';

export async function createApiKey(db: Queryable, k: NewApiKey): Promise<ApiKeyRecord> {
  const rows = await db.query(
    `INSERT INTO api_keys (id, tenant_id, roles, name, secret_hash, prefix, expires_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${KEY_COLUMNS}`,
    [k.id, k.tenantId, k.roles, k.name, k.secretHash, k.prefix, k.expiresAt, k.createdBy],
  );
  return toApiKey(rows[0]!);
}

export async function findApiKey(db: Queryable, secretHash: string): Promise<ApiKeyRecord | null> {
  const rows = await db.query(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1`, [secretHash]);
  return rows[0] ? toApiKey(rows[0]) : null;
}

export async function getApiKey(db: Queryable, id: string, tenantId?: string): Promise<ApiKeyRecord | null> {
  const rows = tenantId === undefined
    ? await db.query(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id])
    : await db.query(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1 AND tenant_id = $2`, [id, tenantId]);
  return rows[0] ? toApiKey(rows[0]) : null;
}

export async function revokeApiKey(db: Queryable, id: string, tenantId: string | undefined, by: string): Promise<ApiKeyRecord | null> {
  const rows = await db.query(
    `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, $3)
      WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2) RETURNING ${KEY_COLUMNS}`,
    [id, tenantId ?? null, by],
  );
  return rows[0] ? toApiKey(rows[0]) : null;
}

export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
}

export async function countActiveApiKeys(db: Queryable): Promise<number> {
  const rows = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())',
  );
  return rows[0]?.n ?? 0;
}

export async function createStreamTicket(
  db: Queryable,
  t: { hash: string; tenantId: string; taskId: string; principal: unknown; expiresAt: string },
): Promise<void> {
  // Used and expired tickets go as new ones are made: the table holds about a minute's worth.
  await db.query(
    `WITH gone AS (DELETE FROM stream_tickets WHERE expires_at < now() - interval '1 hour')
     INSERT INTO stream_tickets (hash, tenant_id, task_id, principal, expires_at) VALUES ($1, $2, $3, $4, $5)`,
    [t.hash, t.tenantId, t.taskId, JSON.stringify(t.principal), t.expiresAt],
  );
}

export async function redeemStreamTicket(db: Queryable, hash: string, taskId: string): Promise<{ tenant_id: string; principal: unknown } | null> {
  const rows = await db.query(
    `UPDATE stream_tickets SET used_at = now()
      WHERE hash = $1 AND task_id = $2 AND used_at IS NULL AND expires_at > now()
      RETURNING tenant_id, principal`,
    [hash, taskId],
  );
  return rows[0] ? { tenant_id: rows[0].tenant_id as string, principal: rows[0].principal } : null;
}

function toPolicy(r: Row): ToolPolicyRecord {
  return {
    tenant_id: r.tenant_id as string,
    version: Number(r.version),
    rules: r.rules as unknown[],
    created_at: iso(r.created_at),
    created_by: (r.created_by as string | null) ?? null,
  };
}

export async function getToolPolicy(db: Queryable, tenantId: string): Promise<ToolPolicyRecord | null> {
  const rows = await db.query('SELECT * FROM tool_policies WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1', [tenantId]);
  return rows[0] ? toPolicy(rows[0]) : null;
}

/**
 * One statement: the next version is computed and inserted together, and the primary key refuses a
 * second writer that computed the same version, so two concurrent changes never both win.
 */
export async function putToolPolicy(
  db: Queryable,
  p: { tenantId: string; rules: unknown[]; createdBy: string; expectedVersion?: number },
): Promise<ToolPolicyRecord> {
  let rows: Row[];
  try {
    rows = await db.query(
      `WITH cur AS (SELECT COALESCE(max(version), 0) AS v FROM tool_policies WHERE tenant_id = $1)
       INSERT INTO tool_policies (tenant_id, version, rules, created_by)
       SELECT $1, cur.v + 1, $2, $3 FROM cur WHERE $4::int IS NULL OR cur.v = $4
       RETURNING *`,
      [p.tenantId, JSON.stringify(p.rules), p.createdBy, p.expectedVersion ?? null],
    );
  } catch (err) {
    // 23505: another writer took the same version first.
    if ((err as { code?: string }).code !== '23505') throw err;
    rows = [];
  }
  if (rows[0]) return toPolicy(rows[0]);
  const current = await getToolPolicy(db, p.tenantId);
  throw new AppError('POLICY_VERSION_CONFLICT', `The policy changed meanwhile: version ${current?.version ?? 0} is in force, not ${p.expectedVersion}`, {
    details: { version: current?.version ?? 0, expected: p.expectedVersion ?? null },
  });
}

export async function listToolPolicies(db: Queryable, q: { tenantId: string; limit: number; cursor?: string }): Promise<Page<ToolPolicyRecord>> {
  const before = q.cursor === undefined ? null : numericCursor(q.cursor);
  const rows = await db.query(
    'SELECT * FROM tool_policies WHERE tenant_id = $1 AND ($2::int IS NULL OR version < $2) ORDER BY version DESC LIMIT $3',
    [q.tenantId, before, q.limit + 1],
  );
  const items = rows.slice(0, q.limit).map(toPolicy);
  return { items, next_cursor: rows.length > q.limit ? String(items.at(-1)!.version) : null };
}

function toAudit(r: Row): AuditRecord {
  return {
    id: String(r.id),
    tenant_id: r.tenant_id as string,
    at: iso(r.at),
    principal: r.principal as string,
    principal_name: (r.principal_name as string | null) ?? null,
    roles: (r.roles as string[]) ?? [],
    acting_from: (r.acting_from as string | null) ?? null,
    action: r.action as string,
    target_type: (r.target_type as string | null) ?? null,
    target_id: (r.target_id as string | null) ?? null,
    details: (r.details as Record<string, unknown>) ?? {},
    request_id: (r.request_id as string | null) ?? null,
  };
}

export async function appendAudit(db: Queryable, e: NewAudit): Promise<AuditRecord> {
  const rows = await db.query(
    `INSERT INTO audit_log (tenant_id, principal, principal_name, roles, acting_from, action, target_type, target_id, details, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
    [e.tenant_id, e.principal, e.principal_name, e.roles, e.acting_from, e.action, e.target_type, e.target_id, JSON.stringify(e.details), e.request_id],
  );
  return toAudit(rows[0]!);
}

export async function listAudit(db: Queryable, q: AuditQuery): Promise<Page<AuditRecord>> {
  const where = ['tenant_id = $1'];
  const params: unknown[] = [q.tenantId];
  if (q.action?.length) where.push(`action = ANY($${params.push(q.action)}::text[])`);
  if (q.principal) where.push(`principal = $${params.push(q.principal)}`);
  if (q.targetId) where.push(`target_id = $${params.push(q.targetId)}`);
  if (q.since) where.push(`at >= $${params.push(q.since)}::timestamptz`);
  if (q.until) where.push(`at < $${params.push(q.until)}::timestamptz`);
  if (q.cursor !== undefined) where.push(`id < $${params.push(numericCursor(q.cursor))}::bigint`);
  const rows = await db.query(`SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.push(q.limit + 1)}`, params);
  const items = rows.slice(0, q.limit).map(toAudit);
  return { items, next_cursor: rows.length > q.limit ? items.at(-1)!.id : null };
}

function numericCursor(cursor: string): string {
  if (!/^\d{1,18}$/.test(cursor)) throw new AppError('VALIDATION_ERROR', 'Invalid cursor', { details: { cursor } });
  return cursor;
}
