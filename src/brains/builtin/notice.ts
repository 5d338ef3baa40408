/**
 * The line every report of the built-in brain carries near its top, so that no reader mistakes rule
 * output for a language model's work. It must stay true: it says what the service can do today.
 */
export const BUILTIN_NOTICE =
  "_Planned and written by agentic's built-in rule planner, which follows fixed rules and uses no language model. No model is configured on this service; to use one, set AGENTIC_MODEL (for example AGENTIC_MODEL=openai:gpt-4.1-mini with OPENAI_API_KEY, or anthropic:…, ollama:…; see docs/models.md)._";
