/**
 * The real sql_query tool over in-memory CSV files, and a fake send_email, for running whole
 * email tasks: the brain's SQL runs in DuckDB exactly as in production, and the mail outcome (sent,
 * refused at approval, failed) is chosen by the test.
 */
import { createSqlQueryTool } from '../../../tools/sql-query.js';
import type { FileAccess, StoredFile, ToolContext } from '../../../tools/types.js';
import type { Observation, ToolCallRequest } from '../../types.js';
import { SALES_ROWS } from './corpus.js';
import { descriptor } from './fake-tools.js';

/** SALES_ROWS as the CSV text data_profile's fake reads them from. */
export const SALES_CSV = [Object.keys(SALES_ROWS[0] ?? {}).join(','), ...SALES_ROWS.map((r) => Object.values(r).join(','))].join('\n');

/** The registry of an email task: the fakes' three tools plus sql_query and send_email. */
export const EMAIL_TOOLS = ['knowledge_search', 'calculator', 'data_profile', 'sql_query', 'send_email'].map(descriptor);

/** Files held in memory, with their CSV text. */
export function memoryFiles(files: Array<{ file: StoredFile; data: string }>): FileAccess {
  const byId = new Map(files.map((f) => [f.file.id, f]));
  return {
    get: async (id) => byId.get(id)?.file ?? null,
    read: async (id) => {
      const f = byId.get(id);
      if (!f) throw new Error(`no file ${id}`);
      return { ...f.file, size: Buffer.byteLength(f.data), data: Buffer.from(f.data) };
    },
    list: async () => files.map((f) => f.file),
  };
}

const sqlQuery = createSqlQueryTool({});

/** Runs a sql_query call with the real tool over `files`, as the engine would record it. */
export async function runSqlQuery(call: ToolCallRequest, callId: string, files: FileAccess): Promise<Observation> {
  const ctx: ToolContext = { signal: new AbortController().signal, tenantId: 't', idempotencyKey: callId, files, documents: { search: async () => [] } };
  try {
    const input = sqlQuery.input.parse(call.args);
    return { call_id: callId, tool: call.tool, args: call.args, ok: true, result: await sqlQuery.run(input, ctx) };
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'TOOL_ERROR';
    return { call_id: callId, tool: call.tool, args: call.args, ok: false, error: { code, message: err instanceof Error ? err.message : String(err) } };
  }
}

/** What the fake send_email does: send (with a fixed message id), or fail with the given error. */
export type MailOutcome = { sent: true; rejected?: string[] } | { sent: false; code: string; message: string };

export const MESSAGE_ID = '<0123abcd@example.com>';

/** A send_email observation for a call, by outcome. */
export function sendEmailObservation(call: ToolCallRequest, callId: string, outcome: MailOutcome): Observation {
  if (!outcome.sent) return { call_id: callId, tool: 'send_email', args: call.args, ok: false, error: { code: outcome.code, message: outcome.message } };
  const args = call.args as { to: string[]; cc?: string[] };
  const rejected = outcome.rejected ?? [];
  const accepted = [...args.to, ...(args.cc ?? [])].filter((a) => !rejected.includes(a));
  return { call_id: callId, tool: 'send_email', args: call.args, ok: true, result: { message_id: MESSAGE_ID, accepted, rejected, response: '250 2.0.0 Ok: queued' } };
}
