/**
 * Starts one agentic process (role from argv: all, api or worker) driven by the react-5 benchmark
 * brain. Configuration comes from the environment like the real service; BENCH_LATENCY_MS sets the
 * latency per model turn.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serve } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/index.js';
import { react5Brain, react5Tools } from './react5.js';

const role = (process.argv[2] ?? 'all') as 'all' | 'api' | 'worker';
const latency = Number(process.env.BENCH_LATENCY_MS ?? 0);
await serve(loadConfig(), role, { handleSignals: true, brain: react5Brain(latency), tools: react5Tools() });

// How long the event loop was kept from running callbacks, from ready on; SIGUSR2 asks for the figures.
// The histogram holds each sampling interval whole, so the interval itself is taken off.
const RESOLUTION_MS = 5;
const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
loop.enable();
const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
process.on('SIGUSR2', () => {
  const figures = { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) };
  process.stdout.write(`BENCH_LOOP_DELAY ${JSON.stringify(figures)}\n`);
});
