/**
 * The line every report of the built-in brain carries near its top, so that no reader mistakes rule
 * output for a language model's work. It must stay true: it says what the service can do today.
 */
export const BUILTIN_NOTICE =
  "_Planned and written by agentic's built-in rule planner, which follows fixed rules and uses no language model. This service has no model brain configured; the built-in planner is what runs without one (see docs/architecture.md, \"The built-in brain\")._";
