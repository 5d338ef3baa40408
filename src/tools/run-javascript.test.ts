import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { runJob } from '../sandbox/quickjs-worker.js';
import { ToolRegistry } from './registry.js';
import { assertRunJavaScriptAvailable, createRunJavaScriptTool } from './run-javascript.js';
import type { RunJavaScriptOutput } from './run-javascript.js';
import type { ToolContext } from './types.js';
import { toolContext } from '../../test/support/tool-context.js';

// A time limit well above what a memory bomb needs to fill 16 MB, even on a busy machine.
const tool = createRunJavaScriptTool({ limits: { timeoutMs: 8000, memoryMb: 16, outputChars: 1000 } });
const registry = new ToolRegistry().register(tool);

function invoke(input: unknown, ctx: ToolContext = toolContext()): Promise<RunJavaScriptOutput> {
  return registry.invoke('run_javascript', input, ctx) as Promise<RunJavaScriptOutput>;
}

describe('run_javascript', () => {
  it('declares a read-only tool and validates its input', async () => {
    expect(tool.effect).toBe('read_only');
    expect(tool.timeoutMs).toBeGreaterThan(8000);
    await expect(invoke({ code: '' })).rejects.toMatchObject({ code: 'TOOL_INPUT_INVALID' });
    await expect(invoke({ code: 'x'.repeat(100_001) })).rejects.toMatchObject({ code: 'TOOL_INPUT_INVALID' });
  });

  it('passes its start-up check', async () => {
    await expect(assertRunJavaScriptAvailable()).resolves.toBeUndefined();
  });

  it('returns the last expression as JSON and what console printed', async () => {
    const out = await invoke({
      code: 'const xs = [3, 1, 2].sort(); console.log("sorted", xs, {n: xs.length}); console.error(1n); ({ xs, sum: xs.reduce((a, b) => a + b) })',
    });
    expect(out).toMatchObject({
      result: { xs: [1, 2, 3], sum: 6 },
      result_note: null,
      stdout: 'sorted [1,2,3] {"n":3}\n1\n',
      truncated: false,
      error: null,
      limit: null,
    });
    expect(out.duration_ms).toBeGreaterThan(0);
  });

  it('awaits a returned promise', async () => {
    const out = await invoke({ code: '(async () => { const v = await Promise.resolve(20); return v + 22; })()' });
    expect(out.result).toBe(42);
    expect(out.error).toBeNull();
  });

  it('says why there is no result', async () => {
    expect(await invoke({ code: 'let x = 1;' })).toMatchObject({ result: null, result_note: 'undefined', error: null });
    expect(await invoke({ code: '(function f() {})' })).toMatchObject({ result: null, result_note: 'function' });
    expect(await invoke({ code: 'const o = {}; o.self = o; o' })).toMatchObject({
      result: null,
      result_note: 'not serialisable as JSON',
    });
  });

  it('returns a thrown error as a result, with the console output before it', async () => {
    const out = await invoke({ code: 'console.log("step 1");\nnull.x' });
    expect(out.stdout).toBe('step 1\n');
    expect(out.error).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/null/) });
    expect(out.error?.stack).toMatch(/main\.js:2/);
    expect(out.limit).toBeNull();
  });

  it('reports a syntax error', async () => {
    const out = await invoke({ code: 'let = ;' });
    expect(out.error?.name).toBe('SyntaxError');
  });

  it('caps console output', async () => {
    const out = await invoke({ code: 'for (let i = 0; i < 1000; i++) console.log("line " + i); "done"' });
    expect(out.truncated).toBe(true);
    expect(out.stdout).toMatch(/^line 0\n/);
    expect(out.stdout).toMatch(/\[output truncated: \d+ more characters not shown\]$/);
    expect(out.result).toBe('done');
  });

  it('interrupts an endless loop at timeout_s', async () => {
    const started = Date.now();
    const out = await invoke({ code: 'for (;;) {}', timeout_s: 0.5 });
    expect(out.limit).toBe('time');
    expect(out.error).toMatchObject({ name: 'InternalError', message: 'interrupted' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops a memory bomb at the QuickJS memory limit', async () => {
    const out = await invoke({ code: 'const a = []; for (;;) a.push({ i: a.length, s: "y".repeat(100) });' });
    expect(out.limit).toBe('memory');
    expect(out.error?.message).toMatch(/out of memory/);
  });

  it('contains deep recursion as a stack overflow error', async () => {
    const out = await invoke({ code: 'function f(n) { return f(n + 1) + 1; } f(0)' });
    expect(out.error).toMatchObject({ message: expect.stringMatching(/stack overflow/) });
  });

  it('kills the worker when the caller aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = invoke({ code: 'for (;;) {}' }, toolContext({ signal: controller.signal }));
    setTimeout(() => controller.abort(new AppError('CANCELLED', 'stop')), 200);
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(Date.now() - started).toBeLessThan(2500);
  });
});

describe('quickjs worker logic', () => {
  it('runs a job in-process with the same answer shape', async () => {
    const answer = await runJob({
      code: 'console.log("hi"); [1, "two", null]',
      timeoutMs: 2000,
      memoryBytes: 16 * 1024 * 1024,
      stackBytes: 256 * 1024,
      outputBytes: 100,
      resultBytes: 100,
    });
    expect(answer).toEqual({
      resultJson: '[1,"two",null]',
      resultNote: null,
      stdout: 'hi\n',
      truncated: false,
      error: null,
      limit: null,
    });
  });

  it('refuses a result larger than the cap', async () => {
    const answer = await runJob({
      code: '"x".repeat(500)',
      timeoutMs: 2000,
      memoryBytes: 16 * 1024 * 1024,
      stackBytes: 256 * 1024,
      outputBytes: 100,
      resultBytes: 100,
    });
    expect(answer.resultJson).toBeNull();
    expect(answer.resultNote).toMatch(/larger than 100 characters/);
  });
});
