/**
 * The `run_javascript` tool: evaluates a JavaScript program in QuickJS (WebAssembly) inside a
 * short-lived child process (src/sandbox/quickjs.ts). The program sees the ECMAScript built-ins and
 * a `console` that collects output, nothing else: no require, process, fetch, timers, files or network.
 *
 * Outcomes are results, so the model can read them: `result` is the JSON value of the last
 * expression (a returned promise is awaited); a thrown error fills `error` ({name, message, stack});
 * hitting the time or memory limit sets `limit` as well. The only errors are TOOL_FAILED (the
 * worker process died for an unexpected reason) and cancellation.
 */
import { z } from 'zod';
import { AppError } from '../errors.js';
import { DEFAULT_QUICKJS_LIMITS, Semaphore, runQuickJs } from '../sandbox/index.js';
import type { QuickJsLimits } from '../sandbox/index.js';
import type { ToolContext, ToolDefinition } from './types.js';

/** Largest program accepted, in characters. */
export const MAX_JAVASCRIPT_CODE_CHARS = 100_000;

export interface RunJavaScriptOptions {
  /** Overrides of the QuickJS limits; `timeoutMs` is also the largest `timeout_s` a call may ask for. */
  limits?: Partial<QuickJsLimits>;
  /** Host uid/gid of the worker process when the service is root; null keeps root. @defaultValue 65534 */
  hostUid?: number | null;
  hostGid?: number | null;
  /** Workers at the same time; more calls wait. @defaultValue 2 */
  maxConcurrent?: number;
}

export const runJavaScriptInputSchema = z.object({
  code: z
    .string()
    .min(1)
    .max(MAX_JAVASCRIPT_CODE_CHARS)
    .describe('JavaScript (ES2023) to evaluate as a script; the value of the last expression is returned.'),
  timeout_s: z.number().positive().optional().describe('Time limit in seconds; at most the configured maximum.'),
});

export const runJavaScriptOutputSchema = z.object({
  result: z.unknown().describe('JSON value of the last expression; null when there is none or it is not JSON.'),
  result_note: z.string().nullable().describe('Why `result` is null although the script succeeded.'),
  stdout: z.string().describe('What console.log/info/warn/error/debug printed.'),
  truncated: z.boolean(),
  error: z.object({ name: z.string(), message: z.string(), stack: z.string().optional() }).nullable(),
  limit: z.enum(['time', 'memory']).nullable(),
  duration_ms: z.number().int().nonnegative(),
});

export type RunJavaScriptInput = z.infer<typeof runJavaScriptInputSchema>;
export type RunJavaScriptOutput = z.infer<typeof runJavaScriptOutputSchema>;

function parseResult(json: string | null): unknown {
  if (json === null) return null;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return null;
  }
}

/** Builds the `run_javascript` tool. */
export function createRunJavaScriptTool(options: RunJavaScriptOptions = {}): ToolDefinition<RunJavaScriptInput, RunJavaScriptOutput> {
  const limits: QuickJsLimits = { ...DEFAULT_QUICKJS_LIMITS, ...options.limits };
  const gate = new Semaphore(options.maxConcurrent ?? 2);
  const workerOptions = { hostUid: options.hostUid, hostGid: options.hostGid };

  async function run(input: RunJavaScriptInput, ctx: ToolContext): Promise<RunJavaScriptOutput> {
    const timeoutMs = Math.min(Math.round((input.timeout_s ?? Infinity) * 1000), limits.timeoutMs);
    const out = await gate.run(() => runQuickJs(input.code, { ...limits, timeoutMs }, workerOptions, ctx.signal), ctx.signal);
    return {
      result: parseResult(out.resultJson),
      result_note: out.resultNote,
      stdout: out.stdout,
      truncated: out.truncated,
      error: out.error,
      limit: out.limit,
      duration_ms: out.durationMs,
    };
  }

  return {
    name: 'run_javascript',
    description:
      'Evaluates JavaScript (ES2023, QuickJS) in an isolated interpreter and returns the JSON value of the last ' +
      'expression as `result` (a returned promise is awaited) plus what console.log printed. Only the language ' +
      'built-ins exist: no require, import, process, fetch, timers, files or network. A thrown error is returned ' +
      `in \`error\`. Limits: ${limits.memoryMb} MiB of memory, ${limits.timeoutMs / 1000} s.`,
    input: runJavaScriptInputSchema,
    output: runJavaScriptOutputSchema,
    // The worker's own deadline and kill fire first; this leaves room for start-up and queuing.
    timeoutMs: limits.timeoutMs + 20_000,
    effect: 'read_only',
    run,
  };
}

/** Throws TOOL_FAILED unless a QuickJS worker starts and evaluates `1 + 1` here. */
export async function assertRunJavaScriptAvailable(options: RunJavaScriptOptions = {}): Promise<void> {
  const out = await runQuickJs('1 + 1', { ...DEFAULT_QUICKJS_LIMITS, ...options.limits }, {
    hostUid: options.hostUid,
    hostGid: options.hostGid,
  });
  if (out.resultJson !== '2') {
    throw new AppError('TOOL_FAILED', `The JavaScript worker does not evaluate correctly: ${out.error?.message ?? out.resultJson}`);
  }
}
