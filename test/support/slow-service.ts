/**
 * An agentic process whose scripted model is slow (SLOW_TURN_MS per turn): one step of four turns,
 * three calculator calls then an answer. Used to kill a worker in the middle of a step.
 */
import { ScriptedBrain } from '../../src/brains/scripted.js';
import { serve } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/index.js';

const role = (process.argv[2] ?? 'all') as 'all' | 'api' | 'worker';
const brain = new ScriptedBrain({
  name: 'scripted:slow',
  latencyMs: (kind) => (kind === 'decide' ? Number(process.env.SLOW_TURN_MS ?? 500) : 0),
  plan: () => ({
    rationale: 'slow',
    steps: [{ id: 'work', agent: 'analyst', title: 'work', instruction: 'add up', depends_on: [], tools: ['calculator'] }],
  }),
  decide: (req) => {
    if (req.turn < 3) return { type: 'tool_calls', calls: [{ tool: 'calculator', args: { expression: `${req.turn} + 1` } }] };
    return { type: 'final', output: { text: `turns ${req.history.map((h) => h.turn).join(',')}`, sources: [] } };
  },
});
await serve(loadConfig(), role, { handleSignals: true, brain });
