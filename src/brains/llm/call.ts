/**
 * How the model brain makes one logical call: down the fallback chain, model by model, skipping
 * models whose circuit breaker is open; on each model, up to `attempts` tries with exponential
 * backoff and full jitter on 429, 5xx and timeouts, waiting at least the Retry-After the provider
 * asked for. The AI SDK's own retries are off (`maxRetries: 0`), so this is the only retry policy
 * below the engine's step retries.
 */
import type { LanguageModel } from 'ai';
import type { ModelSpec } from '../../config/index.js';
import { backoffDelay, sleep } from '../../engine/retry.js';
import { AppError } from '../../errors.js';
import type { CircuitBreakers } from './breaker.js';
import { classifyModelError, isFinalForBrain } from './errors.js';

/** A configured model, ready to call. */
export interface ModelHandle {
  spec: ModelSpec;
  model: LanguageModel;
}

export interface CallPolicy {
  /** Tries per model, the first included. */
  attempts: number;
  baseMs: number;
  capMs: number;
  /** Time limit of one HTTP call, ms. */
  timeoutMs: number;
  /** A Retry-After longer than this moves to the next model instead of waiting. */
  maxRetryAfterMs: number;
  breakers: CircuitBreakers;
}

/** One try of a call on one model; `signal` fires on cancel or the per-call timeout. */
export type ModelCall<T> = (handle: ModelHandle, signal: AbortSignal) => Promise<T>;

/** Runs `call` on the first model of `chain` that answers; throws the last failure when none does. */
export async function callWithFallback<T>(chain: ModelHandle[], policy: CallPolicy, signal: AbortSignal, call: ModelCall<T>): Promise<{ value: T; handle: ModelHandle }> {
  let last: AppError | undefined;
  const skipped: string[] = [];
  for (const handle of chain) {
    if (!(await policy.breakers.admit(handle.spec.id))) {
      skipped.push(handle.spec.id);
      continue;
    }
    try {
      return { value: await withRetries(handle, policy, signal, call), handle };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      last = err as AppError;
      if (isFinalForBrain(last)) throw last;
    }
  }
  if (last) throw last;
  throw new AppError('MODEL_UNAVAILABLE', `Every configured model is failing (circuit open: ${skipped.join(', ')})`, {
    details: { circuit_open: skipped },
  });
}

/** Tries one model up to `policy.attempts` times, recording each outcome on its breaker. */
async function withRetries<T>(handle: ModelHandle, policy: CallPolicy, signal: AbortSignal, call: ModelCall<T>): Promise<T> {
  const id = handle.spec.id;
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1 && !(await policy.breakers.admit(id))) {
      throw new AppError('MODEL_UNAVAILABLE', `${id}: circuit open`, { details: { model: id, circuit: 'open' } });
    }
    const timer = AbortSignal.timeout(policy.timeoutMs);
    try {
      const value = await call(handle, AbortSignal.any([signal, timer]));
      await policy.breakers.succeeded(id);
      return value;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const error = classifyModelError(err, id, timer.aborted);
      if (error.code !== 'MODEL_REJECTED') await policy.breakers.failed(id);
      if (isFinalForBrain(error) || attempt >= policy.attempts) throw error;
      const asked = typeof error.details.retry_after_ms === 'number' ? error.details.retry_after_ms : 0;
      if (asked > policy.maxRetryAfterMs) throw error;
      await sleep(Math.max(asked, backoffDelay(attempt, policy.baseMs, policy.capMs)), signal);
    }
  }
}
