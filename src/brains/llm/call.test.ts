import { describe, expect, it } from 'vitest';
import { parseModelSpec } from '../../config/index.js';
import { AppError } from '../../errors.js';
import { InProcessCircuitBreakers } from './breaker.js';
import { callWithFallback, type CallPolicy, type ModelHandle } from './call.js';

const handle = (id: string) => ({ spec: parseModelSpec(id)!, model: id }) as unknown as ModelHandle;
const policy = (over: Partial<CallPolicy> = {}): CallPolicy => ({
  attempts: 3,
  baseMs: 1,
  capMs: 2,
  timeoutMs: 1000,
  maxRetryAfterMs: 1000,
  breakers: new InProcessCircuitBreakers({ failureThreshold: 3, cooldownMs: 60_000 }),
  ...over,
});
const limited = (retryAfterMs?: number) =>
  new AppError('MODEL_RATE_LIMITED', 'slow down', { details: retryAfterMs === undefined ? {} : { retry_after_ms: retryAfterMs } });
const signal = new AbortController().signal;

describe('callWithFallback', () => {
  it('retries a retryable failure on the same model, waiting at least Retry-After', async () => {
    const calls: number[] = [];
    const start = Date.now();
    const { value, handle: used } = await callWithFallback([handle('openai:a')], policy(), signal, async () => {
      calls.push(Date.now() - start);
      if (calls.length < 2) throw limited(60);
      return 'ok';
    });
    expect(value).toBe('ok');
    expect(used.spec.id).toBe('openai:a');
    expect(calls[1]!).toBeGreaterThanOrEqual(55);
  });

  it('moves down the chain when a model keeps failing, and skips it once its breaker is open', async () => {
    const p = policy({ attempts: 3 });
    const seen: string[] = [];
    const run = () =>
      callWithFallback([handle('openai:a'), handle('ollama:b')], p, signal, async (h) => {
        seen.push(h.spec.id);
        if (h.spec.id === 'openai:a') throw new AppError('MODEL_UNAVAILABLE', '503');
        return h.spec.id;
      });
    expect((await run()).value).toBe('ollama:b');
    expect(seen).toEqual(['openai:a', 'openai:a', 'openai:a', 'ollama:b']);
    expect((await run()).value).toBe('ollama:b');
    expect(seen.slice(4)).toEqual(['ollama:b']);
  });

  it('does not retry or fall back on a rejected request', async () => {
    const seen: string[] = [];
    const err = await callWithFallback([handle('openai:a'), handle('ollama:b')], policy(), signal, async (h) => {
      seen.push(h.spec.id);
      throw new AppError('MODEL_REJECTED', '401');
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MODEL_REJECTED' });
    expect(seen).toEqual(['openai:a']);
  });

  it('a Retry-After beyond the limit moves on at once; with every breaker open it is MODEL_UNAVAILABLE', async () => {
    const p = policy({ maxRetryAfterMs: 100, breakers: new InProcessCircuitBreakers({ failureThreshold: 1, cooldownMs: 60_000 }) });
    const seen: string[] = [];
    const fail = (h: ModelHandle) => {
      seen.push(h.spec.id);
      return Promise.reject(limited(5_000));
    };
    const first = await callWithFallback([handle('openai:a'), handle('ollama:b')], p, signal, fail).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'MODEL_RATE_LIMITED' });
    expect(seen).toEqual(['openai:a', 'ollama:b']);
    const second = await callWithFallback([handle('openai:a'), handle('ollama:b')], p, signal, fail).catch((e: unknown) => e);
    expect(second).toMatchObject({ code: 'MODEL_UNAVAILABLE', details: { circuit_open: ['openai:a', 'ollama:b'] } });
    expect(seen).toHaveLength(2);
  });

  it('a timeout of one call is MODEL_UNAVAILABLE; a cancel is passed through as the signal reason', async () => {
    const slow = (_h: ModelHandle, s: AbortSignal) => new Promise<never>((_, reject) => s.addEventListener('abort', () => reject(s.reason)));
    const timedOut = await callWithFallback([handle('openai:a')], policy({ attempts: 1, timeoutMs: 20 }), signal, slow).catch((e: unknown) => e);
    expect(timedOut).toMatchObject({ code: 'MODEL_UNAVAILABLE', details: { reason: 'timeout' } });
    const cancel = new AbortController();
    const reason = new AppError('CANCELLED', 'cancelled');
    setTimeout(() => cancel.abort(reason), 10);
    await expect(callWithFallback([handle('openai:a')], policy(), cancel.signal, slow)).rejects.toBe(reason);
  });
});
