/**
 * All settings, in one schema. This is the only module that reads `process.env`; everything else
 * receives a frozen `Config`. Every option has a default that works on a laptop.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A comma-separated list (or, as an override, an array). */
const commaList = z.union([
  z.array(z.string()),
  z.string().transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean)),
]);

/** The model providers `AGENTIC_MODEL` may name. `ollama` is an OpenAI-compatible server at `${OLLAMA_HOST}/v1`. */
export const MODEL_PROVIDERS = ['openai', 'anthropic', 'openai-compatible', 'ollama'] as const;
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

/** A model as configured: `provider:model`, e.g. `openai:gpt-4.1-mini` or `ollama:llama3.1:8b`. */
export interface ModelSpec {
  provider: ModelProvider;
  model: string;
  /** The string as written, `provider:model`. */
  id: string;
}

/** The agent roles that may have a model of their own (`AGENTIC_MODEL_<ROLE>`); `planner` makes plans. */
export const MODEL_ROLES = ['planner', 'researcher', 'analyst', 'writer', 'coder', 'manager'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];

/**
 * Parses `provider:model`, splitting at the first colon (model names such as `llama3.1:8b` keep
 * theirs). Returns null when the provider is unknown or a part is empty.
 */
export function parseModelSpec(value: string): ModelSpec | null {
  const at = value.indexOf(':');
  if (at <= 0) return null;
  const provider = value.slice(0, at).trim();
  const model = value.slice(at + 1).trim();
  if (!model || !(MODEL_PROVIDERS as readonly string[]).includes(provider)) return null;
  return { provider: provider as ModelProvider, model, id: `${provider}:${model}` };
}

/** A model setting: the env string, or (as an override in tests) the already parsed value. */
const modelSpec = z.unknown().transform((value, ctx) => {
  const spec = typeof value === 'string' ? parseModelSpec(value) : isModelSpec(value) ? value : null;
  if (!spec) {
    ctx.addIssue({ code: 'custom', message: `"${String(value)}" is not provider:model with a provider among ${MODEL_PROVIDERS.join(', ')}` });
    return z.NEVER;
  }
  return spec;
});

/** A comma list of models (or, as an override, an array of parsed ones). */
const modelSpecList = z.unknown().transform((value, ctx) => {
  if (Array.isArray(value) && value.every(isModelSpec)) return value as ModelSpec[];
  const specs: ModelSpec[] = [];
  for (const part of String(value).split(',').map((p) => p.trim()).filter(Boolean)) {
    const spec = parseModelSpec(part);
    if (spec) specs.push(spec);
    else ctx.addIssue({ code: 'custom', message: `"${part}" is not provider:model with a provider among ${MODEL_PROVIDERS.join(', ')}` });
  }
  return specs;
});

function isModelSpec(value: unknown): value is ModelSpec {
  const v = value as ModelSpec | null;
  return typeof v === 'object' && v !== null && typeof v.id === 'string' && parseModelSpec(v.id)?.model === v.model;
}

/** USD per million tokens of one model; `cached` prices cached input tokens (defaults to `input`). */
export const modelPriceSchema = z.object({ input: z.number().min(0), output: z.number().min(0), cached: z.number().min(0).optional() });
export type ModelPrice = z.infer<typeof modelPriceSchema>;

const priceRecord = z.record(z.string(), modelPriceSchema);

/** A setting given as JSON (env) or as the parsed value (override), checked by `schema`; `messages` say what to write instead. */
function jsonSetting<T extends z.ZodType>(schema: T, messages: { notJson?: string; invalid?: (issue: string) => string } = {}) {
  return z.unknown().transform((value, ctx): z.output<T> => {
    let json: unknown = value;
    if (typeof value === 'string') {
      try {
        json = JSON.parse(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: messages.notJson ?? 'is not JSON' });
        return z.NEVER;
      }
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = z.prettifyError(parsed.error).replace(/\n/g, '; ');
      ctx.addIssue({ code: 'custom', message: messages.invalid ? messages.invalid(parsed.error.issues[0]?.message ?? issue) : issue });
      return z.NEVER;
    }
    return parsed.data;
  });
}

/** A price table: JSON (env) or an object (override). */
const priceTable = jsonSetting(priceRecord, {
  notJson: 'must be JSON, e.g. {"gpt-4.1-mini":{"input":0.4,"output":1.6,"cached":0.1}}',
  invalid: (issue) => `must map model names to {input, output, cached?} in USD per million tokens (${issue})`,
});

/** One tenant's quotas; a limit left out follows the service-wide setting, null lifts it. */
export const tenantQuotaSchema = z
  .object({
    max_tasks: z.int().min(1).nullable().optional(),
    tasks_per_minute: z.int().min(1).nullable().optional(),
    tokens_per_day: z.int().min(1).nullable().optional(),
    usd_per_day: z.number().positive().nullable().optional(),
  })
  .strict();
export type TenantQuotaOverride = z.infer<typeof tenantQuotaSchema>;

/** Each setting with its environment variable, default and meaning. */
export const configSchema = z.object({
  /** TCP port of the HTTP API. Env `PORT`. @defaultValue 8000 */
  port: int(0, 65535).default(8000),
  /** Interface to listen on. Env `HOST`. @defaultValue 127.0.0.1 */
  host: z.string().min(1).default('127.0.0.1'),
  /** Folder of the embedded database (PGlite); `:memory:` keeps it in memory. Env `AGENTIC_DATA_DIR`. @defaultValue ./data */
  dataDir: z.string().min(1).default('./data'),
  /** PostgreSQL connection string; when set, PostgreSQL replaces the embedded database. Env `DATABASE_URL`. */
  databaseUrl: z.string().url().optional(),
  /** PostgreSQL schema holding the tables. Env `AGENTIC_DB_SCHEMA`. @defaultValue public */
  databaseSchema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('public'),
  /** Connections in the PostgreSQL pool. Env `AGENTIC_DB_POOL_SIZE`. @defaultValue 10 */
  databasePoolSize: int(1, 200).default(10),
  /** Redis connection string; with DATABASE_URL, Redis carries the work queue and live events between processes. Env `REDIS_URL`. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  /** Prefix of every Redis key this deployment uses. Env `AGENTIC_REDIS_PREFIX`. @defaultValue agentic */
  redisPrefix: z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/).default('agentic'),
  /** Waiting work beyond which new tasks are refused with 429 and Retry-After. Env `AGENTIC_MAX_BACKLOG`. @defaultValue 10000 */
  maxBacklog: int(1, 10_000_000).default(10_000),
  /** Steps of one tenant that may run at once across all workers. Env `AGENTIC_TENANT_MAX_RUNNING`. @defaultValue 256 */
  tenantMaxRunning: int(1, 1_000_000).default(256),
  /** How often workers look for work that nobody holds (lost messages, dead workers), ms. Env `AGENTIC_RECONCILE_MS`. @defaultValue 5000 */
  reconcileMs: int(100, 3_600_000).default(5_000),
  /** On SIGTERM, how long running work may take to finish before it is handed back, ms. Env `AGENTIC_SHUTDOWN_GRACE_MS`. @defaultValue 10000 */
  shutdownGraceMs: int(0, 3_600_000).default(10_000),
  /** Steps one worker process runs at once, across all tasks. Env `AGENTIC_WORKER_CONCURRENCY`. @defaultValue 32 */
  workerConcurrency: int(1, 10_000).default(32),
  /** Steps of one task that may run at once (tasks may lower it). Env `AGENTIC_MAX_PARALLEL_STEPS`. @defaultValue 4 */
  maxParallelSteps: int(1, 64).default(4),
  /** Largest plan a task may have. Env `AGENTIC_MAX_STEPS`. @defaultValue 20 */
  maxSteps: int(1, 200).default(20),
  /** Agent-loop turns allowed per step (a retry continues the same count). Env `AGENTIC_MAX_ITERATIONS`. @defaultValue 10 */
  maxIterations: int(1, 1000).default(10),
  /** Wall-clock limit of a task from its start, in ms. Env `AGENTIC_TASK_TIMEOUT_MS`. @defaultValue 600000 */
  taskTimeoutMs: int(100, 7 * 24 * 3600 * 1000).default(600_000),
  /** Default token budget of a task (input + output tokens of all its model calls); none when unset. Env `AGENTIC_TASK_BUDGET_TOKENS`. */
  taskBudgetTokens: int(1, 1_000_000_000).optional(),
  /** Default cost budget of a task, USD; none when unset. Env `AGENTIC_TASK_BUDGET_USD`. */
  taskBudgetUsd: z.coerce.number().positive().max(1_000_000).optional(),
  /** Revised plans a task may get after a step failed for good or its result missed the task (brains that can revise). Env `AGENTIC_MAX_REPLANS`. @defaultValue 2 */
  maxReplans: int(0, 20).default(2),
  /** Attempts per step, the first included. Env `AGENTIC_RETRY_ATTEMPTS`. @defaultValue 3 */
  retryAttempts: int(1, 20).default(3),
  /** Base delay of exponential backoff (full jitter), ms. Env `AGENTIC_RETRY_BASE_MS`. @defaultValue 100 */
  retryBaseMs: int(0, 60_000).default(100),
  /** Largest backoff delay, ms. Env `AGENTIC_RETRY_CAP_MS`. @defaultValue 10000 */
  retryCapMs: int(0, 600_000).default(10_000),
  /** How long a worker's claim on a step lasts without a heartbeat, ms. Env `AGENTIC_LEASE_MS`. @defaultValue 30000 */
  leaseMs: int(500, 3_600_000).default(30_000),
  /** Largest JSON request body, bytes. Env `AGENTIC_MAX_BODY_BYTES`. @defaultValue 1048576 */
  maxBodyBytes: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  /** Largest uploaded file, bytes. Env `AGENTIC_MAX_FILE_BYTES`. @defaultValue 26214400 */
  maxFileBytes: int(1024, 1024 * 1024 * 1024).default(25 * 1024 * 1024),
  /** Interval of SSE heartbeat comments and WebSocket pings while a stream is idle, ms. Env `AGENTIC_HEARTBEAT_MS`. @defaultValue 15000 */
  heartbeatMs: int(100, 600_000).default(15_000),
  /** Log level: fatal, error, warn, info, debug, trace or silent. Env `LOG_LEVEL`. @defaultValue info */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // Model brains (docs/models.md). With no model set, the built-in rule brain runs.
  /** The model of every agent and the planner, `provider:model`; unset means the built-in brain. Env `AGENTIC_MODEL`. @example openai:gpt-4.1-mini */
  model: modelSpec.optional(),
  /** Models tried in order when the chosen one is failing (its circuit breaker open). Env `AGENTIC_MODEL_FALLBACKS`. @example anthropic:claude-haiku-4-5,ollama:llama3.1 */
  modelFallbacks: modelSpecList.optional().transform((v) => v ?? []),
  /** The planner's model, instead of AGENTIC_MODEL. Env `AGENTIC_MODEL_PLANNER`. */
  modelPlanner: modelSpec.optional(),
  /** The researcher's model. Env `AGENTIC_MODEL_RESEARCHER`. */
  modelResearcher: modelSpec.optional(),
  /** The analyst's model. Env `AGENTIC_MODEL_ANALYST`. */
  modelAnalyst: modelSpec.optional(),
  /** The writer's model. Env `AGENTIC_MODEL_WRITER`. */
  modelWriter: modelSpec.optional(),
  /** The coder's model. Env `AGENTIC_MODEL_CODER`. */
  modelCoder: modelSpec.optional(),
  /** The manager's model. Env `AGENTIC_MODEL_MANAGER`. */
  modelManager: modelSpec.optional(),
  /** API key of `openai:` models. Env `OPENAI_API_KEY`. */
  openaiApiKey: z.string().optional(),
  /** Base URL of the OpenAI API (a proxy, Azure-style gateway or test server). Env `OPENAI_BASE_URL`. @defaultValue https://api.openai.com/v1 */
  openaiBaseUrl: z.string().url().optional(),
  /** API key of `anthropic:` models. Env `ANTHROPIC_API_KEY`. */
  anthropicApiKey: z.string().optional(),
  /** Base URL of the Anthropic API. Env `ANTHROPIC_BASE_URL`. @defaultValue https://api.anthropic.com/v1 */
  anthropicBaseUrl: z.string().url().optional(),
  /** Base URL of the server of `openai-compatible:` models (vLLM, llama.cpp server, LM Studio), ending in /v1. Env `AGENTIC_MODEL_BASE_URL`. */
  modelBaseUrl: z.string().url().optional(),
  /** API key sent to that server, if it wants one. Env `AGENTIC_MODEL_API_KEY`. */
  modelApiKey: z.string().optional(),
  /** Where Ollama listens; `ollama:` models use its OpenAI-compatible API at `<host>/v1`. Env `OLLAMA_HOST`. @defaultValue http://127.0.0.1:11434 */
  ollamaHost: z.string().url().default('http://127.0.0.1:11434'),
  /** Output token limit of every model call. Env `AGENTIC_MODEL_MAX_OUTPUT_TOKENS`. @defaultValue 2048 */
  modelMaxOutputTokens: int(16, 1_000_000).default(2048),
  /** Time limit of one model call (one HTTP request), ms. Env `AGENTIC_MODEL_TIMEOUT_MS`. @defaultValue 60000 */
  modelTimeoutMs: int(100, 3_600_000).default(60_000),
  /** Tries of one model call on 429, 5xx and timeouts before moving down the fallback chain, the first included. Env `AGENTIC_MODEL_ATTEMPTS`. @defaultValue 3 */
  modelAttempts: int(1, 20).default(3),
  /**
   * Ask the model to judge each answer with success criteria, and each task's result, after the
   * deterministic checks (one more model call each). Env `AGENTIC_MODEL_JUDGE` (true/false). @defaultValue false
   */
  modelJudge: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').or(z.boolean()).default(false),
  /** Consecutive failed calls that open a model's circuit breaker. Env `AGENTIC_MODEL_BREAKER_FAILURES`. @defaultValue 5 */
  modelBreakerFailures: int(1, 1000).default(5),
  /** How long an open breaker refuses calls before letting one trial call through (half-open), ms. Env `AGENTIC_MODEL_BREAKER_COOLDOWN_MS`. @defaultValue 30000 */
  modelBreakerCooldownMs: int(10, 3_600_000).default(30_000),
  /** Prices overriding or adding to the shipped table: JSON of model name → {input, output, cached?} USD per million tokens. Env `AGENTIC_PRICES`. */
  prices: priceTable.optional(),

  // Tools (docs/tools.md).
  /** Hosts, IP addresses and CIDR ranges fetch_url may reach although they are private, comma-separated. Env `AGENTIC_FETCH_ALLOW`. @example wiki.internal,10.20.0.0/16 */
  fetchAllow: commaList.default([]),
  /** Ports fetch_url may use on public hosts, comma-separated. Env `AGENTIC_FETCH_PORTS`. @defaultValue 80,443,8080,8443 */
  fetchPorts: z
    .union([z.array(z.number()), z.string().transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean).map(Number))])
    .pipe(z.array(z.number().int().min(1).max(65535)).min(1))
    .default([80, 443, 8080, 8443]),
  /** Largest response fetch_url reads, bytes. Env `AGENTIC_FETCH_MAX_BYTES`. @defaultValue 2097152 */
  fetchMaxBytes: int(1024, 100 * 1024 * 1024).default(2 * 1024 * 1024),
  /** Time limit of one fetch, redirects included, ms. Env `AGENTIC_FETCH_TIMEOUT_MS`. @defaultValue 20000 */
  fetchTimeoutMs: int(100, 600_000).default(20_000),
  /** Redirects fetch_url follows. Env `AGENTIC_FETCH_MAX_REDIRECTS`. @defaultValue 5 */
  fetchMaxRedirects: int(0, 20).default(5),
  /** The web_search provider; unset means the first configured of searxng, brave, tavily (none: no web_search). Env `AGENTIC_SEARCH_PROVIDER`. */
  searchProvider: z.enum(['searxng', 'brave', 'tavily']).optional(),
  /** A SearXNG instance with the JSON format enabled. Env `SEARXNG_URL`. */
  searxngUrl: z.string().url().optional(),
  /** Brave Search API key. Env `BRAVE_API_KEY`. */
  braveApiKey: z.string().optional(),
  /** Brave Search API base URL. Env `BRAVE_SEARCH_URL`. @defaultValue https://api.search.brave.com */
  braveSearchUrl: z.string().url().optional(),
  /** Tavily API key. Env `TAVILY_API_KEY`. */
  tavilyApiKey: z.string().optional(),
  /** Tavily API base URL. Env `TAVILY_URL`. @defaultValue https://api.tavily.com */
  tavilyUrl: z.string().url().optional(),
  /** Results web_search returns at most. Env `AGENTIC_SEARCH_MAX_RESULTS`. @defaultValue 10 */
  searchMaxResults: int(1, 50).default(10),
  /** Time limit of one search, ms. Env `AGENTIC_SEARCH_TIMEOUT_MS`. @defaultValue 15000 */
  searchTimeoutMs: int(100, 600_000).default(15_000),
  /** The SMTP server of send_email, smtp://user:pass@host:587 or smtps://…:465; unset means no send_email. Env `SMTP_URL`. */
  smtpUrl: z.string().optional(),
  /** The sender of send_email; required with SMTP_URL. Env `AGENTIC_EMAIL_FROM`. @example Agentic <agent@example.com> */
  emailFrom: z.string().optional(),
  /** Domains send_email may write to, comma-separated; unset means any. Env `AGENTIC_EMAIL_ALLOWED_DOMAINS`. */
  emailAllowedDomains: commaList.optional(),
  /** Refuse to send over a connection without TLS. Env `AGENTIC_EMAIL_REQUIRE_TLS` (true/false). @defaultValue false */
  emailRequireTls: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').or(z.boolean()).default(false),
  /** PostgreSQL data sources of sql_query: `name=postgres://…;name2=…` or a JSON array of {name, url, allow_superuser?, description?}. Env `AGENTIC_SQL_SOURCES`. */
  sqlSources: z.string().optional(),
  /**
   * The code tools' sandbox (docs/security.md): `auto` offers run_python and run_javascript when the sandbox
   * can be set up on this host and leaves them out with a warning when not; `true` refuses to start without
   * it; `false` offers no code tools. Code never runs unsandboxed. Env `AGENTIC_SANDBOX`. @defaultValue auto
   */
  sandbox: z.enum(['auto', 'true', 'false']).default('auto'),
  /** Python inside the sandbox. Env `AGENTIC_SANDBOX_PYTHON_PATH`. @defaultValue /usr/bin/python3 */
  sandboxPythonPath: z.string().default('/usr/bin/python3'),
  /** bubblewrap. Env `AGENTIC_SANDBOX_BWRAP_PATH`. @defaultValue /usr/bin/bwrap */
  sandboxBwrapPath: z.string().default('/usr/bin/bwrap'),
  /** Memory of one run_python run, all its processes together, MB. Env `AGENTIC_SANDBOX_MEMORY_MB`. @defaultValue 512 */
  sandboxMemoryMb: int(32, 65_536).default(512),
  /** CPU time of one run, seconds. Env `AGENTIC_SANDBOX_CPU_SECONDS`. @defaultValue 10 */
  sandboxCpuSeconds: int(1, 3600).default(10),
  /** Wall-clock time of one run, seconds. Env `AGENTIC_SANDBOX_WALL_SECONDS`. @defaultValue 30 */
  sandboxWallSeconds: int(1, 3600).default(30),
  /** Processes one run may have. Env `AGENTIC_SANDBOX_PROCESSES`. @defaultValue 64 */
  sandboxProcesses: int(1, 4096).default(64),
  /** Largest file a run may write, MB. Env `AGENTIC_SANDBOX_FILE_SIZE_MB`. @defaultValue 16 */
  sandboxFileSizeMb: int(1, 4096).default(16),
  /** run_python and run_javascript runs at once in this process, each. Env `AGENTIC_SANDBOX_MAX_CONCURRENT`. @defaultValue 2 */
  sandboxMaxConcurrent: int(1, 64).default(2),
  /** Time limit of one run_javascript call, ms. Env `AGENTIC_JS_TIMEOUT_MS`. @defaultValue 10000 */
  jsTimeoutMs: int(100, 600_000).default(10_000),
  /** QuickJS memory of one run_javascript call, MB. Env `AGENTIC_JS_MEMORY_MB`. @defaultValue 64 */
  jsMemoryMb: int(8, 4096).default(64),
  /** Which tool calls need a human's approval: a JSON array of rules (docs/tools.md#approvals); by default, calls of side-effecting tools. Env `AGENTIC_APPROVAL_RULES`. */
  approvalRules: z.string().optional(),
  /**
   * The operator's tool policy (docs/security.md#the-tool-policy): JSON `{"rules": [...]}`, tried after the rules marked
   * `enforce` and a tenant's own policy, before AGENTIC_TOOL_INVOKERS and AGENTIC_APPROVAL_RULES. Env `AGENTIC_TOOL_POLICY`.
   */
  toolPolicy: z.string().optional(),
  /** How long an approval request waits for a decision, ms. Env `AGENTIC_APPROVAL_TTL_MS`. @defaultValue 86400000 (a day) */
  approvalTtlMs: int(1000, 365 * 24 * 3600 * 1000).default(86_400_000),
  /**
   * Who may invoke tools directly (POST /v1/tools/{name}/invoke): JSON of tool name (or prefix*) → tenant ids (`*`: any).
   * A tool not listed is open to every tenant when it is read-only, else to none. Env `AGENTIC_TOOL_INVOKERS`.
   * @example {"send_email":["ops"],"run_python":["*"]}
   */
  toolInvokers: z
    .union([z.record(z.string(), z.array(z.string())), z.string().transform((v, c) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        c.addIssue({ code: 'custom', message: 'is not JSON' });
        return z.NEVER;
      }
    }).pipe(z.record(z.string(), z.array(z.string())))])
    .default({}),
  /** MCP servers whose tools join the registry: a JSON array of {name, command, args?, env?} or {name, url, headers?} (docs/tools.md#mcp-servers). Env `AGENTIC_MCP_SERVERS`. */
  mcpServers: z.string().optional(),
  /** What a request that expires becomes. Env `AGENTIC_APPROVAL_DEFAULT` (approve/reject). @defaultValue reject */
  approvalDefault: z.enum(['approve', 'reject']).default('reject'),

  // Identity and access (docs/security.md#access-control).
  /**
   * How callers are identified. `auto`: local mode (every request is the local admin of tenant `default`,
   * Host and Origin checked) when the service listens only on loopback and no API key or JWT issuer is
   * configured, else authenticated mode; listening elsewhere with no way to authenticate fails at start.
   * `required`: authenticated mode even on loopback. `none`: no authentication anywhere (every request is
   * the local admin; a loud warning in the log and /health). Env `AGENTIC_AUTH`. @defaultValue auto
   */
  auth: z.enum(['auto', 'required', 'none']).default('auto'),
  /** The `iss` a JWT must carry; setting it turns on JWT sign-in. Env `AGENTIC_JWT_ISSUER`. @example https://login.example.com/ */
  jwtIssuer: z.string().min(1).optional(),
  /** The `aud` a JWT must carry (required with AGENTIC_JWT_ISSUER). Env `AGENTIC_JWT_AUDIENCE`. @example agentic */
  jwtAudience: z.string().min(1).optional(),
  /** Where the issuer publishes its signing keys (fetched, cached, refetched for an unknown key id). Env `AGENTIC_JWT_JWKS_URL`. */
  jwtJwksUrl: z.string().url().optional(),
  /** A static public key instead of a JWKS URL: PEM (SPKI) or one JWK as JSON. Env `AGENTIC_JWT_PUBLIC_KEY`. */
  jwtPublicKey: z.string().min(1).optional(),
  /** Signature algorithms accepted, comma-separated (never `none`, never a shared secret). Env `AGENTIC_JWT_ALGORITHMS`. @defaultValue RS256,PS256,ES256,EdDSA */
  jwtAlgorithms: commaList.pipe(z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1)).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
  /** The claim naming the tenant. Env `AGENTIC_JWT_TENANT_CLAIM`. @defaultValue tenant */
  jwtTenantClaim: z.string().min(1).default('tenant'),
  /** The claim holding the role or roles (a string, comma-separated string or array). Env `AGENTIC_JWT_ROLE_CLAIM`. @defaultValue role */
  jwtRoleClaim: z.string().min(1).default('role'),
  /** Origins (scheme://host[:port]) of web pages allowed to call the API from a browser, besides the service's own, comma-separated. Env `AGENTIC_ALLOWED_ORIGINS`. */
  allowedOrigins: commaList.default([]),
  /** Approval requests may not be decided by the principal whose task (or direct call) asked for them. Env `AGENTIC_APPROVAL_FOUR_EYES` (true/false). @defaultValue true */
  approvalFourEyes: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').or(z.boolean()).default(true),
  /** Requests per minute of one credential (authenticated mode); 0 turns the limit off. Shared through Redis when REDIS_URL is set. Env `AGENTIC_RATE_LIMIT`. @defaultValue 1200 */
  rateLimit: int(0, 10_000_000).default(1200),
  /** Event streams (SSE, NDJSON, WebSocket) open at once per tenant, in each API process. Env `AGENTIC_MAX_STREAMS_PER_TENANT`. @defaultValue 1000 */
  maxStreamsPerTenant: int(1, 1_000_000).default(1000),
  /** Event streams open at once per credential, in each API process (authenticated mode). Env `AGENTIC_MAX_STREAMS_PER_CREDENTIAL`. @defaultValue 100 */
  maxStreamsPerCredential: int(1, 1_000_000).default(100),
  /** A connection that sends nothing for this long, before its first request or between requests, is closed, ms; a request being answered is not cut. Env `AGENTIC_IDLE_TIMEOUT_MS`. @defaultValue 120000 */
  idleTimeoutMs: int(1000, 3_600_000).default(120_000),
  /** Unfinished tasks one tenant may have at once; unset: no limit. Env `AGENTIC_TENANT_MAX_TASKS`. */
  tenantMaxTasks: int(1, 100_000_000).optional(),
  /** Tasks one tenant may create per minute; unset: no limit. Env `AGENTIC_TENANT_TASKS_PER_MINUTE`. */
  tenantTasksPerMinute: int(1, 100_000_000).optional(),
  /** Model tokens (input + output) one tenant may use per UTC day, reserved before each call; unset: no limit. Env `AGENTIC_TENANT_TOKENS_PER_DAY`. */
  tenantTokensPerDay: int(1, 1_000_000_000_000).optional(),
  /** Model cost one tenant may incur per UTC day, USD, reserved before each call; unset: no limit. Env `AGENTIC_TENANT_USD_PER_DAY`. */
  tenantUsdPerDay: z.coerce.number().positive().max(1_000_000_000).optional(),
  /**
   * Quotas of named tenants, over the four above: JSON of tenant → {max_tasks?, tasks_per_minute?, tokens_per_day?, usd_per_day?}
   * (null lifts a limit). Env `AGENTIC_TENANT_QUOTAS`. @example {"acme":{"usd_per_day":50,"max_tasks":20}}
   */
  tenantQuotas: jsonSetting(z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'tenant names are 1-64 letters, digits, ".", "_" or "-"'), tenantQuotaSchema)).default({}),
  /** Largest `timeout_ms` a task may ask for, ms (at least AGENTIC_TASK_TIMEOUT_MS). Env `AGENTIC_TASK_MAX_TIMEOUT_MS`. @defaultValue 3600000 */
  taskMaxTimeoutMs: int(100, 7 * 24 * 3600 * 1000).default(3_600_000),
  /** Largest `budget_tokens` a task may ask for; unset: AGENTIC_TASK_BUDGET_TOKENS (a caller may lower the default budget, never raise it). Env `AGENTIC_TASK_MAX_BUDGET_TOKENS`. */
  taskMaxBudgetTokens: int(1, 1_000_000_000).optional(),
  /** Largest `budget_usd` a task may ask for; unset: AGENTIC_TASK_BUDGET_USD. Env `AGENTIC_TASK_MAX_BUDGET_USD`. */
  taskMaxBudgetUsd: z.coerce.number().positive().max(1_000_000).optional(),
  /** Largest `retry_attempts` a task may ask for. Env `AGENTIC_MAX_RETRY_ATTEMPTS`. @defaultValue 10 */
  maxRetryAttempts: int(1, 20).default(10),
}).superRefine(requireProviderSettings).superRefine(requireEmailSender).superRefine(requireJwtSettings);

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Environment variable of each setting. */
export const ENV_NAMES: Record<keyof z.infer<typeof configSchema>, string> = {
  port: 'PORT',
  host: 'HOST',
  dataDir: 'AGENTIC_DATA_DIR',
  databaseUrl: 'DATABASE_URL',
  databaseSchema: 'AGENTIC_DB_SCHEMA',
  databasePoolSize: 'AGENTIC_DB_POOL_SIZE',
  redisUrl: 'REDIS_URL',
  redisPrefix: 'AGENTIC_REDIS_PREFIX',
  maxBacklog: 'AGENTIC_MAX_BACKLOG',
  tenantMaxRunning: 'AGENTIC_TENANT_MAX_RUNNING',
  reconcileMs: 'AGENTIC_RECONCILE_MS',
  shutdownGraceMs: 'AGENTIC_SHUTDOWN_GRACE_MS',
  workerConcurrency: 'AGENTIC_WORKER_CONCURRENCY',
  maxParallelSteps: 'AGENTIC_MAX_PARALLEL_STEPS',
  maxSteps: 'AGENTIC_MAX_STEPS',
  maxIterations: 'AGENTIC_MAX_ITERATIONS',
  taskTimeoutMs: 'AGENTIC_TASK_TIMEOUT_MS',
  taskBudgetTokens: 'AGENTIC_TASK_BUDGET_TOKENS',
  taskBudgetUsd: 'AGENTIC_TASK_BUDGET_USD',
  maxReplans: 'AGENTIC_MAX_REPLANS',
  retryAttempts: 'AGENTIC_RETRY_ATTEMPTS',
  retryBaseMs: 'AGENTIC_RETRY_BASE_MS',
  retryCapMs: 'AGENTIC_RETRY_CAP_MS',
  leaseMs: 'AGENTIC_LEASE_MS',
  maxBodyBytes: 'AGENTIC_MAX_BODY_BYTES',
  maxFileBytes: 'AGENTIC_MAX_FILE_BYTES',
  heartbeatMs: 'AGENTIC_HEARTBEAT_MS',
  logLevel: 'LOG_LEVEL',
  model: 'AGENTIC_MODEL',
  modelFallbacks: 'AGENTIC_MODEL_FALLBACKS',
  modelPlanner: 'AGENTIC_MODEL_PLANNER',
  modelResearcher: 'AGENTIC_MODEL_RESEARCHER',
  modelAnalyst: 'AGENTIC_MODEL_ANALYST',
  modelWriter: 'AGENTIC_MODEL_WRITER',
  modelCoder: 'AGENTIC_MODEL_CODER',
  modelManager: 'AGENTIC_MODEL_MANAGER',
  openaiApiKey: 'OPENAI_API_KEY',
  openaiBaseUrl: 'OPENAI_BASE_URL',
  anthropicApiKey: 'ANTHROPIC_API_KEY',
  anthropicBaseUrl: 'ANTHROPIC_BASE_URL',
  modelBaseUrl: 'AGENTIC_MODEL_BASE_URL',
  modelApiKey: 'AGENTIC_MODEL_API_KEY',
  ollamaHost: 'OLLAMA_HOST',
  modelMaxOutputTokens: 'AGENTIC_MODEL_MAX_OUTPUT_TOKENS',
  modelTimeoutMs: 'AGENTIC_MODEL_TIMEOUT_MS',
  modelAttempts: 'AGENTIC_MODEL_ATTEMPTS',
  modelJudge: 'AGENTIC_MODEL_JUDGE',
  modelBreakerFailures: 'AGENTIC_MODEL_BREAKER_FAILURES',
  modelBreakerCooldownMs: 'AGENTIC_MODEL_BREAKER_COOLDOWN_MS',
  prices: 'AGENTIC_PRICES',
  fetchAllow: 'AGENTIC_FETCH_ALLOW',
  fetchPorts: 'AGENTIC_FETCH_PORTS',
  fetchMaxBytes: 'AGENTIC_FETCH_MAX_BYTES',
  fetchTimeoutMs: 'AGENTIC_FETCH_TIMEOUT_MS',
  fetchMaxRedirects: 'AGENTIC_FETCH_MAX_REDIRECTS',
  searchProvider: 'AGENTIC_SEARCH_PROVIDER',
  searxngUrl: 'SEARXNG_URL',
  braveApiKey: 'BRAVE_API_KEY',
  braveSearchUrl: 'BRAVE_SEARCH_URL',
  tavilyApiKey: 'TAVILY_API_KEY',
  tavilyUrl: 'TAVILY_URL',
  searchMaxResults: 'AGENTIC_SEARCH_MAX_RESULTS',
  searchTimeoutMs: 'AGENTIC_SEARCH_TIMEOUT_MS',
  smtpUrl: 'SMTP_URL',
  emailFrom: 'AGENTIC_EMAIL_FROM',
  emailAllowedDomains: 'AGENTIC_EMAIL_ALLOWED_DOMAINS',
  emailRequireTls: 'AGENTIC_EMAIL_REQUIRE_TLS',
  sqlSources: 'AGENTIC_SQL_SOURCES',
  sandbox: 'AGENTIC_SANDBOX',
  sandboxPythonPath: 'AGENTIC_SANDBOX_PYTHON_PATH',
  sandboxBwrapPath: 'AGENTIC_SANDBOX_BWRAP_PATH',
  sandboxMemoryMb: 'AGENTIC_SANDBOX_MEMORY_MB',
  sandboxCpuSeconds: 'AGENTIC_SANDBOX_CPU_SECONDS',
  sandboxWallSeconds: 'AGENTIC_SANDBOX_WALL_SECONDS',
  sandboxProcesses: 'AGENTIC_SANDBOX_PROCESSES',
  sandboxFileSizeMb: 'AGENTIC_SANDBOX_FILE_SIZE_MB',
  sandboxMaxConcurrent: 'AGENTIC_SANDBOX_MAX_CONCURRENT',
  jsTimeoutMs: 'AGENTIC_JS_TIMEOUT_MS',
  jsMemoryMb: 'AGENTIC_JS_MEMORY_MB',
  approvalRules: 'AGENTIC_APPROVAL_RULES',
  approvalTtlMs: 'AGENTIC_APPROVAL_TTL_MS',
  approvalDefault: 'AGENTIC_APPROVAL_DEFAULT',
  toolInvokers: 'AGENTIC_TOOL_INVOKERS',
  toolPolicy: 'AGENTIC_TOOL_POLICY',
  mcpServers: 'AGENTIC_MCP_SERVERS',
  auth: 'AGENTIC_AUTH',
  jwtIssuer: 'AGENTIC_JWT_ISSUER',
  jwtAudience: 'AGENTIC_JWT_AUDIENCE',
  jwtJwksUrl: 'AGENTIC_JWT_JWKS_URL',
  jwtPublicKey: 'AGENTIC_JWT_PUBLIC_KEY',
  jwtAlgorithms: 'AGENTIC_JWT_ALGORITHMS',
  jwtTenantClaim: 'AGENTIC_JWT_TENANT_CLAIM',
  jwtRoleClaim: 'AGENTIC_JWT_ROLE_CLAIM',
  allowedOrigins: 'AGENTIC_ALLOWED_ORIGINS',
  approvalFourEyes: 'AGENTIC_APPROVAL_FOUR_EYES',
  rateLimit: 'AGENTIC_RATE_LIMIT',
  maxStreamsPerTenant: 'AGENTIC_MAX_STREAMS_PER_TENANT',
  maxStreamsPerCredential: 'AGENTIC_MAX_STREAMS_PER_CREDENTIAL',
  idleTimeoutMs: 'AGENTIC_IDLE_TIMEOUT_MS',
  tenantMaxTasks: 'AGENTIC_TENANT_MAX_TASKS',
  tenantTasksPerMinute: 'AGENTIC_TENANT_TASKS_PER_MINUTE',
  tenantTokensPerDay: 'AGENTIC_TENANT_TOKENS_PER_DAY',
  tenantUsdPerDay: 'AGENTIC_TENANT_USD_PER_DAY',
  tenantQuotas: 'AGENTIC_TENANT_QUOTAS',
  taskMaxTimeoutMs: 'AGENTIC_TASK_MAX_TIMEOUT_MS',
  taskMaxBudgetTokens: 'AGENTIC_TASK_MAX_BUDGET_TOKENS',
  taskMaxBudgetUsd: 'AGENTIC_TASK_MAX_BUDGET_USD',
  maxRetryAttempts: 'AGENTIC_MAX_RETRY_ATTEMPTS',
};

/** The settings of a role's model, e.g. `modelWriter` for `writer`. */
export const ROLE_MODEL_KEYS = {
  planner: 'modelPlanner',
  researcher: 'modelResearcher',
  analyst: 'modelAnalyst',
  writer: 'modelWriter',
  coder: 'modelCoder',
  manager: 'modelManager',
} as const satisfies Record<ModelRole, string>;

type ModelSettingKey = 'model' | 'modelFallbacks' | (typeof ROLE_MODEL_KEYS)[ModelRole];

/** Every configured model with the setting that names it. */
function configuredModels(c: Partial<Record<ModelSettingKey, ModelSpec | ModelSpec[]>>): Array<{ key: ModelSettingKey; spec: ModelSpec }> {
  const keys: ModelSettingKey[] = ['model', 'modelFallbacks', ...Object.values(ROLE_MODEL_KEYS)];
  return keys.flatMap((key) => [c[key] ?? []].flat().map((spec) => ({ key, spec })));
}

/** The setting each provider cannot do without. */
const REQUIRED_BY_PROVIDER: Record<ModelProvider, 'openaiApiKey' | 'anthropicApiKey' | 'modelBaseUrl' | null> = {
  openai: 'openaiApiKey',
  anthropic: 'anthropicApiKey',
  'openai-compatible': 'modelBaseUrl',
  ollama: null,
};

/** A model whose provider lacks its key (or base URL) fails at start, naming the missing variable. */
function requireProviderSettings(c: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const { key, spec } of configuredModels(c)) {
    const needed = REQUIRED_BY_PROVIDER[spec.provider];
    if (!needed || (typeof c[needed] === 'string' && c[needed] !== '')) continue;
    ctx.addIssue({ code: 'custom', path: [needed], message: `must be set for ${ENV_NAMES[key]}=${spec.id}` });
  }
}

/** JWT sign-in needs its audience and exactly one source of keys. */
function requireJwtSettings(c: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const jwt = ['jwtIssuer', 'jwtAudience', 'jwtJwksUrl', 'jwtPublicKey'].filter((k) => c[k] !== undefined);
  if (jwt.length === 0) return;
  if (!c.jwtIssuer) ctx.addIssue({ code: 'custom', path: ['jwtIssuer'], message: `must be set with ${jwt.map((k) => ENV_NAMES[k as keyof typeof ENV_NAMES]).join(', ')}` });
  if (!c.jwtAudience) ctx.addIssue({ code: 'custom', path: ['jwtAudience'], message: 'must be set with AGENTIC_JWT_ISSUER' });
  if (!c.jwtJwksUrl === !c.jwtPublicKey) ctx.addIssue({ code: 'custom', path: ['jwtJwksUrl'], message: 'give exactly one of AGENTIC_JWT_JWKS_URL and AGENTIC_JWT_PUBLIC_KEY' });
}

/** send_email needs a sender to go with its server. */
function requireEmailSender(c: Record<string, unknown>, ctx: z.RefinementCtx): void {
  if (c.smtpUrl && !c.emailFrom) ctx.addIssue({ code: 'custom', path: ['emailFrom'], message: 'must be set with SMTP_URL' });
}

/**
 * Builds the configuration from environment variables (empty ones count as unset) and explicit
 * overrides, which win. Throws CONFIG_INVALID naming every bad setting.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<z.input<typeof configSchema>> = {},
): Config {
  const raw: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') raw[key] = value.trim();
  }
  Object.assign(raw, stripUndefined(overrides));
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const name = ENV_NAMES[key as keyof typeof ENV_NAMES] ?? key;
      return `${name}: ${i.message}`;
    });
    throw new AppError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  const dataDir = parsed.data.dataDir === ':memory:' ? ':memory:' : resolve(parsed.data.dataDir);
  return Object.freeze({ ...parsed.data, dataDir });
}

function stripUndefined(obj: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}
