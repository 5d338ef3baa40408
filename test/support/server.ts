/**
 * A real service for tests: the full App and HTTP server on an ephemeral port, with an in-memory
 * embedded database unless told otherwise.
 */
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.js';
import type { Brain } from '../../src/brains/types.js';
import { createApp, type App } from '../../src/compose.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { ToolRegistry } from '../../src/tools/registry.js';

export interface TestServer {
  url: string;
  app: App;
  server: FastifyInstance;
  close(): Promise<void>;
}

export async function startTestServer(options: { config?: Partial<Config>; brain?: Brain; tools?: ToolRegistry } = {}): Promise<TestServer> {
  // Code tools only where a test asks for them (AGENTIC_SANDBOX): their start-up check spawns processes.
  const config = loadConfig({}, { dataDir: ':memory:', port: 0, logLevel: 'silent', heartbeatMs: 1000, sandbox: 'false', ...options.config });
  const app = await createApp({ config, brain: options.brain, tools: options.tools });
  const server = await buildServer(app);
  const url = await server.listen({ port: 0, host: '127.0.0.1' });
  await app.startWorker();
  return {
    url,
    app,
    server,
    close: async () => {
      await server.close();
      await app.close(1000);
    },
  };
}

/** Reads an NDJSON or SSE response body into parsed events (SSE: the `data:` lines). */
export async function readEvents(res: Response): Promise<Array<Record<string, unknown>>> {
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('text/event-stream')) {
    return text
      .split('\n\n')
      .map((frame) => frame.split('\n').find((l) => l.startsWith('data: ')))
      .filter((l): l is string => l !== undefined)
      .map((l) => JSON.parse(l.slice(6)));
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** Waits until the task reaches a terminal status (polling the store), or throws after `timeoutMs`. */
export async function waitForTask(app: App, id: string, timeoutMs = 30_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const t = await app.store.getTask(id);
    if (t && ['completed', 'failed', 'cancelled'].includes(t.status)) return t.status;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`task ${id} did not finish within ${timeoutMs} ms`);
}

/** The app without HTTP (engine, store, queue, bus) on an in-memory database, with its worker started. */
export async function startTestApp(options: { config?: Partial<Config>; brain?: Brain; tools?: ToolRegistry } = {}): Promise<App> {
  const config = loadConfig({}, { dataDir: ':memory:', logLevel: 'silent', sandbox: 'false', ...options.config });
  const app = await createApp({ config, brain: options.brain, tools: options.tools });
  await app.startWorker();
  return app;
}
