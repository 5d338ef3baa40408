/**
 * What an MCP tool declares, turned into the registry's terms: its JSON Schema into a zod schema
 * that checks arguments before they leave the service, its annotations into an effect.
 */
import { z } from 'zod';
import type { ToolEffect } from '../types.js';
import type { McpApproval, McpApprovalWhen } from './config.js';

type JsonObject = Record<string, unknown>;
type Args = Record<string, unknown>;

/**
 * A zod schema for an MCP tool's `inputSchema`. Arguments are checked with `z.fromJSONSchema`;
 * where that cannot express the schema (`if`/`then`, `not`, remote `$ref` …), a looser check of the
 * top level stands in (required properties, primitive types, enums) and the server checks the rest.
 * Regular expressions (`pattern`, `patternProperties`) are left to the server: a hostile or careless
 * one could otherwise stall the service's event loop on a model's arguments.
 * Either way the schema carries the server's JSON Schema as metadata, so the registry describes the
 * tool to models with the server's own schema, not a round-tripped copy of it.
 */
export function mcpInputSchema(jsonSchema: JsonObject): z.ZodType<Args> {
  // Draft-4 `id` would register the schema under that id in zod's global registry; it has no use here.
  const { id: _id, ...described } = jsonSchema;
  let checked: z.ZodType<Args>;
  try {
    checked = z.fromJSONSchema(withoutPatterns(jsonSchema) as z.core.JSONSchema.JSONSchema) as z.ZodType<Args>;
    // Some schemas convert but cannot be described again; find out now rather than on every describe.
    z.toJSONSchema(checked, { unrepresentable: 'any', io: 'input' });
  } catch {
    checked = z.record(z.string(), z.unknown()).superRefine(topLevelCheck(jsonSchema));
  }
  return checked.meta(described);
}

/** Keywords whose value is a map of names to subschemas. */
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions', 'dependentSchemas']);
/** Keywords whose value is a subschema or an array of them. */
const SCHEMA_KEYWORDS = new Set([
  'items', 'additionalItems', 'prefixItems', 'contains', 'additionalProperties', 'unevaluatedProperties',
  'unevaluatedItems', 'propertyNames', 'not', 'if', 'then', 'else', 'anyOf', 'allOf', 'oneOf',
]);

/** A copy of the schema without `pattern` and `patternProperties` anywhere a subschema can be. */
export function withoutPatterns(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutPatterns);
  if (!isObject(schema)) return schema;
  const copy: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'pattern' || key === 'patternProperties') continue;
    if (SCHEMA_MAPS.has(key) && isObject(value)) {
      copy[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, withoutPatterns(sub)]));
    } else {
      copy[key] = SCHEMA_KEYWORDS.has(key) ? withoutPatterns(value) : value;
    }
  }
  return copy;
}

const TYPE_CHECKS: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  integer: (v) => Number.isInteger(v),
  boolean: (v) => typeof v === 'boolean',
  null: (v) => v === null,
  array: (v) => Array.isArray(v),
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
};

/** Required properties present; each given property of the right primitive type and in its enum. */
function topLevelCheck(schema: JsonObject): (value: Args, ctx: z.RefinementCtx) => void {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === 'string') : [];
  return (value, ctx) => {
    for (const key of required) {
      if (!(key in value)) ctx.addIssue({ code: 'custom', path: [key], message: 'Required' });
    }
    for (const [key, v] of Object.entries(value)) {
      const prop = properties[key];
      if (!isObject(prop)) continue;
      const types = typeof prop.type === 'string' ? [prop.type] : Array.isArray(prop.type) ? prop.type : [];
      const known = types.filter((t): t is string => typeof t === 'string' && t in TYPE_CHECKS);
      if (known.length > 0 && !known.some((t) => TYPE_CHECKS[t]?.(v))) {
        ctx.addIssue({ code: 'custom', path: [key], message: `Expected ${known.join(' or ')}` });
      } else if (Array.isArray(prop.enum) && !prop.enum.some((e) => Object.is(e, v))) {
        ctx.addIssue({ code: 'custom', path: [key], message: `Expected one of ${JSON.stringify(prop.enum)}` });
      }
    }
  };
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The hints of MCP tool annotations that bear on effects. */
export interface EffectHints {
  readOnlyHint?: boolean;
  idempotentHint?: boolean;
  destructiveHint?: boolean;
}

/**
 * A tool's effect. An operator's per-tool choice wins; then, if trusted, the tool's annotations:
 * `readOnlyHint: true` is `read_only`; `idempotentHint: true` with `destructiveHint: false` is
 * `idempotent` (MCP's default for `destructiveHint` is true, so it must be said); any other
 * combination of these hints is `side_effect`. A tool without any of them gets the server's default.
 */
export function mcpToolEffect(
  hints: EffectHints | undefined,
  options: { fallback: ToolEffect; trustAnnotations: boolean; override?: ToolEffect },
): ToolEffect {
  if (options.override) return options.override;
  if (!options.trustAnnotations || !hints) return options.fallback;
  const { readOnlyHint, idempotentHint, destructiveHint } = hints;
  if (readOnlyHint === undefined && idempotentHint === undefined && destructiveHint === undefined) return options.fallback;
  if (readOnlyHint === true) return 'read_only';
  if (idempotentHint === true && destructiveHint === false) return 'idempotent';
  return 'side_effect';
}

/** What the server's `approval` setting says about one tool: `always`, `never`, or nothing (the policy decides). */
export function approvalOf(approval: McpApproval | undefined, mcpName: string): McpApprovalWhen | undefined {
  if (approval === undefined || typeof approval === 'string') return approval;
  return Object.hasOwn(approval, mcpName) ? approval[mcpName] : approval['*'];
}
