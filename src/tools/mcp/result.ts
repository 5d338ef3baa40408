/**
 * An MCP tool result turned into the tool's output. Text stays text; binary content (images, audio,
 * blob resources) becomes a task artifact where the task can keep one, since base64 in an
 * observation only costs the model tokens it cannot use.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ToolContext } from '../types.js';

/** One content block as the tool returns it; `type` is MCP's (`text`, `image`, `resource` …). */
const outputBlockSchema = z.looseObject({ type: z.string() });

/** The output of every MCP tool. */
export const mcpToolOutputSchema = z.object({
  text: z.string().describe('The text content of the result, blocks joined by newlines'),
  content: z.array(outputBlockSchema).describe('The content blocks; binary data is replaced by its size and artifact name'),
  structured: z.unknown().optional().describe("The tool's structured result, when it returns one"),
  truncated: z.boolean().optional().describe('Present and true when text or structured content was cut to the limit'),
});

export type McpToolOutput = z.infer<typeof mcpToolOutputSchema>;
type OutputBlock = z.infer<typeof outputBlockSchema>;

/** The parts of an MCP CallToolResult this module reads. */
export interface McpCallResult {
  content?: unknown[];
  structuredContent?: unknown;
  isError?: boolean;
}

export interface ResultOptions {
  toolName: string;
  maxOutputChars: number;
  ctx: Pick<ToolContext, 'artifacts' | 'idempotencyKey'>;
}

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/svg+xml': 'svg',
  'audio/wav': 'wav',
  'audio/mpeg': 'mp3',
  'audio/ogg': 'ogg',
  'application/pdf': 'pdf',
  'application/gzip': 'gz',
  'application/zip': 'zip',
  'application/json': 'json',
  'text/plain': 'txt',
  'text/csv': 'csv',
};

/** Converts a successful result. Text beyond `maxOutputChars` (all blocks together) is cut. */
export async function toToolOutput(result: McpCallResult, options: ResultOptions): Promise<McpToolOutput> {
  const budget = { left: options.maxOutputChars, cut: false };
  const take = (text: string): string => {
    const kept = text.length <= budget.left ? text : text.slice(0, budget.left);
    if (kept.length < text.length) budget.cut = true;
    budget.left -= kept.length;
    return kept;
  };
  const stamp = createHash('sha256').update(options.ctx.idempotencyKey).digest('hex').slice(0, 8);
  const content: OutputBlock[] = [];
  const texts: string[] = [];
  for (const [index, raw] of (result.content ?? []).entries()) {
    const block = await convertBlock(raw, take, (data, mimeType) =>
      saveBinary(data, mimeType, `${options.toolName}-${stamp}-${index + 1}`, options.ctx),
    );
    content.push(block);
    if (typeof block.text === 'string' && (block.type === 'text' || block.type === 'resource')) texts.push(block.text);
  }
  const output: McpToolOutput = { text: texts.join('\n'), content };
  if (result.structuredContent !== undefined) {
    const size = JSON.stringify(result.structuredContent)?.length ?? 0;
    if (size <= budget.left) output.structured = result.structuredContent;
    else budget.cut = true;
  }
  if (budget.cut) output.truncated = true;
  return output;
}

type SaveBinary = (base64: string, mimeType: string | undefined) => Promise<{ bytes: number; artifact?: string }>;

async function convertBlock(raw: unknown, take: (text: string) => string, save: SaveBinary): Promise<OutputBlock> {
  const block = (typeof raw === 'object' && raw !== null ? raw : { type: 'unknown' }) as Record<string, unknown>;
  const type = typeof block.type === 'string' ? block.type : 'unknown';
  const mimeType = typeof block.mimeType === 'string' ? block.mimeType : undefined;
  switch (type) {
    case 'text':
      return { type, text: take(String(block.text ?? '')) };
    case 'image':
    case 'audio':
      return { type, mime_type: mimeType, ...(await save(String(block.data ?? ''), mimeType)) };
    case 'resource_link':
      return pick({ type, uri: block.uri, name: block.name, title: block.title, description: block.description, mime_type: mimeType });
    case 'resource':
      return convertResource(block.resource, take, save);
    default:
      // Unknown kinds of content: keep what they say, never bulk data.
      return pick({ type, text: typeof block.text === 'string' ? take(block.text) : undefined, uri: block.uri });
  }
}

async function convertResource(raw: unknown, take: (text: string) => string, save: SaveBinary): Promise<OutputBlock> {
  const resource = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const mimeType = typeof resource.mimeType === 'string' ? resource.mimeType : undefined;
  const head = { type: 'resource', uri: resource.uri, mime_type: mimeType };
  if (typeof resource.text === 'string') return pick({ ...head, text: take(resource.text) });
  return pick({ ...head, ...(await save(typeof resource.blob === 'string' ? resource.blob : '', mimeType)) });
}

/** Stores the bytes as a task artifact when the task has somewhere to keep them; reports their size either way. */
async function saveBinary(
  base64: string,
  mimeType: string | undefined,
  baseName: string,
  ctx: Pick<ToolContext, 'artifacts'>,
): Promise<{ bytes: number; artifact?: string }> {
  const data = Buffer.from(base64, 'base64');
  if (!ctx.artifacts || data.length === 0) return { bytes: data.length };
  const type = mimeType ?? 'application/octet-stream';
  const name = `${baseName}.${EXTENSIONS[type] ?? 'bin'}`;
  try {
    const artifact = await ctx.artifacts.save(name, data, type);
    return { bytes: artifact.size, artifact: artifact.name };
  } catch {
    // The server has done its work (perhaps with effects); losing the bytes must not fail the call.
    return { bytes: data.length };
  }
}

/** The text of an error result, for the error message; at most `max` characters. */
export function errorText(result: McpCallResult, max = 2000): string {
  const text = (result.content ?? [])
    .map((block) => (block && typeof block === 'object' && 'text' in block ? String(block.text) : ''))
    .filter(Boolean)
    .join('\n')
    .trim();
  return text.length > max ? `${text.slice(0, max)}…` : text || 'the tool reported an error without text';
}

/** The object without its undefined fields. */
function pick<T extends Record<string, unknown>>(value: T): OutputBlock & T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as OutputBlock & T;
}
