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
  {
    version: 4,
    name: 'identity_and_access',
    sql: `
-- API keys: only a hash of the key is kept. tenant_id '*' is an operator's key (made on the command line).
CREATE TABLE api_keys (
  id           text PRIMARY KEY,
  tenant_id    text NOT NULL,
  roles        text[] NOT NULL,
  name         text NOT NULL,
  secret_hash  text NOT NULL UNIQUE,
  prefix       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  created_by   text,
  expires_at   timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz,
  revoked_by   text
);
CREATE INDEX api_keys_list ON api_keys (tenant_id, created_at DESC, id DESC);

-- Single-use tickets that let a browser open one task's stream (SSE and WebSocket cannot send headers).
CREATE TABLE stream_tickets (
  hash       text PRIMARY KEY,
  tenant_id  text NOT NULL,
  task_id    text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  principal  jsonb NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);
CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);

-- Each tenant's tool policy; every change is a new version, the highest is in force.
CREATE TABLE tool_policies (
  tenant_id  text NOT NULL,
  version    integer NOT NULL,
  rules      jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  created_by text,
  PRIMARY KEY (tenant_id, version)
);

-- Who did what. Rows are only ever added: the trigger refuses updates and deletes.
CREATE TABLE audit_log (
  id             bigserial PRIMARY KEY,
  tenant_id      text NOT NULL,
  at             timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  principal      text NOT NULL,
  principal_name text,
  roles          text[] NOT NULL DEFAULT '{}',
  acting_from    text,
  action         text NOT NULL,
  target_type    text,
  target_id      text,
  details        jsonb NOT NULL DEFAULT '{}',
  request_id     text
);
CREATE INDEX audit_log_list ON audit_log (tenant_id, id DESC);
-- On one line: migrations are split into statements at a semicolon that ends a line.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $fn$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Who created a task ({id, name, roles}), and who made the call an approval is about (four-eyes).
ALTER TABLE tasks ADD COLUMN created_by jsonb;
ALTER TABLE approvals ADD COLUMN requested_by text;
CREATE INDEX tasks_unfinished ON tasks (tenant_id) WHERE status IN ('pending', 'planning', 'running', 'awaiting_approval');

-- Daily quotas sum a tenant's model use and the budget its calls in flight hold.
ALTER TABLE usage ADD COLUMN tenant_id text;
UPDATE usage u SET tenant_id = t.tenant_id FROM tasks t WHERE t.id = u.task_id;
CREATE INDEX usage_tenant_day ON usage (tenant_id, created_at);
CREATE INDEX tasks_reserved ON tasks (tenant_id) WHERE reserved_tokens > 0 OR reserved_usd > 0;
CREATE INDEX steps_reserved ON steps (tenant_id) WHERE reserved_tokens > 0 OR reserved_usd > 0;
`,
  },
];
