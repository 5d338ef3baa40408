/**
 * A tool's own deadline, inside the registry's: the tool stops at `timeoutMs` with an error that says
 * what timed out (FETCH_FAILED, SEARCH_FAILED …), and declares `timeoutMs + REGISTRY_GRACE_MS` to the
 * registry, so that its clearer error comes before the registry's generic TOOL_TIMEOUT.
 */

/** Time the registry allows beyond a tool's own deadline. */
export const REGISTRY_GRACE_MS = 5_000;

/**
 * Runs `work` with a signal that fires when the caller aborts or `timeoutMs` passes. A caller's abort
 * throws the caller's reason; the deadline throws `onTimeout(cause)`; other errors pass through.
 */
export async function withDeadline<T>(
  callerSignal: AbortSignal,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
  onTimeout: (cause: unknown) => Error,
): Promise<T> {
  callerSignal.throwIfAborted();
  const deadline = AbortSignal.timeout(timeoutMs);
  try {
    return await work(AbortSignal.any([callerSignal, deadline]));
  } catch (err) {
    if (callerSignal.aborted) throw callerSignal.reason ?? err;
    if (deadline.aborted) throw onTimeout(err);
    throw err;
  }
}
