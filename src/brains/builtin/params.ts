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

/**
 * Why the email the task asked for will not be sent: `not_configured` when send_email is not in the
 * registry (no SMTP_URL), `no_step` when the step budget left no room for the email step.
 */
export const UnsentEmailSchema = z.object({
  to: z.array(z.string()),
  reason: z.enum(['not_configured', 'no_step']),
});
export type UnsentEmail = z.infer<typeof UnsentEmailSchema>;

const common = {
  calls: z.array(ToolCallSchema).optional(),
  report_style: ReportStyleSchema.optional(),
  /** On the step that writes the final report: the email request that cannot be carried out, for the report to say so. */
  unsent_email: UnsentEmailSchema.optional(),
};

/** One search a researcher runs; `subject` ties it to one side of a comparison. */
export const SearchQuerySchema = z.object({ query: z.string().min(1), subject: z.string().optional() });
export type SearchQuery = z.infer<typeof SearchQuerySchema>;

const SearchParams = z.object({ kind: z.literal('search'), queries: z.array(SearchQuerySchema).min(1), limit: z.number(), ...common });
const KeyPointsParams = z.object({ kind: z.literal('key_points'), topic: z.string(), aspects: z.array(z.string()), ...common });
const FileRef = z.object({ id: z.string(), name: z.string() });
const ProfileParams = z.object({
  kind: z.literal('profile'),
  files: z.array(FileRef),
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
/** SQL over the task's CSV files: turn 0 reads each file's columns, the next turn runs the analysis built from them. */
const SqlParams = z.object({ kind: z.literal('sql'), files: z.array(FileRef), group_hint: z.string().nullable(), ...common });
/** Sends the report of the steps it depends on to `to` (and `cc`) with send_email, once. */
const EmailParams = z.object({
  kind: z.literal('email'),
  to: z.array(z.string()).min(1),
  cc: z.array(z.string()),
  subject: z.string().min(1),
  ...common,
});

/** The params of any built-in step. */
export const StepParamsSchema = z.discriminatedUnion('kind', [
  SearchParams,
  KeyPointsParams,
  ProfileParams,
  ComputeParams,
  CompareParams,
  ReportParams,
  SqlParams,
  EmailParams,
]);
export type StepParams = z.infer<typeof StepParamsSchema>;
export type SearchParams = z.infer<typeof SearchParams>;
export type KeyPointsParams = z.infer<typeof KeyPointsParams>;
export type ProfileParams = z.infer<typeof ProfileParams>;
export type ComputeParams = z.infer<typeof ComputeParams>;
export type CompareParams = z.infer<typeof CompareParams>;
export type ReportParams = z.infer<typeof ReportParams>;
export type SqlParams = z.infer<typeof SqlParams>;
export type EmailParams = z.infer<typeof EmailParams>;
