/**
 * The provider factory: turns a configured `provider:model` into an AI SDK language model. The only
 * file that knows the providers' packages and their settings.
 *
 * OpenAI goes through its Chat Completions API (the one every proxy and gateway speaks); Ollama is
 * an OpenAI-compatible server at `${OLLAMA_HOST}/v1`.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';
import type { Config, ModelSpec } from '../../config/index.js';
import { AppError } from '../../errors.js';

/** The settings a provider needs; a subset of Config. */
export type ProviderSettings = Pick<
  Config,
  'openaiApiKey' | 'openaiBaseUrl' | 'anthropicApiKey' | 'anthropicBaseUrl' | 'modelBaseUrl' | 'modelApiKey' | 'ollamaHost'
>;

/** Creates the language model of `spec` with the configured keys and base URLs. */
export function createLanguageModel(spec: ModelSpec, settings: ProviderSettings): LanguageModel {
  switch (spec.provider) {
    case 'openai':
      return createOpenAI({ apiKey: required(settings.openaiApiKey, 'OPENAI_API_KEY', spec), baseURL: settings.openaiBaseUrl }).chat(spec.model);
    case 'anthropic':
      return createAnthropic({ apiKey: required(settings.anthropicApiKey, 'ANTHROPIC_API_KEY', spec), baseURL: settings.anthropicBaseUrl })(spec.model);
    case 'openai-compatible':
      return compatible('openai-compatible', required(settings.modelBaseUrl, 'AGENTIC_MODEL_BASE_URL', spec), settings.modelApiKey, spec.model);
    case 'ollama':
      return compatible('ollama', `${settings.ollamaHost.replace(/\/+$/, '')}/v1`, undefined, spec.model);
  }
}

function compatible(name: string, baseURL: string, apiKey: string | undefined, model: string): LanguageModel {
  // includeUsage asks for token counts in the last streamed chunk (stream_options.include_usage).
  return createOpenAICompatible({ name, baseURL, apiKey, includeUsage: true, supportsStructuredOutputs: true }).chatModel(model);
}

function required(value: string | undefined, env: string, spec: ModelSpec): string {
  if (value) return value;
  throw new AppError('CONFIG_INVALID', `${env} must be set for ${spec.id}`, { details: { variable: env, model: spec.id } });
}
