/**
 * Configuration of MCP servers (`AGENTIC_MCP_SERVERS`) and the names their tools get in the registry.
 * The setting is a JSON array; each entry is either a local server started as a child process
 * (`command`) or a remote one reached over streamable HTTP (`url`).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { ToolEffect } from '../types.js';

/** Defaults of the per-server options. */
export const MCP_DEFAULTS = Object.freeze({
  /** MCP tools are code the service does not know; without better information, a call changes the world. */
  effect: 'side_effect' as ToolEffect,
  /** Per call, including a reconnect when the server had gone away. */
  timeoutMs: 60_000,
  /** Start-up, initialize handshake and listing the tools (`npx -y` may download the server first). */
  connectTimeoutMs: 30_000,
  /** Characters of text (and of serialized structured content) a call returns; the rest is cut. */
  maxOutputChars: 100_000,
});

/** The registry's tool-name rule. */
const TOOL_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_TOOL_NAME = 64;
/** Longest prefix, so that at least 29 characters are left for the tool's own name. */
const MAX_PREFIX = 32;
const SEPARATOR = '__';

/**
 * Whether calls of the server's tools need a person's approval, for the service's approval policy
 * (AGENTIC_APPROVAL_RULES): `always` or `never` for every tool of the server, or per MCP tool name
 * with `*` for the others. Tools it does not cover follow the policy's default (approval for tools
 * with side effects). This module only parses it; `McpConnection.approvalRules` turns it into rules.
 * @example {"delete_file": "always", "*": "never"}
 */
export type McpApproval = McpApprovalWhen | Record<string, McpApprovalWhen>;
export type McpApprovalWhen = 'always' | 'never';

interface McpServerCommon {
  /** As configured; used in logs and error messages. */
  name: string;
  /** The sanitised name; tools are registered as `<prefix>__<tool>`. */
  prefix: string;
  /** Effect of tools whose annotations say nothing about it (or when annotations are not trusted). */
  effect: ToolEffect;
  /** Whether `readOnlyHint`, `idempotentHint` and `destructiveHint` decide a tool's effect. */
  trustAnnotations: boolean;
  /** Effects per MCP tool name; they win over annotations and `effect`. */
  toolEffects: Record<string, ToolEffect>;
  /** The registry's timeout of each call. */
  timeoutMs: number;
  connectTimeoutMs: number;
  maxOutputChars: number;
  /** Only these tools (MCP names, or the sanitised part after the prefix) are registered; absent: all. */
  tools?: string[];
  /** Absent: the approval policy's default for every tool. */
  approval?: McpApproval;
  /** The tenants whose tasks see and may use the server's tools; absent: every tenant. */
  tenants?: string[];
}

/** A server started as a child process and spoken to over stdin/stdout. */
export interface McpStdioServerConfig extends McpServerCommon {
  transport: 'stdio';
  command: string;
  args: string[];
  /** The child's environment on top of a few harmless variables (PATH, HOME, USER, LOGNAME, SHELL, TERM). */
  env: Record<string, string>;
  cwd?: string;
}

/** A server reached over MCP streamable HTTP. */
export interface McpHttpServerConfig extends McpServerCommon {
  transport: 'http';
  url: string;
  /** Sent with every request, e.g. `Authorization`. */
  headers: Record<string, string>;
}

export type McpServerConfig = McpStdioServerConfig | McpHttpServerConfig;

const approvalWhen = z.enum(['always', 'never']);
const effectSchema = z.enum(['read_only', 'idempotent', 'side_effect']);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _');
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name');

const serverSchema = z
  .strictObject({
    name: z.string().min(1, 'name is required').max(MAX_PREFIX, `name is at most ${MAX_PREFIX} characters`),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    env: z.record(envName, z.string()).optional(),
    cwd: z.string().min(1).optional(),
    url: z.url({ protocol: /^https?$/, error: 'url must be an http:// or https:// URL' }).optional(),
    headers: z.record(headerName, z.string()).optional(),
    effect: effectSchema.optional(),
    trust_annotations: z.boolean().optional(),
    tool_effects: z.record(z.string(), effectSchema).optional(),
    timeout_ms: z.int().min(100).max(3_600_000).optional(),
    connect_timeout_ms: z.int().min(100).max(600_000).optional(),
    max_output_chars: z.int().min(100).max(10_000_000).optional(),
    tools: z.array(z.string().min(1)).optional(),
    approval: z.union([approvalWhen, z.record(z.string().min(1), approvalWhen)]).optional(),
    tenants: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'tenant names are 1-64 letters, digits, ".", "_" or "-"')).min(1).optional(),
  })
  .superRefine((server, ctx) => {
    if ((server.command === undefined) === (server.url === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "command" (a local server) or "url" (a remote one)' });
    }
    const stdioOnly = (['args', 'env', 'cwd'] as const).filter((k) => server[k] !== undefined);
    if (server.url !== undefined && stdioOnly.length > 0) {
      ctx.addIssue({ code: 'custom', message: `${stdioOnly.join(', ')} only apply to "command" servers` });
    }
    if (server.command !== undefined && server.headers !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'headers only apply to "url" servers' });
    }
  });

function configError(message: string): AppError {
  return new AppError('CONFIG_INVALID', `AGENTIC_MCP_SERVERS: ${message}`);
}

/**
 * Parses `AGENTIC_MCP_SERVERS`. Empty or absent means no servers. Anything else must be a JSON array
 * of server objects; a problem fails with CONFIG_INVALID naming the server and the field.
 * @example
 * parseMcpServers('[{"name":"files","command":"npx","args":["-y","@modelcontextprotocol/server-filesystem","/data"]}]')
 */
export function parseMcpServers(text: string | undefined): McpServerConfig[] {
  const trimmed = text?.trim() ?? '';
  if (!trimmed) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (err) {
    throw configError(`not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw configError('expected a JSON array of servers');
  const servers = parsed.map((entry, index) => parseServer(entry, index));
  checkUnique(servers);
  return servers;
}

function parseServer(entry: unknown, index: number): McpServerConfig {
  const label =
    entry && typeof entry === 'object' && typeof (entry as { name?: unknown }).name === 'string'
      ? `server "${(entry as { name: string }).name}"`
      : `server #${index + 1}`;
  const checked = serverSchema.safeParse(entry);
  if (!checked.success) throw configError(`${label}: ${z.prettifyError(checked.error).replace(/\n/g, '; ')}`);
  const s = checked.data;
  const prefix = sanitizePrefix(s.name);
  if (!prefix) throw configError(`${label}: name must start with a letter`);
  const common: McpServerCommon = {
    name: s.name,
    prefix,
    effect: s.effect ?? MCP_DEFAULTS.effect,
    trustAnnotations: s.trust_annotations ?? true,
    toolEffects: s.tool_effects ?? {},
    timeoutMs: s.timeout_ms ?? MCP_DEFAULTS.timeoutMs,
    connectTimeoutMs: s.connect_timeout_ms ?? MCP_DEFAULTS.connectTimeoutMs,
    maxOutputChars: s.max_output_chars ?? MCP_DEFAULTS.maxOutputChars,
    tools: s.tools,
    approval: s.approval,
    tenants: s.tenants,
  };
  if (s.url !== undefined) return { ...common, transport: 'http', url: s.url, headers: s.headers ?? {} };
  return { ...common, transport: 'stdio', command: s.command as string, args: s.args ?? [], env: s.env ?? {}, cwd: s.cwd };
}

/** Server names must stay distinct once sanitised, or their tools would collide. */
export function checkUnique(servers: readonly McpServerConfig[]): void {
  const seen = new Map<string, string>();
  for (const server of servers) {
    const other = seen.get(server.prefix);
    if (other !== undefined) {
      throw configError(`servers "${other}" and "${server.name}" both become the tool prefix "${server.prefix}"`);
    }
    seen.set(server.prefix, server.name);
  }
}

/** Lower case, `_` for anything but letters, digits and `_`; empty when it cannot start with a letter. */
export function sanitizePrefix(name: string): string {
  const clean = snake(name);
  return /^[a-z]/.test(clean) ? clean : '';
}

/** camelCase and kebab-case alike become snake_case: `getSum`, `get-sum` → `get_sum`. */
function snake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 6);
}

/**
 * Registry names for one server's tools, `<prefix>__<tool>`, keyed by MCP tool name. Names are a
 * pure function of the prefix and the set of tool names, so they stay put across restarts. A name
 * that would be too long is cut and given a short hash of the MCP name; names that would collide
 * after sanitising all get one, so none of them depends on the order the server lists them in.
 */
export function registryToolNames(prefix: string, mcpNames: readonly string[]): Map<string, string> {
  const budget = MAX_TOOL_NAME - prefix.length - SEPARATOR.length;
  const plain = new Map(mcpNames.map((n) => [n, snake(n)]));
  const counts = new Map<string, number>();
  for (const part of plain.values()) counts.set(part, (counts.get(part) ?? 0) + 1);
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const [mcpName, part] of plain) {
    const needsHash = part.length === 0 || part.length > budget || (counts.get(part) ?? 0) > 1;
    const tail = needsHash ? `${part.slice(0, budget - 7)}_${shortHash(mcpName)}` : part;
    const name = `${prefix}${SEPARATOR}${tail}`;
    if (!TOOL_NAME.test(name) || taken.has(name)) {
      throw configError(`cannot make a distinct tool name for "${mcpName}" of "${prefix}"`);
    }
    taken.add(name);
    names.set(mcpName, name);
  }
  return names;
}

/** Whether an allow-list entry names the tool: its MCP name or the sanitised part after the prefix. */
export function allowListed(server: McpServerConfig, mcpName: string, registryName: string): boolean {
  if (!server.tools) return true;
  const part = registryName.slice(server.prefix.length + SEPARATOR.length);
  return server.tools.some((entry) => entry === mcpName || entry === part);
}
