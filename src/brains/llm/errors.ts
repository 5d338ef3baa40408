/**
 * What a failed model call means for retries: 429 → MODEL_RATE_LIMITED, 5xx, timeouts and broken
 * connections → MODEL_UNAVAILABLE (both retryable, with the Retry-After the provider sent); any
 * other 400-class answer → MODEL_REJECTED, which no retry or fallback would fix.
 */
import { APICallError } from 'ai';
import { AppError } from '../../errors.js';

/** Errors that must not be retried inside the brain (a stream cut after text went out); the engine's step retry takes over. */
const NO_LOCAL_RETRY = new WeakSet<AppError>();

/** Marks an error so that neither the brain's retries nor its fallback chain try again. */
export function withoutLocalRetry(error: AppError): AppError {
  NO_LOCAL_RETRY.add(error);
  return error;
}

/** True when the brain should leave this error to the engine. */
export function isFinalForBrain(error: AppError): boolean {
  return NO_LOCAL_RETRY.has(error) || !error.retryable;
}

/** Classifies an error thrown by a provider call of `model`. `timedOut` says our per-call timer fired. */
export function classifyModelError(err: unknown, model: string, timedOut: boolean): AppError {
  if (err instanceof AppError) return err;
  if (timedOut) return new AppError('MODEL_UNAVAILABLE', `${model} did not answer in time`, { cause: err, details: { model, reason: 'timeout' } });
  const call = findApiCallError(err);
  const status = call?.statusCode;
  const message = err instanceof Error ? err.message : String(err);
  const details: Record<string, unknown> = { model, ...(status ? { status } : {}) };
  if (status === 429) {
    const retryAfterMs = retryAfter(call?.responseHeaders);
    return new AppError('MODEL_RATE_LIMITED', `${model} is rate limited: ${message}`, { cause: err, details: { ...details, ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}) } });
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 408) {
    return new AppError('MODEL_REJECTED', `${model} refused the request (${status}): ${message}`, { cause: err, details });
  }
  const retryAfterMs = retryAfter(call?.responseHeaders);
  return new AppError('MODEL_UNAVAILABLE', `${model} failed: ${message}`, { cause: err, details: { ...details, ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}) } });
}

/** The AI SDK wraps the HTTP error in a RetryError or keeps it as a cause; find it either way. */
function findApiCallError(err: unknown): APICallError | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (APICallError.isInstance(e)) return e;
    const last = (e as { lastError?: unknown }).lastError;
    if (APICallError.isInstance(last)) return last;
  }
  return undefined;
}

/** Retry-After in ms from `retry-after-ms`, or `retry-after` as seconds or an HTTP date. */
export function retryAfter(headers: Record<string, string> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const ms = Number(lower['retry-after-ms']);
  if (lower['retry-after-ms'] && Number.isFinite(ms) && ms >= 0) return ms;
  const value = lower['retry-after'];
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
