/**
 * The one place that picks implementations from configuration. Nothing else branches on the shape.
 *
 * | | embedded (no DATABASE_URL) | DATABASE_URL |
 * |---|---|---|
 * | store | PGlite in AGENTIC_DATA_DIR | PostgreSQL |
 * | queue, live events | in-process | in-process |
 */
import { createBuiltinBrain } from './brains/builtin/index.js';
import type { Brain } from './brains/types.js';
import type { Config } from './config/index.js';
import { Engine } from './engine/index.js';
import { InProcessEventBus, type EventBus } from './events/index.js';
import { createLogger, type Logger } from './observability/logger.js';
import { InProcessWorkQueue, type WorkQueue } from './queue/index.js';
import { createStore, type Store } from './store/index.js';
import { createToolRegistry, type ToolRegistry } from './tools/index.js';

export type Role = 'all' | 'api' | 'worker';

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
  shape: 'embedded' | 'postgres';
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

const RECONCILE_EVERY_MS = 10_000;

export async function createApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const role = options.role ?? 'all';
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = await createStore({
    databaseUrl: config.databaseUrl,
    // ':memory:' keeps the embedded database in memory (tests, throwaway runs).
    dataDir: config.databaseUrl || config.dataDir.endsWith(':memory:') ? undefined : config.dataDir,
    schema: config.databaseSchema,
    poolSize: config.databasePoolSize,
    // The embedded database belongs to this process alone (its data directory is locked).
    exclusive: !config.databaseUrl,
  });
  const bus = new InProcessEventBus();
  const queue = new InProcessWorkQueue();
  const brain = options.brain ?? createBuiltinBrain();
  const tools = options.tools ?? createToolRegistry();
  const engine = new Engine({ store, bus, queue, brain, tools, config, logger });
  const shape = config.databaseUrl ? 'postgres' : 'embedded';
  let closed = false;
  return {
    config, role, shape, store, bus, queue, brain, tools, engine, logger,
    startWorker: async () => {
      if (role === 'api') return;
      await engine.startWorker({ exclusive: shape === 'embedded', reconcileEveryMs: RECONCILE_EVERY_MS });
    },
    close: async (graceMs = 5_000) => {
      if (closed) return;
      closed = true;
      await engine.stop(graceMs);
      await queue.close();
      await bus.close();
      await store.close();
    },
  };
}
