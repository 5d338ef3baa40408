/**
 * Starts one agentic process (role from argv: all, api or worker) driven by the react-5 benchmark
 * brain. Configuration comes from the environment like the real service; BENCH_LATENCY_MS sets the
 * latency per model turn.
 */
import { serve } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/index.js';
import { react5Brain, react5Tools } from './react5.js';

const role = (process.argv[2] ?? 'all') as 'all' | 'api' | 'worker';
const latency = Number(process.env.BENCH_LATENCY_MS ?? 0);
await serve(loadConfig(), role, { handleSignals: true, brain: react5Brain(latency), tools: react5Tools() });
