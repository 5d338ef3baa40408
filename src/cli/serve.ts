import { buildServer } from '../api/server.js';
import type { Brain } from '../brains/types.js';
import { createApp, type Role } from '../compose.js';
import type { Config } from '../config/index.js';
import type { ToolRegistry } from '../tools/registry.js';

/** How the ready line names each mode. */
const AUTH_WORDS = {
  local: 'local (this machine only; every request is the admin of tenant default)',
  authenticated: 'API keys and tokens',
  none: 'NONE (no authentication)',
} as const;

export interface RunningService {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts the service: HTTP API (unless role is worker) and the worker side (unless role is api).
 * Stops gracefully on SIGTERM/SIGINT: stops accepting requests and work, lets running work finish
 * within the grace period, then exits.
 */
export interface ServeOptions {
  handleSignals?: boolean;
  graceMs?: number;
  /** Replace the configured brain and tools (benchmarks drive the service with a scripted brain). */
  brain?: Brain;
  tools?: ToolRegistry;
}

export async function serve(config: Config, role: Role, options: ServeOptions = {}): Promise<RunningService> {
  const app = await createApp({ config, role, brain: options.brain, tools: options.tools });
  let workerStarted = role === 'api';
  const server = role === 'worker' ? null : await buildServer(app, { ready: () => workerStarted });
  let url = '';
  if (server) {
    url = await server.listen({ port: config.port, host: config.host });
  }
  await app.startWorker();
  workerStarted = true;
  const where = app.shape === 'embedded' ? `embedded, data in ${config.dataDir}` : 'PostgreSQL';
  const auth = app.auth?.mode;
  for (const warning of app.auth?.warnings ?? []) app.logger.warn({ auth }, warning);
  app.logger.info(
    { url: url || null, shape: app.shape, brain: app.brain.name, auth: auth ?? null },
    `agentic ${role} ready${url ? ` on ${url}` : ''} (${where}, brain: ${app.brain.name}${auth ? `, auth: ${AUTH_WORDS[auth]}` : ''})`,
  );
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      app.logger.info('shutting down: no new work; finishing what runs');
      await server?.close();
      await app.close(options.graceMs ?? config.shutdownGraceMs);
    })());
  if (options.handleSignals) {
    const onSignal = () => void stop().then(() => process.exit(0));
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return { url, stop };
}
