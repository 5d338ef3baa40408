import { evaluateExpression } from '../../../tools/calculator.js';
/**
 * Fake tools with the exact input and output shapes of knowledge_search, calculator and
 * data_profile, small enough to reason about in tests. `evaluate` is a reference evaluator for the
 * calculator grammar, used to check that generated expressions mean what the task asked.
 */
import type { StoredFile, ToolDescriptor } from '../../../tools/types.js';
import type { Observation, ToolCallRequest } from '../../types.js';
import { DOCUMENTS, SALES_ROWS } from './corpus.js';

/** A tool descriptor with only the name mattering. */
export function descriptor(name: string): ToolDescriptor {
  return {
    name,
    description: `${name} (fixture)`,
    input_schema: {},
    output_schema: {},
    timeout_ms: 1000,
    effect: 'read_only',
    read_only: true,
    idempotent: true,
    side_effects: false,
  };
}

/** The three tools the built-in brain drives, plus one it does not. */
export const ALL_TOOLS = ['knowledge_search', 'calculator', 'data_profile', 'run_python'].map(descriptor);

export const SALES_FILE: StoredFile = {
  id: 'file-sales',
  name: 'sales.csv',
  content_type: 'text/csv',
  size: 300,
  sha256: 'f'.repeat(64),
  created_at: '2025-01-01T00:00:00.000Z',
};

export const PDF_FILE: StoredFile = { ...SALES_FILE, id: 'file-pdf', name: 'contract.pdf', content_type: 'application/pdf' };

const flatten = (args: unknown[]): number[] => args.flatMap((a) => (Array.isArray(a) ? flatten(a) : [Number(a)]));
const sum = (...a: unknown[]): number => flatten(a).reduce((s, x) => s + x, 0);
const mean = (...a: unknown[]): number => sum(...a) / flatten(a).length;
const median = (...a: unknown[]): number => {
  const xs = flatten(a).sort((x, y) => x - y);
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 === 1 ? (xs[mid] ?? NaN) : ((xs[mid - 1] ?? NaN) + (xs[mid] ?? NaN)) / 2;
};
/** Evaluates with the real calculator, so the planner's expressions are checked against its grammar. */
export function evaluate(expression: string, variables: Record<string, number> = {}): number {
  return evaluateExpression(expression, variables);
}

function search(args: { query: string; limit?: number }) {
  const words = args.query.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  const passages = DOCUMENTS.flatMap((d) =>
    d.chunks.map((text, chunk) => {
      const lower = text.toLowerCase();
      const hits = words.every((w) => lower.includes(w)) ? words.reduce((n, w) => n + lower.split(w).length - 1, 0) : 0;
      return { document_id: d.id, title: d.title, chunk, text, score: Number((hits / 10).toFixed(2)) };
    }),
  )
    .filter((p) => p.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, args.limit ?? 5);
  return { query: args.query, passages };
}

function columnProfile(name: string) {
  const values = SALES_ROWS.map((r) => r[name]);
  const numeric = values.every((v) => typeof v === 'number');
  const counts = new Map<string | number, number>();
  for (const v of values) if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([value, count]) => ({ value, count }));
  const base = { name, count: values.length, missing: 0, distinct: counts.size, top };
  if (!numeric) return { ...base, type: 'string' as const };
  const xs = values as number[];
  return { ...base, type: 'integer' as const, min: Math.min(...xs), max: Math.max(...xs), mean: mean(xs), median: median(xs), sum: sum(xs) };
}

function groups(by: string, aggregates: Array<{ column: string; op: string }>) {
  const keys = [...new Set(SALES_ROWS.map((r) => r[by]))];
  const rows = keys.map((key) => {
    const members = SALES_ROWS.filter((r) => r[by] === key);
    const values: Record<string, number | null> = {};
    for (const a of aggregates) {
      const xs = members.map((m) => Number(m[a.column]));
      values[`${a.op}(${a.column})`] = a.op === 'sum' ? sum(xs) : mean(xs);
    }
    return { key, count: members.length, values };
  });
  return { by, rows };
}

function profile(args: { file_id: string; group_by?: string; aggregates?: Array<{ column: string; op: string }> }) {
  if (args.file_id !== SALES_FILE.id) throw new Error(`no file ${args.file_id}`);
  const names = Object.keys(SALES_ROWS[0] ?? {});
  const result = {
    file_id: SALES_FILE.id,
    file_name: SALES_FILE.name,
    rows: SALES_ROWS.length,
    malformed_rows: 0,
    delimiter: ',',
    columns: names.map(columnProfile),
    sample: SALES_ROWS.slice(0, 2),
  };
  return args.group_by ? { ...result, groups: groups(args.group_by, args.aggregates ?? []) } : result;
}

function calculate(args: { expression: string; variables?: Record<string, number> }) {
  return { expression: args.expression, result: evaluate(args.expression, args.variables) };
}

type Failures = Partial<Record<string, { code: string; message: string }>>;

/** Runs one call against the fakes; tools named in `failures` fail with the given error. */
export function runFakeCall(call: ToolCallRequest, callId: string, failures: Failures = {}): Observation {
  const failure = failures[call.tool];
  if (failure) return { call_id: callId, tool: call.tool, args: call.args, ok: false, error: failure };
  try {
    const result =
      call.tool === 'knowledge_search'
        ? search(call.args as Parameters<typeof search>[0])
        : call.tool === 'calculator'
          ? calculate(call.args as { expression: string; variables?: Record<string, number> })
          : profile(call.args as Parameters<typeof profile>[0]);
    return { call_id: callId, tool: call.tool, args: call.args, ok: true, result };
  } catch (err) {
    return { call_id: callId, tool: call.tool, args: call.args, ok: false, error: { code: 'TOOL_ERROR', message: String(err) } };
  }
}
