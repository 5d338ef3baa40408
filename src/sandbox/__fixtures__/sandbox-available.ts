/**
 * Whether tests that need bubblewrap may run here. On CI (`CI` set) they always run, so a host
 * without a working sandbox fails them loudly; elsewhere they are skipped when the probe fails.
 */
import { checkSandbox } from '../bwrap.js';
import type { SandboxCheck } from '../bwrap.js';

export const sandboxCheck: SandboxCheck = await checkSandbox();

/** True when the bwrap-backed tests should be skipped. */
export const skipSandboxTests = !sandboxCheck.ok && !process.env.CI;

if (skipSandboxTests && !sandboxCheck.ok) {
  console.warn(`Skipping sandbox tests: ${sandboxCheck.reason}`);
}
