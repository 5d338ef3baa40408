/**
 * Runs JavaScript in QuickJS inside a separate, short-lived Node process (quickjs-worker.ts), so
 * that a runaway script costs one child process and never the service's event loop or heap.
 * Limits are layered: QuickJS's own memory limit and interrupt handler inside, the child's V8 heap
 * cap (`--max-old-space-size`) around it, and the parent's wall clock, which kills the child.
 * When the service runs as root, the child runs as an unprivileged uid with an empty environment.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppError } from '../errors.js';
import { CappedOutput } from './capped-output.js';
import type { QuickJsAnswer, QuickJsJob } from './quickjs-worker.js';

export interface QuickJsLimits {
  /** Wall clock for the script, in milliseconds; the child is killed shortly after. */
  timeoutMs: number;
  /** QuickJS heap limit, in MiB. */
  memoryMb: number;
  /** V8 old-space cap of the child process, in MiB (covers the WebAssembly host side). */
  workerHeapMb: number;
  /** QuickJS stack, in KiB. */
  stackKb: number;
  /** console output kept, in characters. */
  outputChars: number;
  /** Largest JSON result returned, in characters. */
  resultChars: number;
}

export const DEFAULT_QUICKJS_LIMITS: Readonly<QuickJsLimits> = Object.freeze({
  timeoutMs: 10_000,
  memoryMb: 64,
  workerHeapMb: 128,
  stackKb: 256,
  outputChars: 64 * 1024,
  resultChars: 64 * 1024,
});

export interface QuickJsOptions {
  /** Host uid/gid of the child when the service runs as root; null keeps the service's. @defaultValue 65534 */
  hostUid?: number | null;
  hostGid?: number | null;
}

export type QuickJsResult = QuickJsAnswer & { durationMs: number };

/** How long past the script's own deadline the parent waits before killing the child. */
const KILL_GRACE_MS = 2000;
/** Node and QuickJS start-up, which the script's deadline does not include. */
const STARTUP_ALLOWANCE_MS = 5000;

/** The worker module and the Node flags to run it: the .ts source under tsx, or the compiled .js. */
function workerEntry(): { path: string; execArgv: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsx = createRequire(here).resolve('tsx');
    return { path: fileURLToPath(new URL('./quickjs-worker.ts', here)), execArgv: ['--import', pathToFileURL(tsx).href] };
  }
  return { path: fileURLToPath(new URL('./quickjs-worker.js', here)), execArgv: [] };
}

function hostUser(options: QuickJsOptions): { uid: number; gid: number } | Record<string, never> {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || options.hostUid === null) return {};
  return { uid: options.hostUid ?? 65534, gid: options.hostGid ?? options.hostUid ?? 65534 };
}

function isAnswer(message: unknown): message is QuickJsAnswer {
  return typeof message === 'object' && message !== null && 'stdout' in message && 'error' in message;
}

/**
 * Runs `code` and returns its completion value, console output and error. A script error or a
 * limit is a result; the promise rejects only with TOOL_FAILED (the worker crashed for another
 * reason) or with the abort signal's reason.
 */
export function runQuickJs(
  code: string,
  limits: QuickJsLimits,
  options: QuickJsOptions = {},
  signal?: AbortSignal,
): Promise<QuickJsResult> {
  signal?.throwIfAborted();
  const entry = workerEntry();
  const started = Date.now();
  const child = fork(entry.path, ['--agentic-quickjs-worker'], {
    execArgv: [...entry.execArgv, `--max-old-space-size=${limits.workerHeapMb}`],
    env: {},
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
    ...hostUser(options),
  });
  const stderr = new CappedOutput(4096);
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  const job: QuickJsJob = {
    code,
    timeoutMs: limits.timeoutMs,
    memoryBytes: limits.memoryMb * 1024 * 1024,
    stackBytes: limits.stackKb * 1024,
    outputBytes: limits.outputChars,
    resultBytes: limits.resultChars,
  };
  // With a callback, a job that cannot be sent (the worker never started) is not an 'error' event of its own:
  // the spawn failure below reports it, and a second, unheard error event cannot crash the service.
  child.send(job, () => undefined);
  return new Promise<QuickJsResult>((resolve, reject) => {
    let answer: QuickJsAnswer | null = null;
    let fatal: string | null = null;
    let killedFor: 'time' | 'abort' | null = null;
    const kill = (why: 'time' | 'abort') => {
      killedFor ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('time'), limits.timeoutMs + KILL_GRACE_MS + STARTUP_ALLOWANCE_MS);
    const onAbort = () => kill('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (message: unknown) => {
      if (isAnswer(message)) answer = message;
      else if (typeof message === 'object' && message !== null && 'fatal' in message) fatal = String(message.fatal);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(new AppError('TOOL_FAILED', `Cannot start the JavaScript worker: ${err.message}`, { cause: err }));
    });
    child.once('exit', (exitCode, exitSignal) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const durationMs = Date.now() - started;
      if (killedFor === 'abort') return reject(signal?.reason ?? new AppError('CANCELLED', 'Cancelled'));
      if (answer) return resolve({ ...answer, durationMs });
      const out = { resultJson: null, resultNote: null, stdout: '', truncated: false, durationMs };
      if (killedFor === 'time') {
        return resolve({ ...out, error: { name: 'InternalError', message: 'interrupted' }, limit: 'time' });
      }
      const log = stderr.text();
      if (/heap out of memory|Out of memory|RangeError: .*memory/i.test(log) || exitSignal === 'SIGABRT' || exitCode === 134) {
        return resolve({ ...out, error: { name: 'InternalError', message: 'out of memory' }, limit: 'memory' });
      }
      reject(
        new AppError('TOOL_FAILED', `The JavaScript worker failed: ${fatal ?? (log.trim().split('\n').slice(-1)[0] || `exit ${exitCode ?? exitSignal}`)}`, {
          details: { exit_code: exitCode, signal: exitSignal },
        }),
      );
    });
  });
}
