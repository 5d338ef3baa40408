import { createHash } from 'node:crypto';
import type { Decision, Observation } from '../brains/types.js';
import { AppError, type ErrorInfo } from '../errors.js';
import type { TaskEvent } from '../events/types.js';
import type { Artifact, DocumentIndex, Passage, StoredFile, ToolEffect } from '../tools/types.js';
import * as records from './tool-records.js';
import * as access from './access-records.js';
import type { Database, Row } from './database.js';
import { chunkText } from './chunk.js';
import { BatchCommitter } from './batch.js';
import { TASK_SELECT, toDocument, toEvent, toFile, toLedger, toPlan, toStep, toTask } from './rows.js';
import type {
  ApiKeyRecord,
  AuditQuery,
  AuditRecord,
  NewApiKey,
  NewAudit,
  ToolPolicyRecord,
  ApprovalRecord,
  ApprovalStatus,
  DocumentRecord,
  NewApproval,
  JournalTurn,
  LedgerEntry,
  NewTask,
  OrphanedWork,
  Page,
  PlanRecord,
  StepRecord,
  Store,
  TaskRecord,
  TaskStatus,
  TaskUsageSummary,
  TaskWriteResult,
  TaskWriter,
} from './types.js';

const UNFINISHED: TaskStatus[] = ['pending', 'planning', 'running', 'awaiting_approval'];

/** The store over SQL: the same statements on PGlite and PostgreSQL. */
export class SqlStore implements Store {
  readonly #writes: BatchCommitter;

  /** `exclusive`: this process is the database's only user (the embedded shape). */
  constructor(
    readonly db: Database,
    options: { exclusive?: boolean } = {},
  ) {
    // PGlite has one connection; PostgreSQL commits batches on a few connections at once.
    this.#writes = new BatchCommitter(db, { concurrency: db.engine === 'pglite' ? 1 : 2, exclusive: options.exclusive });
  }

  createTask(t: NewTask): Promise<TaskWriteResult<{ task: TaskRecord; created: boolean }>> {
    return this.#writes.create(t);
  }

  write<T>(taskId: string, fn: (w: TaskWriter) => Promise<T>): Promise<TaskWriteResult<T>> {
    return this.#writes.write(taskId, fn);
  }

  async getTask(taskId: string, tenantId?: string): Promise<TaskRecord | null> {
    // The exclusive writer's memory holds unfinished tasks exactly as last committed.
    const cached = this.#writes.cache?.tasks.get(taskId);
    if (cached) return !tenantId || cached.tenant_id === tenantId ? cached : null;
    const rows = tenantId
      ? await this.db.query(`SELECT ${TASK_SELECT} FROM tasks t WHERE id = $1 AND tenant_id = $2`, [taskId, tenantId])
      : await this.db.query(`SELECT ${TASK_SELECT} FROM tasks t WHERE id = $1`, [taskId]);
    return rows[0] ? toTask(rows[0]) : null;
  }

  async listTasks(query: { tenantId?: string; status?: TaskStatus[]; limit: number; cursor?: string }): Promise<Page<TaskRecord>> {
    const { where, params } = taskFilter(query);
    return this.#page(`SELECT ${TASK_SELECT}, ${CURSOR_TS} FROM tasks t`, where, params, query, toTask);
  }

  /** One page, newest first, of `select` filtered by `where`, continuing after the query's cursor. */
  async #page<T>(select: string, where: string[], params: unknown[], query: { limit: number; cursor?: string }, map: (r: Row) => T): Promise<Page<T>> {
    const cursor = query.cursor ? decodeCursor(query.cursor) : null;
    if (cursor) {
      params.push(cursor[0], cursor[1]);
      where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`);
    }
    params.push(query.limit + 1);
    const rows = await this.db.query(`${select} ${whereSql(where)} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`, params);
    return page(rows, query.limit, map);
  }

  async countTasks(query: { tenantId?: string; status?: TaskStatus[] }): Promise<number> {
    const { where, params } = taskFilter(query);
    const rows = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks ${whereSql(where)}`, params);
    return rows[0]?.n ?? 0;
  }

  async findOrphanedWork(staleMs: number, limit: number): Promise<OrphanedWork> {
    const rows = await this.db.query<{ kind: string; task_id: string; step_id: string | null }>(
      `SELECT 'overdue' AS kind, id AS task_id, NULL AS step_id FROM tasks
        WHERE status = ANY($3::text[]) AND deadline_at < now()
       UNION ALL
       SELECT 'plan', id, NULL FROM tasks
        WHERE queued_at IS NOT NULL AND (deadline_at IS NULL OR deadline_at >= now())
          AND ((status = 'pending' AND updated_at <= now() - ($1::int * interval '1 millisecond'))
            OR (status = 'planning' AND (lease_expires_at IS NULL OR lease_expires_at < now())))
       UNION ALL
       SELECT 'step', s.task_id, s.id FROM steps s JOIN tasks t ON t.id = s.task_id
        WHERE t.status IN ('running', 'awaiting_approval') AND (t.deadline_at IS NULL OR t.deadline_at >= now())
          AND ((s.status = 'ready' AND s.ready_at <= now() - ($1::int * interval '1 millisecond'))
            OR (s.status = 'running' AND (s.lease_expires_at IS NULL OR s.lease_expires_at < now())))
       LIMIT $2`,
      [staleMs, limit, UNFINISHED],
    );
    const work: OrphanedWork = { plans: [], steps: [], overdue: [] };
    for (const r of rows) {
      if (r.kind === 'overdue') work.overdue.push(r.task_id);
      else if (r.kind === 'plan') work.plans.push(r.task_id);
      else work.steps.push({ task_id: r.task_id, step_id: r.step_id! });
    }
    return work;
  }

  async countBacklog(): Promise<number> {
    const rows = await this.db.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM tasks WHERE status = 'pending' AND queued_at IS NOT NULL)::int
            + (SELECT count(*) FROM steps WHERE status = 'ready')::int AS n`,
    );
    return rows[0]?.n ?? 0;
  }

  async getPlan(taskId: string, version: number): Promise<PlanRecord | null> {
    const rows = await this.db.query('SELECT * FROM plans WHERE task_id = $1 AND version = $2', [taskId, version]);
    return rows[0] ? toPlan(rows[0]) : null;
  }

  async listPlans(taskId: string): Promise<PlanRecord[]> {
    const rows = await this.db.query('SELECT * FROM plans WHERE task_id = $1 ORDER BY version', [taskId]);
    return rows.map(toPlan);
  }

  async getStep(taskId: string, stepId: string): Promise<StepRecord | null> {
    const rows = await this.db.query('SELECT * FROM steps WHERE task_id = $1 AND id = $2', [taskId, stepId]);
    return rows[0] ? toStep(rows[0]) : null;
  }

  async listSteps(taskId: string): Promise<StepRecord[]> {
    const rows = await this.db.query('SELECT * FROM steps WHERE task_id = $1 ORDER BY plan_version, position', [
      taskId,
    ]);
    return rows.map(toStep);
  }

  async renewLeases(owner: string, leaseMs: number): Promise<Set<string>> {
    const rows = await this.db.query<{ task_id: string; id: string | null }>(
      `WITH s AS (UPDATE steps SET lease_expires_at = now() + ($2::int * interval '1 millisecond')
                   WHERE lease_owner = $1 AND status = 'running' RETURNING task_id, id),
            t AS (UPDATE tasks SET lease_expires_at = now() + ($2::int * interval '1 millisecond')
                   WHERE lease_owner = $1 AND status = 'planning' RETURNING id AS task_id, NULL::text AS id)
       SELECT * FROM s UNION ALL SELECT * FROM t`,
      [owner, leaseMs],
    );
    const held = new Set(rows.map((r) => (r.id === null ? r.task_id : `${r.task_id} ${r.id}`)));
    this.#writes.cache?.renewed(held, new Date(Date.now() + leaseMs).toISOString());
    return held;
  }

  async releaseLeases(owner: string): Promise<Array<{ task_id: string; step_id: string }>> {
    const rows = await this.db.query<{ task_id: string; id: string }>(
      `WITH t AS (UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1)
       UPDATE steps SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1 RETURNING task_id, id`,
      [owner],
    );
    this.#writes.cache?.clear();
    return rows.map((r) => ({ task_id: r.task_id, step_id: r.id }));
  }

  async releaseAllLeases(): Promise<number> {
    const rows = await this.db.query(
      `WITH s AS (UPDATE steps SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IS NOT NULL RETURNING id),
            t AS (UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IS NOT NULL RETURNING id)
       SELECT id FROM s UNION ALL SELECT id FROM t`,
    );
    this.#writes.cache?.clear();
    return rows.length;
  }

  async listTurns(taskId: string, stepId: string): Promise<JournalTurn[]> {
    const rows = await this.db.query('SELECT turn, decision, observations FROM turns WHERE task_id = $1 AND step_id = $2 ORDER BY turn', [
      taskId,
      stepId,
    ]);
    return rows.map((r) => ({
      turn: r.turn as number,
      decision: r.decision as Decision,
      observations: (r.observations as Observation[] | null) ?? null,
    }));
  }

  async getToolCall(key: string): Promise<LedgerEntry | null> {
    const rows = await this.db.query('SELECT * FROM tool_calls WHERE idempotency_key = $1', [key]);
    return rows[0] ? toLedger(rows[0]) : null;
  }

  async listToolCalls(taskId: string): Promise<LedgerEntry[]> {
    const rows = await this.db.query(
      'SELECT * FROM tool_calls WHERE task_id = $1 ORDER BY started_at, step_id, attempt, turn, call_index',
      [taskId],
    );
    return rows.map(toLedger);
  }

  async taskUsage(taskId: string): Promise<TaskUsageSummary> {
    const rows = await this.db.query(
      `SELECT step_id, count(*)::int AS calls, sum(input_tokens)::int AS input_tokens, sum(output_tokens)::int AS output_tokens,
              sum(cached_tokens)::int AS cached_tokens, sum(cost_usd)::float8 AS cost_usd
         FROM usage WHERE task_id = $1 GROUP BY step_id`,
      [taskId],
    );
    const summary: TaskUsageSummary = { input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0, calls: 0, by_step: {} };
    for (const r of rows) {
      const u = {
        calls: Number(r.calls),
        input_tokens: Number(r.input_tokens),
        output_tokens: Number(r.output_tokens),
        cached_tokens: Number(r.cached_tokens),
        cost_usd: Number(r.cost_usd),
      };
      summary.calls += u.calls;
      summary.input_tokens += u.input_tokens;
      summary.output_tokens += u.output_tokens;
      summary.cached_tokens += u.cached_tokens;
      summary.cost_usd += u.cost_usd;
      if (r.step_id) summary.by_step[r.step_id as string] = u;
    }
    return summary;
  }

  async listEvents(taskId: string, after: number, limit: number): Promise<TaskEvent[]> {
    const rows = await this.db.query(
      'SELECT * FROM events WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [taskId, after, limit],
    );
    return rows.map(toEvent);
  }

  // Documents

  async insertDocument(doc: { id: string; tenantId: string; title: string; content: string; metadata: Record<string, unknown> }): Promise<DocumentRecord> {
    const chunks = chunkText(doc.content);
    return this.db.transaction(async (q) => {
      const rows = await q.query(
        `INSERT INTO documents (id, tenant_id, title, content, metadata, chunks) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, tenant_id, title, metadata, chunks, length(content) AS size, created_at`,
        [doc.id, doc.tenantId, doc.title, doc.content, json(doc.metadata), chunks.length],
      );
      await q.query(
        `INSERT INTO document_chunks (document_id, tenant_id, chunk, text, tsv)
         SELECT $1, $2, c.ord - 1, c.t, setweight(to_tsvector('english', $3), 'A') || to_tsvector('english', c.t)
           FROM unnest($4::text[]) WITH ORDINALITY AS c(t, ord)`,
        [doc.id, doc.tenantId, doc.title, chunks],
      );
      return toDocument(rows[0]!);
    });
  }

  async listDocuments(query: { tenantId: string; limit: number; cursor?: string }): Promise<Page<DocumentRecord>> {
    const select = `SELECT id, tenant_id, title, metadata, chunks, length(content) AS size, created_at, ${CURSOR_TS} FROM documents`;
    return this.#page(select, ['tenant_id = $1'], [query.tenantId], query, toDocument);
  }

  async getDocument(id: string, tenantId: string): Promise<(DocumentRecord & { content: string }) | null> {
    const rows = await this.db.query(
      `SELECT id, tenant_id, title, metadata, chunks, length(content) AS size, created_at, content
         FROM documents WHERE id = $1 AND tenant_id = $2`,
      [id, tenantId],
    );
    return rows[0] ? { ...toDocument(rows[0]), content: rows[0].content as string } : null;
  }

  async deleteDocument(id: string, tenantId: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM documents WHERE id = $1 AND tenant_id = $2 RETURNING id', [id, tenantId]);
    return rows.length > 0;
  }

  documentIndex(tenantId: string): DocumentIndex {
    return { search: (query, options) => this.#searchDocuments(tenantId, query, options?.limit ?? 5, options?.documentIds) };
  }

  /** Ranked full-text search. Words are OR-ed (any match counts) and ranked by cover density, so a
   * question in plain language finds the passages sharing most of its words. */
  async #searchDocuments(tenantId: string, query: string, limit: number, documentIds?: string[]): Promise<Passage[]> {
    const rows = await this.db.query(
      `WITH q AS (
         SELECT CASE WHEN plainto_tsquery('english', $2)::text = '' THEN NULL
                     ELSE to_tsquery('english', replace(plainto_tsquery('english', $2)::text, ' & ', ' | ')) END AS tsq
       )
       SELECT c.document_id, d.title, c.chunk, c.text, ts_rank_cd(c.tsv, q.tsq, 1)::float8 AS score
         FROM document_chunks c JOIN documents d ON d.id = c.document_id, q
        WHERE c.tenant_id = $1 AND q.tsq IS NOT NULL AND c.tsv @@ q.tsq
          AND ($4::text[] IS NULL OR c.document_id = ANY($4::text[]))
        ORDER BY score DESC, c.document_id, c.chunk
        LIMIT $3`,
      [tenantId, query, limit, documentIds && documentIds.length > 0 ? documentIds : null],
    );
    return rows.map((r) => ({
      document_id: r.document_id as string,
      title: r.title as string,
      chunk: r.chunk as number,
      text: r.text as string,
      score: Math.round(Number(r.score) * 1e6) / 1e6,
    }));
  }

  // Files

  async insertFile(file: { id: string; tenantId: string; name: string; contentType: string; data: Buffer }): Promise<StoredFile> {
    const sha256 = createHash('sha256').update(file.data).digest('hex');
    const rows = await this.db.query(
      `INSERT INTO files (id, tenant_id, name, content_type, size, sha256, data) VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING id, name, content_type, size, sha256, created_at`,
      [file.id, file.tenantId, file.name, file.contentType, file.data.length, sha256, file.data],
    );
    return toFile(rows[0]!);
  }

  async getFile(id: string, tenantId: string): Promise<StoredFile | null> {
    const rows = await this.db.query(
      'SELECT id, name, content_type, size, sha256, created_at FROM files WHERE id = $1 AND tenant_id = $2',
      [id, tenantId],
    );
    return rows[0] ? toFile(rows[0]) : null;
  }

  async readFile(id: string, tenantId: string): Promise<(StoredFile & { data: Buffer }) | null> {
    const rows = await this.db.query('SELECT * FROM files WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
    const row = rows[0];
    if (!row) return null;
    const data = row.data as Uint8Array;
    return { ...toFile(row), data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  }

  async listFiles(query: { tenantId: string; limit: number; cursor?: string }): Promise<Page<StoredFile>> {
    const select = `SELECT id, name, content_type, size, sha256, created_at, ${CURSOR_TS} FROM files`;
    return this.#page(select, ['tenant_id = $1'], [query.tenantId], query, toFile);
  }

  // Approvals, artifacts and direct calls (tool-records.ts)

  requestApproval(a: NewApproval): Promise<ApprovalRecord> {
    return records.requestApproval(this.db, a);
  }

  async getApproval(id: string, tenantId: string): Promise<ApprovalRecord | null> {
    const rows = await this.db.query('SELECT * FROM approvals WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
    return rows[0] ? records.toApproval(rows[0]) : null;
  }

  async listApprovals(query: { tenantId: string; status?: ApprovalStatus[]; taskId?: string; tool?: string; limit: number; cursor?: string }): Promise<Page<ApprovalRecord>> {
    const where = ['tenant_id = $1'];
    const params: unknown[] = [query.tenantId];
    if (query.status?.length) where.push(`status = ANY($${params.push(query.status)}::text[])`);
    if (query.taskId) where.push(`task_id = $${params.push(query.taskId)}`);
    if (query.tool) where.push(`tool = $${params.push(query.tool)}`);
    return this.#page(`SELECT *, ${CURSOR_TS} FROM approvals`, where, params, query, records.toApproval);
  }

  decideApproval(id: string, tenantId: string, d: { status: 'approved' | 'rejected'; reason: string | null; decidedBy: string }): Promise<ApprovalRecord | null> {
    return records.decideApproval(this.db, id, tenantId, d);
  }

  expireApprovals(limit: number): Promise<ApprovalRecord[]> {
    return records.expireApprovals(this.db, limit);
  }

  async stepApprovals(taskId: string, stepId: string): Promise<ApprovalRecord[]> {
    const rows = await this.db.query('SELECT * FROM approvals WHERE task_id = $1 AND step_id = $2 ORDER BY created_at, id', [taskId, stepId]);
    return rows.map(records.toApproval);
  }

  hasApprovalWork(): Promise<boolean> {
    return records.hasApprovalWork(this.db);
  }

  closeOrphanedApprovals(): Promise<number> {
    return records.closeOrphanedApprovals(this.db);
  }

  findDecidedWaits(limit: number): Promise<Array<{ task_id: string; step_id: string }>> {
    return records.findDecidedWaits(this.db, limit);
  }

  saveArtifact(a: { taskId: string; tenantId: string; stepId: string | null; name: string; contentType: string; data: Buffer }): Promise<Artifact> {
    return records.saveArtifact(this.db, a);
  }

  async listArtifacts(taskId: string): Promise<Artifact[]> {
    const rows = await this.db.query('SELECT name, content_type, size, sha256 FROM artifacts WHERE task_id = $1 ORDER BY name', [taskId]);
    return rows.map(records.toArtifact);
  }

  async readArtifact(taskId: string, name: string): Promise<(Artifact & { data: Buffer }) | null> {
    const rows = await this.db.query('SELECT * FROM artifacts WHERE task_id = $1 AND name = $2', [taskId, name]);
    const row = rows[0];
    if (!row) return null;
    const data = row.data as Uint8Array;
    return { ...records.toArtifact(row), data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  }

  startDirectCall(e: { idempotency_key: string; tenant_id: string; tool: string; effect: ToolEffect; args: unknown }): Promise<boolean> {
    return records.startDirectCall(this.db, e);
  }

  finishDirectCall(key: string, o: { ok: boolean; result?: unknown; error?: ErrorInfo; duration_ms: number }): Promise<void> {
    return records.finishDirectCall(this.db, key, o);
  }

  // Keys, stream tickets, tool policies, audit (access-records.ts)

  createApiKey(k: NewApiKey): Promise<ApiKeyRecord> {
    return access.createApiKey(this.db, k);
  }

  findApiKey(secretHash: string): Promise<ApiKeyRecord | null> {
    return access.findApiKey(this.db, secretHash);
  }

  getApiKey(id: string, tenantId?: string): Promise<ApiKeyRecord | null> {
    return access.getApiKey(this.db, id, tenantId);
  }

  listApiKeys(query: { tenantId?: string; limit: number; cursor?: string }): Promise<Page<ApiKeyRecord>> {
    const where = query.tenantId === undefined ? [] : ['tenant_id = $1'];
    const params = query.tenantId === undefined ? [] : [query.tenantId];
    return this.#page(`SELECT *, ${CURSOR_TS} FROM api_keys`, where, params, query, access.toApiKey);
  }

  revokeApiKey(id: string, tenantId: string | undefined, by: string): Promise<ApiKeyRecord | null> {
    return access.revokeApiKey(this.db, id, tenantId, by);
  }

  touchApiKey(id: string): Promise<void> {
    return access.touchApiKey(this.db, id);
  }

  countActiveApiKeys(): Promise<number> {
    return access.countActiveApiKeys(this.db);
  }

  createStreamTicket(t: { hash: string; tenantId: string; taskId: string; principal: unknown; expiresAt: string }): Promise<void> {
    return access.createStreamTicket(this.db, t);
  }

  redeemStreamTicket(hash: string, taskId: string): Promise<{ tenant_id: string; principal: unknown } | null> {
    return access.redeemStreamTicket(this.db, hash, taskId);
  }

  getToolPolicy(tenantId: string): Promise<ToolPolicyRecord | null> {
    return access.getToolPolicy(this.db, tenantId);
  }

  putToolPolicy(p: { tenantId: string; rules: unknown[]; createdBy: string; expectedVersion?: number }): Promise<ToolPolicyRecord> {
    return access.putToolPolicy(this.db, p);
  }

  listToolPolicies(query: { tenantId: string; limit: number; cursor?: string }): Promise<Page<ToolPolicyRecord>> {
    return access.listToolPolicies(this.db, query);
  }

  appendAudit(entry: NewAudit): Promise<AuditRecord> {
    return access.appendAudit(this.db, entry);
  }

  listAudit(query: AuditQuery): Promise<Page<AuditRecord>> {
    return access.listAudit(this.db, query);
  }

  async ping(): Promise<boolean> {
    try {
      await this.db.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

// Helpers

function json(v: unknown): string {
  return JSON.stringify(v);
}

function taskFilter(query: { tenantId?: string; status?: TaskStatus[] }): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.tenantId) {
    params.push(query.tenantId);
    where.push(`tenant_id = $${params.length}`);
  }
  if (query.status && query.status.length > 0) {
    params.push(query.status);
    where.push(`status = ANY($${params.length}::text[])`);
  }
  return { where, params };
}

function whereSql(where: string[]): string {
  return where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
}

/** One page of rows fetched with limit + 1; the cursor keeps created_at at full (microsecond) precision. */
function page<T>(rows: Row[], limit: number, map: (r: Row) => T): Page<T> {
  const last = rows[limit - 1];
  return {
    items: rows.slice(0, limit).map(map),
    next_cursor: rows.length > limit && last ? encodeCursor(last.cursor_ts as string, last.id as string) : null,
  };
}

/** The column that page cursors are made from. */
const CURSOR_TS = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts`;

function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const id = Array.isArray(v) ? v[1] : undefined;
    if (Array.isArray(v) && v.length === 2 && typeof id === 'string' && id.length <= 200 && !id.includes('\u0000') && !Number.isNaN(Date.parse(String(v[0])))) {
      return [String(v[0]), v[1]];
    }
  } catch {
    // Falls through to the error below.
  }
  throw new AppError('VALIDATION_ERROR', 'Invalid cursor', { details: { cursor } });
}
