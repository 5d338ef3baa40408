/**
 * All settings, in one schema. This is the only module that reads `process.env`; everything else
 * receives a frozen `Config`. Every option has a default that works on a laptop.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

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
});

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
  retryAttempts: 'AGENTIC_RETRY_ATTEMPTS',
  retryBaseMs: 'AGENTIC_RETRY_BASE_MS',
  retryCapMs: 'AGENTIC_RETRY_CAP_MS',
  leaseMs: 'AGENTIC_LEASE_MS',
  maxBodyBytes: 'AGENTIC_MAX_BODY_BYTES',
  maxFileBytes: 'AGENTIC_MAX_FILE_BYTES',
  heartbeatMs: 'AGENTIC_HEARTBEAT_MS',
  logLevel: 'LOG_LEVEL',
};

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
