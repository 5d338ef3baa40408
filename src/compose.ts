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
import { createBuiltinBrain } from './brains/builtin/index.js';
import { createModelBrain, RedisCircuitBreakers } from './brains/llm/index.js';
import type { Brain } from './brains/types.js';
import type { Config } from './config/index.js';
import { Engine } from './engine/index.js';
import { AppError } from './errors.js';
import { InProcessEventBus, RedisEventBus, type EventBus } from './events/index.js';
import { createLogger, type Logger } from './observability/logger.js';
import { InProcessWorkQueue, PolledQueue, RedisStreamsQueue, type WorkQueue } from './queue/index.js';
import { createStore, type Store } from './store/index.js';
import {
  createBuiltinTools,
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
  /** Starts the worker side (for roles that run it). */
  startWorker(): Promise<void>;
  /** Stops work (finishing what runs within the grace period) and closes connections. */
  close(graceMs?: number): Promise<void>;
}

/**
 * The tools this configuration offers: the built-in ones, fetch_url and sql_query always, web_search
 * when a search provider is configured, send_email when an SMTP server is.
 */
export function configuredTools(config: Config): ToolDefinition[] {
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
  if (config.smtpUrl && config.emailFrom) {
    tools.push(
      createSendEmailTool({ smtpUrl: config.smtpUrl, from: config.emailFrom, allowedDomains: config.emailAllowedDomains, requireTls: config.emailRequireTls }),
    );
  }
  return tools;
}

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
  const redis = config.redisUrl ? connectRedis(config.redisUrl, logger) : undefined;
  const bus: EventBus = redis ? new RedisEventBus(redis, config.redisPrefix) : new InProcessEventBus();
  const queue: WorkQueue = redis
    ? new RedisStreamsQueue(redis, { prefix: config.redisPrefix, consumer: workerId, claimIdleMs: config.leaseMs })
    : shape === 'postgres' && role === 'api'
      ? new PolledQueue(() => store.countBacklog())
      : new InProcessWorkQueue();
  const brain = options.brain ?? createBrain(config, redis, logger);
  const tools = options.tools ?? createToolRegistry(configuredTools(config));
  const engine = new Engine({ store, bus, queue, brain, tools, config, logger, workerId });
  let closed = false;
  return {
    config, role, shape, store, bus, queue, brain, tools, engine, logger,
    startWorker: async () => {
      if (role === 'api') return;
      await engine.startWorker({ exclusive: shape === 'embedded', reconcileEveryMs: config.reconcileMs, pollStore: shape === 'postgres' });
    },
    close: async (graceMs = config.shutdownGraceMs) => {
      if (closed) return;
      closed = true;
      await engine.stop(graceMs);
      await queue.close();
      await bus.close();
      await store.close();
      redis?.disconnect();
    },
  };
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
