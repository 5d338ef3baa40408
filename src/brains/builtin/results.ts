/**
 * What the built-in brain reads back from the tools it drives. Results are checked with zod rather
 * than trusted, so a tool that changes shape makes a step report "unexpected result" instead of
 * writing nonsense.
 */
import { z } from 'zod';
import type { Observation, TurnRecord } from '../types.js';

/** A passage returned by `knowledge_search`. */
export const PassageSchema = z.object({
  document_id: z.string(),
  title: z.string(),
  chunk: z.number(),
  text: z.string(),
  score: z.number(),
});
export type PassageResult = z.infer<typeof PassageSchema>;

/** The output of `knowledge_search`. */
export const SearchResultSchema = z.object({ query: z.string(), passages: z.array(PassageSchema) });
export type SearchResult = z.infer<typeof SearchResultSchema>;

/** The output of `calculator`. */
export const CalcResultSchema = z.object({ expression: z.string(), result: z.number() });
export type CalcResult = z.infer<typeof CalcResultSchema>;

const ColumnSchema = z.object({
  name: z.string(),
  type: z.string(),
  count: z.number(),
  missing: z.number(),
  distinct: z.number(),
  min: z.unknown().optional(),
  max: z.unknown().optional(),
  mean: z.number().nullable().optional(),
  median: z.number().nullable().optional(),
  stdev: z.number().nullable().optional(),
  sum: z.number().nullable().optional(),
  top: z.array(z.object({ value: z.unknown(), count: z.number() })).default([]),
});
export type ProfileColumn = z.infer<typeof ColumnSchema>;

const GroupsSchema = z.object({
  by: z.string(),
  rows: z.array(z.object({ key: z.unknown(), count: z.number(), values: z.record(z.string(), z.number().nullable()) })),
  truncated: z.boolean().optional(),
});
export type ProfileGroups = z.infer<typeof GroupsSchema>;

/** The output of `data_profile`. */
export const ProfileResultSchema = z.object({
  file_id: z.string(),
  file_name: z.string(),
  rows: z.number(),
  malformed_rows: z.number().default(0),
  delimiter: z.string().default(','),
  columns: z.array(ColumnSchema),
  sample: z.unknown().optional(),
  groups: GroupsSchema.optional(),
});
export type ProfileResult = z.infer<typeof ProfileResultSchema>;

/** The output of `sql_query`: columns in order and rows as arrays; `tables` maps files to their table names. */
export const SqlResultSchema = z.object({
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  rows: z.array(z.array(z.unknown())),
  row_count: z.number(),
  truncated: z.boolean(),
  tables: z.array(z.object({ name: z.string(), file_id: z.string(), file_name: z.string() })).optional(),
});
export type SqlResult = z.infer<typeof SqlResultSchema>;

/** The output of `send_email`. */
export const EmailResultSchema = z.object({
  message_id: z.string(),
  accepted: z.array(z.string()),
  rejected: z.array(z.string()),
});
export type EmailResult = z.infer<typeof EmailResultSchema>;

/** Every observation of a step so far, oldest first. */
export function allObservations(history: readonly TurnRecord[]): Observation[] {
  return history.flatMap((turn) => turn.observations);
}

/** One line saying plainly that a call failed and why, e.g. "calculator failed (TOOL_ERROR): Division by zero". */
export function describeFailure(observation: Observation): string {
  const code = observation.error?.code ?? 'UNKNOWN_ERROR';
  const message = observation.error?.message ?? 'no error message';
  return `\`${observation.tool}\` failed (${code}): ${message}`;
}

/** A parsed tool result, or a line describing why there is none. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; failure: string };

/** Reads an observation's result with a schema; failed calls and unexpected shapes become failure lines. */
export function parseObservation<T>(schema: z.ZodType<T>, observation: Observation): Parsed<T> {
  if (!observation.ok) return { ok: false, failure: describeFailure(observation) };
  const parsed = schema.safeParse(observation.result);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, failure: `\`${observation.tool}\` returned a result of an unexpected shape, so it was not used` };
}

/** The value of a list-of-strings argument of a call (e.g. sql_query's `files`), or [] when it has none. */
export function listArgOf(args: unknown, key: string): string[] {
  if (typeof args !== 'object' || args === null) return [];
  const value = (args as Record<string, unknown>)[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The value of a string argument of a call, if the call had one. */
export function argOf(args: unknown, key: string): string | undefined {
  if (typeof args !== 'object' || args === null) return undefined;
  const value = (args as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}
