import { describe, expect, it } from 'vitest';
import { loadConfig, parseModelSpec } from './index.js';

const fails = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected CONFIG_INVALID');
};

describe('model settings', () => {
  it('parses provider:model at the first colon', () => {
    expect(parseModelSpec('ollama:llama3.1:8b')).toEqual({ provider: 'ollama', model: 'llama3.1:8b', id: 'ollama:llama3.1:8b' });
    expect(parseModelSpec('gpt-4.1')).toBeNull();
    expect(parseModelSpec('azure:gpt-4.1')).toBeNull();
    expect(parseModelSpec('openai:')).toBeNull();
  });

  it('reads the model, fallbacks, role overrides, limits and prices; no model means the built-in brain', () => {
    const c = loadConfig({
      AGENTIC_MODEL: 'openai:gpt-4.1-mini',
      OPENAI_API_KEY: 'sk-x',
      AGENTIC_MODEL_FALLBACKS: 'ollama:llama3.1, openai:gpt-4o-mini',
      AGENTIC_MODEL_WRITER: 'openai:gpt-4.1',
      AGENTIC_MODEL_MAX_OUTPUT_TOKENS: '512',
      AGENTIC_PRICES: '{"llama3.1":{"input":0.01,"output":0.02}}',
    });
    expect(c.model?.id).toBe('openai:gpt-4.1-mini');
    expect(c.modelFallbacks.map((m) => m.id)).toEqual(['ollama:llama3.1', 'openai:gpt-4o-mini']);
    expect(c.modelWriter?.model).toBe('gpt-4.1');
    expect(c.modelMaxOutputTokens).toBe(512);
    expect(c.modelTimeoutMs).toBe(60_000);
    expect(c.ollamaHost).toBe('http://127.0.0.1:11434');
    expect(c.prices).toEqual({ 'llama3.1': { input: 0.01, output: 0.02 } });
    expect(loadConfig({}).model).toBeUndefined();
  });

  it('fails at start with CONFIG_INVALID naming the variable', () => {
    expect(fails({ AGENTIC_MODEL: 'gpt-4.1-mini' }).message).toContain('AGENTIC_MODEL: "gpt-4.1-mini" is not provider:model');
    expect(fails({ AGENTIC_MODEL: 'openai:gpt-4.1-mini' }).message).toContain('OPENAI_API_KEY: must be set for AGENTIC_MODEL=openai:gpt-4.1-mini');
    expect(fails({ AGENTIC_MODEL: 'ollama:x', AGENTIC_MODEL_FALLBACKS: 'anthropic:claude-haiku-4-5' }).message).toContain(
      'ANTHROPIC_API_KEY: must be set for AGENTIC_MODEL_FALLBACKS=anthropic:claude-haiku-4-5',
    );
    expect(fails({ AGENTIC_MODEL_CODER: 'openai-compatible:qwen' }).message).toContain('AGENTIC_MODEL_BASE_URL: must be set for AGENTIC_MODEL_CODER');
    expect(fails({ AGENTIC_MODEL_FALLBACKS: 'openai:a,bogus' }).message).toContain('AGENTIC_MODEL_FALLBACKS: "bogus"');
    expect(fails({ AGENTIC_PRICES: '{"m":{"input":"cheap"}}' }).code).toBe('CONFIG_INVALID');
  });
});
