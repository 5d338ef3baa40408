/**
 * Prices of common models and the cost of a call. Prices are USD per million tokens, from the
 * providers' public price lists (November 2025); `AGENTIC_PRICES` overrides or extends them. A
 * model with no price costs 0, and the brain logs that once so nobody mistakes it for free.
 */
import type { LanguageModelUsage } from 'ai';
import type { ModelPrice } from '../../config/index.js';
import type { ModelUsage } from '../types.js';

/** The shipped price table, keyed by model name (without the provider). */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  'gpt-4.1': { input: 2, output: 8, cached: 0.5 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6, cached: 0.1 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4, cached: 0.025 },
  'gpt-4o': { input: 2.5, output: 10, cached: 1.25 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cached: 0.075 },
  'claude-opus-4-5': { input: 5, output: 25, cached: 0.5 },
  'claude-opus-4-1': { input: 15, output: 75, cached: 1.5 },
  'claude-sonnet-4-5': { input: 3, output: 15, cached: 0.3 },
  'claude-sonnet-4-0': { input: 3, output: 15, cached: 0.3 },
  'claude-sonnet-4': { input: 3, output: 15, cached: 0.3 },
  'claude-haiku-4-5': { input: 1, output: 5, cached: 0.1 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cached: 0.08 },
});

/** A dated snapshot (`gpt-4.1-mini-2025-04-14`, `claude-sonnet-4-5-20250929`) or `-latest` alias of a priced model. */
const SNAPSHOT_SUFFIX = /^-(\d{4}-?\d{2}-?\d{2}|latest)$/;

/** Finds the price of a model: exact name first, then the model its snapshot name belongs to. */
export function findPrice(model: string, table: Readonly<Record<string, ModelPrice>>): ModelPrice | undefined {
  if (table[model]) return table[model];
  const base = Object.keys(table)
    .filter((name) => model.startsWith(name) && SNAPSHOT_SUFFIX.test(model.slice(name.length)))
    .sort((a, b) => b.length - a.length)[0];
  return base ? table[base] : undefined;
}

/** The token counts of one call, from the AI SDK's usage (missing counts are 0). */
export function tokenCounts(usage: LanguageModelUsage | undefined): { input: number; output: number; cached: number; cacheWrite: number } {
  const input = usage?.inputTokens ?? 0;
  const cached = usage?.inputTokenDetails?.cacheReadTokens ?? usage?.cachedInputTokens ?? 0;
  const cacheWrite = usage?.inputTokenDetails?.cacheWriteTokens ?? 0;
  return { input, output: usage?.outputTokens ?? 0, cached, cacheWrite };
}

/**
 * Usage and cost of one call of `modelId` (`provider:model`). Cached input is billed at the cached
 * price; cache writes at the input price (Anthropic charges them 1.25×; override the table if that
 * matters to you).
 */
export function usageOf(modelId: string, model: string, usage: LanguageModelUsage | undefined, table: Readonly<Record<string, ModelPrice>>): ModelUsage {
  const t = tokenCounts(usage);
  const price = findPrice(model, table);
  const fresh = Math.max(0, t.input - t.cached);
  const cost = price ? (fresh * price.input + t.cached * (price.cached ?? price.input) + t.output * price.output) / 1_000_000 : 0;
  return { model: modelId, input_tokens: t.input, output_tokens: t.output, cached_tokens: t.cached, cost_usd: Math.round(cost * 1e9) / 1e9 };
}

/** Adds two usages of the same model (a plan that needed repairs is several calls). */
export function addUsage(a: ModelUsage | undefined, b: ModelUsage): ModelUsage {
  if (!a) return b;
  return {
    model: b.model,
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cached_tokens: a.cached_tokens + b.cached_tokens,
    cost_usd: Math.round((a.cost_usd + b.cost_usd) * 1e9) / 1e9,
  };
}
