/**
 * The sandbox domain: running untrusted code. `runInSandbox` runs a command under bubblewrap with
 * namespaces, a seccomp filter and resource limits (Python code goes through it); `runQuickJs`
 * runs JavaScript in QuickJS/WebAssembly in a separate process. See docs/security.md for the design
 * and the escape tests.
 */
export {
  DEFAULT_SANDBOX_LIMITS,
  SANDBOX_PATHS,
  assertSandboxAvailable,
  checkSandbox,
  runInSandbox,
  sweepStaleRunDirs,
} from './bwrap.js';
export type { SandboxCheck, SandboxFile, SandboxLimits, SandboxOptions, SandboxRequest, SandboxResult } from './bwrap.js';
export type { OutputFile, SandboxLimitName, SkippedOutput } from './report.js';
export { isPlainFileName } from './report.js';
export { DEFAULT_QUICKJS_LIMITS, runQuickJs } from './quickjs.js';
export type { QuickJsLimits, QuickJsOptions, QuickJsResult } from './quickjs.js';
export { Semaphore } from './semaphore.js';
