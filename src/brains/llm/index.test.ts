import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.js';
import { createModelBrain } from './index.js';

describe('createModelBrain', () => {
  it('is named after the default model; each role calls its own model, then the fallbacks, without repeats', () => {
    const brain = createModelBrain(
      loadConfig({
        AGENTIC_MODEL: 'openai:gpt-4.1-mini',
        OPENAI_API_KEY: 'sk-x',
        AGENTIC_MODEL_PLANNER: 'openai:gpt-4.1',
        AGENTIC_MODEL_FALLBACKS: 'openai:gpt-4.1,ollama:llama3.1',
      }),
    );
    expect(brain.name).toBe('openai:gpt-4.1-mini');
    expect(brain.chain('planner').map((h) => h.spec.id)).toEqual(['openai:gpt-4.1', 'ollama:llama3.1']);
    expect(brain.chain('writer').map((h) => h.spec.id)).toEqual(['openai:gpt-4.1-mini', 'openai:gpt-4.1', 'ollama:llama3.1']);
    expect(brain.chain(undefined)[0]!.spec.id).toBe('openai:gpt-4.1-mini');
  });

  it('needs AGENTIC_MODEL', () => {
    expect(() => createModelBrain(loadConfig({}))).toThrow(/AGENTIC_MODEL/);
  });
});
