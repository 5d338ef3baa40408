import { APICallError } from 'ai';
import { describe, expect, it } from 'vitest';
import { classifyModelError, retryAfter } from './errors.js';

const apiError = (statusCode: number, responseHeaders: Record<string, string> = {}) =>
  new APICallError({ message: 'boom', url: 'http://x', requestBodyValues: {}, statusCode, responseHeaders });

describe('classifyModelError', () => {
  it('429 is MODEL_RATE_LIMITED with the Retry-After; 5xx and timeouts MODEL_UNAVAILABLE; other 4xx MODEL_REJECTED', () => {
    const limited = classifyModelError(apiError(429, { 'Retry-After': '2' }), 'openai:x', false);
    expect(limited).toMatchObject({ code: 'MODEL_RATE_LIMITED', retryable: true, details: { status: 429, retry_after_ms: 2000 } });
    expect(classifyModelError(apiError(503), 'm', false)).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(classifyModelError(apiError(529), 'm', false)).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(classifyModelError(apiError(408), 'm', false)).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(classifyModelError(apiError(400), 'm', false)).toMatchObject({ code: 'MODEL_REJECTED', retryable: false });
    expect(classifyModelError(apiError(401), 'm', false)).toMatchObject({ code: 'MODEL_REJECTED', retryable: false });
    expect(classifyModelError(new Error('aborted'), 'm', true)).toMatchObject({ code: 'MODEL_UNAVAILABLE', details: { reason: 'timeout' } });
    expect(classifyModelError(new TypeError('fetch failed'), 'm', false)).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
  });

  it('reads Retry-After as seconds, as an HTTP date, and retry-after-ms', () => {
    expect(retryAfter({ 'retry-after': '1.5' })).toBe(1500);
    expect(retryAfter({ 'retry-after-ms': '250', 'retry-after': '9' })).toBe(250);
    expect(retryAfter({ 'retry-after': new Date(10_000).toUTCString() }, 4_000)).toBe(6_000);
    expect(retryAfter({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfter(undefined)).toBeUndefined();
  });
});
