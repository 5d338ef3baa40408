/**
 * The react-5 workload, for benchmarks only: one task = one step of five model turns (four calls
 * to a trivial `add` tool, then a final answer), with a configurable latency per model turn. It
 * drives the real engine, store, queue and tools; only the model is scripted.
 */
import { z } from 'zod';
import { ScriptedBrain } from '../src/brains/scripted.js';
import { ToolRegistry } from '../src/tools/registry.js';
import type { ToolDefinition } from '../src/tools/types.js';

/** Wall-clock time in ms with sub-ms precision, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export const addTool: ToolDefinition<{ a: number; b: number; t?: number }, { sum: number }> = {
  name: 'add',
  description: 'Adds two numbers',
  input: z.object({ a: z.number(), b: z.number(), t: z.number().optional() }),
  output: z.object({ sum: z.number() }),
  timeoutMs: 1000,
  effect: 'read_only',
  run: async ({ a, b }) => ({ sum: a + b }),
};

export function react5Brain(latencyMs: number): ScriptedBrain {
  return new ScriptedBrain({
    name: 'scripted:react5',
    // Planning is not a model turn in react-5; only the five step turns wait.
    latencyMs: (kind) => (kind === 'decide' ? latencyMs : 0),
    plan: () => ({
      rationale: 'react-5',
      steps: [{ id: 's1', agent: 'analyst', title: 'add four times', instruction: 'add', depends_on: [], tools: ['add'] }],
    }),
    // `t` is when the turn completed: clients measure the delay until they see its event.
    decide: (req) => {
      const t = nowMs();
      if (req.turn < 4) return { type: 'tool_calls', calls: [{ tool: 'add', args: { a: req.turn, b: 1, t } }] };
      return { type: 'final', output: { text: `sum ${req.history.length} t=${t}`, sources: [] } };
    },
  });
}

export function react5Tools(): ToolRegistry {
  return new ToolRegistry().register(addTool);
}
