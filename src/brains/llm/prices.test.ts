import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICES, findPrice, usageOf } from './prices.js';

describe('prices', () => {
  it('finds a model by exact name or by its dated snapshot, never by a looser prefix', () => {
    expect(findPrice('gpt-4.1-mini', DEFAULT_PRICES)).toEqual({ input: 0.4, output: 1.6, cached: 0.1 });
    expect(findPrice('gpt-4.1-mini-2025-04-14', DEFAULT_PRICES)).toBe(DEFAULT_PRICES['gpt-4.1-mini']);
    expect(findPrice('claude-sonnet-4-5-20250929', DEFAULT_PRICES)).toBe(DEFAULT_PRICES['claude-sonnet-4-5']);
    expect(findPrice('gpt-4.1-turbo', DEFAULT_PRICES)).toBeUndefined();
    expect(findPrice('llama3.1:8b', DEFAULT_PRICES)).toBeUndefined();
  });

  it('bills fresh input, cached input and output at their own prices; unknown models cost 0', () => {
    const usage = {
      inputTokens: 1_000_000,
      inputTokenDetails: { noCacheTokens: 750_000, cacheReadTokens: 250_000, cacheWriteTokens: 0 },
      outputTokens: 100_000,
      outputTokenDetails: { textTokens: 100_000, reasoningTokens: 0 },
      totalTokens: 1_100_000,
    };
    expect(usageOf('openai:gpt-4o', 'gpt-4o', usage, DEFAULT_PRICES)).toEqual({
      model: 'openai:gpt-4o',
      input_tokens: 1_000_000,
      output_tokens: 100_000,
      cached_tokens: 250_000,
      cost_usd: 0.75 * 2.5 + 0.25 * 1.25 + 0.1 * 10,
    });
    expect(usageOf('ollama:llama3', 'llama3', usage, DEFAULT_PRICES).cost_usd).toBe(0);
    expect(usageOf('openai:gpt-4o', 'gpt-4o', undefined, DEFAULT_PRICES)).toMatchObject({ input_tokens: 0, cost_usd: 0 });
  });
});
