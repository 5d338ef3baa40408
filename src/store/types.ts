/**
 * The durable model, as the engine and the API see it. `Store` is the contract; `SqlStore` is its
 * implementation over PGlite or PostgreSQL.
 *
 * Writes that change a task happen in `store.write(taskId, fn)`: one transaction that locks the
 * task row, applies the changes and appends the events announcing them, so a state change and its
 * event are committed together or not at all.
 */
import type { Decision, ModelUsage, Observation, PlannedStep, ReplanReason, StepOutput } from '../brains/types.js';
export type { ReplanReason } from '../brains/types.js';
import type { ErrorInfo } from '../errors.js';
import type { NewEvent, TaskEvent, Usage } from '../events/types.js';
import type { Artifact, DocumentIndex, StoredFile, ToolEffect } from '../tools/types.js';
import type { Role } from '../auth/principal.js';

export type TaskStatus = 'pending' | 'planning' | 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL_TASK_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);
export const TASK_STATUSES: readonly TaskStatus[] = [
  'pending',
  'planning',
  'running',
  'awaiting_approval',
  'completed',
  'failed',
  'cancelled',
];

/**
 * pending: waits for its dependencies. ready: dependencies done, waiting for a worker.
 * running: a worker holds its lease. completed / failed / cancelled: final.
 */
/** `waiting`: a manager step that delegated work, until its children are done (it holds no lease meanwhile). */
export type StepStatus = 'pending' | 'ready' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';

/** Model use summed over a task or a step. */
export interface UsageTotals {
  model_calls: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
}

export interface TaskRecord {
  id: string;
  tenant_id: string;
  status: TaskStatus;
  input: string;
  files: string[];
  options: TaskOptions;
  final_output: string | null;
  error: ErrorInfo | null;
  plan_version: number;
  brain: string | null;
  last_seq: number;
  idempotency_key: string | null;
  created_at: string;
  updated_at: string;
  queued_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  deadline_at: string | null;
  /** Who is planning the task, until when (a planning lease, like a step's). */
  lease_owner: string | null;
  lease_expires_at: string | null;
  /** Budget held for the planning call in flight. */
  reserved_tokens: number;
  reserved_usd: number;
  /** Why the task is being planned again, while a revision is under way (then kept on the plan). */
  replan_reason: ReplanReason | null;
  /** The principal that created the task; its roles are what the tool policy's `roles` see for the task's calls. */
  created_by: Creator | null;
}

/** Who created a task, as recorded with it. */
export interface Creator {
  id: string;
  name: string | null;
  roles: Role[];
}

/** Per-task limits; each overrides the service default when given. */
export interface TaskOptions {
  max_steps?: number;
  max_iterations?: number;
  max_parallel_steps?: number;
  timeout_ms?: number;
  retry_attempts?: number;
  budget_tokens?: number;
  budget_usd?: number;
  max_replans?: number;
  [key: string]: unknown;
}

export interface StepRecord extends PlannedStep {
  task_id: string;
  plan_version: number;
  /** The manager step that delegated this one; null for the plan's own steps. */
  parent_id: string | null;
  position: number;
  status: StepStatus;
  attempt: number;
  iterations: number;
  output: StepOutput | null;
  error: ErrorInfo | null;
  created_at: string;
  ready_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  /** Budget held for this step's model call in flight. */
  reserved_tokens: number;
  reserved_usd: number;
}

export interface PlanRecord {
  task_id: string;
  version: number;
  brain: string;
  rationale: string;
  steps: PlannedStep[];
  /** Why this plan revises the previous one; null for the first plan. */
  reason: ReplanReason | null;
  created_at: string;
}

export interface LedgerEntry {
  idempotency_key: string;
  task_id: string;
  step_id: string;
  attempt: number;
  turn: number;
  call_index: number;
  tool: string;
  effect: ToolEffect;
  args: unknown;
  status: 'started' | 'completed' | 'failed';
  result: unknown;
  error: ErrorInfo | null;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
}

/** A journaled turn; `observations` is null while its tool calls have not all finished. */
export interface JournalTurn {
  turn: number;
  decision: Decision;
  observations: Observation[] | null;
}

export type ClaimResult = { ok: true; step: StepRecord } | { ok: false; reason: 'not_runnable' | 'tenant_busy' };

export interface OrphanedWork {
  plans: string[];
  steps: Array<{ task_id: string; step_id: string }>;
  overdue: string[];
}

export interface DocumentRecord {
  id: string;
  tenant_id: string;
  title: string;
  metadata: Record<string, unknown>;
  chunks: number;
  size: number;
  created_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface NewTask {
  id: string;
  tenantId: string;
  input: string;
  files: string[];
  options: TaskOptions;
  idempotencyKey?: string;
  /** Hash of the request, to tell a retry (same hash) from a conflicting reuse of the key. */
  requestHash?: string;
  /** Queue the task for execution at once (else it waits for `start`). */
  start: boolean;
  /** Who creates it. */
  createdBy?: Creator;
  /** Admission limits of the tenant, checked under a tenant lock in the creating transaction (QUOTA_EXCEEDED). */
  admission?: Admission;
  /** The audit entry of the creation (its target is the task), written in the creating transaction. */
  audit?: Omit<NewAudit, 'tenant_id' | 'target_type' | 'target_id'>;
}

/** A tenant's limits on creating tasks. */
export interface Admission {
  /** Unfinished tasks the tenant may have, this one included. */
  maxTasks?: number;
  /** Tasks the tenant may create in any 60 s. */
  perMinute?: number;
}

export type TaskPatch = Partial<
  Pick<
    TaskRecord,
    | 'status'
    | 'final_output'
    | 'error'
    | 'plan_version'
    | 'brain'
    | 'queued_at'
    | 'started_at'
    | 'completed_at'
    | 'deadline_at'
    | 'lease_owner'
    | 'lease_expires_at'
    | 'reserved_tokens'
    | 'reserved_usd'
    | 'replan_reason'
  >
>;

export type StepPatch = Partial<
  Pick<
    StepRecord,
    | 'status'
    | 'attempt'
    | 'iterations'
    | 'output'
    | 'error'
    | 'ready_at'
    | 'started_at'
    | 'completed_at'
    | 'lease_owner'
    | 'lease_expires_at'
    | 'reserved_tokens'
    | 'reserved_usd'
  >
>;

export interface UsageRecord extends ModelUsage {
  step_id?: string;
  attempt?: number;
  turn?: number;
  purpose: 'plan' | 'decide' | 'judge';
}

/** The writes of one task transaction. Every method runs inside that transaction. */
export interface TaskWriter {
  /** The task as locked at the start of the transaction (updated by `updateTask`). */
  readonly task: TaskRecord;
  /** The database's clock at the start of the transaction (leases are judged by it). */
  now(): Date;
  updateTask(patch: TaskPatch): Promise<void>;
  insertPlan(version: number, brain: string, rationale: string, steps: PlannedStep[], reason?: ReplanReason | null): Promise<void>;
  /** Adds steps a manager step delegated, to plan `version`, after the plan's own steps. */
  insertChildSteps(version: number, parentId: string, steps: PlannedStep[]): Promise<void>;
  /** The task's steps as this transaction sees them. */
  listSteps(): Promise<StepRecord[]>;
  /** Updates a step; with `onlyIf`, only when it still has one of those statuses and that lease owner.
   * Returns whether a row changed. */
  updateStep(stepId: string, patch: StepPatch, onlyIf?: { status?: StepStatus[]; owner?: string }): Promise<boolean>;
  /**
   * Takes the lease of a ready step, or of a running step whose lease expired or is `owner`'s
   * (expiry judged by the database clock). With `tenantMaxRunning`, refuses (`tenant_busy`) while
   * the task's tenant already has that many steps running. Returns the step as claimed, or why not.
   */
  claimStep(stepId: string, owner: string, leaseMs: number, options?: { tenantMaxRunning?: number }): Promise<ClaimResult>;
  /**
   * Journals a decision as turn `turn` of the step (numbered across attempts: a retry continues the
   * journal), made in `attempt`. Observations follow in `completeTurn`.
   */
  insertTurn(stepId: string, attempt: number, turn: number, decision: Decision): Promise<void>;
  completeTurn(stepId: string, turn: number, observations: Observation[]): Promise<void>;
  startToolCall(entry: Omit<LedgerEntry, 'status' | 'result' | 'error' | 'started_at' | 'finished_at' | 'duration_ms'>): Promise<void>;
  finishToolCall(key: string, outcome: { ok: boolean; result?: unknown; error?: ErrorInfo; duration_ms: number }): Promise<void>;
  recordUsage(usage: UsageRecord): Promise<void>;
  /** Model use so far, of the whole task or of one step (including this transaction's records). */
  usage(stepId?: string): Promise<UsageTotals>;
  /**
   * What the task's tenant has spent today (UTC) on model calls plus what its calls in flight hold, over
   * all its tasks, this transaction's changes included. Locks the tenant's spending until the
   * transaction ends, so concurrent reservations of one tenant are judged one after another.
   */
  tenantSpend(): Promise<{ tokens: number; usd: number }>;
  /** Appends an event with the next seq; returns it as stored. */
  append(event: NewEvent): Promise<TaskEvent>;
}

export interface TaskWriteResult<T> {
  value: T;
  events: TaskEvent[];
}

export interface TaskUsageSummary extends Usage {
  calls: number;
  by_step: Record<string, Usage & { calls: number }>;
}

export interface Store extends DocumentStore, FileStore, ApprovalStore, ArtifactStore, DirectCallStore, AccessStore {
  /** Creates a task with its task_created event (queued for planning when `start`). With an idempotency
   * key seen before, returns the existing task (`created` false) or throws IDEMPOTENCY_CONFLICT. */
  createTask(task: NewTask): Promise<TaskWriteResult<{ task: TaskRecord; created: boolean }>>;
  /** Locks the task row and runs `fn` in one transaction; returns the events it appended. */
  write<T>(taskId: string, fn: (w: TaskWriter) => Promise<T>): Promise<TaskWriteResult<T>>;

  getTask(taskId: string, tenantId?: string): Promise<TaskRecord | null>;
  listTasks(query: { tenantId?: string; status?: TaskStatus[]; limit: number; cursor?: string }): Promise<Page<TaskRecord>>;
  countTasks(query: { tenantId?: string; status?: TaskStatus[] }): Promise<number>;
  /**
   * Work that should be moving but that no worker holds: tasks queued for planning and untouched
   * for `staleMs`, steps ready for longer than `staleMs`, running steps whose lease expired (or was
   * released), and unfinished tasks past their deadline.
   */
  findOrphanedWork(staleMs: number, limit: number): Promise<OrphanedWork>;
  /** Work waiting for a worker: tasks queued but not yet planned, and steps ready but not yet claimed. */
  countBacklog(): Promise<number>;

  getPlan(taskId: string, version: number): Promise<PlanRecord | null>;
  listPlans(taskId: string): Promise<PlanRecord[]>;
  getStep(taskId: string, stepId: string): Promise<StepRecord | null>;
  listSteps(taskId: string): Promise<StepRecord[]>;

  /**
   * Extends every lease `owner` holds: on running steps ("taskId stepId") and on tasks being planned
   * ("taskId"). Returns the leases still held.
   */
  renewLeases(owner: string, leaseMs: number): Promise<Set<string>>;
  /** Gives up `owner`'s leases so other workers may take the steps at once (graceful shutdown); returns those steps. */
  releaseLeases(owner: string): Promise<Array<{ task_id: string; step_id: string }>>;
  /** Drops every lease (a single embedded process starting up owns all work). */
  releaseAllLeases(): Promise<number>;

  /** The journal of a step (all its attempts), oldest turn first. */
  listTurns(taskId: string, stepId: string): Promise<JournalTurn[]>;
  getToolCall(key: string): Promise<LedgerEntry | null>;
  listToolCalls(taskId: string): Promise<LedgerEntry[]>;
  taskUsage(taskId: string): Promise<TaskUsageSummary>;

  /** Events with seq > `after`, in order, at most `limit`. */
  listEvents(taskId: string, after: number, limit: number): Promise<TaskEvent[]>;

  /** True when the database answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface DocumentStore {
  insertDocument(doc: { id: string; tenantId: string; title: string; content: string; metadata: Record<string, unknown> }): Promise<DocumentRecord>;
  listDocuments(query: { tenantId: string; limit: number; cursor?: string }): Promise<Page<DocumentRecord>>;
  getDocument(id: string, tenantId: string): Promise<(DocumentRecord & { content: string }) | null>;
  deleteDocument(id: string, tenantId: string): Promise<boolean>;
  documentIndex(tenantId: string): DocumentIndex;
}

export type ApprovalStatus = 'pending' | 'approved' | 'rejected';

/** A tool call waiting on (or decided by) a human, bound to the call and the hash of its exact arguments. */
export interface ApprovalRecord {
  id: string;
  tenant_id: string;
  /** Null for a direct invocation (POST /v1/tools/{name}/invoke). */
  task_id: string | null;
  step_id: string | null;
  turn: number | null;
  call_index: number | null;
  idempotency_key: string;
  tool: string;
  args: unknown;
  args_hash: string;
  /** Why it was asked for: the policy rule that matched, in words. */
  rule: string | null;
  /** The principal whose task (or direct call) made the call; under four-eyes it may not decide. */
  requested_by: string | null;
  status: ApprovalStatus;
  reason: string | null;
  decided_by: string | null;
  decided_at: string | null;
  /** Decided by its expiry (with its default decision), not by a person. */
  expired: boolean;
  expires_at: string;
  default_decision: 'approve' | 'reject';
  created_at: string;
}

export type NewApproval = Pick<
  ApprovalRecord,
  'id' | 'tenant_id' | 'task_id' | 'step_id' | 'turn' | 'call_index' | 'idempotency_key' | 'tool' | 'args' | 'args_hash' | 'rule' | 'expires_at' | 'default_decision' | 'requested_by'
>;

export interface ApprovalStore {
  /** Records a request, or returns the one already made for this call and these arguments. */
  requestApproval(a: NewApproval): Promise<ApprovalRecord>;
  getApproval(id: string, tenantId: string): Promise<ApprovalRecord | null>;
  listApprovals(query: { tenantId: string; status?: ApprovalStatus[]; taskId?: string; tool?: string; limit: number; cursor?: string }): Promise<Page<ApprovalRecord>>;
  /** Decides a pending approval before its expiry; null when it is not pending, expired or not the tenant's. */
  decideApproval(id: string, tenantId: string, d: { status: 'approved' | 'rejected'; reason: string | null; decidedBy: string }): Promise<ApprovalRecord | null>;
  /** Applies the default decision to pending approvals past their expiry; returns them. */
  expireApprovals(limit: number): Promise<ApprovalRecord[]>;
  /** The approvals of one step. */
  stepApprovals(taskId: string, stepId: string): Promise<ApprovalRecord[]>;
  /** Whether any request is pending or any step parked: when not, the reconciler has nothing to settle. */
  hasApprovalWork(): Promise<boolean>;
  /** Rejects pending requests whose task or step ended (nothing waits for them any more); returns how many. */
  closeOrphanedApprovals(): Promise<number>;
  /** Steps waiting on approvals that are all decided (a decision whose wake-up was lost). */
  findDecidedWaits(limit: number): Promise<Array<{ task_id: string; step_id: string }>>;
}

export interface ArtifactStore {
  /** Stores (or replaces) a task's artifact. */
  saveArtifact(a: { taskId: string; tenantId: string; stepId: string | null; name: string; contentType: string; data: Buffer }): Promise<Artifact>;
  listArtifacts(taskId: string): Promise<Artifact[]>;
  readArtifact(taskId: string, name: string): Promise<(Artifact & { data: Buffer }) | null>;
}

/** The ledger of direct invocations (no task): same keys and states as a task's tool calls. */
export interface DirectCallStore {
  /** Records the start of a call; false when the key is already in the ledger. */
  startDirectCall(e: { idempotency_key: string; tenant_id: string; tool: string; effect: ToolEffect; args: unknown }): Promise<boolean>;
  finishDirectCall(key: string, o: { ok: boolean; result?: unknown; error?: ErrorInfo; duration_ms: number }): Promise<void>;
}

export interface FileStore {
  insertFile(file: { id: string; tenantId: string; name: string; contentType: string; data: Buffer }): Promise<StoredFile>;
  getFile(id: string, tenantId: string): Promise<StoredFile | null>;
  readFile(id: string, tenantId: string): Promise<(StoredFile & { data: Buffer }) | null>;
  listFiles(query: { tenantId: string; limit: number; cursor?: string }): Promise<Page<StoredFile>>;
}


/** An API key as stored: never the key itself, only its SHA-256. */
export interface ApiKeyRecord {
  id: string;
  /** The tenant, or `*` for an operator's key. */
  tenant_id: string;
  roles: Role[];
  name: string;
  /** The first characters of the key, to recognise it in listings. */
  prefix: string;
  created_at: string;
  created_by: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
}

export interface NewApiKey {
  id: string;
  tenantId: string;
  roles: Role[];
  name: string;
  secretHash: string;
  prefix: string;
  expiresAt: string | null;
  createdBy: string | null;
}

/** A version of a tenant's tool policy. */
export interface ToolPolicyRecord {
  tenant_id: string;
  version: number;
  rules: unknown[];
  created_at: string;
  created_by: string | null;
}

/** One line of the audit log. */
export interface AuditRecord {
  id: string;
  tenant_id: string;
  at: string;
  principal: string;
  principal_name: string | null;
  roles: string[];
  /** Set when an operator acted for this tenant from another. */
  acting_from: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: Record<string, unknown>;
  request_id: string | null;
}

export type NewAudit = Omit<AuditRecord, 'id' | 'at'>;

export interface AuditQuery {
  tenantId: string;
  action?: string[];
  principal?: string;
  targetId?: string;
  since?: string;
  until?: string;
  limit: number;
  cursor?: string;
}

/** Credentials, stream tickets, tool policies and the audit log. */
export interface AccessStore {
  createApiKey(k: NewApiKey): Promise<ApiKeyRecord>;
  /** The key with this hash, revoked and expired ones included (the caller says why it is refused). */
  findApiKey(secretHash: string): Promise<ApiKeyRecord | null>;
  getApiKey(id: string, tenantId?: string): Promise<ApiKeyRecord | null>;
  /** Keys newest first; of one tenant, or of all (tenantId undefined, the command line). */
  listApiKeys(query: { tenantId?: string; limit: number; cursor?: string }): Promise<Page<ApiKeyRecord>>;
  /** Revokes a key (the first revocation is kept); null when there is no such key (of that tenant). */
  revokeApiKey(id: string, tenantId: string | undefined, by: string): Promise<ApiKeyRecord | null>;
  touchApiKey(id: string): Promise<void>;
  /** Keys neither revoked nor expired: whether any exists decides the service's mode at start. */
  countActiveApiKeys(): Promise<number>;

  createStreamTicket(t: { hash: string; tenantId: string; taskId: string; principal: unknown; expiresAt: string }): Promise<void>;
  /** Uses a ticket for `taskId` once: its principal, or null when it is unknown, used, expired or for another task. */
  redeemStreamTicket(hash: string, taskId: string): Promise<{ tenant_id: string; principal: unknown } | null>;

  /** The tenant's policy in force (its highest version), or null when it never wrote one. */
  getToolPolicy(tenantId: string): Promise<ToolPolicyRecord | null>;
  /** Stores a new version; with `expectedVersion`, only if the one in force is that version (0: none yet), else POLICY_VERSION_CONFLICT. */
  putToolPolicy(p: { tenantId: string; rules: unknown[]; createdBy: string; expectedVersion?: number }): Promise<ToolPolicyRecord>;
  listToolPolicies(query: { tenantId: string; limit: number; cursor?: string }): Promise<Page<ToolPolicyRecord>>;

  appendAudit(entry: NewAudit): Promise<AuditRecord>;
  listAudit(query: AuditQuery): Promise<Page<AuditRecord>>;
}
