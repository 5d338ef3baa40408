/**
 * One MCP server as the service sees it: an SDK client over stdio or streamable HTTP that is
 * (re)connected on demand. A server that dies or drops the session is noticed when its process
 * closes or a request fails at the transport; the call in flight fails with MCP_ERROR (retryable)
 * and the next call connects afresh.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { McpServerConfig } from './config.js';

/** How the service introduces itself to servers. */
const CLIENT_INFO = { name: 'agentic', version: '0.1.0' };
/** Pages of `tools/list` followed before giving up on a server that never stops paginating. */
const MAX_LIST_PAGES = 100;
/** Lines of a child's stderr kept to explain why it failed. */
const STDERR_TAIL_LINES = 20;
const STDERR_LINE_CHARS = 500;
/** The SDK's own request timeout sits behind the registry's, so the clearer TOOL_TIMEOUT comes first. */
const SDK_TIMEOUT_SLACK_MS = 5_000;
/** How long close() waits for an HTTP server to end the session. */
const TERMINATE_TIMEOUT_MS = 2_000;

/** The logger methods this module uses; a pino logger fits. */
export type McpLogger = Pick<Logger, 'debug' | 'info' | 'warn'>;

/** What `McpConnection.status()` tells about a server. */
export interface McpServerStatus {
  name: string;
  transport: 'stdio' | 'http';
  /** Whether a session is open right now (it is opened again on the next call if not). */
  connected: boolean;
  /** The child's process id, for stdio servers that are running. */
  pid?: number;
  /** Successful (re)connections so far. */
  connects: number;
}

interface Live {
  client: Client;
  transport: Transport;
}

export class McpServerSession {
  readonly config: McpServerConfig;
  readonly #logger: McpLogger | undefined;
  #live: Live | undefined;
  #connecting: Promise<Live> | undefined;
  #closed = false;
  #connects = 0;
  #tools: Tool[] = [];
  readonly #stderrTail: string[] = [];
  #stderrPartial = '';

  constructor(config: McpServerConfig, logger?: McpLogger) {
    this.config = config;
    this.#logger = logger;
  }

  /** The tools listed on the latest connect (every page of them). */
  get tools(): Tool[] {
    return this.#tools;
  }

  status(): McpServerStatus {
    const transport = this.#live?.transport;
    const pid = transport instanceof StdioClientTransport ? (transport.pid ?? undefined) : undefined;
    return { name: this.config.name, transport: this.config.transport, connected: !!this.#live, pid, connects: this.#connects };
  }

  /** Connects (once for concurrent callers) and lists the tools; fails with MCP_ERROR. */
  async connect(): Promise<Client> {
    if (this.#closed) throw this.#error(`MCP server "${this.config.name}" is closed`, { retryable: false });
    if (this.#live) return this.#live.client;
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return (await this.#connecting).client;
  }

  /**
   * Calls a tool. A transport failure (the process died, the connection or the session was lost)
   * drops the session so the next call reconnects; an HTTP 404, which the protocol uses for an
   * unknown session and which means the request was not run, is retried once on a new session.
   */
  async callTool(name: string, args: Record<string, unknown>, signal: AbortSignal, timeoutMs: number): Promise<CallToolResult> {
    for (let attempt = 1; ; attempt += 1) {
      const client = await this.connect();
      signal.throwIfAborted();
      try {
        const options = { signal, timeout: timeoutMs + SDK_TIMEOUT_SLACK_MS };
        return (await client.callTool({ name, arguments: args }, undefined, options)) as CallToolResult;
      } catch (err) {
        if (signal.aborted) throw signal.reason ?? err;
        if (!isTransportFailure(err)) throw this.#callError(err, name);
        await this.#drop(client, err);
        const sessionGone = err instanceof StreamableHTTPError && err.code === 404;
        if (!sessionGone || attempt > 1) throw this.#callError(err, name);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#connecting?.catch(() => undefined);
    const live = this.#live;
    this.#live = undefined;
    if (!live) return;
    if (live.transport instanceof StreamableHTTPClientTransport) {
      const transport = live.transport;
      // Polite, not required: a server that is gone or slow must not hold up shutdown.
      await Promise.race([transport.terminateSession().catch(() => undefined), delay(TERMINATE_TIMEOUT_MS)]);
    }
    await live.client.close().catch(() => undefined);
  }

  async #open(): Promise<Live> {
    const transport = this.#transport();
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    client.onerror = (err) => this.#logger?.debug({ mcp_server: this.config.name, err: err.message }, 'MCP transport error');
    const started = Date.now();
    try {
      await client.connect(transport, { timeout: this.config.connectTimeoutMs });
      const left = Math.max(1, this.config.connectTimeoutMs - (Date.now() - started));
      this.#tools = await listAllTools(client, left);
    } catch (err) {
      await client.close().catch(() => undefined);
      throw this.#connectError(err);
    }
    if (this.#closed) {
      await client.close().catch(() => undefined);
      throw this.#error(`MCP server "${this.config.name}" is closed`, { retryable: false });
    }
    const live = { client, transport };
    client.onclose = () => {
      if (this.#live !== live) return;
      this.#live = undefined;
      if (!this.#closed) this.#logger?.warn({ mcp_server: this.config.name }, 'MCP server connection closed; reconnecting on the next call');
    };
    this.#live = live;
    this.#connects += 1;
    this.#logger?.info({ mcp_server: this.config.name, tools: this.#tools.length, connects: this.#connects }, 'MCP server connected');
    return live;
  }

  #transport(): Transport {
    const config = this.config;
    if (config.transport === 'http') {
      return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers } });
    }
    // The SDK adds PATH, HOME, USER, LOGNAME, SHELL and TERM from our environment and nothing else,
    // so the service's own secrets (database URLs, API keys) never reach the child.
    const transport = new StdioClientTransport({
      command: config.command,
      args: config.args,
      env: config.env,
      cwd: config.cwd,
      stderr: 'pipe',
    });
    this.#stderrTail.length = 0;
    this.#stderrPartial = '';
    transport.stderr?.on('data', (chunk: Buffer) => this.#onStderr(chunk));
    return transport;
  }

  #onStderr(chunk: Buffer): void {
    // A line may arrive in pieces; hold the unfinished end until the rest comes (or it grows too long).
    const lines = (this.#stderrPartial + chunk.toString('utf8')).split('\n');
    const rest = lines.pop() ?? '';
    this.#stderrPartial = rest.length > STDERR_LINE_CHARS ? '' : rest;
    if (rest.length > STDERR_LINE_CHARS) lines.push(rest);
    for (const line of lines) {
      const trimmed = line.trimEnd().slice(0, STDERR_LINE_CHARS);
      if (!trimmed) continue;
      this.#stderrTail.push(trimmed);
      if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
      this.#logger?.debug({ mcp_server: this.config.name, stderr: trimmed }, 'MCP server stderr');
    }
  }

  async #drop(client: Client, err: unknown): Promise<void> {
    if (this.#live?.client === client) this.#live = undefined;
    this.#logger?.warn({ mcp_server: this.config.name, err: messageOf(err) }, 'MCP server unreachable; reconnecting on the next call');
    await client.close().catch(() => undefined);
  }

  #connectError(err: unknown): AppError {
    const where = this.config.transport === 'http' ? this.config.url : this.config.command;
    if (this.#stderrPartial) this.#onStderr(Buffer.from('\n'));
    const tail = this.#stderrTail.length > 0 ? ` (stderr: ${this.#stderrTail.slice(-5).join(' | ')})` : '';
    return this.#error(`Cannot connect to MCP server "${this.config.name}" (${where}): ${messageOf(err)}${tail}`, {
      cause: err,
    });
  }

  #callError(err: unknown, tool: string): AppError {
    const code = err instanceof McpError || err instanceof StreamableHTTPError ? err.code : undefined;
    return this.#error(`MCP server "${this.config.name}" failed on ${tool}: ${messageOf(err)}`, {
      cause: err,
      retryable: retryable(err),
      details: { tool, ...(code === undefined ? {} : { mcp_code: code }) },
    });
  }

  #error(message: string, options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {}): AppError {
    return new AppError('MCP_ERROR', message, {
      cause: options.cause,
      retryable: options.retryable,
      details: { server: this.config.name, ...options.details },
    });
  }
}

/** Every page of `tools/list`. */
async function listAllTools(client: Client, timeoutMs: number): Promise<Tool[]> {
  const tools: Tool[] = [];
  const signal = AbortSignal.timeout(timeoutMs);
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
    const result = await client.listTools(cursor === undefined ? undefined : { cursor }, { signal, timeout: timeoutMs });
    tools.push(...result.tools);
    cursor = result.nextCursor;
    if (!cursor) return tools;
  }
  throw new Error(`tools/list returned more than ${MAX_LIST_PAGES} pages`);
}

/**
 * Whether the error came from the way to the server rather than from the server: then the
 * session is dropped. JSON-RPC errors the server sent back (bad params, unknown tool, internal
 * error) and timeouts leave it open.
 */
export function isTransportFailure(err: unknown): boolean {
  if (err instanceof McpError) return err.code === ErrorCode.ConnectionClosed;
  // A result that does not match the protocol's schema came through the transport intact.
  if (err instanceof Error && /ZodError/.test(err.name)) return false;
  return true;
}

/** Requests the server rejected as malformed will fail again; anything else may work next time. */
function retryable(err: unknown): boolean {
  if (err instanceof McpError) {
    return ![ErrorCode.InvalidParams, ErrorCode.InvalidRequest, ErrorCode.MethodNotFound, ErrorCode.ParseError].includes(err.code);
  }
  if (err instanceof StreamableHTTPError) return err.code !== 401 && err.code !== 403;
  return true;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
