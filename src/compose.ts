/**
 * The one place that picks implementations from configuration. Nothing else branches on the shape.
 *
 * | | embedded (no DATABASE_URL) | postgres (DATABASE_URL) | distributed (DATABASE_URL + REDIS_URL) |
 * |---|---|---|---|
 * | store | PGlite in AGENTIC_DATA_DIR | PostgreSQL | PostgreSQL |
 * | work queue | in-process | in-process; API-only processes leave work in the store, which workers poll | Redis Streams |
 * | live events | in-process | in-process | Redis pub/sub |
 *
 * The brain: a model brain (src/brains/llm) when AGENTIC_MODEL is set, else the built-in rule brain.
 * A model brain's circuit breakers live in Redis when REDIS_URL is set (shared by every worker), else
 * in the process.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { Authenticator } from './auth/authenticator.js';
import { createBuiltinBrain } from './brains/builtin/index.js';
import { createModelBrain, RedisCircuitBreakers } from './brains/llm/index.js';
import type { Brain } from './brains/types.js';
import type { Config } from './config/index.js';
import { Engine } from './engine/index.js';
import { AppError, toAppError } from './errors.js';
import { InProcessEventBus, RedisEventBus, type EventBus } from './events/index.js';
import { createLogger, type Logger } from './observability/logger.js';
import { InProcessWorkQueue, PolledQueue, RedisStreamsQueue, type WorkQueue } from './queue/index.js';
import { createStore, type Store } from './store/index.js';
import {
  assertRunJavaScriptAvailable,
  assertRunPythonAvailable,
  connectMcpServers,
  parseMcpServers,
  createBuiltinTools,
  createRunJavaScriptTool,
  createRunPythonTool,
  createConfiguredWebSearchTool,
  createFetchUrlTool,
  createSendEmailTool,
  createSqlQueryTool,
  createToolRegistry,
  parseSqlSources,
  type ToolDefinition,
  type ToolRegistry,
} from './tools/index.js';

export type Role = 'all' | 'api' | 'worker';
export type Shape = 'embedded' | 'postgres' | 'distributed';

export interface AppOptions {
  config: Config;
  /** Which parts run in this process. @defaultValue 'all' */
  role?: Role;
  /** Replaces the configured brain (tests and benchmarks). */
  brain?: Brain;
  /** Replaces the default tool registry (tests and benchmarks). */
  tools?: ToolRegistry;
  logger?: Logger;
}

export interface App {
  config: Config;
  role: Role;
  shape: Shape;
  store: Store;
  bus: EventBus;
  queue: WorkQueue;
  brain: Brain;
  tools: ToolRegistry;
  engine: Engine;
  logger: Logger;
  /** Who is asking: the mode and the credentials (processes that serve the API; null for workers). */
  auth: Authenticator | null;
  /** The Redis connection, when REDIS_URL is set (shared counters such as rate limits live there). */
  redis: Redis | null;
  /** Starts the worker side (for roles that run it). */
  startWorker(): Promise<void>;
  /** Stops work (finishing what runs within the grace period) and closes connections. */
  close(graceMs?: number): Promise<void>;
}

/**
 * The tools this configuration offers: the built-in ones, fetch_url and sql_query always, web_search
 * when a search provider is configured, send_email when an SMTP server is, and the code tools when
 * their sandbox works on this host (see codeTools).
 */
export async function configuredTools(config: Config, logger: Logger): Promise<ToolDefinition[]> {
  const tools = [
    ...createBuiltinTools(),
    createFetchUrlTool({
      allow: config.fetchAllow,
      allowedPorts: config.fetchPorts,
      maxBytes: config.fetchMaxBytes,
      timeoutMs: config.fetchTimeoutMs,
      maxRedirects: config.fetchMaxRedirects,
    }),
    createSqlQueryTool({ sources: parseSqlSources(config.sqlSources) }),
  ];
  const search = createConfiguredWebSearchTool({
    provider: config.searchProvider,
    searxngUrl: config.searxngUrl,
    braveApiKey: config.braveApiKey,
    braveBaseUrl: config.braveSearchUrl,
    tavilyApiKey: config.tavilyApiKey,
    tavilyBaseUrl: config.tavilyUrl,
    maxResults: config.searchMaxResults,
    timeoutMs: config.searchTimeoutMs,
  });
  if (search) tools.push(search);
  tools.push(...(await codeTools(config, logger)));
  if (config.smtpUrl && config.emailFrom) {
    tools.push(
      createSendEmailTool({ smtpUrl: config.smtpUrl, from: config.emailFrom, allowedDomains: config.emailAllowedDomains, requireTls: config.emailRequireTls }),
    );
  }
  return tools;
}

/** Sandbox checks already made in this process (they start processes; apps in one process share the host). */
const sandboxChecks = new Map<string, Promise<void>>();

function checkedOnce(key: string, check: () => Promise<void>): Promise<void> {
  let done = sandboxChecks.get(key);
  if (!done) sandboxChecks.set(key, (done = check()));
  return done;
}

/**
 * run_python and run_javascript, each only when its sandbox can be set up here: with AGENTIC_SANDBOX=auto a
 * host without one gets a warning and no code tools; with `true`, the service refuses to start.
 */
async function codeTools(config: Config, logger: Logger): Promise<ToolDefinition[]> {
  if (config.sandbox === 'false') return [];
  const python = {
    pythonPath: config.sandboxPythonPath,
    bwrapPath: config.sandboxBwrapPath,
    maxConcurrent: config.sandboxMaxConcurrent,
    limits: {
      memoryMb: config.sandboxMemoryMb,
      cpuSeconds: config.sandboxCpuSeconds,
      wallSeconds: config.sandboxWallSeconds,
      processes: config.sandboxProcesses,
      fileSizeMb: config.sandboxFileSizeMb,
    },
  };
  const javascript = { maxConcurrent: config.sandboxMaxConcurrent, limits: { timeoutMs: config.jsTimeoutMs, memoryMb: config.jsMemoryMb } };
  const tools: ToolDefinition[] = [];
  for (const [name, check, make] of [
    ['run_python', () => assertRunPythonAvailable(python), () => createRunPythonTool(python)],
    ['run_javascript', () => assertRunJavaScriptAvailable(javascript), () => createRunJavaScriptTool(javascript)],
  ] as const) {
    try {
      await checkedOnce(`${name} ${JSON.stringify(name === 'run_python' ? python : javascript)}`, check);
      tools.push(make() as ToolDefinition);
    } catch (err) {
      const error = toAppError(err, 'SANDBOX_UNAVAILABLE');
      if (config.sandbox === 'true') {
        throw new AppError('SANDBOX_UNAVAILABLE', `AGENTIC_SANDBOX=true but ${name} cannot be sandboxed here: ${error.message}`, { cause: err });
      }
      logger.warn({ tool: name, reason: error.message }, `${name} is not offered: its sandbox cannot be set up on this host (code never runs unsandboxed)`);
    }
  }
  return tools;
}

type McpConnection = Awaited<ReturnType<typeof connectMcpServers>>;

export async function createApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const role = options.role ?? 'all';
  if (config.redisUrl && !config.databaseUrl) {
    throw new AppError('CONFIG_INVALID', 'REDIS_URL needs DATABASE_URL: processes that share Redis must share PostgreSQL too');
  }
  const shape: Shape = config.redisUrl ? 'distributed' : config.databaseUrl ? 'postgres' : 'embedded';
  const workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const logger = options.logger ?? createLogger(config.logLevel, { role });
  const store = await createStore({
    databaseUrl: config.databaseUrl,
    // ':memory:' keeps the embedded database in memory (tests, throwaway runs).
    dataDir: config.databaseUrl || config.dataDir.endsWith(':memory:') ? undefined : config.dataDir,
    schema: config.databaseSchema,
    poolSize: config.databasePoolSize,
    // The embedded database belongs to this process alone (its data directory is locked).
    exclusive: shape === 'embedded',
  });
  // What is opened below would keep the process alive if start-up failed (the embedded database's
  // thread, Redis, MCP servers): it is closed again then.
  let redis: Redis | undefined;
  let mcp: McpConnection | null = null;
  try {
    redis = config.redisUrl ? connectRedis(config.redisUrl, logger) : undefined;
    const bus: EventBus = redis ? new RedisEventBus(redis, config.redisPrefix) : new InProcessEventBus();
    const queue: WorkQueue = redis
      ? new RedisStreamsQueue(redis, { prefix: config.redisPrefix, consumer: workerId, claimIdleMs: config.leaseMs })
      : shape === 'postgres' && role === 'api'
        ? new PolledQueue(() => store.countBacklog())
        : new InProcessWorkQueue();
    const brain = options.brain ?? createBrain(config, redis, logger);
    // MCP servers' tools join the configured ones (not when a test brings its own registry).
    mcp = options.tools ? null : await connectMcpServers(parseMcpServers(config.mcpServers), { logger });
    for (const problem of mcp?.problems ?? []) logger.warn(problem, 'MCP server left out');
    const tools = options.tools ?? createToolRegistry([...(await configuredTools(config, logger)), ...(mcp?.tools ?? [])]);
    const engine = new Engine({ store, bus, queue, brain, tools, config, logger, workerId, extraApprovalRules: mcp?.approvalRules });
    // The mode is chosen once, at start (a start that cannot authenticate anyone fails here).
    const auth = role === 'worker' ? null : await Authenticator.create(config, store, logger);
    let closed = false;
    return {
      config, role, shape, store, bus, queue, brain, tools, engine, logger, auth, redis: redis ?? null,
      startWorker: async () => {
        if (role === 'api') return;
        await engine.startWorker({ exclusive: shape === 'embedded', reconcileEveryMs: config.reconcileMs, pollStore: shape === 'postgres' });
      },
      close: async (graceMs = config.shutdownGraceMs) => {
        if (closed) return;
        closed = true;
        await engine.stop(graceMs);
        await mcp?.close();
        await queue.close();
        await bus.close();
        await store.close();
        redis?.disconnect();
      },
    };
  } catch (err) {
    await (mcp as McpConnection | null)?.close().catch(() => undefined);
    (redis as Redis | undefined)?.disconnect();
    await store.close().catch(() => undefined);
    throw err;
  }
}

/** A model brain when AGENTIC_MODEL is set, else the built-in rule brain (docs/models.md). */
function createBrain(config: Config, redis: Redis | undefined, logger: Logger): Brain {
  if (!config.model) return createBuiltinBrain();
  const thresholds = { failureThreshold: config.modelBreakerFailures, cooldownMs: config.modelBreakerCooldownMs };
  // Shared breakers: one worker's failures open a provider's breaker for every worker.
  const breakers = redis ? new RedisCircuitBreakers(redis, config.redisPrefix, { ...thresholds, logger }) : undefined;
  return createModelBrain(config, { logger, breakers });
}

/** One command connection; the queue and the bus open their own blocking and subscriber connections from it. */
function connectRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true, lazyConnect: false });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.warn({ err: err.message }, 'Redis unreachable; the store stays the truth and work resumes when it is back');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info('Redis reachable again');
    down = false;
  });
  return redis;
}
