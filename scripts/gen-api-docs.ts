/**
 * Regenerates the route reference in docs/api.md from the OpenAPI document the server publishes at
 * /openapi.json, so that the written reference cannot drift from the routes and their zod schemas.
 *
 *   npx tsx scripts/gen-api-docs.ts          rewrite the part between the markers
 *   npx tsx scripts/gen-api-docs.ts --check  exit 1 if docs/api.md is out of date (for CI)
 *
 * The app is built in memory (embedded database in memory, logs silent); nothing listens on a port.
 * Only the text between `<!-- generated:start -->` and `<!-- generated:end -->` is replaced; the
 * hand-written sections around it are kept as they are. Each route's permission comes from its
 * `x-permission` (src/api/access.ts); routes without one are public.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildServer } from '../src/api/server.js';
import { createApp } from '../src/compose.js';
import { loadConfig } from '../src/config/index.js';

const START = '<!-- generated:start -->';
const END = '<!-- generated:end -->';
const DOC_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'api.md');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

type Schema = Record<string, unknown>;

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}

interface Operation {
  summary?: string;
  /** The permission the route needs (src/api/access.ts); absent on public routes. */
  'x-permission'?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}

interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  tags?: Array<{ name: string; description?: string }>;
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
}

interface Route {
  method: string;
  path: string;
  op: Operation;
}

/** Builds the app in memory and returns its OpenAPI document. */
async function loadOpenApi(): Promise<OpenApiDocument> {
  const config = loadConfig({}, { dataDir: ':memory:', logLevel: 'silent' });
  const app = await createApp({ config });
  const server = await buildServer(app);
  try {
    await server.ready();
    return server.swagger() as unknown as OpenApiDocument;
  } finally {
    await server.close();
    await app.close(0);
  }
}

/** Markdown table cells must not contain raw pipes or newlines. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** A short type name: `string`, `integer`, `array of string`, `"sse" \| "ndjson"`, `object`. */
function typeOf(schema: Schema | undefined): string {
  if (!schema) return 'any';
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const variants = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (Array.isArray(variants)) return variants.map(typeOf).join(' \\| ');
  const type = Array.isArray(schema.type) ? schema.type.join(' \\| ') : (schema.type as string | undefined);
  if (type === 'array') return `array of ${typeOf(schema.items as Schema | undefined)}`;
  if (type === 'object' && isMap(schema)) return 'object (any keys)';
  return type ?? 'any';
}

/** An object schema whose keys are free (a record), as opposed to one with named properties. */
function isMap(schema: Schema): boolean {
  return !schema.properties && schema.additionalProperties !== false;
}

/** Constraints worth a reader's attention, in words. */
function constraintsOf(schema: Schema | undefined): string {
  if (!schema) return '';
  const parts: string[] = [];
  const range = (lo: unknown, hi: unknown, unit: string) => {
    if (lo !== undefined && hi !== undefined) parts.push(`${unit}${lo}–${hi}`);
    else if (lo !== undefined) parts.push(`${unit}≥ ${lo}`);
    else if (hi !== undefined) parts.push(`${unit}≤ ${hi}`);
  };
  range(schema.minimum, schema.maximum === Number.MAX_SAFE_INTEGER ? undefined : schema.maximum, '');
  range(schema.minLength, schema.maxLength, 'length ');
  range(schema.minItems, schema.maxItems, 'items ');
  if (schema.pattern) parts.push(`pattern \`${String(schema.pattern)}\``);
  if (schema.default !== undefined) parts.push(`default ${JSON.stringify(schema.default)}`);
  const items = schema.items as Schema | undefined;
  const itemRules = items && typeOf(items) === 'string' ? constraintsOf(items) : '';
  if (itemRules) parts.push(`each: ${itemRules}`);
  return parts.join('; ');
}

function parametersTable(params: Parameter[]): string[] {
  const order: Record<string, number> = { path: 0, query: 1, header: 2 };
  const sorted = [...params].sort((a, b) => (order[a.in] ?? 9) - (order[b.in] ?? 9));
  return [
    '| Name | In | Type | Required | Constraints | Description |',
    '|---|---|---|---|---|---|',
    ...sorted.map((p) =>
      `| \`${p.name}\` | ${p.in} | ${typeOf(p.schema)} | ${p.required ? 'yes' : 'no'} | ${cell(constraintsOf(p.schema))} | ${cell(
        p.description ?? String(p.schema?.description ?? ''),
      )} |`,
    ),
  ];
}

/** Rows for an object's properties; nested objects with named properties are flattened as `a.b`. */
function propertyRows(schema: Schema, prefix = ''): string[] {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).flatMap(([name, prop]) => {
    const row = `| \`${prefix}${name}\` | ${typeOf(prop)} | ${required.has(name) ? 'yes' : 'no'} | ${cell(constraintsOf(prop))} | ${cell(
      String(prop.description ?? ''),
    )} |`;
    const nested = prop.type === 'object' && prop.properties ? propertyRows(prop, `${prefix}${name}.`) : [];
    return [row, ...nested];
  });
}

function bodySection(body: NonNullable<Operation['requestBody']>): string[] {
  const out: string[] = [];
  for (const [contentType, { schema }] of Object.entries(body.content ?? {})) {
    out.push(`**Request body** (\`${contentType}\`${body.required ? ', required' : ''}):`, '');
    if (schema && schema.type === 'object' && schema.properties) {
      out.push('| Field | Type | Required | Constraints | Description |', '|---|---|---|---|---|', ...propertyRows(schema));
      if (schema.additionalProperties === false) out.push('', 'Unknown fields are refused (`VALIDATION_ERROR`).');
    } else {
      out.push('```json', JSON.stringify(schema ?? {}, null, 2), '```');
    }
    out.push('');
  }
  return out;
}

/** Responses are listed only when the route declares something beyond Fastify's placeholder. */
function responsesSection(responses: Operation['responses']): string[] {
  const declared = Object.entries(responses ?? {}).filter(([, r]) => r.content || (r.description && r.description !== 'Default Response'));
  if (declared.length === 0) return [];
  return [
    '**Responses:**',
    '',
    // Bodies are described in prose (the schemas only say "an object"; the error shape is documented above).
    ...declared.map(([status, r]) => `- \`${status.toUpperCase()}\` ${r.description ?? ''}`),
    '',
  ];
}

/** The permission a route needs, or `public` when it needs no credential. */
function permissionOf(op: Operation): string {
  return op['x-permission'] ?? 'public';
}

function routeSection(route: Route): string[] {
  const { op } = route;
  const out = [`#### \`${route.method} ${route.path}\``, ''];
  if (op.summary) out.push(`${op.summary}.`.replace(/\.\.$/, '.'), '');
  if (op.description) out.push(op.description, '');
  // Routes with a permission say so in their description (src/api/access.ts adds it); public ones say it here.
  if (permissionOf(op) === 'public') out.push('Public: needs no credential, in every mode.', '');
  if (op.parameters && op.parameters.length > 0) out.push(...parametersTable(op.parameters), '');
  if (op.requestBody) out.push(...bodySection(op.requestBody));
  out.push(...responsesSection(op.responses));
  return out;
}

function collectRoutes(doc: OpenApiDocument): Route[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    METHODS.filter((m) => ops[m]).map((m) => ({ method: m.toUpperCase(), path, op: ops[m]! })),
  );
}

/** The generated markdown: an index of routes, then one section per tag, routes in registration order. */
export function renderOpenApi(doc: OpenApiDocument): string {
  const routes = collectRoutes(doc);
  const tags = [...(doc.tags ?? [])];
  for (const r of routes) {
    for (const t of r.op.tags ?? ['other']) if (!tags.some((x) => x.name === t)) tags.push({ name: t });
  }
  const byTag = (name: string) => routes.filter((r) => (r.op.tags ?? ['other']).includes(name));
  const lines: string[] = [
    `_Generated from the OpenAPI document of ${doc.info.title} ${doc.info.version} by \`npx tsx scripts/gen-api-docs.ts\`. Do not edit by hand._`,
    '',
    'Permission is what the caller\'s roles must grant (`x-permission` in the OpenAPI document; see ' +
      '[Authentication and tenancy](#authentication-and-tenancy)); `public` routes need no credential.',
    '',
    '| Method | Path | Permission | Summary |',
    '|---|---|---|---|',
    ...routes.map((r) => `| ${r.method} | \`${r.path}\` | ${permissionOf(r.op)} | ${cell(r.op.summary ?? '')} |`),
    '',
  ];
  for (const tag of tags) {
    const tagged = byTag(tag.name);
    if (tagged.length === 0) continue;
    lines.push(`### Routes: ${tag.name}`, '');
    if (tag.description) lines.push(`${tag.description}.`, '');
    for (const route of tagged) lines.push(...routeSection(route));
  }
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}

function splice(document: string, generated: string): string {
  const start = document.indexOf(START);
  const end = document.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOC_PATH} must contain ${START} followed by ${END}`);
  return `${document.slice(0, start + START.length)}\n\n${generated}\n${document.slice(end)}`;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const current = await readFile(DOC_PATH, 'utf8');
  const next = splice(current, renderOpenApi(await loadOpenApi()));
  if (check) {
    if (next !== current) {
      console.error('docs/api.md is out of date; run: npx tsx scripts/gen-api-docs.ts');
      process.exitCode = 1;
    } else console.log('docs/api.md is up to date');
    return;
  }
  if (next === current) console.log('docs/api.md is up to date');
  else {
    await writeFile(DOC_PATH, next);
    console.log('docs/api.md updated');
  }
}

await main();
