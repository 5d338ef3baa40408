import { createHash } from 'node:crypto';
import type { Decision, Observation, PlannedStep } from '../brains/types.js';
import { AppError, type ErrorInfo } from '../errors.js';
import type { NewEvent, TaskEvent } from '../events/types.js';
import type { DocumentIndex, Passage, StoredFile } from '../tools/types.js';
import type { Database, Queryable, Row } from './database.js';
import { chunkText } from './chunk.js';
import { GroupCommitter } from './group-commit.js';
import type {
  DocumentRecord,
  JournalTurn,
  LedgerEntry,
  NewTask,
  Page,
  PlanRecord,
  StepPatch,
  StepRecord,
  StepStatus,
  Store,
  TaskPatch,
  TaskRecord,
  TaskStatus,
  TaskUsageSummary,
  TaskWriteResult,
  TaskWriter,
  UsageRecord,
} from './types.js';

const UNFINISHED: TaskStatus[] = ['pending', 'planning', 'running', 'awaiting_approval'];

/** The store over SQL: the same statements on PGlite and PostgreSQL. */
export class SqlStore implements Store {
  readonly #writes: GroupCommitter;

  constructor(readonly db: Database) {
    // PGlite has one connection; PostgreSQL commits batches on a few connections at once.
    this.#writes = new GroupCommitter(db, { concurrency: db.engine === 'pglite' ? 1 : 4 });
  }

  async createTask(t: NewTask): Promise<TaskWriteResult<{ task: TaskRecord; created: boolean }>> {
    return this.#writes.submit(t.id, async (q) => {
      const inserted = await q.query(
        `INSERT INTO tasks (id, tenant_id, status, input, files, options, idempotency_key, request_hash, queued_at)
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, CASE WHEN $8::boolean THEN now() END)
         ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING *`,
        [t.id, t.tenantId, t.input, json(t.files), json(t.options), t.idempotencyKey ?? null, t.requestHash ?? null, t.start],
      );
      if (inserted.length === 0) return { value: await this.#existingForKey(q, t), events: [] };
      const writer = new SqlTaskWriter(q, toTask(inserted[0]!));
      await writer.append({ type: 'task_created', data: { input: t.input, files: t.files, options: t.options } });
      await writer.flush();
      return { value: { task: writer.task, created: true }, events: writer.events };
    });
  }

  async #existingForKey(q: Queryable, t: NewTask): Promise<{ task: TaskRecord; created: boolean }> {
    const rows = await q.query('SELECT * FROM tasks WHERE tenant_id = $1 AND idempotency_key = $2', [t.tenantId, t.idempotencyKey]);
    const row = rows[0];
    if (!row) throw new AppError('INTERNAL_ERROR', 'Idempotency key conflict without a stored task');
    if (row.request_hash !== (t.requestHash ?? null)) {
      throw new AppError('IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was already used with a different request', {
        details: { task_id: row.id, idempotency_key: t.idempotencyKey },
      });
    }
    return { task: toTask(row), created: false };
  }

  async write<T>(taskId: string, fn: (w: TaskWriter) => Promise<T>): Promise<TaskWriteResult<T>> {
    return this.#writes.submit(taskId, async (q) => {
      const rows = await q.query('SELECT * FROM tasks WHERE id = $1 FOR UPDATE', [taskId]);
      if (!rows[0]) throw new AppError('TASK_NOT_FOUND', `No task ${taskId}`, { details: { task_id: taskId } });
      const writer = new SqlTaskWriter(q, toTask(rows[0]));
      const value = await fn(writer);
      await writer.flush();
      return { value, events: writer.events };
    });
  }

  async getTask(taskId: string, tenantId?: string): Promise<TaskRecord | null> {
    const rows = tenantId
      ? await this.db.query('SELECT * FROM tasks WHERE id = $1 AND tenant_id = $2', [taskId, tenantId])
      : await this.db.query('SELECT * FROM tasks WHERE id = $1', [taskId]);
    return rows[0] ? toTask(rows[0]) : null;
  }

  async listTasks(query: { tenantId?: string; status?: TaskStatus[]; limit: number; cursor?: string }): Promise<Page<TaskRecord>> {
    const { where, params } = taskFilter(query);
    const cursor = query.cursor ? decodeCursor(query.cursor) : null;
    if (cursor) {
      params.push(cursor[0], cursor[1]);
      where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`);
    }
    params.push(query.limit + 1);
    const rows = await this.db.query(
      `SELECT * FROM tasks ${whereSql(where)} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return page(rows.map(toTask), query.limit);
  }

  async countTasks(query: { tenantId?: string; status?: TaskStatus[] }): Promise<number> {
    const { where, params } = taskFilter(query);
    const rows = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks ${whereSql(where)}`, params);
    return rows[0]?.n ?? 0;
  }

  async listUnfinishedTasks(limit: number): Promise<TaskRecord[]> {
    const rows = await this.db.query(
      `SELECT * FROM tasks WHERE status = ANY($1::text[]) AND queued_at IS NOT NULL ORDER BY queued_at LIMIT $2`,
      [UNFINISHED, limit],
    );
    return rows.map(toTask);
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
    const rows = await this.db.query('SELECT * FROM steps WHERE task_id = $1 ORDER BY plan_version, position', [taskId]);
    return rows.map(toStep);
  }

  async claimStep(taskId: string, stepId: string, owner: string, leaseMs: number): Promise<StepRecord | null> {
    const rows = await this.db.query(
      `UPDATE steps SET status = 'running', lease_owner = $3,
              lease_expires_at = now() + ($4::int * interval '1 millisecond'),
              started_at = COALESCE(started_at, now())
        WHERE task_id = $1 AND id = $2
          AND (status = 'ready' OR (status = 'running'
               AND (lease_owner IS NULL OR lease_owner = $3 OR lease_expires_at < now())))
        RETURNING *`,
      [taskId, stepId, owner, leaseMs],
    );
    return rows[0] ? toStep(rows[0]) : null;
  }

  async renewStepLease(taskId: string, stepId: string, owner: string, leaseMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE steps SET lease_expires_at = now() + ($4::int * interval '1 millisecond')
        WHERE task_id = $1 AND id = $2 AND status = 'running' AND lease_owner = $3 RETURNING id`,
      [taskId, stepId, owner, leaseMs],
    );
    return rows.length > 0;
  }

  async releaseAllLeases(): Promise<number> {
    const rows = await this.db.query(
      `UPDATE steps SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IS NOT NULL RETURNING id`,
    );
    return rows.length;
  }

  async listTurns(taskId: string, stepId: string, attempt: number): Promise<JournalTurn[]> {
    const rows = await this.db.query(
      'SELECT turn, decision, observations FROM turns WHERE task_id = $1 AND step_id = $2 AND attempt = $3 ORDER BY turn',
      [taskId, stepId, attempt],
    );
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
    const params: unknown[] = [query.tenantId];
    let where = 'tenant_id = $1';
    const cursor = query.cursor ? decodeCursor(query.cursor) : null;
    if (cursor) {
      params.push(cursor[0], cursor[1]);
      where += ' AND (created_at, id) < ($2::timestamptz, $3)';
    }
    params.push(query.limit + 1);
    const rows = await this.db.query(
      `SELECT id, tenant_id, title, metadata, chunks, length(content) AS size, created_at FROM documents
        WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return page(rows.map(toDocument), query.limit);
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
    const params: unknown[] = [query.tenantId];
    let where = 'tenant_id = $1';
    const cursor = query.cursor ? decodeCursor(query.cursor) : null;
    if (cursor) {
      params.push(cursor[0], cursor[1]);
      where += ' AND (created_at, id) < ($2::timestamptz, $3)';
    }
    params.push(query.limit + 1);
    const rows = await this.db.query(
      `SELECT id, name, content_type, size, sha256, created_at FROM files WHERE ${where}
        ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return page(rows.map(toFile), query.limit);
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

/** Buffers a transaction's events and task changes, writing them in as few statements as it can. */
class SqlTaskWriter implements TaskWriter {
  readonly events: TaskEvent[] = [];
  #task: TaskRecord;
  #pendingEvents: TaskEvent[] = [];

  constructor(
    private readonly q: Queryable,
    task: TaskRecord,
  ) {
    this.#task = task;
  }

  get task(): TaskRecord {
    return this.#task;
  }

  async updateTask(patch: TaskPatch): Promise<void> {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    const sets = entries.map(([k], i) => `${k} = $${i + 2}`);
    const values = entries.map(([k, v]) => (k === 'error' ? json(v) : v));
    const rows = await this.q.query(
      `UPDATE tasks SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 RETURNING *`,
      [this.#task.id, ...values],
    );
    // Keep the seq this transaction has handed out but not yet written.
    this.#task = { ...toTask(rows[0]!), last_seq: this.#task.last_seq };
  }

  async insertPlan(version: number, brain: string, rationale: string, steps: PlannedStep[]): Promise<void> {
    await this.q.query('INSERT INTO plans (task_id, version, brain, rationale, steps) VALUES ($1, $2, $3, $4, $5)', [
      this.#task.id,
      version,
      brain,
      rationale,
      json(steps),
    ]);
    await this.q.query(
      `INSERT INTO steps (task_id, id, plan_version, position, agent, title, instruction, depends_on, tools,
                          success_criteria, params, status, ready_at)
       SELECT $1, s->>'id', $2, (ord - 1)::int, s->>'agent', s->>'title', s->>'instruction',
              ARRAY(SELECT jsonb_array_elements_text(s->'depends_on')),
              ARRAY(SELECT jsonb_array_elements_text(s->'tools')),
              COALESCE(s->'success_criteria', '[]'), COALESCE(s->'params', '{}'),
              'pending', NULL
         FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS t(s, ord)`,
      [this.#task.id, version, json(steps)],
    );
  }

  async listSteps(): Promise<StepRecord[]> {
    const rows = await this.q.query('SELECT * FROM steps WHERE task_id = $1 ORDER BY plan_version, position', [this.#task.id]);
    return rows.map(toStep);
  }

  async updateStep(stepId: string, patch: StepPatch, onlyIf?: { status?: StepStatus[]; owner?: string }): Promise<boolean> {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    const sets = entries.map(([k], i) => `${k} = $${i + 3}`);
    const values = entries.map(([k, v]) => (k === 'error' || k === 'output' ? json(v) : v));
    const params: unknown[] = [this.#task.id, stepId, ...values];
    let guard = '';
    if (onlyIf?.status) {
      params.push(onlyIf.status);
      guard = ` AND status = ANY($${params.length}::text[])`;
    }
    if (onlyIf?.owner) {
      params.push(onlyIf.owner);
      guard += ` AND lease_owner = $${params.length}`;
    }
    const rows = await this.q.query(
      `UPDATE steps SET ${sets.length > 0 ? sets.join(', ') : 'status = status'} WHERE task_id = $1 AND id = $2${guard} RETURNING id`,
      params,
    );
    return rows.length > 0;
  }

  async insertTurn(stepId: string, attempt: number, turn: number, decision: Decision): Promise<void> {
    await this.q.query(
      `INSERT INTO turns (task_id, step_id, attempt, turn, decision, observations, completed_at)
       VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::boolean THEN '[]'::jsonb END, CASE WHEN $6::boolean THEN now() END)`,
      [this.#task.id, stepId, attempt, turn, json(decision), decision.type === 'final'],
    );
  }

  async completeTurn(stepId: string, attempt: number, turn: number, observations: Observation[]): Promise<void> {
    await this.q.query(
      `UPDATE turns SET observations = $5, completed_at = now() WHERE task_id = $1 AND step_id = $2 AND attempt = $3 AND turn = $4`,
      [this.#task.id, stepId, attempt, turn, json(observations)],
    );
  }

  async startToolCall(e: Omit<LedgerEntry, 'status' | 'result' | 'error' | 'started_at' | 'finished_at' | 'duration_ms'>): Promise<void> {
    await this.q.query(
      `INSERT INTO tool_calls (idempotency_key, task_id, step_id, attempt, turn, call_index, tool, effect, args, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'started')`,
      [e.idempotency_key, e.task_id, e.step_id, e.attempt, e.turn, e.call_index, e.tool, e.effect, json(e.args)],
    );
  }

  async finishToolCall(key: string, o: { ok: boolean; result?: unknown; error?: ErrorInfo; duration_ms: number }): Promise<void> {
    await this.q.query(
      `UPDATE tool_calls SET status = $2, result = $3, error = $4, finished_at = now(), duration_ms = $5 WHERE idempotency_key = $1`,
      [key, o.ok ? 'completed' : 'failed', o.ok ? json(o.result ?? null) : null, o.error ? json(o.error) : null, o.duration_ms],
    );
  }

  async recordUsage(u: UsageRecord): Promise<void> {
    await this.q.query(
      `INSERT INTO usage (task_id, step_id, attempt, turn, purpose, model, input_tokens, output_tokens, cached_tokens, cost_usd)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [this.#task.id, u.step_id ?? null, u.attempt ?? null, u.turn ?? null, u.purpose, u.model, u.input_tokens, u.output_tokens, u.cached_tokens, u.cost_usd],
    );
  }

  async append(event: NewEvent): Promise<TaskEvent> {
    const seq = this.#task.last_seq + 1;
    this.#task = { ...this.#task, last_seq: seq };
    const stored = {
      seq,
      type: event.type,
      task_id: this.#task.id,
      ...(event.step_id ? { step_id: event.step_id } : {}),
      timestamp: new Date().toISOString(),
      data: event.data,
    } as TaskEvent;
    this.#pendingEvents.push(stored);
    this.events.push(stored);
    return stored;
  }

  /** Writes the buffered events and the task's new last seq. */
  async flush(): Promise<void> {
    const events = this.#pendingEvents;
    if (events.length === 0) return;
    this.#pendingEvents = [];
    await this.q.query(
      `INSERT INTO events (task_id, seq, type, step_id, data, created_at)
       SELECT $1, e.seq, e.type, e.step_id, e.data, e.ts
         FROM jsonb_to_recordset($2::jsonb) AS e(seq int, type text, step_id text, data jsonb, ts timestamptz)`,
      [this.#task.id, JSON.stringify(events.map((e) => ({ seq: e.seq, type: e.type, step_id: e.step_id ?? null, data: e.data, ts: e.timestamp })))],
    );
    await this.q.query('UPDATE tasks SET last_seq = $2, updated_at = now() WHERE id = $1', [this.#task.id, this.#task.last_seq]);
  }
}

// Row mapping

function iso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
}

function isoOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : iso(v);
}

function toTask(r: Row): TaskRecord {
  return {
    id: r.id as string,
    tenant_id: r.tenant_id as string,
    status: r.status as TaskStatus,
    input: r.input as string,
    files: (r.files as string[]) ?? [],
    options: (r.options as TaskRecord['options']) ?? {},
    final_output: (r.final_output as string | null) ?? null,
    error: (r.error as ErrorInfo | null) ?? null,
    plan_version: r.plan_version as number,
    brain: (r.brain as string | null) ?? null,
    last_seq: r.last_seq as number,
    idempotency_key: (r.idempotency_key as string | null) ?? null,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    queued_at: isoOrNull(r.queued_at),
    started_at: isoOrNull(r.started_at),
    completed_at: isoOrNull(r.completed_at),
    deadline_at: isoOrNull(r.deadline_at),
  };
}

function toPlan(r: Row): PlanRecord {
  return {
    task_id: r.task_id as string,
    version: r.version as number,
    brain: r.brain as string,
    rationale: r.rationale as string,
    steps: r.steps as PlannedStep[],
    created_at: iso(r.created_at),
  };
}

function toStep(r: Row): StepRecord {
  return {
    task_id: r.task_id as string,
    id: r.id as string,
    plan_version: r.plan_version as number,
    position: r.position as number,
    agent: r.agent as string,
    title: r.title as string,
    instruction: r.instruction as string,
    depends_on: (r.depends_on as string[]) ?? [],
    tools: (r.tools as string[]) ?? [],
    success_criteria: (r.success_criteria as string[]) ?? [],
    params: (r.params as Record<string, unknown>) ?? {},
    status: r.status as StepStatus,
    attempt: r.attempt as number,
    iterations: r.iterations as number,
    output: (r.output as StepRecord['output']) ?? null,
    error: (r.error as ErrorInfo | null) ?? null,
    created_at: iso(r.created_at),
    ready_at: isoOrNull(r.ready_at),
    started_at: isoOrNull(r.started_at),
    completed_at: isoOrNull(r.completed_at),
    lease_owner: (r.lease_owner as string | null) ?? null,
    lease_expires_at: isoOrNull(r.lease_expires_at),
  };
}

function toLedger(r: Row): LedgerEntry {
  return {
    idempotency_key: r.idempotency_key as string,
    task_id: r.task_id as string,
    step_id: r.step_id as string,
    attempt: r.attempt as number,
    turn: r.turn as number,
    call_index: r.call_index as number,
    tool: r.tool as string,
    effect: r.effect as LedgerEntry['effect'],
    args: r.args,
    status: r.status as LedgerEntry['status'],
    result: r.result ?? null,
    error: (r.error as ErrorInfo | null) ?? null,
    started_at: iso(r.started_at),
    finished_at: isoOrNull(r.finished_at),
    duration_ms: (r.duration_ms as number | null) ?? null,
  };
}

function toEvent(r: Row): TaskEvent {
  return {
    seq: r.seq as number,
    type: r.type as TaskEvent['type'],
    task_id: r.task_id as string,
    ...(r.step_id ? { step_id: r.step_id as string } : {}),
    timestamp: iso(r.created_at),
    data: r.data,
  } as TaskEvent;
}

function toDocument(r: Row): DocumentRecord {
  return {
    id: r.id as string,
    tenant_id: r.tenant_id as string,
    title: r.title as string,
    metadata: (r.metadata as Record<string, unknown>) ?? {},
    chunks: r.chunks as number,
    size: Number(r.size),
    created_at: iso(r.created_at),
  };
}

function toFile(r: Row): StoredFile {
  return {
    id: r.id as string,
    name: r.name as string,
    content_type: r.content_type as string,
    size: r.size as number,
    sha256: r.sha256 as string,
    created_at: iso(r.created_at),
  };
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

function page<T extends { id: string; created_at: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next_cursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null };
}

function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[1] === 'string' && !Number.isNaN(Date.parse(String(v[0])))) {
      return [String(v[0]), v[1]];
    }
  } catch {
    // Falls through to the error below.
  }
  throw new AppError('VALIDATION_ERROR', 'Invalid cursor', { details: { cursor } });
}
