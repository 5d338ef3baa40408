/**
 * MCP servers' tools through the registry, against real servers: the official
 * `@modelcontextprotocol/server-everything` over stdio and over streamable HTTP, and a small fixture
 * server (src/tools/mcp/__fixtures__/paged-server.mjs) for pagination, missing annotations,
 * cancellation and crashes. Offline: servers run from node_modules, never through npx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError } from '../src/errors.js';
import { ToolRegistry } from '../src/tools/registry.js';
import { connectMcpServers, parseMcpServers, type McpConnection, type McpToolOutput } from '../src/tools/mcp.js';
import type { Artifact, ToolContext } from '../src/tools/types.js';
import { until } from './support/wait.js';

const require = createRequire(import.meta.url);
const EVERYTHING = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
const PAGED = join(import.meta.dirname, '..', 'src', 'tools', 'mcp', '__fixtures__', 'paged-server.mjs');

const everything = (name = 'everything', extra: Record<string, unknown> = {}) => ({
  name,
  command: process.execPath,
  args: [EVERYTHING, 'stdio'],
  ...extra,
});
const paged = (extra: Record<string, unknown> = {}) => ({ name: 'paged', command: process.execPath, args: [PAGED], ...extra });

// Every connection and child process a test opens is closed, and checked gone, after the file.
const connections: McpConnection[] = [];
const pids = new Set<number>();
const children: ChildProcess[] = [];

async function connect(servers: object[]): Promise<{ mcp: McpConnection; registry: ToolRegistry }> {
  const mcp = await connectMcpServers(parseMcpServers(JSON.stringify(servers)));
  connections.push(mcp);
  const registry = new ToolRegistry();
  for (const tool of mcp.tools) registry.register(tool);
  return { mcp, registry };
}

/** The pid of a stdio server, remembered for the leak check. */
function pidOf(mcp: McpConnection, server: string): number {
  const pid = mcp.status().find((s) => s.name === server)?.pid;
  if (pid === undefined) throw new Error(`${server} has no running process`);
  pids.add(pid);
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function context(options: { signal?: AbortSignal; artifacts?: ToolContext['artifacts'] } = {}): ToolContext {
  return {
    signal: options.signal ?? new AbortController().signal,
    tenantId: 'tenant-1',
    idempotencyKey: 'task-1:step-1:1',
    files: { read: () => Promise.reject(new Error('unused')), get: async () => null },
    documents: { search: async () => [] },
    artifacts: options.artifacts,
  };
}

async function call(registry: ToolRegistry, name: string, args: unknown, ctx = context()): Promise<McpToolOutput> {
  return (await registry.invoke(name, args, ctx)) as McpToolOutput;
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw err;
  return err;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** server-everything over streamable HTTP on `port`, once it listens. */
async function startHttpServer(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything did not start:\n${output}`)), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`listening on port ${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server-everything exited with ${code}:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

afterAll(async () => {
  await Promise.all(connections.map((mcp) => mcp.close()));
  await Promise.all(children.map(stop));
  await until(() => [...pids].every((pid) => !alive(pid)), 10_000);
});

describe('MCP over stdio: server-everything', () => {
  let mcp: McpConnection;
  let registry: ToolRegistry;

  beforeAll(async () => {
    process.env.AGENTIC_TEST_MCP_SECRET = 'must-not-leak';
    ({ mcp, registry } = await connect([everything('everything', { env: { GIVEN_SETTING: 'given' } })]));
    delete process.env.AGENTIC_TEST_MCP_SECRET;
    pidOf(mcp, 'everything');
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("lists the server's tools under its prefix, described with the server's own schemas", async () => {
    expect(mcp.problems).toEqual([]);
    expect(registry.names()).toEqual(
      expect.arrayContaining(['everything__echo', 'everything__get_sum', 'everything__get_structured_content', 'everything__get_tiny_image']),
    );
    // Tools that only run as MCP tasks cannot be called plainly, so they are left out.
    expect(registry.has('everything__simulate_research_query')).toBe(false);

    // The schemas as the server lists them, through a client of our own.
    const transport = new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'ignore' });
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    await client.close();
    const sum = registry.describe('everything__get_sum');
    expect(sum.description).toContain('Returns the sum of two numbers');
    expect(sum.input_schema).toMatchObject({
      type: 'object',
      properties: { a: { type: 'number', description: 'First number' }, b: { type: 'number', description: 'Second number' } },
      required: ['a', 'b'],
    });
    for (const tool of tools.filter((t) => t.execution?.taskSupport !== 'required')) {
      const name = `everything__${tool.name.replace(/-/g, '_')}`;
      const described = registry.describe(name).input_schema as Record<string, unknown>;
      // Zod spells out "additional properties allowed", which is what JSON Schema means by leaving it out.
      expect(described, name).toEqual({ ...tool.inputSchema, additionalProperties: tool.inputSchema.additionalProperties ?? {} });
    }
  });

  it('calls tools through the registry', async () => {
    expect(await call(registry, 'everything__echo', { message: 'hello' })).toEqual({
      text: 'Echo: hello',
      content: [{ type: 'text', text: 'Echo: hello' }],
    });
    expect((await call(registry, 'everything__get_sum', { a: 2, b: 40 })).text).toBe('The sum of 2 and 40 is 42.');
    const weather = await call(registry, 'everything__get_structured_content', { location: 'Chicago' });
    expect(weather.structured).toEqual({ temperature: 36, conditions: 'Light rain / drizzle', humidity: 82 });
  });

  it('rejects invalid arguments with TOOL_INPUT_INVALID before they reach the server', async () => {
    const sent = vi.spyOn(Client.prototype, 'callTool');
    for (const [tool, args] of [
      ['everything__get_sum', { a: 'one', b: 2 }],
      ['everything__get_sum', { a: 1 }],
      ['everything__echo', {}],
      ['everything__get_structured_content', { location: 'Paris' }],
      ['everything__echo', 'hello'],
    ] as const) {
      const err = await failure(registry.invoke(tool, args, context()));
      expect(err.code, JSON.stringify(args)).toBe('TOOL_INPUT_INVALID');
    }
    expect(sent).not.toHaveBeenCalled();
    await call(registry, 'everything__echo', { message: 'still fine' });
    expect(sent).toHaveBeenCalledTimes(1);
  });

  it('fails with MCP_ERROR, not retryable, when the tool reports an error', async () => {
    // The schema says number; the tool itself insists on a positive integer.
    const err = await failure(
      registry.invoke('everything__get_resource_reference', { resourceType: 'Text', resourceId: 1.5 }, context()),
    );
    expect(err.code).toBe('MCP_ERROR');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('Invalid resourceId: 1.5');
    expect(err.details).toMatchObject({ server: 'everything', tool: 'get-resource-reference' });
  });

  it('takes effects from the tool annotations', () => {
    expect(registry.describe('everything__echo').effect).toBe('read_only');
    // readOnlyHint false, idempotentHint true, destructiveHint false.
    expect(registry.describe('everything__gzip_file_as_resource').effect).toBe('idempotent');
    // readOnlyHint false, idempotentHint false.
    expect(registry.describe('everything__toggle_simulated_logging').effect).toBe('side_effect');
    expect(mcp.catalog.find((t) => t.name === 'everything__echo')).toMatchObject({
      server: 'everything',
      mcpName: 'echo',
      effect: 'read_only',
      annotations: { readOnlyHint: true },
    });
    expect(registry.describe('everything__echo').timeout_ms).toBe(60_000);
  });

  it("gives the child only the environment it is configured with, not the service's", async () => {
    const env = JSON.parse((await call(registry, 'everything__get_env', {})).text) as Record<string, string>;
    expect(env.GIVEN_SETTING).toBe('given');
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.AGENTIC_TEST_MCP_SECRET).toBeUndefined();
    const allowed = ['GIVEN_SETTING', 'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TERM'];
    expect(Object.keys(env).filter((k) => !allowed.includes(k))).toEqual([]);
  });

  it('stores binary content as task artifacts instead of returning base64', async () => {
    const saved: { name: string; data: Buffer; type: string }[] = [];
    const artifacts = {
      async save(name: string, data: Buffer, type: string): Promise<Artifact> {
        saved.push({ name, data, type });
        return { name, content_type: type, size: data.length, sha256: 'unused' };
      },
    };
    const output = await call(registry, 'everything__get_tiny_image', {}, context({ artifacts }));
    expect(saved).toHaveLength(1);
    expect(saved[0]!.type).toBe('image/png');
    expect(saved[0]!.data.subarray(1, 4).toString()).toBe('PNG');
    expect(output.content).toContainEqual({ type: 'image', mime_type: 'image/png', bytes: saved[0]!.data.length, artifact: saved[0]!.name });
    expect(output.text).toContain('MCP logo');
  });

  it("stops a call when the caller's signal aborts, and the server keeps serving", async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('task cancelled')), 200);
    const err = await registry
      .invoke('everything__trigger_long_running_operation', { duration: 5, steps: 5 }, context({ signal: controller.signal }))
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe('task cancelled');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await call(registry, 'everything__echo', { message: 'after' })).text).toBe('Echo: after');
  });
});

describe('MCP: pagination, effects without annotations, schemas zod cannot express, timeouts', () => {
  let mcp: McpConnection;
  let registry: ToolRegistry;

  beforeAll(async () => {
    ({ mcp, registry } = await connect([
      paged({ effect: 'idempotent', tool_effects: { crash: 'side_effect' }, timeout_ms: 1000, approval: { 'delete-file': 'always', '*': 'never' } }),
    ]));
    pidOf(mcp, 'paged');
  });

  const stats = async () => (await call(registry, 'paged__stats', {})).structured as { calls: number; cancelled: number; pid: number };

  it('follows tools/list pagination', () => {
    expect(registry.names().sort()).toEqual(
      ['paged__conditional', 'paged__crash', 'paged__delete_file', 'paged__list_files', 'paged__slow', 'paged__stats'].sort(),
    );
  });

  it("uses the server's default effect, the operator's overrides and a destructive tool's hints", () => {
    expect(registry.describe('paged__list_files').effect).toBe('idempotent');
    expect(registry.describe('paged__crash').effect).toBe('side_effect');
    // idempotentHint true but destructiveHint true.
    expect(registry.describe('paged__delete_file').effect).toBe('side_effect');
  });

  it('exposes the approval setting per tool and as policy rules', () => {
    expect(mcp.catalog.find((t) => t.mcpName === 'delete-file')?.approval).toBe('always');
    expect(mcp.catalog.find((t) => t.mcpName === 'listFiles')?.approval).toBe('never');
    expect(mcp.approvalRules).toContainEqual({ tool: 'paged__delete_file', when: 'always' });
    expect(mcp.approvalRules).toContainEqual({ tool: 'paged__list_files', when: 'never' });
    expect(mcp.approvalRules).toHaveLength(6);
  });

  it('checks what it can of a schema with if/then, describes it whole, and leaves the rest to the server', async () => {
    expect(registry.describe('paged__conditional').input_schema).toMatchObject({
      required: ['a'],
      if: { properties: { a: { const: 1 } } },
      then: { required: ['b'] },
    });
    const before = (await stats()).calls;
    expect((await failure(registry.invoke('paged__conditional', { b: 'x' }, context()))).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure(registry.invoke('paged__conditional', { a: 'one' }, context()))).code).toBe('TOOL_INPUT_INVALID');
    expect((await call(registry, 'paged__conditional', { a: 2 })).text).toBe('conditional {"a":2}');
    expect((await stats()).calls).toBe(before + 2);
  });

  it('times out with TOOL_TIMEOUT and cancels the request on the server', async () => {
    const started = Date.now();
    const err = await failure(registry.invoke('paged__slow', { ms: 20_000 }, context()));
    expect(err.code).toBe('TOOL_TIMEOUT');
    expect(err.details).toMatchObject({ tool: 'paged__slow', timeout_ms: 1000 });
    expect(Date.now() - started).toBeLessThan(5_000);
    await until(async () => (await stats()).cancelled >= 1);
    expect((await call(registry, 'paged__slow', { ms: 10 })).text).toBe('waited 10 ms');
  });

  it('fails the call with a retryable MCP_ERROR when the server dies during it, and restarts it on the next call', async () => {
    const first = pidOf(mcp, 'paged');
    const err = await failure(registry.invoke('paged__crash', {}, context()));
    expect(err.code).toBe('MCP_ERROR');
    expect(err.retryable).toBe(true);
    expect(err.details).toMatchObject({ server: 'paged', tool: 'crash' });
    const after = await stats();
    expect(after.pid).not.toBe(first);
    expect(after.calls).toBe(1);
    expect(pidOf(mcp, 'paged')).toBe(after.pid);
    expect(mcp.status()[0]?.connects).toBe(2);
  });
});

describe('MCP: a stdio server killed from outside', () => {
  it('fails the call in flight with a retryable MCP_ERROR and recovers on the next call', async () => {
    const { mcp, registry } = await connect([everything()]);
    const first = pidOf(mcp, 'everything');
    const pending = failure(registry.invoke('everything__trigger_long_running_operation', { duration: 5, steps: 5 }, context()));
    await new Promise((r) => setTimeout(r, 300));
    process.kill(first, 'SIGKILL');
    const err = await pending;
    expect(err.code).toBe('MCP_ERROR');
    expect(err.retryable).toBe(true);
    expect((await call(registry, 'everything__echo', { message: 'back' })).text).toBe('Echo: back');
    expect(pidOf(mcp, 'everything')).not.toBe(first);
    expect(mcp.status()[0]?.connects).toBe(2);
  });

  it('starts it again on the next call when it died between calls', async () => {
    const { mcp, registry } = await connect([everything()]);
    const first = pidOf(mcp, 'everything');
    process.kill(first, 'SIGKILL');
    await until(() => mcp.status()[0]?.connected === false);
    expect((await call(registry, 'everything__get_sum', { a: 1, b: 1 })).text).toBe('The sum of 1 and 1 is 2.');
    expect(pidOf(mcp, 'everything')).not.toBe(first);
  });

  it('ends its child processes on close', async () => {
    const { mcp } = await connect([everything('one'), paged()]);
    const running = [pidOf(mcp, 'one'), pidOf(mcp, 'paged')];
    expect(running.every(alive)).toBe(true);
    await mcp.close();
    await until(() => running.every((pid) => !alive(pid)), 10_000);
    expect(mcp.status().every((s) => !s.connected)).toBe(true);
  });
});

describe('MCP: servers that cannot be reached at start', () => {
  it('lists them in problems and serves the others', async () => {
    const closedPort = await freePort();
    const { mcp, registry } = await connect([
      everything('everything', { tools: ['echo', 'get_sum', 'no-such-tool'] }),
      { name: 'missing', command: '/nonexistent/mcp-server' },
      { name: 'remote', url: `http://127.0.0.1:${closedPort}/mcp`, connect_timeout_ms: 5000 },
      { name: 'crashy', command: process.execPath, args: ['-e', 'console.error("boom: bad token"); process.exit(2)'] },
    ]);
    pidOf(mcp, 'everything');
    expect(registry.names().sort()).toEqual(['everything__echo', 'everything__get_sum']);
    expect((await call(registry, 'everything__echo', { message: 'ok' })).text).toBe('Echo: ok');
    const problems = Object.fromEntries(mcp.problems.map((p) => [p.server === 'everything' ? 'allow-list' : p.server, p]));
    expect(Object.keys(problems).sort()).toEqual(['allow-list', 'crashy', 'missing', 'remote']);
    expect(problems.missing).toMatchObject({ code: 'MCP_ERROR', message: expect.stringContaining('ENOENT') });
    expect(problems.remote).toMatchObject({ code: 'MCP_ERROR', message: expect.stringContaining(`127.0.0.1:${closedPort}`) });
    expect(problems.crashy?.message).toContain('boom: bad token');
    expect(problems['allow-list']).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('no-such-tool') });
    expect(mcp.status().map((s) => s.name)).toEqual(['everything']);
  });
});

describe('MCP over streamable HTTP', () => {
  it('lists and calls tools', async () => {
    const port = await freePort();
    await startHttpServer(port);
    const { mcp, registry } = await connect([{ name: 'remote', url: `http://127.0.0.1:${port}/mcp` }]);
    expect(mcp.problems).toEqual([]);
    expect(mcp.status()).toEqual([{ name: 'remote', transport: 'http', connected: true, connects: 1 }]);
    expect(registry.describe('remote__get_sum')).toMatchObject({
      effect: 'read_only',
      input_schema: { type: 'object', required: ['a', 'b'] },
    });
    expect((await call(registry, 'remote__get_sum', { a: 20, b: 22 })).text).toBe('The sum of 20 and 22 is 42.');
    expect((await failure(registry.invoke('remote__get_sum', { a: 1 }, context()))).code).toBe('TOOL_INPUT_INVALID');
  });

  it('sends the configured headers', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(401).end('no');
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    try {
      const { mcp } = await connect([{ name: 'guarded', url: `http://127.0.0.1:${port}/mcp`, headers: { Authorization: 'Bearer s3cret' } }]);
      expect(seen[0]?.authorization).toBe('Bearer s3cret');
      expect(mcp.problems[0]).toMatchObject({ server: 'guarded', code: 'MCP_ERROR' });
    } finally {
      server.close();
    }
  });

  it('fails with a retryable MCP_ERROR while the server is down and reconnects once it is back', async () => {
    const port = await freePort();
    const first = await startHttpServer(port);
    const { mcp, registry } = await connect([{ name: 'remote', url: `http://127.0.0.1:${port}/mcp` }]);
    expect((await call(registry, 'remote__echo', { message: 'one' })).text).toBe('Echo: one');
    await stop(first);

    const down = await failure(registry.invoke('remote__echo', { message: 'two' }, context()));
    expect(down.code).toBe('MCP_ERROR');
    expect(down.retryable).toBe(true);

    // A restarted server knows nothing of the old session; the next call opens a new one.
    await startHttpServer(port);
    expect((await call(registry, 'remote__echo', { message: 'three' })).text).toBe('Echo: three');
    expect(mcp.status()[0]).toMatchObject({ connected: true, connects: 2 });
  });

  it('opens a new session and runs the call there when the server answers 404 for a session it forgot', async () => {
    // A spec-following server (the SDK's transport): 404 for an unknown session id.
    const sessions = new Map<string, StreamableHTTPServerTransport>();
    let calls = 0;
    const http = createServer((req, res) => {
      const id = req.headers['mcp-session-id'];
      if (typeof id === 'string') {
        const known = sessions.get(id);
        if (known) void known.handleRequest(req, res);
        else res.writeHead(404, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}');
        return;
      }
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => void sessions.set(sid, transport),
      });
      const server = new Server({ name: 'sessions', version: '1' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, async () => ({
        tools: [{ name: 'ping', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } }],
      }));
      server.setRequestHandler(CallToolRequestSchema, async () => ({ content: [{ type: 'text', text: `pong ${++calls}` }] }));
      void server.connect(transport).then(() => transport.handleRequest(req, res));
    }).listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as { port: number }).port;
    try {
      const { mcp, registry } = await connect([{ name: 'sessions', url: `http://127.0.0.1:${port}/mcp` }]);
      expect((await call(registry, 'sessions__ping', {})).text).toBe('pong 1');
      sessions.clear();
      expect((await call(registry, 'sessions__ping', {})).text).toBe('pong 2');
      expect(mcp.status()[0]).toMatchObject({ connected: true, connects: 2 });
      await mcp.close();
    } finally {
      http.closeAllConnections();
      http.close();
    }
  });
});
