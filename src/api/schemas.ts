/** Request schemas of the HTTP API (zod; published as JSON Schema in /openapi.json). */
import { z } from 'zod';
import { ROLES } from '../auth/principal.js';
import { TASK_STATUSES } from '../store/types.js';

export const MAX_INPUT_CHARS = 20_000;
/** Longest id accepted in a path; the router refuses longer path segments before routing. */
export const MAX_ID_CHARS = 200;

/** U+0000 or a UTF-16 surrogate without its pair. */
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_MESSAGE = 'must not contain NUL characters or unpaired surrogates';

/**
 * True when a value can be stored as given. PostgreSQL text and jsonb cannot hold U+0000, and an
 * unpaired surrogate is not Unicode at all; refusing both here gives the caller a 400 where the
 * store would otherwise fail with a 500 (or silently replace the character).
 */
export function isStorable(value: unknown): boolean {
  if (typeof value === 'string') return !UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.every(isStorable);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([k, v]) => isStorable(k) && isStorable(v));
  }
  return true;
}

/** A string the store can hold. */
const text = () => z.string().refine(isStorable, UNSTORABLE_MESSAGE);

const taskText = text().trim().min(1, 'must not be empty').max(MAX_INPUT_CHARS);
const id = () => text().min(1).max(MAX_ID_CHARS);
const cursor = () => text().max(500).optional();

export const taskOptionsSchema = z
  .object({
    max_steps: z.number().int().min(1).max(200).optional().describe('Largest plan allowed (capped by AGENTIC_MAX_STEPS).'),
    max_iterations: z.number().int().min(1).max(1000).optional().describe('Agent-loop turns per step, retries included (capped by AGENTIC_MAX_ITERATIONS).'),
    max_parallel_steps: z.number().int().min(1).max(64).optional().describe('Steps of this task that may run at once.'),
    timeout_ms: z.number().int().min(100).max(7 * 24 * 3600 * 1000).optional().describe('Wall-clock deadline from the start, ms.'),
    retry_attempts: z.number().int().min(1).max(20).optional().describe('Attempts per step, the first included.'),
    budget_tokens: z.number().int().min(1).max(1_000_000_000).optional().describe('Hard limit on the tokens (input + output) of all model calls; the task ends with BUDGET_EXCEEDED rather than pass it.'),
    budget_usd: z.number().positive().max(1_000_000).optional().describe('Hard limit on the cost of all model calls, USD.'),
    max_replans: z.number().int().min(0).max(20).optional().describe('Revised plans allowed after a step fails for good or the result misses the task (capped by AGENTIC_MAX_REPLANS; model brains only).'),
  })
  .strict();

export const createTaskBody = z
  .object({
    input: taskText.optional().describe('The task, in plain language.'),
    input_query: taskText.optional().describe('Alias of input.'),
    task_description: taskText.optional().describe('Alias of input.'),
    files: z.array(text().min(1).max(100)).max(50).optional().describe('Ids of files uploaded with POST /v1/files.'),
    options: taskOptionsSchema.optional(),
  })
  .strict()
  .refine((b) => [b.input, b.input_query, b.task_description].filter((v) => v !== undefined).length === 1, {
    message: 'give the task in exactly one of input, input_query or task_description',
  });

export const listTasksQuery = z.object({
  status: z
    .string()
    .optional()
    .transform((s) => (s ? s.split(',').map((x) => x.trim()) : undefined))
    .pipe(z.array(z.enum(TASK_STATUSES as [string, ...string[]])).optional()),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: cursor(),
});

export const eventsQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  format: z.enum(['sse', 'ndjson']).optional(),
});

/** The SSE-only stream routes take just a cursor. */
export const streamQuery = z.object({ after: z.coerce.number().int().min(0).optional() });

export const idParams = z.object({ id: id() });
export const taskIdParams = z.object({ task_id: id() });

export const createDocumentBody = z
  .object({
    title: text().trim().min(1).max(500),
    content: text().min(1),
    metadata: z.record(z.string(), z.unknown()).refine(isStorable, `keys and strings ${UNSTORABLE_MESSAGE}`).optional(),
  })
  .strict();

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: cursor(),
});

export const seedCreateTaskBody = z.object({ task_description: taskText });
export const seedRunTaskBody = z.object({ user_input: taskText });

export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected'] as const;

export const listApprovalsQuery = z.object({
  status: z
    .string()
    .optional()
    .transform((v, c) => {
      const list = (v ?? 'pending').split(',').map((s) => s.trim()).filter(Boolean);
      const bad = list.filter((s) => !(APPROVAL_STATUSES as readonly string[]).includes(s));
      if (bad.length) c.addIssue({ code: 'custom', message: `unknown status ${bad.join(', ')} (known: ${APPROVAL_STATUSES.join(', ')})` });
      return list as Array<(typeof APPROVAL_STATUSES)[number]>;
    })
    .describe('Comma-separated statuses; default pending.'),
  task_id: id().optional().describe('Only the requests of this task.'),
  tool: text().max(100).optional().describe('Only requests for this tool.'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: cursor(),
});

export const decideApprovalBody = z
  .object({
    decision: z.enum(['approve', 'reject']),
    reason: text().max(2000).optional().describe('Why; shown to the agent on a rejection.'),
    decided_by: text().trim().min(1).max(200).optional().describe('Deprecated: the decider is always the authenticated principal; a different value is refused.'),
  })
  .strict();

export const invokeToolBody = z.object({ args: z.unknown().refine(isStorable, UNSTORABLE_MESSAGE).describe('The tool\'s arguments, as its input schema says.') }).strict();

export const nameParams = z.object({ name: text().min(1).max(64) });

export const artifactParams = z.object({ id: id(), name: text().min(1).max(200) });

export const createKeyBody = z
  .object({
    name: text().trim().min(1).max(100).optional().describe('A name to recognise the key by (default: its id).'),
    roles: z.array(z.enum(ROLES)).min(1).max(4).describe('viewer, member, approver, admin; at most what your own roles grant.'),
    expires: text().max(40).optional().describe('A duration (30d, 12h, 1y) or a date (2027-01-31); default: never.'),
  })
  .strict();

export const streamTicketBody = z.object({ task_id: id().describe('The task whose events the ticket opens.') }).strict();

const timestamp = () =>
  text()
    .max(40)
    .refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO date or time')
    .optional();

export const auditQuery = z.object({
  action: z
    .string()
    .optional()
    .transform((s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined))
    .describe('Comma-separated actions, e.g. task.created,approval.decided.'),
  principal: text().max(300).optional().describe('Only the actions of this principal (e.g. key:key_0123…).'),
  target_id: text().max(MAX_ID_CHARS).optional().describe('Only the actions on this task, key, approval or tool.'),
  since: timestamp().describe('From this time on.'),
  until: timestamp().describe('Before this time.'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursor(),
});

const policyRules = z
  .array(z.record(z.string(), z.unknown()))
  .max(200)
  .describe('The rules, tried in order (docs/security.md#the-tool-policy): {id?, tool, except?, decision, via?, agents?, roles?, effects?, when?, reason?}.');

export const putPolicyBody = z
  .object({
    rules: policyRules,
    expected_version: z.number().int().min(0).optional().describe('The version this change replaces (0: none yet); a different version in force is a 409.'),
  })
  .strict();

export const checkPolicyBody = z
  .object({
    tool: text().min(1).max(64),
    args: z.unknown().optional().describe('The call\'s arguments (default {}).'),
    via: z.enum(['task', 'direct']).default('task'),
    agent: text().max(64).optional().describe('The calling agent (task calls).'),
    roles: z.array(z.enum(ROLES)).max(4).optional().describe('The roles to decide for (default: yours).'),
    rules: policyRules.optional().describe('Rules to try in place of the policy in force.'),
  })
  .strict();
