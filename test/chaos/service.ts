/**
 * An agentic process for the chaos test: the real service with a scripted brain whose first step
 * calls `sink`, a side-effecting tool that POSTs to a local sink server (CHAOS_SINK_URL).
 */
import { z } from 'zod';
import { ScriptedBrain } from '../../src/brains/scripted.js';
import { serve } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/index.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { NO_APPROVALS } from '../support/tools.js';

const sinkUrl = process.env.CHAOS_SINK_URL!;
const role = (process.argv[2] ?? 'all') as 'all' | 'api' | 'worker';

const tools = new ToolRegistry().register({
  name: 'sink',
  description: 'Records a delivery at the sink server',
  input: z.object({ task: z.string() }),
  output: z.object({ stored: z.boolean() }),
  timeoutMs: 5000,
  effect: 'side_effect',
  run: async ({ task }, ctx) => {
    const res = await fetch(sinkUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey },
      body: JSON.stringify({ task, key: ctx.idempotencyKey }),
      signal: ctx.signal,
    });
    return { stored: res.ok };
  },
});

const brain = new ScriptedBrain({
  name: 'scripted:chaos',
  latencyMs: 40,
  plan: () => ({
    rationale: 'chaos',
    steps: [
      { id: 'effect', agent: 'analyst', title: 'deliver', instruction: 'deliver to the sink', depends_on: [], tools: ['sink'] },
      { id: 'report', agent: 'writer', title: 'report', instruction: 'report', depends_on: ['effect'], tools: [] },
    ],
  }),
  decide: (req) => {
    if (req.step.id === 'effect' && req.turn === 0) return { type: 'tool_calls', calls: [{ tool: 'sink', args: { task: req.task.id } }] };
    return { type: 'final', output: { text: `done ${req.step.id}`, sources: [] } };
  },
});

// The sink is a side effect that would wait for approval by default; the chaos run is about the ledger.
await serve(loadConfig({ ...process.env, AGENTIC_APPROVAL_RULES: NO_APPROVALS }), role, { handleSignals: true, brain, tools, graceMs: 2000 });
