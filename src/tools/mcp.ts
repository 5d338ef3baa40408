/**
 * MCP servers' tools in the tool registry. Each configured server (`AGENTIC_MCP_SERVERS`, parsed by
 * `parseMcpServers`) is connected at start-up by `connectMcpServers`, over stdio (a child process)
 * or streamable HTTP; its tools become ordinary ToolDefinitions named `<server>__<tool>`, whose
 * arguments are checked against the server's JSON Schema before they are sent.
 *
 * Failures: a server that cannot be reached at start is skipped and reported in `problems` (the
 * service starts without its tools); a server that dies later fails the call in flight with
 * MCP_ERROR (retryable) and is reconnected on the next call; a tool that reports an error
 * (`isError`) fails with MCP_ERROR, not retryable, carrying the server's message.
 *
 * @example
 * const mcp = await connectMcpServers(parseMcpServers(config.mcpServers), { logger });
 * for (const tool of mcp.tools) registry.register(tool);
 * // … on shutdown
 * await mcp.close();
 */
import { toAppError } from '../errors.js';
import { checkUnique, type McpApprovalWhen, type McpServerConfig } from './mcp/config.js';
import { McpServerSession, type McpLogger, type McpServerStatus } from './mcp/session.js';
import { toolsOfServer, type McpToolDefinition, type McpToolInfo } from './mcp/tools.js';

export { MCP_DEFAULTS, parseMcpServers, registryToolNames } from './mcp/config.js';
export type { McpApproval, McpApprovalWhen, McpHttpServerConfig, McpServerConfig, McpStdioServerConfig } from './mcp/config.js';
export { mcpInputSchema, mcpToolEffect } from './mcp/schema.js';
export { mcpToolOutputSchema } from './mcp/result.js';
export type { McpToolOutput } from './mcp/result.js';
export type { McpLogger, McpServerStatus } from './mcp/session.js';
export type { McpToolDefinition, McpToolInfo, McpToolInput } from './mcp/tools.js';

export interface McpConnectOptions {
  /** Connection events, skipped servers and tools, and the servers' stderr (at debug level). */
  logger?: McpLogger;
}

/** Something about a server an operator should fix: it could not be reached, or its allow-list names a missing tool. */
export interface McpProblem {
  server: string;
  code: string;
  message: string;
}

/** An approval rule for one MCP tool. */
export interface McpApprovalRule {
  tool: string;
  when: McpApprovalWhen;
  /** The tenants the server is granted to; absent: every tenant. */
  tenants?: readonly string[];
}

/** The connected servers. Holds child processes and HTTP sessions: call `close()` on shutdown. */
export interface McpConnection {
  /** Every registered tool of every reachable server. */
  tools: McpToolDefinition[];
  /** Per tool: server, MCP name, effect, whether calls need approval, annotations. */
  catalog: McpToolInfo[];
  /**
   * The servers' `approval` settings as rules for the approval policy, one per tool they cover, in
   * the shape of AGENTIC_APPROVAL_RULES entries (append them after the operator's own rules).
   */
  approvalRules: McpApprovalRule[];
  /** Servers skipped at start and allow-list entries that matched nothing. */
  problems: McpProblem[];
  /** Each reachable server's connection right now. */
  status(): McpServerStatus[];
  /** Ends every session and stops every child process. */
  close(): Promise<void>;
}

/**
 * Connects to every server at once and lists their tools. Never fails because a server is down:
 * that server is logged, closed and listed in `problems`. Throws CONFIG_INVALID only for configs
 * whose names collide (configs from `parseMcpServers` never do).
 */
export async function connectMcpServers(
  configs: readonly McpServerConfig[],
  options: McpConnectOptions = {},
): Promise<McpConnection> {
  const logger = options.logger;
  checkUnique(configs);
  const sessions = configs.map((config) => new McpServerSession(config, logger));
  const outcomes = await Promise.allSettled(sessions.map((session) => session.connect()));
  const live: McpServerSession[] = [];
  const connection: McpConnection = {
    tools: [],
    catalog: [],
    approvalRules: [],
    problems: [],
    status: () => live.map((session) => session.status()),
    close: async () => {
      await Promise.all(sessions.map((session) => session.close()));
    },
  };
  for (const [index, session] of sessions.entries()) {
    const outcome = outcomes[index];
    const server = session.config.name;
    try {
      if (outcome?.status === 'rejected') throw outcome.reason;
      const { tools, catalog, unmatched } = toolsOfServer(session, logger);
      connection.tools.push(...tools);
      connection.catalog.push(...catalog);
      const tenants = session.config.tenants;
      for (const info of catalog) if (info.approval) connection.approvalRules.push({ tool: info.name, when: info.approval, ...(tenants ? { tenants } : {}) });
      live.push(session);
      for (const entry of unmatched) {
        const message = `MCP server "${server}" has no tool "${entry}" (named in its "tools" allow-list)`;
        logger?.warn({ mcp_server: server, tool: entry }, message);
        connection.problems.push({ server, code: 'CONFIG_INVALID', message });
      }
    } catch (err) {
      const error = toAppError(err, 'MCP_ERROR');
      logger?.warn({ mcp_server: server, err: error.message }, 'MCP server skipped: its tools are not available');
      connection.problems.push({ server, code: error.code, message: error.message });
      await session.close();
    }
  }
  return connection;
}
