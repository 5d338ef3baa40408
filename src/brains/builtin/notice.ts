/**
 * The line every report of the built-in brain carries near its top, so that no reader mistakes rule
 * output for a language model's work, and so that they learn how to switch one on.
 */
export const BUILTIN_NOTICE =
  "_Planned and written by agentic's built-in rule planner, which follows fixed rules and uses no language model. To plan and write with a model, set `AGENTIC_MODEL` (for example `AGENTIC_MODEL=openai:gpt-4.1-mini` with `OPENAI_API_KEY`); see docs/models.md._";
