/**
 * An MCP server's tools as registry tools: `<prefix>__<tool>`, the server's input schema, an effect
 * from the operator's settings and the tool's annotations, and a call through the server's session.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../../errors.js';
import type { ToolDefinition, ToolEffect } from '../types.js';
import { allowListed, registryToolNames, type McpApprovalWhen } from './config.js';
import { errorText, mcpToolOutputSchema, toToolOutput, type McpToolOutput } from './result.js';
import { approvalOf, mcpInputSchema, mcpToolEffect } from './schema.js';
import type { McpLogger, McpServerSession } from './session.js';

/** Longest description passed on; MCP servers can describe their tools at any length. */
const MAX_DESCRIPTION = 4000;

/** What the service knows about one registered MCP tool beyond its ToolDefinition. */
export interface McpToolInfo {
  /** The registry name, `<prefix>__<tool>`. */
  name: string;
  /** The server's configured name. */
  server: string;
  /** The tool's name on the server. */
  mcpName: string;
  effect: ToolEffect;
  /** From the server's `approval` setting; absent when it leaves the tool to the approval policy's default. */
  approval?: McpApprovalWhen;
  /** The tool's MCP annotations as the server sent them (hints, not guarantees). */
  annotations?: Record<string, unknown>;
}

export type McpToolInput = Record<string, unknown>;
export type McpToolDefinition = ToolDefinition<McpToolInput, McpToolOutput>;

export interface ServerTools {
  tools: McpToolDefinition[];
  catalog: McpToolInfo[];
  /** Allow-list entries that named no tool of the server. */
  unmatched: string[];
}

/** Registry tools for the tools the session listed, minus those the allow-list leaves out. */
export function toolsOfServer(session: McpServerSession, logger?: McpLogger): ServerTools {
  const config = session.config;
  const callable = session.tools.filter((tool) => {
    // Tools that only run as MCP tasks need the experimental task API; a plain call is refused.
    if (tool.execution?.taskSupport !== 'required') return true;
    logger?.info({ mcp_server: config.name, tool: tool.name }, 'MCP tool skipped: it only runs as a task');
    return false;
  });
  const names = registryToolNames(config.prefix, callable.map((t) => t.name));
  const result: ServerTools = { tools: [], catalog: [], unmatched: [] };
  const matched = new Set<string>();
  for (const tool of callable) {
    const name = names.get(tool.name) as string;
    if (!allowListed(config, tool.name, name)) continue;
    matched.add(tool.name).add(name.slice(config.prefix.length + 2));
    const effect = mcpToolEffect(tool.annotations, {
      fallback: config.effect,
      trustAnnotations: config.trustAnnotations,
      override: config.toolEffects[tool.name],
    });
    result.tools.push(toolDefinition(session, tool, name, effect));
    result.catalog.push({
      name,
      server: config.name,
      mcpName: tool.name,
      effect,
      ...pickApproval(approvalOf(config.approval, tool.name)),
      ...(tool.annotations ? { annotations: { ...tool.annotations } } : {}),
    });
  }
  result.unmatched = (config.tools ?? []).filter((entry) => !matched.has(entry));
  return result;
}

function toolDefinition(session: McpServerSession, tool: Tool, name: string, effect: ToolEffect): McpToolDefinition {
  const config = session.config;
  return {
    name,
    description: describe(tool, config.name),
    input: mcpInputSchema(tool.inputSchema),
    output: mcpToolOutputSchema,
    timeoutMs: config.timeoutMs,
    effect,
    ...(config.tenants ? { tenants: config.tenants } : {}),
    async run(input, ctx) {
      const result = await session.callTool(tool.name, input, ctx.signal, config.timeoutMs);
      if (result.isError) {
        // The server ran the tool and it failed: the model sees a failed observation with the
        // server's words. Running the same call again would fail the same way.
        throw new AppError('MCP_ERROR', `${name} failed: ${errorText(result)}`, {
          retryable: false,
          details: { server: config.name, tool: tool.name, is_error: true },
        });
      }
      return toToolOutput(result, { toolName: name, maxOutputChars: config.maxOutputChars, ctx });
    },
  };
}

function describe(tool: Tool, server: string): string {
  const text = (tool.description ?? '').trim() || tool.title?.trim() || `The "${tool.name}" tool.`;
  const full = `${text} (MCP server "${server}")`;
  return full.length > MAX_DESCRIPTION ? `${text.slice(0, MAX_DESCRIPTION - 40)}… (MCP server "${server}")` : full;
}

function pickApproval(when: McpApprovalWhen | undefined): { approval?: McpApprovalWhen } {
  return when === undefined ? {} : { approval: when };
}
