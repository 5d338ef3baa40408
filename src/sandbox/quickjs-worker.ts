/**
 * The QuickJS worker: a child process (started by quickjs.ts with child_process.fork) that runs
 * one script in a QuickJS interpreter compiled to WebAssembly, then exits.
 *
 * The script sees only the ECMAScript built-ins and a `console` whose methods append to a capped
 * buffer. No host object crosses into the interpreter: no require, process, fetch, timers, file
 * system or network. Even a bug in QuickJS stays inside the WebAssembly memory of this process,
 * which has its own V8 heap limit, and the parent kills the process on its wall clock.
 */
import { getQuickJS, shouldInterruptAfterDeadline } from 'quickjs-emscripten';
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten';

/** What the parent sends. */
export interface QuickJsJob {
  code: string;
  timeoutMs: number;
  memoryBytes: number;
  stackBytes: number;
  outputBytes: number;
  resultBytes: number;
}

/** What the worker answers. */
export interface QuickJsAnswer {
  /** JSON text of the completion value; null when it is undefined, a function, or not serialisable. */
  resultJson: string | null;
  /** Why there is no result although the script succeeded, e.g. "undefined" or "too large". */
  resultNote: string | null;
  stdout: string;
  truncated: boolean;
  error: { name: string; message: string; stack?: string } | null;
  limit: 'time' | 'memory' | null;
}

class Console {
  readonly #cap: number;
  #text = '';
  #total = 0;

  constructor(cap: number) {
    this.#cap = cap;
  }

  get truncated(): boolean {
    return this.#total > this.#text.length;
  }

  write(line: string): void {
    this.#total += line.length;
    const room = this.#cap - this.#text.length;
    if (room > 0) this.#text += line.length <= room ? line : line.slice(0, room);
  }

  text(): string {
    return this.truncated ? `${this.#text}\n[output truncated: ${this.#total - this.#text.length} more characters not shown]` : this.#text;
  }
}

/** String(value) inside the VM, so user-defined toString runs under the VM's limits. */
function toStringInVm(vm: QuickJSContext, handle: QuickJSHandle): string {
  const fn = vm.getProp(vm.global, 'String');
  const result = vm.callFunction(fn, vm.undefined, handle);
  fn.dispose();
  if (result.error) {
    result.error.dispose();
    return '[unprintable value]';
  }
  const text = vm.typeof(result.value) === 'string' ? vm.getString(result.value) : '[unprintable value]';
  result.value.dispose();
  return text;
}

/** How console.log shows one argument: strings as they are, objects as JSON when they can be. */
function formatArg(vm: QuickJSContext, handle: QuickJSHandle): string {
  const type = vm.typeof(handle);
  if (type === 'string') return vm.getString(handle);
  if (type === 'object') return stringify(vm, handle) ?? toStringInVm(vm, handle);
  return toStringInVm(vm, handle);
}

/** JSON.stringify inside the VM; null when the value has no JSON form or stringifying throws. */
function stringify(vm: QuickJSContext, handle: QuickJSHandle): string | null {
  const json = vm.getProp(vm.global, 'JSON');
  const result = vm.callMethod(json, 'stringify', [handle]);
  json.dispose();
  if (result.error) {
    result.error.dispose();
    return null;
  }
  const out = vm.typeof(result.value) === 'string' ? vm.getString(result.value) : null;
  result.value.dispose();
  return out;
}

function installConsole(vm: QuickJSContext, sink: Console): void {
  const consoleObject = vm.newObject();
  for (const method of ['log', 'info', 'warn', 'error', 'debug']) {
    const fn = vm.newFunction(method, (...args) => {
      sink.write(`${args.map((a) => formatArg(vm, a)).join(' ')}\n`);
    });
    vm.setProp(consoleObject, method, fn);
    fn.dispose();
  }
  vm.setProp(vm.global, 'console', consoleObject);
  consoleObject.dispose();
}

/** The first lines of a stack trace; a runaway recursion would otherwise fill the answer. */
function capStack(stack: string): string {
  const lines = stack.split('\n');
  return lines.length <= 20 ? stack : [...lines.slice(0, 20), `    ... ${lines.length - 20} more frames`].join('\n');
}

function describeError(vm: QuickJSContext, handle: QuickJSHandle): NonNullable<QuickJsAnswer['error']> {
  const dumped: unknown = vm.dump(handle);
  if (dumped && typeof dumped === 'object') {
    const e = dumped as { name?: unknown; message?: unknown; stack?: unknown };
    const error = { name: String(e.name ?? 'Error'), message: String(e.message ?? '') };
    return typeof e.stack === 'string' && e.stack ? { ...error, stack: capStack(e.stack) } : error;
  }
  return { name: 'Error', message: `Uncaught ${dumped === null ? 'out of memory' : String(dumped)}` };
}

function limitOf(error: QuickJsAnswer['error']): QuickJsAnswer['limit'] {
  if (!error) return null;
  if (error.name === 'InternalError' && error.message === 'interrupted') return 'time';
  if (/out of memory/i.test(error.message)) return 'memory';
  return null;
}

type Outcome = { ok: true; value: QuickJSHandle } | { ok: false; error: QuickJSHandle };

/** Settles a promise completion value by running pending jobs until it resolves or the deadline passes. */
function settle(vm: QuickJSContext, promise: QuickJSHandle, deadline: number): Outcome {
  try {
    for (;;) {
      const state = vm.getPromiseState(promise);
      if (state.type === 'fulfilled') return { ok: true, value: state.value };
      if (state.type === 'rejected') return { ok: false, error: state.error };
      const jobs = vm.runtime.executePendingJobs();
      if (jobs.error) return { ok: false, error: jobs.error };
      if (jobs.value === 0 || Date.now() > deadline) {
        return { ok: false, error: vm.newError({ name: 'Error', message: 'The script returned a promise that never settled' }) };
      }
    }
  } finally {
    promise.dispose();
  }
}

/** Evaluates the script; a promise completion value (e.g. from an async IIFE) is awaited. */
function evaluate(vm: QuickJSContext, code: string, deadline: number): Outcome {
  const result = vm.evalCode(code, 'main.js', { type: 'global' });
  if (result.error) return { ok: false, error: result.error };
  const value = result.value;
  const state = vm.getPromiseState(value);
  if (state.type === 'fulfilled' && state.notAPromise) return { ok: true, value };
  if (state.type === 'fulfilled') state.value.dispose();
  if (state.type === 'rejected') state.error.dispose();
  return settle(vm, value, deadline);
}

function evaluateGuarded(vm: QuickJSContext, code: string, deadline: number): Outcome | 'host-stack-overflow' {
  try {
    return evaluate(vm, code, deadline);
  } catch (err) {
    if (err instanceof RangeError && /call stack/i.test(err.message)) return 'host-stack-overflow';
    throw err;
  }
}

function completion(vm: QuickJSContext, handle: QuickJSHandle, job: QuickJsJob): Pick<QuickJsAnswer, 'resultJson' | 'resultNote'> {
  const type = vm.typeof(handle);
  if (type === 'undefined' || type === 'function' || type === 'symbol') return { resultJson: null, resultNote: type };
  const json = stringify(vm, handle);
  if (json === null) return { resultJson: null, resultNote: 'not serialisable as JSON' };
  if (json.length > job.resultBytes) return { resultJson: null, resultNote: `larger than ${job.resultBytes} characters as JSON` };
  return { resultJson: json, resultNote: null };
}

/** Frees the interpreter; after an out-of-memory error QuickJS may fail to, and the worker exits anyway. */
function dispose(...items: { dispose(): void }[]): void {
  for (const item of items) {
    try {
      item.dispose();
    } catch {
      // Nothing to recover: the worker process is about to exit.
    }
  }
}

/** Runs one job; exported for tests of the worker logic without a child process. */
export async function runJob(job: QuickJsJob): Promise<QuickJsAnswer> {
  const quickjs = await getQuickJS();
  const runtime = quickjs.newRuntime();
  const deadline = Date.now() + job.timeoutMs;
  runtime.setMemoryLimit(job.memoryBytes);
  runtime.setMaxStackSize(job.stackBytes);
  runtime.setInterruptHandler(shouldInterruptAfterDeadline(deadline));
  const vm = runtime.newContext();
  const sink = new Console(job.outputBytes);
  const answer: QuickJsAnswer = { resultJson: null, resultNote: null, stdout: '', truncated: false, error: null, limit: null };
  try {
    installConsole(vm, sink);
    const outcome = evaluateGuarded(vm, job.code, deadline);
    if (outcome === 'host-stack-overflow') {
      // QuickJS's own stack check normally fires first; this catches a WebAssembly frame overflow.
      answer.error = { name: 'InternalError', message: 'stack overflow' };
      return answer;
    }
    if (outcome.ok) {
      Object.assign(answer, completion(vm, outcome.value, job));
      outcome.value.dispose();
    } else {
      answer.error = describeError(vm, outcome.error);
      answer.limit = limitOf(answer.error);
      outcome.error.dispose();
    }
  } finally {
    answer.stdout = sink.text();
    answer.truncated = sink.truncated;
  }
  dispose(vm, runtime);
  return answer;
}

// Only when started by fork(): answer one job over IPC, then exit.
if (process.send && process.argv.includes('--agentic-quickjs-worker')) {
  process.once('message', (job: QuickJsJob) => {
    runJob(job).then(
      (answer) => process.send?.(answer, () => process.exit(0)),
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        process.send?.({ fatal: message }, () => process.exit(1));
      },
    );
  });
}
