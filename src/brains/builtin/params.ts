/**
 * The `params` the built-in planner puts on each step and its decide() reads back. Plans are stored
 * as JSON and may come back from the database, so decide() validates them with this schema rather
 * than trusting a type.
 *
 * Every step has a `kind` that picks its handler (independent of the agent, so a plan still works
 * when an agent is swapped for another), optional `calls` for its first turn, and, when the whole
 * plan had to fit in one step, a `report_style` telling that step to write the final report itself.
 */
import { z } from 'zod';

const ToolCallSchema = z.object({ tool: z.string(), args: z.unknown() });

/** How the writer shapes the report. */
export const ReportStyleSchema = z.enum(['report', 'summary', 'comparison']);
export type ReportStyle = z.infer<typeof ReportStyleSchema>;

const common = {
  calls: z.array(ToolCallSchema).optional(),
  report_style: ReportStyleSchema.optional(),
};

/** One search a researcher runs; `subject` ties it to one side of a comparison. */
export const SearchQuerySchema = z.object({ query: z.string().min(1), subject: z.string().optional() });
export type SearchQuery = z.infer<typeof SearchQuerySchema>;

const SearchParams = z.object({ kind: z.literal('search'), queries: z.array(SearchQuerySchema).min(1), limit: z.number(), ...common });
const KeyPointsParams = z.object({ kind: z.literal('key_points'), topic: z.string(), aspects: z.array(z.string()), ...common });
const ProfileParams = z.object({
  kind: z.literal('profile'),
  files: z.array(z.object({ id: z.string(), name: z.string() })),
  group_hint: z.string().nullable(),
  ...common,
});
const ComputeParams = z.object({
  kind: z.literal('compute'),
  computations: z.array(z.object({ expression: z.string(), wording: z.string() })),
  ...common,
});
const CompareParams = z.object({ kind: z.literal('compare'), subjects: z.array(z.string()), aspect: z.string(), ...common });
const ReportParams = z.object({ kind: z.literal('report'), style: ReportStyleSchema, ...common });

/** The params of any built-in step. */
export const StepParamsSchema = z.discriminatedUnion('kind', [
  SearchParams,
  KeyPointsParams,
  ProfileParams,
  ComputeParams,
  CompareParams,
  ReportParams,
]);
export type StepParams = z.infer<typeof StepParamsSchema>;
export type SearchParams = z.infer<typeof SearchParams>;
export type KeyPointsParams = z.infer<typeof KeyPointsParams>;
export type ProfileParams = z.infer<typeof ProfileParams>;
export type ComputeParams = z.infer<typeof ComputeParams>;
export type CompareParams = z.infer<typeof CompareParams>;
export type ReportParams = z.infer<typeof ReportParams>;
