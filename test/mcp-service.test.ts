/**
 * MCP servers configured with AGENTIC_MCP_SERVERS, in the running service: their tools are listed
 * with the others, a task's agent calls them through the same ledger, and calls of tools the server
 * does not mark read-only wait for approval like any side effect.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { Decision } from '../src/brains/types.js';
import { call, type Json } from './support/http.js';
import { startTestServer, waitForTask, type TestServer } from './support/server.js';
import { until } from './support/wait.js';

const require = createRequire(import.meta.url);
const EVERYTHING = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
const SERVERS = JSON.stringify([{ name: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] }]);

/** The task's option `tool` names the MCP tool the step calls once, with `args`. */
const brain = new ScriptedBrain({
  plan: (req) => ({
    rationale: 'mcp',
    steps: [{ id: 'm', agent: 'researcher', title: 'Ask the server', instruction: 'ask', depends_on: [], tools: [String(req.task.options.tool)] }],
  }),
  decide: (req): Decision => {
    const done = req.history.flatMap((h) => h.observations)[0];
    if (!done) return { type: 'tool_calls', calls: [{ tool: String(req.task.options.tool), args: req.task.options.args }] };
    return { type: 'final', output: { text: done.ok ? (done.result as { text: string }).text : `failed: ${done.error?.code}`, sources: [] } };
  },
});

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('MCP servers in the service', () => {
  it('lists their tools under the server\'s prefix and runs them in a task, through the ledger and approvals', async () => {
    s = await startTestServer({ brain, config: { mcpServers: SERVERS } });
    const tools = ((await call(s.url, '/v1/tools')).body as { items: Array<Json & { name: string }> }).items;
    const sum = tools.find((t) => t.name === 'everything__get_sum');
    expect(sum).toBeDefined();
    expect((sum!.input_schema as { properties: Json }).properties).toHaveProperty('a');

    // echo is marked read-only by the server: it runs at once, through the ledger.
    const echo = await s.app.engine.submit({ tenantId: 'default', input: 'echo', files: [], options: { tool: 'everything__echo', args: { message: 'hi' } }, start: true });
    expect(await waitForTask(s.app, echo.task.id)).toBe('completed');
    expect((await s.app.store.getTask(echo.task.id))?.final_output).toBe('Echo: hi');
    expect(await s.app.store.listToolCalls(echo.task.id)).toMatchObject([{ tool: 'everything__echo', effect: 'read_only', status: 'completed', idempotency_key: `${echo.task.id}:m:0:0` }]);

    // toggle_simulated_logging is neither read-only nor idempotent: a side effect, so it waits for approval.
    const toggle = await s.app.engine.submit({ tenantId: 'default', input: 'toggle', files: [], options: { tool: 'everything__toggle_simulated_logging', args: {} }, start: true });
    await until(async () => (await s!.app.store.getTask(toggle.task.id))?.status === 'awaiting_approval');
    const pending = (await call(s.url, `/v1/approvals?task_id=${toggle.task.id}`)).body as { items: Array<{ id: string; tool: string }> };
    expect(pending.items.map((a) => a.tool)).toEqual(['everything__toggle_simulated_logging']);
    await call(s.url, `/v1/approvals/${pending.items[0]!.id}`, { json: { decision: 'approve' } });
    expect(await waitForTask(s.app, toggle.task.id)).toBe('completed');
    expect(await s.app.store.listToolCalls(toggle.task.id)).toMatchObject([{ tool: 'everything__toggle_simulated_logging', effect: 'side_effect', status: 'completed' }]);
  });

  it('starts without a server that cannot be reached, and offers the others\' tools', async () => {
    const servers = JSON.stringify([
      { name: 'missing', command: '/nonexistent/mcp-server' },
      { name: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] },
    ]);
    s = await startTestServer({ brain, config: { mcpServers: servers } });
    expect(s.app.tools.has('everything__echo')).toBe(true);
    expect(s.app.tools.names().some((n) => n.startsWith('missing__'))).toBe(false);
  });
});
