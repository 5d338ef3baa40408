/**
 * The write path: group commit with set-based statements.
 *
 * Writes (task creations and `store.write(taskId, fn)` calls) that arrive while a transaction is in
 * flight wait and go together into the next one. A batch locks its tasks with one
 * `SELECT … FOR UPDATE` (in id order, so batches of any number of processes never deadlock), loads
 * the steps of those tasks with one more statement when a write needs them, runs every write
 * function against in-memory copies, and then writes all changes with one multi-row statement per
 * table (rows travel as one JSON parameter). Dozens of tasks' writes cost about ten statements and
 * one commit. A write function that throws changes nothing: its copies and records are discarded,
 * and the other writes of the batch go on.
 */
import type { Decision, Observation, PlannedStep } from '../brains/types.js';
import { AppError, type ErrorInfo } from '../errors.js';
import type { NewEvent, TaskEvent } from '../events/types.js';
import type { Database, Queryable } from './database.js';
import { USAGE_TOTALS, iso, toStep, toTask, toUsageTotals } from './rows.js';
import type {
  ClaimResult,
  NewAudit,
  LedgerEntry,
  NewTask,
  PlanRecord,
  ReplanReason,
  StepPatch,
  StepRecord,
  StepStatus,
  TaskPatch,
  TaskRecord,
  TaskWriteResult,
  TaskWriter,
  UsageRecord,
  UsageTotals,
} from './types.js';

type WriteFn = (w: TaskWriter) => Promise<unknown>;
type Outcome = { ok: true; value: unknown; events: TaskEvent[] } | { ok: false; error: unknown };

interface Request {
  create?: NewTask;
  taskId: string;
  fn?: WriteFn;
  resolve(outcome: Outcome): void;
}

export interface BatchOptions {
  /** Most writes in one transaction. @defaultValue 256 */
  maxBatch?: number;
  /** Transactions in flight at once (PGlite has one connection). @defaultValue 1 */
  concurrency?: number;
  /**
   * This process is the database's only writer (the embedded shape, guarded by the data
   * directory's lock): unfinished tasks and their steps stay in memory between batches instead of
   * being read back, and batches run one at a time. @defaultValue false
   */
  exclusive?: boolean;
}

/**
 * Unfinished tasks and their steps as last committed, kept by an exclusive writer. Records are
 * never mutated in place (writers replace them), so sharing them with a batch is safe.
 */
export class TaskCache {
  readonly tasks = new Map<string, TaskRecord>();
  readonly steps = new Map<string, Map<string, StepRecord>>();
  /** Usage totals per task, by step id ('' for calls outside steps). */
  readonly usage = new Map<string, Map<string, UsageTotals>>();

  remember(state: BatchState): void {
    for (const [id, task] of state.tasks) {
      if (TERMINAL.has(task.status)) {
        this.forget(id);
        continue;
      }
      this.tasks.set(id, task);
      const usage = state.usageTotals.get(id);
      if (usage) this.usage.set(id, usage);
      else this.usage.delete(id);
      if (!state.stepsLoaded.has(id)) continue;
      const prefix = `${id}\u0000`;
      const steps = new Map<string, StepRecord>();
      for (const [k, v] of state.steps) if (k.startsWith(prefix)) steps.set(v.id, v);
      this.steps.set(id, steps);
    }
  }

  forget(id: string): void {
    this.tasks.delete(id);
    this.steps.delete(id);
    this.usage.delete(id);
  }

  /** Applies lease renewals made outside batches to the cached steps. */
  renewed(keys: Set<string>, expiresAt: string): void {
    for (const key of keys) {
      const [taskId, stepId] = key.split(' ') as [string, string];
      const steps = this.steps.get(taskId);
      const step = steps?.get(stepId);
      if (steps && step) steps.set(stepId, { ...step, lease_expires_at: expiresAt });
    }
  }

  clear(): void {
    this.tasks.clear();
    this.steps.clear();
    this.usage.clear();
  }
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export class BatchCommitter {
  readonly #pending: Request[] = [];
  readonly #maxBatch: number;
  readonly #concurrency: number;
  readonly cache: TaskCache | undefined;
  #active = 0;
  #scheduled = false;

  constructor(
    private readonly db: Database,
    options: BatchOptions = {},
  ) {
    this.#maxBatch = options.maxBatch ?? 256;
    this.cache = options.exclusive ? new TaskCache() : undefined;
    this.#concurrency = this.cache ? 1 : (options.concurrency ?? 1);
  }

  create(task: NewTask): Promise<TaskWriteResult<{ task: TaskRecord; created: boolean }>> {
    return this.#submit({ create: task, taskId: task.id }) as Promise<TaskWriteResult<{ task: TaskRecord; created: boolean }>>;
  }

  write<T>(taskId: string, fn: (w: TaskWriter) => Promise<T>): Promise<TaskWriteResult<T>> {
    return this.#submit({ taskId, fn }) as Promise<TaskWriteResult<T>>;
  }

  #submit(req: Omit<Request, 'resolve'>): Promise<TaskWriteResult<unknown>> {
    return new Promise((resolve, reject) => {
      this.#pending.push({
        ...req,
        resolve: (o) => (o.ok ? resolve({ value: o.value, events: o.events }) : reject(o.error)),
      });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#active >= this.#concurrency) return;
    this.#scheduled = true;
    // Let the writes of this turn of the event loop gather before the transaction starts.
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#active < this.#concurrency && this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      this.#active++;
      void this.#run(batch).finally(() => {
        this.#active--;
        this.#pump();
      });
    }
  }

  async #run(batch: Request[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      const result = await this.db.transaction((q) => runBatch(q, batch, this.cache));
      outcomes = result.outcomes;
      this.cache?.remember(result.state);
    } catch (err) {
      for (const req of batch) this.cache?.forget(req.taskId);
      if (batch.length === 1) return batch[0]!.resolve({ ok: false, error: err });
      // The statements failed as a whole (a database error); run each write alone to isolate it.
      for (const req of batch) await this.#run([req]);
      return;
    }
    batch.forEach((req, i) => req.resolve(outcomes[i]!));
  }
}

async function runBatch(q: Queryable, batch: Request[], cache: TaskCache | undefined): Promise<{ outcomes: Outcome[]; state: BatchState }> {
  const state = new BatchState(q, cache);
  const outcomes: Outcome[] = new Array(batch.length);
  const creates = batch.map((r, i) => ({ r, i })).filter((x) => x.r.create);
  await state.insertTasks(creates.map((x) => x.r.create!));
  await state.lockTasks([...new Set(batch.filter((r) => r.fn).map((r) => r.taskId))]);
  for (const { r, i } of creates) outcomes[i] = await state.createOutcome(r.create!);
  for (const [i, r] of batch.entries()) {
    if (!r.fn) continue;
    outcomes[i] = await state.runWrite(r.taskId, r.fn);
  }
  await state.flush();
  return { outcomes, state };
}

interface TurnRow {
  task_id: string;
  step_id: string;
  attempt: number;
  turn: number;
  decision?: Decision;
  observations?: Observation[] | null;
  completed_at?: string | null;
  insert: boolean;
}

type CallRow = Partial<LedgerEntry> & { idempotency_key: string; insert: boolean };

interface UsageRow extends UsageRecord {
  task_id: string;
  tenant_id: string;
}

/** Model tokens and USD, spent or held. */
interface Spend {
  tokens: number;
  usd: number;
}

/** A plan as the batch inserts it (the database sets created_at). */
type PlanRow = Omit<PlanRecord, 'created_at'>;

const stepKey = (taskId: string, stepId: string) => `${taskId}\u0000${stepId}`;
const turnKey = (t: { task_id: string; step_id: string; turn: number }) => `${t.task_id}\u0000${t.step_id}\u0000${t.turn}`;

/** A batch's view of the rows it touches, and the changes to write at the end. */
export class BatchState {
  now = new Date();
  readonly tasks = new Map<string, TaskRecord>();
  readonly dirtyTasks = new Set<string>();
  readonly steps = new Map<string, StepRecord>();
  readonly stepsLoaded = new Set<string>();
  readonly newSteps = new Set<string>();
  readonly dirtySteps = new Set<string>();
  readonly plans: PlanRow[] = [];
  readonly turns = new Map<string, TurnRow>();
  readonly calls = new Map<string, CallRow>();
  readonly usage: UsageRow[] = [];
  /** Usage totals by task and step, for tasks whose totals were needed (or are new). */
  readonly usageTotals = new Map<string, Map<string, UsageTotals>>();
  readonly events: TaskEvent[] = [];
  /** Audit entries of the tasks this batch created. */
  readonly audits: NewAudit[] = [];
  #created = new Map<string, TaskRecord>();

  constructor(
    readonly q: Queryable,
    private readonly cache: TaskCache | undefined,
  ) {}

  async insertTasks(all: NewTask[]): Promise<void> {
    const creates = await this.#admit(all);
    if (creates.length === 0) return;
    const rows = creates.map((t) => ({
      id: t.id,
      tenant_id: t.tenantId,
      input: t.input,
      files: t.files,
      options: t.options,
      idempotency_key: t.idempotencyKey ?? null,
      request_hash: t.requestHash ?? null,
      start: t.start,
      created_by: t.createdBy ?? null,
    }));
    const inserted = await this.q.query(
      `INSERT INTO tasks (id, tenant_id, status, input, files, options, idempotency_key, request_hash, queued_at, created_by)
       SELECT x.id, x.tenant_id, 'pending', x.input, x.files, x.options, x.idempotency_key, x.request_hash,
              CASE WHEN x.start THEN now() END, x.created_by
         FROM jsonb_to_recordset($1::jsonb) AS x(id text, tenant_id text, input text, files jsonb, options jsonb,
                                                  idempotency_key text, request_hash text, start boolean, created_by jsonb)
       ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING *, now() AS db_now`,
      [JSON.stringify(rows)],
    );
    const audits = new Map(creates.filter((t) => t.audit).map((t) => [t.id, t]));
    for (const row of inserted) {
      this.now = new Date(row.db_now as string | Date);
      this.#created.set(row.id as string, toTask(row));
      const audited = audits.get(row.id as string);
      if (audited) this.audits.push({ ...audited.audit!, tenant_id: audited.tenantId, target_type: 'task', target_id: audited.id });
      // A new task has no steps and no usage yet.
      this.stepsLoaded.add(row.id as string);
      this.usageTotals.set(row.id as string, new Map());
    }
  }

  /** Creations refused by their tenant's admission limits, by task id. */
  readonly #refused = new Map<string, AppError>();

  /**
   * The creations their tenants' limits admit, in order; the others are refused (QUOTA_EXCEEDED).
   * Each limited tenant is locked (in name order, before any other lock) and counted once, so
   * concurrent creations in any number of processes are judged one after another.
   */
  async #admit(creates: NewTask[]): Promise<NewTask[]> {
    const limited = [...new Set(creates.filter((t) => t.admission).map((t) => t.tenantId))].sort();
    const room = new Map<string, { active: number; recent: number; oldest: number | null }>();
    // Keys of tasks that exist: a retry under one creates nothing, so it takes no room (nor does a key repeated in the batch).
    const known = new Set<string>();
    for (const tenant of limited) {
      await this.q.query(`SELECT pg_advisory_xact_lock(hashtext('agentic:admit:' || $1))`, [tenant]);
      const [row] = await this.q.query<{ active: number; recent: number; oldest: string | Date | null }>(ADMISSION_COUNTS, [tenant]);
      room.set(tenant, { active: row!.active, recent: row!.recent, oldest: row!.oldest === null ? null : Date.parse(iso(row!.oldest)) });
      const keys = creates.filter((t) => t.tenantId === tenant && t.idempotencyKey !== undefined).map((t) => t.idempotencyKey!);
      if (keys.length === 0) continue;
      const rows = await this.q.query<{ k: string }>('SELECT idempotency_key AS k FROM tasks WHERE tenant_id = $1 AND idempotency_key = ANY($2::text[])', [tenant, keys]);
      for (const r of rows) known.add(`${tenant}\u0000${r.k}`);
    }
    return creates.filter((t) => {
      const r = t.admission && room.get(t.tenantId);
      if (!r) return true;
      const key = t.idempotencyKey === undefined ? null : `${t.tenantId}\u0000${t.idempotencyKey}`;
      if (key !== null && known.has(key)) return true;
      if (key !== null) known.add(key);
      const refusal = admissionRefusal(t, r);
      if (refusal) {
        this.#refused.set(t.id, refusal);
        return false;
      }
      r.active++;
      r.recent++;
      return true;
    });
  }

  /** Locks the tasks (in id order) and loads them; an exclusive writer takes cached ones from memory. */
  async lockTasks(ids: string[]): Promise<void> {
    const missing = ids.filter((id) => {
      const cached = this.cache?.tasks.get(id);
      if (cached) {
        this.tasks.set(id, cached);
        // Carry the cached totals along, so this batch's usage rows keep them current.
        this.#usageFromCache(id);
      }
      return !cached && !this.#created.has(id);
    });
    if (missing.length > 0) {
      const rows = await this.q.query('SELECT *, now() AS db_now FROM tasks WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [
        missing.sort(),
      ]);
      // A separate statement, so that it sees what batches committed while this one waited for the locks
      // (in READ COMMITTED a locking read re-checks only the locked rows, not its subqueries).
      const seqs = await this.q.query<{ task_id: string; last_seq: number }>(
        'SELECT task_id, max(seq) AS last_seq FROM events WHERE task_id = ANY($1::text[]) GROUP BY task_id',
        [missing],
      );
      const lastSeq = new Map(seqs.map((r) => [r.task_id, Number(r.last_seq)]));
      for (const row of rows) {
        this.now = new Date(row.db_now as string | Date);
        this.tasks.set(row.id as string, { ...toTask(row), last_seq: lastSeq.get(row.id as string) ?? 0 });
      }
    } else if (this.#created.size === 0) {
      // No statement ran yet: take the batch's clock from the process (exclusive writer).
      this.now = new Date();
    }
    for (const [id, task] of this.#created) if (!this.tasks.has(id)) this.tasks.set(id, task);
  }

  async createOutcome(t: NewTask): Promise<Outcome> {
    const created = this.#created.get(t.id);
    if (!created) return this.#existingForKey(t);
    this.tasks.set(t.id, created);
    return this.runWrite(t.id, async (w) => {
      const data = { input: t.input, files: t.files, options: t.options, ...(t.createdBy ? { created_by: t.createdBy } : {}) };
      await w.append({ type: 'task_created', data });
      return { task: w.task, created: true };
    });
  }

  async #existingForKey(t: NewTask): Promise<Outcome> {
    const refused = this.#refused.get(t.id);
    // A refused creation whose key made a task before is a retry of it: the task is the answer, not the refusal.
    const rows = t.idempotencyKey === undefined ? [] : await this.q.query('SELECT * FROM tasks WHERE tenant_id = $1 AND idempotency_key = $2', [t.tenantId, t.idempotencyKey]);
    const row = rows[0];
    if (!row && refused) return { ok: false, error: refused };
    if (!row) return { ok: false, error: new AppError('INTERNAL_ERROR', 'Idempotency key conflict without a stored task') };
    if (row.request_hash !== (t.requestHash ?? null)) {
      return {
        ok: false,
        error: new AppError('IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was already used with a different request', {
          details: { task_id: row.id, idempotency_key: t.idempotencyKey },
        }),
      };
    }
    return { ok: true, value: { task: toTask(row), created: false }, events: [] };
  }

  async runWrite(taskId: string, fn: WriteFn): Promise<Outcome> {
    const task = this.tasks.get(taskId);
    if (!task) return { ok: false, error: new AppError('TASK_NOT_FOUND', `No task ${taskId}`, { details: { task_id: taskId } }) };
    const writer = new BatchTaskWriter(this, task);
    try {
      const value = await fn(writer);
      writer.commit();
      return { ok: true, value, events: writer.events };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /** Loads (and locks) the steps of every task of the batch not loaded yet. */
  async ensureSteps(taskId: string): Promise<void> {
    if (this.stepsLoaded.has(taskId)) return;
    const ids = [...this.tasks.keys()].filter((id) => !this.stepsLoaded.has(id) && !this.#fromCache(id));
    if (ids.length === 0) return;
    const rows = await this.q.query(
      'SELECT * FROM steps WHERE task_id = ANY($1::text[]) ORDER BY task_id, id FOR UPDATE',
      [ids.sort()],
    );
    for (const row of rows) {
      const key = stepKey(row.task_id as string, row.id as string);
      if (!this.steps.has(key)) this.steps.set(key, toStep(row));
    }
    for (const id of ids) this.stepsLoaded.add(id);
  }

  readonly #tenantRunning = new Map<string, number>();

  /** Steps running for the tenant, as the database has them plus this batch's claims. */
  async tenantRunning(tenant: string): Promise<number> {
    const known = this.#tenantRunning.get(tenant);
    if (known !== undefined) return known;
    const tenants = [...new Set([...this.tasks.values()].map((t) => t.tenant_id))].filter((t) => !this.#tenantRunning.has(t));
    for (const t of tenants) this.#tenantRunning.set(t, 0);
    const rows = await this.q.query<{ tenant_id: string; n: number }>(
      `SELECT tenant_id, count(*)::int AS n FROM steps
        WHERE status = 'running' AND lease_owner IS NOT NULL AND tenant_id = ANY($1::text[]) GROUP BY 1`,
      [tenants],
    );
    for (const r of rows) this.#tenantRunning.set(r.tenant_id, r.n);
    return this.#tenantRunning.get(tenant) ?? 0;
  }

  addTenantRunning(tenant: string, n: number): void {
    if (this.#tenantRunning.has(tenant)) this.#tenantRunning.set(tenant, this.#tenantRunning.get(tenant)! + n);
  }

  /** Each tenant's spend today as committed before this batch, loaded under the tenant's spending lock. */
  readonly #spendBase = new Map<string, Spend>();
  /** What this batch's writes added to each tenant's spend: usage and new or grown reservations (never what they released). */
  readonly #spendAdded = new Map<string, Spend>();

  /**
   * The tenant's spend today plus what its calls in flight hold. Releases made by this batch are not
   * subtracted until they are committed: the figure may be a little high, never low.
   */
  async tenantSpend(tenant: string): Promise<Spend> {
    let base = this.#spendBase.get(tenant);
    if (!base) {
      await this.q.query(`SELECT pg_advisory_xact_lock(hashtext('agentic:spend:' || $1))`, [tenant]);
      const [row] = await this.q.query<{ tokens: number; usd: number }>(TENANT_SPEND, [tenant]);
      base = { tokens: Number(row!.tokens), usd: Number(row!.usd) };
      this.#spendBase.set(tenant, base);
    }
    const added = this.#spendAdded.get(tenant) ?? { tokens: 0, usd: 0 };
    return { tokens: base.tokens + added.tokens, usd: base.usd + added.usd };
  }

  addSpend(tenant: string, spend: Spend): void {
    if (spend.tokens === 0 && spend.usd === 0) return;
    const added = this.#spendAdded.get(tenant) ?? { tokens: 0, usd: 0 };
    this.#spendAdded.set(tenant, { tokens: added.tokens + spend.tokens, usd: added.usd + spend.usd });
  }

  /** Loads the usage totals of every task of the batch that lacks them (one statement). */
  async ensureUsage(taskId: string): Promise<Map<string, UsageTotals>> {
    const known = this.usageTotals.get(taskId) ?? this.#usageFromCache(taskId);
    if (known) return known;
    const ids = [...this.tasks.keys()].filter((id) => !this.usageTotals.has(id) && !this.#usageFromCache(id));
    for (const id of ids) this.usageTotals.set(id, new Map());
    for (const row of await this.q.query(USAGE_TOTALS, [ids])) {
      this.usageTotals.get(row.task_id as string)!.set(row.step_id as string, toUsageTotals(row));
    }
    // Rows this batch added before the totals were loaded are not in the database yet.
    for (const row of this.usage) if (ids.includes(row.task_id)) addInto(this.usageTotals.get(row.task_id)!, row);
    return this.usageTotals.get(taskId)!;
  }

  #usageFromCache(taskId: string): Map<string, UsageTotals> | undefined {
    const cached = this.cache?.usage.get(taskId);
    if (cached) this.usageTotals.set(taskId, new Map(cached));
    return cached && this.usageTotals.get(taskId);
  }

  /** Copies a task's cached steps into the batch; false when they are not cached. */
  #fromCache(taskId: string): boolean {
    const cached = this.cache?.steps.get(taskId);
    if (!cached) return false;
    for (const step of cached.values()) this.steps.set(stepKey(taskId, step.id), step);
    this.stepsLoaded.add(taskId);
    return true;
  }

  /**
   * Writes every change of the batch in one statement: a data-modifying CTE per table and kind of
   * change, each fed one JSON parameter. One round trip, however many tasks the batch touched.
   */
  async flush(): Promise<void> {
    const turns = [...this.turns.values()];
    const calls = [...this.calls.values()];
    const parts: Array<[SetStatement, object[]]> = [
      [PLANS_INSERT, this.plans],
      [STEPS_INSERT, [...this.newSteps].map((k) => this.steps.get(k)!)],
      [STEPS_UPDATE, [...this.dirtySteps].filter((k) => !this.newSteps.has(k)).map((k) => this.steps.get(k)!)],
      [TURNS_INSERT, turns.filter((t) => t.insert)],
      [TURNS_UPDATE, turns.filter((t) => !t.insert)],
      [CALLS_INSERT, calls.filter((c) => c.insert)],
      [CALLS_UPDATE, calls.filter((c) => !c.insert)],
      [USAGE_INSERT, this.usage],
      [
        EVENTS_INSERT,
        this.events.map((e) => ({ task_id: e.task_id, seq: e.seq, type: e.type, step_id: e.step_id ?? null, data: e.data, created_at: e.timestamp })),
      ],
      [TASKS_UPDATE, [...this.dirtyTasks].map((id) => this.tasks.get(id)!)],
      [AUDIT_INSERT, this.audits],
    ];
    const used = parts.filter(([, rows]) => rows.length > 0);
    if (used.length === 0) return;
    const ctes = used.map(([sql, rows], i) => `w${i} AS (${sql(i + 1, rows.length).trim()})`);
    await this.q.query(`WITH ${ctes.join(',\n')} SELECT 1`, used.map(([, rows]) => JSON.stringify(rows)));
  }
}

/**
 * One write function's view: copies of the task and the steps it changes, and the records it adds.
 * Nothing reaches the batch until the function returns (`commit`), so a throw changes nothing.
 */
class BatchTaskWriter implements TaskWriter {
  readonly events: TaskEvent[] = [];
  #task: TaskRecord;
  #taskDirty = false;
  readonly #steps = new Map<string, StepRecord>();
  readonly #newSteps = new Set<string>();
  readonly #plans: PlanRow[] = [];
  readonly #turns = new Map<string, TurnRow>();
  readonly #calls = new Map<string, CallRow>();
  readonly #usage: UsageRow[] = [];
  #claimedForTenant = 0;

  constructor(
    private readonly state: BatchState,
    task: TaskRecord,
  ) {
    this.#task = task;
  }

  get task(): TaskRecord {
    return this.#task;
  }

  #nowIso(): string {
    return this.state.now.toISOString();
  }

  now(): Date {
    return this.state.now;
  }

  async updateTask(patch: TaskPatch): Promise<void> {
    this.#task = { ...this.#task, ...stripUndefined(patch), updated_at: this.#nowIso() };
    this.#taskDirty = true;
  }

  async insertPlan(version: number, brain: string, rationale: string, steps: PlannedStep[], reason: ReplanReason | null = null): Promise<void> {
    await this.state.ensureSteps(this.#task.id);
    this.#plans.push({ task_id: this.#task.id, version, brain, rationale, steps, reason });
    this.#addSteps(version, 0, null, steps);
  }

  async insertChildSteps(version: number, parentId: string, steps: PlannedStep[]): Promise<void> {
    const mine = (await this.listSteps()).filter((s) => s.plan_version === version);
    this.#addSteps(version, Math.max(-1, ...mine.map((s) => s.position)) + 1, parentId, steps);
  }

  #addSteps(version: number, first: number, parentId: string | null, steps: PlannedStep[]): void {
    steps.forEach((s, i) => {
      const key = stepKey(this.#task.id, s.id);
      this.#newSteps.add(key);
      this.#steps.set(key, newStep(this.#task.id, version, first + i, parentId, s, this.#nowIso()));
    });
  }

  async listSteps(): Promise<StepRecord[]> {
    await this.state.ensureSteps(this.#task.id);
    const prefix = `${this.#task.id}\u0000`;
    const merged = new Map<string, StepRecord>();
    for (const [k, v] of this.state.steps) if (k.startsWith(prefix)) merged.set(k, v);
    for (const [k, v] of this.#steps) merged.set(k, v);
    return [...merged.values()].sort((a, b) => a.plan_version - b.plan_version || a.position - b.position);
  }

  async #step(stepId: string): Promise<StepRecord | undefined> {
    const key = stepKey(this.#task.id, stepId);
    if (!this.#steps.has(key)) await this.state.ensureSteps(this.#task.id);
    return this.#steps.get(key) ?? this.state.steps.get(key);
  }

  async updateStep(stepId: string, patch: StepPatch, onlyIf?: { status?: StepStatus[]; owner?: string }): Promise<boolean> {
    const step = await this.#step(stepId);
    if (!step) return false;
    if (onlyIf?.status && !onlyIf.status.includes(step.status)) return false;
    if (onlyIf?.owner && step.lease_owner !== onlyIf.owner) return false;
    this.#steps.set(stepKey(this.#task.id, stepId), { ...step, ...stripUndefined(patch) });
    return true;
  }

  async claimStep(stepId: string, owner: string, leaseMs: number, options: { tenantMaxRunning?: number } = {}): Promise<ClaimResult> {
    const step = await this.#step(stepId);
    if (!step) return { ok: false, reason: 'not_runnable' };
    const now = this.state.now.getTime();
    const expired = !step.lease_owner || step.lease_owner === owner || (step.lease_expires_at !== null && Date.parse(step.lease_expires_at) < now);
    if (!(step.status === 'ready' || (step.status === 'running' && expired))) return { ok: false, reason: 'not_runnable' };
    const tenant = this.#task.tenant_id;
    // A resumed step (running, lease lapsed) is already counted among its tenant's running steps.
    const counted = step.status === 'running' && step.lease_owner !== null;
    if (options.tenantMaxRunning !== undefined && !counted) {
      if ((await this.state.tenantRunning(tenant)) >= options.tenantMaxRunning) return { ok: false, reason: 'tenant_busy' };
      this.#claimedForTenant++;
    }
    const claimed: StepRecord = {
      ...step,
      status: 'running',
      lease_owner: owner,
      lease_expires_at: new Date(now + leaseMs).toISOString(),
      started_at: step.started_at ?? this.#nowIso(),
    };
    this.#steps.set(stepKey(this.#task.id, stepId), claimed);
    return { ok: true, step: claimed };
  }

  async insertTurn(stepId: string, attempt: number, turn: number, decision: Decision): Promise<void> {
    const row: TurnRow = { task_id: this.#task.id, step_id: stepId, attempt, turn, decision, insert: true, observations: null, completed_at: null };
    if (decision.type === 'final') Object.assign(row, { observations: [], completed_at: this.#nowIso() });
    this.#turns.set(turnKey(row), row);
  }

  async completeTurn(stepId: string, turn: number, observations: Observation[]): Promise<void> {
    const key = turnKey({ task_id: this.#task.id, step_id: stepId, turn });
    const earlier = this.#turns.get(key) ?? this.state.turns.get(key);
    const base: TurnRow = earlier ?? { task_id: this.#task.id, step_id: stepId, attempt: 0, turn, insert: false };
    this.#turns.set(key, { ...base, observations, completed_at: this.#nowIso() });
  }

  async startToolCall(e: Omit<LedgerEntry, 'status' | 'result' | 'error' | 'started_at' | 'finished_at' | 'duration_ms'>): Promise<void> {
    this.#calls.set(e.idempotency_key, { ...e, status: 'started', started_at: this.#nowIso(), insert: true });
  }

  async finishToolCall(key: string, o: { ok: boolean; result?: unknown; error?: ErrorInfo; duration_ms: number }): Promise<void> {
    const earlier = this.#calls.get(key) ?? this.state.calls.get(key);
    this.#calls.set(key, {
      ...(earlier ?? { idempotency_key: key, insert: false }),
      status: o.ok ? 'completed' : 'failed',
      result: o.ok ? (o.result ?? null) : null,
      error: o.error ?? null,
      finished_at: this.#nowIso(),
      duration_ms: o.duration_ms,
    });
  }

  async recordUsage(u: UsageRecord): Promise<void> {
    this.#usage.push({ ...u, task_id: this.#task.id, tenant_id: this.#task.tenant_id });
  }

  async usage(stepId?: string): Promise<UsageTotals> {
    const totals = new Map<string, UsageTotals>();
    for (const [k, v] of await this.state.ensureUsage(this.#task.id)) totals.set(k, v);
    for (const row of this.#usage) addInto(totals, row);
    if (stepId !== undefined) return totals.get(stepId) ?? emptyUsage();
    let sum = emptyUsage();
    for (const v of totals.values()) sum = plus(sum, v);
    return sum;
  }

  async tenantSpend(): Promise<Spend> {
    const spend = await this.state.tenantSpend(this.#task.tenant_id);
    const mine = this.#spendAdded();
    return { tokens: spend.tokens + mine.tokens, usd: spend.usd + mine.usd };
  }

  /** What this write adds to its tenant's spend: its usage rows, and reservations it made or grew. */
  #spendAdded(): Spend {
    const spend = { tokens: 0, usd: 0 };
    const grow = (before: { reserved_tokens: number; reserved_usd: number } | undefined, after: { reserved_tokens: number; reserved_usd: number }) => {
      spend.tokens += Math.max(0, after.reserved_tokens - (before?.reserved_tokens ?? 0));
      spend.usd += Math.max(0, after.reserved_usd - (before?.reserved_usd ?? 0));
    };
    grow(this.state.tasks.get(this.#task.id), this.#task);
    for (const [k, v] of this.#steps) grow(this.state.steps.get(k), v);
    for (const u of this.#usage) {
      spend.tokens += u.input_tokens + u.output_tokens;
      spend.usd += u.cost_usd;
    }
    return spend;
  }

  async append(event: NewEvent): Promise<TaskEvent> {
    const seq = this.#task.last_seq + 1;
    // last_seq is not a column (it is the newest event's seq), so an event alone leaves the task row as is.
    this.#task = { ...this.#task, last_seq: seq };
    const stored = {
      seq,
      type: event.type,
      task_id: this.#task.id,
      ...(event.step_id ? { step_id: event.step_id } : {}),
      timestamp: new Date().toISOString(),
      data: event.data,
    } as TaskEvent;
    this.events.push(stored);
    return stored;
  }

  /** Hands this write's changes to the batch. */
  commit(): void {
    const s = this.state;
    s.addSpend(this.#task.tenant_id, this.#spendAdded());
    s.tasks.set(this.#task.id, this.#task);
    if (this.#taskDirty) s.dirtyTasks.add(this.#task.id);
    for (const [k, v] of this.#steps) {
      s.steps.set(k, v);
      s.dirtySteps.add(k);
    }
    for (const k of this.#newSteps) s.newSteps.add(k);
    s.plans.push(...this.#plans);
    for (const [k, v] of this.#turns) s.turns.set(k, v);
    for (const [k, v] of this.#calls) s.calls.set(k, v);
    s.usage.push(...this.#usage);
    if (this.#claimedForTenant > 0) s.addTenantRunning(this.#task.tenant_id, this.#claimedForTenant);
    const totals = s.usageTotals.get(this.#task.id);
    if (totals) for (const row of this.#usage) addInto(totals, row);
    s.events.push(...this.events);
  }
}

function newStep(taskId: string, version: number, position: number, parentId: string | null, s: PlannedStep, now: string): StepRecord {
  return {
    ...s,
    parent_id: parentId,
    success_criteria: s.success_criteria ?? [],
    params: s.params ?? {},
    task_id: taskId,
    plan_version: version,
    position,
    status: 'pending',
    attempt: 0,
    iterations: 0,
    output: null,
    error: null,
    created_at: now,
    ready_at: null,
    started_at: null,
    completed_at: null,
    lease_owner: null,
    lease_expires_at: null,
    reserved_tokens: 0,
    reserved_usd: 0,
  };
}

function emptyUsage(): UsageTotals {
  return { model_calls: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0 };
}

function plus(a: UsageTotals, b: UsageTotals): UsageTotals {
  return {
    model_calls: a.model_calls + b.model_calls,
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cached_tokens: a.cached_tokens + b.cached_tokens,
    cost_usd: a.cost_usd + b.cost_usd,
  };
}

/** Adds one usage row into totals keyed by step id ('' for none). */
function addInto(totals: Map<string, UsageTotals>, row: UsageRecord): void {
  const key = row.step_id ?? '';
  totals.set(key, plus(totals.get(key) ?? emptyUsage(), { ...row, model_calls: 1 }));
}

function stripUndefined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}


const UNFINISHED = `('pending', 'planning', 'running', 'awaiting_approval')`;

/** A tenant's unfinished tasks, and its tasks created in the last minute with the oldest of them. */
const ADMISSION_COUNTS = `
SELECT (SELECT count(*)::int FROM tasks WHERE tenant_id = $1 AND status IN ${UNFINISHED}) AS active,
       count(*)::int AS recent, min(created_at) AS oldest
  FROM tasks WHERE tenant_id = $1 AND created_at > now() - interval '1 minute'`;

/** A tenant's model use since midnight UTC, plus the budget its tasks and steps hold for calls in flight. */
const TENANT_SPEND = `
WITH today AS (
  SELECT COALESCE(sum(input_tokens + output_tokens), 0)::float8 AS tokens, COALESCE(sum(cost_usd), 0)::float8 AS usd
    FROM usage WHERE tenant_id = $1 AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
), held AS (
  -- Only unfinished tasks hold budget: an ended task's calls in flight will never settle.
  SELECT s.reserved_tokens, s.reserved_usd FROM steps s JOIN tasks t ON t.id = s.task_id
   WHERE s.tenant_id = $1 AND (s.reserved_tokens > 0 OR s.reserved_usd > 0) AND t.status IN ${UNFINISHED}
  UNION ALL
  SELECT reserved_tokens, reserved_usd FROM tasks
   WHERE tenant_id = $1 AND (reserved_tokens > 0 OR reserved_usd > 0) AND status IN ${UNFINISHED}
)
SELECT today.tokens + COALESCE((SELECT sum(reserved_tokens) FROM held), 0)::float8 AS tokens,
       today.usd + COALESCE((SELECT sum(reserved_usd) FROM held), 0)::float8 AS usd
  FROM today`;

/** Why a creation exceeds its tenant's admission limits, or null when it is admitted. */
function admissionRefusal(t: NewTask, room: { active: number; recent: number; oldest: number | null }): AppError | null {
  const { maxTasks, perMinute } = t.admission!;
  if (maxTasks !== undefined && room.active >= maxTasks) {
    return new AppError('QUOTA_EXCEEDED', `Tenant ${t.tenantId} has ${room.active} unfinished tasks, its limit; wait for one to finish`, {
      details: { quota: 'max_tasks', tenant: t.tenantId, limit: maxTasks, current: room.active, retry_after_s: 5 },
    });
  }
  if (perMinute !== undefined && room.recent >= perMinute) {
    const wait = room.oldest === null ? 60 : Math.max(1, Math.ceil((room.oldest + 60_000 - Date.now()) / 1000));
    return new AppError('QUOTA_EXCEEDED', `Tenant ${t.tenantId} created ${room.recent} tasks in the last minute, its limit`, {
      details: { quota: 'tasks_per_minute', tenant: t.tenantId, limit: perMinute, current: room.recent, retry_after_s: wait },
    });
  }
  return null;
}

// The set-based statements. Each reads its rows from one parameter: a JSON array of rows.

/** A set-based statement: its SQL, given the number of its parameter and how many rows it holds. */
type SetStatement = (param: number, count: number) => string;

/**
 * `jsonb_to_recordset` is estimated at 100 rows whatever it holds, which makes the planner scan and
 * hash a whole table to update a few of its rows, a cost that grows with the table. A LIMIT with the
 * real count gives it the estimate that picks the primary-key index.
 */
function setStatement(build: (rows: (columns: string) => string) => string): SetStatement {
  return (param, count) =>
    build((columns) => `(SELECT * FROM jsonb_to_recordset($${param}::jsonb) AS r(${columns}) LIMIT ${count}) AS x`);
}

const PLANS_INSERT = setStatement(
  (rows) => `
INSERT INTO plans (task_id, version, brain, rationale, steps, reason)
SELECT x.task_id, x.version, x.brain, x.rationale, x.steps, x.reason
  FROM ${rows(`task_id text, version int, brain text, rationale text, steps jsonb, reason jsonb`)}`,
);

const STEPS_INSERT = setStatement(
  (rows) => `
INSERT INTO steps (task_id, id, tenant_id, plan_version, parent_id, position, agent, title, instruction, depends_on, tools, success_criteria, params,
                   status, attempt, iterations, output, error, created_at, ready_at, started_at, completed_at, lease_owner,
                   lease_expires_at)
SELECT x.task_id, x.id, t.tenant_id, x.plan_version, x.parent_id, x.position, x.agent, x.title, x.instruction,
       ARRAY(SELECT jsonb_array_elements_text(x.depends_on)), ARRAY(SELECT jsonb_array_elements_text(x.tools)),
       x.success_criteria, x.params, x.status, x.attempt, x.iterations, x.output, x.error, x.created_at, x.ready_at,
       x.started_at, x.completed_at, x.lease_owner, x.lease_expires_at
  FROM ${rows(`task_id text, id text, plan_version int, parent_id text, position int, agent text, title text,
       instruction text, depends_on jsonb, tools jsonb, success_criteria jsonb, params jsonb, status text, attempt int,
       iterations int, output jsonb, error jsonb, created_at timestamptz, ready_at timestamptz, started_at timestamptz,
       completed_at timestamptz, lease_owner text, lease_expires_at timestamptz`)}
  JOIN tasks t ON t.id = x.task_id`,
);

const STEPS_UPDATE = setStatement(
  (rows) => `
UPDATE steps s SET status = x.status, attempt = x.attempt, iterations = x.iterations, output = x.output, error = x.error,
       ready_at = x.ready_at, started_at = x.started_at, completed_at = x.completed_at, lease_owner = x.lease_owner,
       lease_expires_at = x.lease_expires_at, reserved_tokens = x.reserved_tokens, reserved_usd = x.reserved_usd
  FROM ${rows(`task_id text, id text, status text, attempt int, iterations int,
       output jsonb, error jsonb, ready_at timestamptz, started_at timestamptz, completed_at timestamptz,
       lease_owner text, lease_expires_at timestamptz, reserved_tokens int, reserved_usd float8`)}
 WHERE s.task_id = x.task_id AND s.id = x.id`,
);

const TURNS_INSERT = setStatement(
  (rows) => `
INSERT INTO turns (task_id, step_id, attempt, turn, decision, observations, completed_at)
SELECT x.task_id, x.step_id, x.attempt, x.turn, x.decision, x.observations, x.completed_at
  FROM ${rows(`task_id text, step_id text, attempt int, turn int, decision jsonb,
       observations jsonb, completed_at timestamptz`)}`,
);

const TURNS_UPDATE = setStatement(
  (rows) => `
UPDATE turns t SET observations = x.observations, completed_at = x.completed_at
  FROM ${rows(`task_id text, step_id text, turn int, observations jsonb, completed_at timestamptz`)}
 WHERE t.task_id = x.task_id AND t.step_id = x.step_id AND t.turn = x.turn`,
);

const CALLS_INSERT = setStatement(
  (rows) => `
INSERT INTO tool_calls (idempotency_key, task_id, step_id, attempt, turn, call_index, tool, effect, args, status, result,
                        error, started_at, finished_at, duration_ms)
SELECT x.idempotency_key, x.task_id, x.step_id, x.attempt, x.turn, x.call_index, x.tool, x.effect, COALESCE(x.args, 'null'),
       x.status, x.result, x.error, x.started_at, x.finished_at, x.duration_ms
  FROM ${rows(`idempotency_key text, task_id text, step_id text, attempt int, turn int,
       call_index int, tool text, effect text, args jsonb, status text, result jsonb, error jsonb, started_at timestamptz,
       finished_at timestamptz, duration_ms int`)}`,
);

const CALLS_UPDATE = setStatement(
  (rows) => `
UPDATE tool_calls c SET status = x.status, result = x.result, error = x.error, finished_at = x.finished_at,
       duration_ms = x.duration_ms
  FROM ${rows(`idempotency_key text, status text, result jsonb, error jsonb,
       finished_at timestamptz, duration_ms int`)}
 WHERE c.idempotency_key = x.idempotency_key`,
);

const USAGE_INSERT = setStatement(
  (rows) => `
INSERT INTO usage (task_id, tenant_id, step_id, attempt, turn, purpose, model, input_tokens, output_tokens, cached_tokens, cost_usd)
SELECT x.task_id, x.tenant_id, x.step_id, x.attempt, x.turn, x.purpose, x.model, x.input_tokens, x.output_tokens, x.cached_tokens,
       x.cost_usd
  FROM ${rows(`task_id text, tenant_id text, step_id text, attempt int, turn int, purpose text, model text,
       input_tokens int, output_tokens int, cached_tokens int, cost_usd float8`)}`,
);

const EVENTS_INSERT = setStatement(
  (rows) => `
INSERT INTO events (task_id, seq, type, step_id, data, created_at)
SELECT x.task_id, x.seq, x.type, x.step_id, x.data, x.created_at
  FROM ${rows(`task_id text, seq int, type text, step_id text, data jsonb, created_at timestamptz`)}`,
);

const AUDIT_INSERT = setStatement(
  (rows) => `
INSERT INTO audit_log (tenant_id, principal, principal_name, roles, acting_from, action, target_type, target_id, details, request_id)
SELECT x.tenant_id, x.principal, x.principal_name, ARRAY(SELECT jsonb_array_elements_text(x.roles)), x.acting_from, x.action,
       x.target_type, x.target_id, x.details, x.request_id
  FROM ${rows(`tenant_id text, principal text, principal_name text, roles jsonb, acting_from text, action text,
       target_type text, target_id text, details jsonb, request_id text`)}`,
);

const TASKS_UPDATE = setStatement(
  (rows) => `
UPDATE tasks t SET status = x.status, final_output = x.final_output, error = x.error, plan_version = x.plan_version,
       brain = x.brain, updated_at = x.updated_at, queued_at = x.queued_at,
       started_at = x.started_at, completed_at = x.completed_at, deadline_at = x.deadline_at,
       lease_owner = x.lease_owner, lease_expires_at = x.lease_expires_at, reserved_tokens = x.reserved_tokens,
       reserved_usd = x.reserved_usd, replan_reason = x.replan_reason
  FROM ${rows(`id text, status text, final_output text, error jsonb, plan_version int,
       brain text, updated_at timestamptz, queued_at timestamptz, started_at timestamptz,
       completed_at timestamptz, deadline_at timestamptz, lease_owner text, lease_expires_at timestamptz,
       reserved_tokens int, reserved_usd float8, replan_reason jsonb`)}
 WHERE t.id = x.id`,
);
