/**
 * The schema, as an ordered list of migrations. The same SQL runs on PGlite and PostgreSQL; a
 * migration is applied once, in a transaction, and recorded in `schema_migrations`.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE tasks (
  id               text PRIMARY KEY,
  tenant_id        text NOT NULL DEFAULT 'default',
  status           text NOT NULL,
  input            text NOT NULL,
  files            jsonb NOT NULL DEFAULT '[]',
  options          jsonb NOT NULL DEFAULT '{}',
  final_output     text,
  error            jsonb,
  plan_version     integer NOT NULL DEFAULT 0,
  brain            text,
  idempotency_key  text,
  request_hash     text,
  -- Millisecond precision, like the cursors that page through it.
  created_at       timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  queued_at        timestamptz,
  started_at       timestamptz,
  completed_at     timestamptz,
  deadline_at      timestamptz,
  -- Budget held for a model call in flight (the worst case of the call), released when it settles.
  reserved_tokens  integer NOT NULL DEFAULT 0,
  reserved_usd     double precision NOT NULL DEFAULT 0,
  lease_owner      text,
  lease_expires_at timestamptz
);
CREATE UNIQUE INDEX tasks_idempotency ON tasks (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_list ON tasks (tenant_id, created_at DESC, id DESC);
CREATE INDEX tasks_status ON tasks (status, created_at);

CREATE TABLE plans (
  task_id    text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  version    integer NOT NULL,
  brain      text NOT NULL,
  rationale  text NOT NULL DEFAULT '',
  steps      jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, version)
);

CREATE TABLE steps (
  task_id          text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  id               text NOT NULL,
  -- The task's tenant, kept here so the per-tenant cap counts running steps from one index.
  tenant_id        text NOT NULL,
  plan_version     integer NOT NULL,
  position         integer NOT NULL,
  agent            text NOT NULL,
  title            text NOT NULL,
  instruction      text NOT NULL,
  depends_on       text[] NOT NULL DEFAULT '{}',
  tools            text[] NOT NULL DEFAULT '{}',
  success_criteria jsonb NOT NULL DEFAULT '[]',
  params           jsonb NOT NULL DEFAULT '{}',
  status           text NOT NULL,
  attempt          integer NOT NULL DEFAULT 0,
  iterations       integer NOT NULL DEFAULT 0,
  output           jsonb,
  error            jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  ready_at         timestamptz,
  started_at       timestamptz,
  completed_at     timestamptz,
  -- Budget held for a model call in flight (the worst case of the call), released when it settles.
  reserved_tokens  integer NOT NULL DEFAULT 0,
  reserved_usd     double precision NOT NULL DEFAULT 0,
  lease_owner      text,
  lease_expires_at timestamptz,
  PRIMARY KEY (task_id, id)
);
CREATE INDEX steps_lease_owner ON steps (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX steps_runnable ON steps (status, lease_expires_at) WHERE status IN ('ready', 'running');
CREATE INDEX steps_tenant_running ON steps (tenant_id) WHERE status = 'running' AND lease_owner IS NOT NULL;

CREATE TABLE turns (
  task_id      text NOT NULL,
  step_id      text NOT NULL,
  attempt      integer NOT NULL,
  turn         integer NOT NULL,
  decision     jsonb NOT NULL,
  observations jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  PRIMARY KEY (task_id, step_id, turn),
  FOREIGN KEY (task_id, step_id) REFERENCES steps(task_id, id) ON DELETE CASCADE
);

CREATE TABLE tool_calls (
  idempotency_key text PRIMARY KEY,
  task_id         text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  step_id         text NOT NULL,
  attempt         integer NOT NULL,
  turn            integer NOT NULL,
  call_index      integer NOT NULL,
  tool            text NOT NULL,
  effect          text NOT NULL,
  args            jsonb NOT NULL,
  status          text NOT NULL,
  result          jsonb,
  error           jsonb,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  duration_ms     integer
);
CREATE INDEX tool_calls_step ON tool_calls (task_id, step_id, attempt, turn);

CREATE TABLE events (
  task_id    text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  seq        integer NOT NULL,
  type       text NOT NULL,
  step_id    text,
  data       jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, seq)
);

CREATE TABLE usage (
  id            bigserial PRIMARY KEY,
  task_id       text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  step_id       text,
  attempt       integer,
  turn          integer,
  purpose       text NOT NULL,
  model         text NOT NULL,
  input_tokens  integer NOT NULL DEFAULT 0,
  output_tokens integer NOT NULL DEFAULT 0,
  cached_tokens integer NOT NULL DEFAULT 0,
  cost_usd      double precision NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_task ON usage (task_id, step_id);

CREATE TABLE documents (
  id         text PRIMARY KEY,
  tenant_id  text NOT NULL DEFAULT 'default',
  title      text NOT NULL,
  content    text NOT NULL,
  metadata   jsonb NOT NULL DEFAULT '{}',
  chunks     integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
);
CREATE INDEX documents_list ON documents (tenant_id, created_at DESC, id DESC);

CREATE TABLE document_chunks (
  document_id text NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  tenant_id   text NOT NULL,
  chunk       integer NOT NULL,
  text        text NOT NULL,
  tsv         tsvector NOT NULL,
  PRIMARY KEY (document_id, chunk)
);
CREATE INDEX document_chunks_tsv ON document_chunks USING gin (tsv);

CREATE TABLE files (
  id           text PRIMARY KEY,
  tenant_id    text NOT NULL DEFAULT 'default',
  name         text NOT NULL,
  content_type text NOT NULL,
  size         integer NOT NULL,
  sha256       text NOT NULL,
  data         bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
);
`,
  },
  {
    version: 2,
    name: 'replanning_and_delegation',
    sql: `
-- Why the task is being planned again (set when a revision starts; kept on the plan it produces).
ALTER TABLE tasks ADD COLUMN replan_reason jsonb;
ALTER TABLE plans ADD COLUMN reason jsonb;
-- The manager step that delegated this one (null for the plan's own steps).
ALTER TABLE steps ADD COLUMN parent_id text;
`,
  },
  {
    version: 3,
    name: 'approvals_artifacts_direct_calls',
    sql: `
-- A tool call waiting on a human: bound to the call (its ledger key) and the hash of its exact arguments.
CREATE TABLE approvals (
  id               text PRIMARY KEY,
  tenant_id        text NOT NULL,
  task_id          text REFERENCES tasks(id) ON DELETE CASCADE,
  step_id          text,
  turn             integer,
  call_index       integer,
  idempotency_key  text NOT NULL,
  tool             text NOT NULL,
  args             jsonb NOT NULL,
  args_hash        text NOT NULL,
  rule             text,
  status           text NOT NULL,
  reason           text,
  decided_by       text,
  decided_at       timestamptz,
  expired          boolean NOT NULL DEFAULT false,
  expires_at       timestamptz NOT NULL,
  default_decision text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
);
CREATE UNIQUE INDEX approvals_call ON approvals (idempotency_key, args_hash);
CREATE INDEX approvals_list ON approvals (tenant_id, created_at DESC, id DESC);
CREATE INDEX approvals_pending ON approvals (expires_at) WHERE status = 'pending';
CREATE INDEX approvals_step ON approvals (task_id, step_id);
-- Steps parked (a manager waiting on its sub-tasks, a call waiting for approval), for the reconciler.
CREATE INDEX steps_waiting ON steps (task_id) WHERE status = 'waiting';

-- Files tools produced for a task (run_python's outputs folder).
CREATE TABLE artifacts (
  task_id      text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  name         text NOT NULL,
  tenant_id    text NOT NULL,
  step_id      text,
  content_type text NOT NULL,
  size         integer NOT NULL,
  sha256       text NOT NULL,
  data         bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, name)
);

-- Direct invocations (POST /v1/tools/{name}/invoke) share the ledger: they have no task or step.
ALTER TABLE tool_calls ALTER COLUMN task_id DROP NOT NULL;
ALTER TABLE tool_calls ALTER COLUMN step_id DROP NOT NULL;
ALTER TABLE tool_calls ADD COLUMN tenant_id text;
`,
  },
];
