/**
 * Findings: the structured `data` each built-in step puts in its output next to the markdown text.
 * Later steps (the analyst, the writer) read findings rather than re-parsing text. Outputs of steps
 * another brain wrote carry no findings; readers then fall back to the step's text.
 */
import { z } from 'zod';
import type { DependencyOutput } from '../types.js';
import { PassageSchema } from './results.js';

const failures = z.array(z.string());

const SearchFindingSchema = z.object({
  kind: z.literal('search'),
  results: z.array(z.object({ query: z.string(), subject: z.string().optional(), passages: z.array(PassageSchema) })),
  failures,
});

const KeyPointSchema = z.object({ text: z.string(), document_id: z.string(), title: z.string() });
const RankedDocumentSchema = z.object({ document_id: z.string(), title: z.string(), passages: z.number(), best_score: z.number() });

const KeyPointsFindingSchema = z.object({
  kind: z.literal('key_points'),
  topic: z.string(),
  points: z.array(KeyPointSchema),
  ranking: z.array(RankedDocumentSchema),
  failures,
});

const GroupRowSchema = z.object({ key: z.string(), count: z.number(), values: z.record(z.string(), z.number().nullable()) });

const FileFindingSchema = z.object({
  file_id: z.string(),
  file_name: z.string(),
  rows: z.number(),
  columns: z.number(),
  group: z.object({ by: z.string(), measure: z.string().nullable(), rows: z.array(GroupRowSchema) }).optional(),
});

const DerivedSchema = z.object({ label: z.string(), expression: z.string(), variables: z.record(z.string(), z.number()), value: z.number() });

const ProfileFindingSchema = z.object({
  kind: z.literal('profile'),
  files: z.array(FileFindingSchema),
  group_note: z.string().optional(),
  derived: DerivedSchema.optional(),
  failures,
});

const ComputeResultSchema = z.object({ expression: z.string(), wording: z.string(), result: z.number().nullable() });

const ComputeFindingSchema = z.object({ kind: z.literal('compute'), results: z.array(ComputeResultSchema), failures });

const SubjectSummarySchema = z.object({
  name: z.string(),
  passages: z.number(),
  documents: z.array(z.object({ document_id: z.string(), title: z.string() })),
  top_terms: z.array(z.string()),
  distinct_terms: z.array(z.string()),
  best: KeyPointSchema.nullable(),
});

const CompareFindingSchema = z.object({
  kind: z.literal('compare'),
  subjects: z.array(SubjectSummarySchema),
  shared_terms: z.array(z.string()),
  shared_documents: z.array(z.string()),
  failures,
});

/** A value of an SQL result: a number, or text for what JSON cannot hold exactly, or null. */
const SqlCellSchema = z.union([z.number(), z.string(), z.null()]);

const SqlFileFindingSchema = z.object({
  file_id: z.string(),
  file_name: z.string(),
  table: z.string(),
  /** COUNT(*), or null when the query failed. */
  rows: SqlCellSchema,
  measures: z.array(z.object({ column: z.string(), sum: SqlCellSchema, avg: SqlCellSchema })),
  group: z
    .object({
      by: z.string(),
      /** `values` are keyed `sum(<column>)` and `avg(<column>)`. */
      rows: z.array(z.object({ key: z.string(), count: SqlCellSchema, values: z.record(z.string(), SqlCellSchema) })),
      truncated: z.boolean(),
    })
    .optional(),
});

const SqlFindingSchema = z.object({
  kind: z.literal('sql'),
  files: z.array(SqlFileFindingSchema),
  /** Every analysis query that ran, for the record. */
  queries: z.array(z.string()),
  group_note: z.string().optional(),
  failures,
});

const EmailFindingSchema = z.object({
  kind: z.literal('email'),
  to: z.array(z.string()),
  cc: z.array(z.string()),
  sent: z.boolean(),
  message_id: z.string().optional(),
  /** Recipients the mail server refused while accepting the others. */
  rejected: z.array(z.string()),
  /** Why it was not sent, when it was not. */
  reason: z.string().optional(),
  failures,
});

/** Any finding. */
export const FindingSchema = z.discriminatedUnion('kind', [
  SearchFindingSchema,
  KeyPointsFindingSchema,
  ProfileFindingSchema,
  ComputeFindingSchema,
  CompareFindingSchema,
  SqlFindingSchema,
  EmailFindingSchema,
]);
export type Finding = z.infer<typeof FindingSchema>;
export type SearchFinding = z.infer<typeof SearchFindingSchema>;
export type KeyPointsFinding = z.infer<typeof KeyPointsFindingSchema>;
export type KeyPoint = z.infer<typeof KeyPointSchema>;
export type RankedDocument = z.infer<typeof RankedDocumentSchema>;
export type ProfileFinding = z.infer<typeof ProfileFindingSchema>;
export type FileFinding = z.infer<typeof FileFindingSchema>;
export type ComputeFinding = z.infer<typeof ComputeFindingSchema>;
export type CompareFinding = z.infer<typeof CompareFindingSchema>;
export type SubjectSummary = z.infer<typeof SubjectSummarySchema>;
export type SqlCell = z.infer<typeof SqlCellSchema>;
export type SqlFinding = z.infer<typeof SqlFindingSchema>;
export type SqlFileFinding = z.infer<typeof SqlFileFindingSchema>;
export type EmailFinding = z.infer<typeof EmailFindingSchema>;

/** The finding of a dependency, or null when it has none (e.g. a step written by another brain). */
export function findingOf(dependency: DependencyOutput): Finding | null {
  const parsed = FindingSchema.safeParse(dependency.output.data);
  return parsed.success ? parsed.data : null;
}

/** The findings of one kind among the dependencies, in plan order. */
export function findingsOfKind<K extends Finding['kind']>(
  dependencies: readonly DependencyOutput[],
  kind: K,
): Array<Extract<Finding, { kind: K }>> {
  return dependencies
    .map(findingOf)
    .filter((f): f is Extract<Finding, { kind: K }> => f !== null && f.kind === kind);
}
