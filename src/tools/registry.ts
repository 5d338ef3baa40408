import { z } from 'zod';
import { AppError, toAppError } from '../errors.js';
import type { ToolContext, ToolDefinition, ToolDescriptor } from './types.js';

const NAME = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * The set of tools the engine may call. `invoke` is the only way a tool runs: it validates the
 * arguments, enforces the timeout, links the caller's abort signal and validates the output, so
 * every caller (agent loop, direct invocation) gets the same guarantees and error codes.
 */
export class ToolRegistry {
  readonly #tools = new Map<string, ToolDefinition>();

  register<I, O>(tool: ToolDefinition<I, O>): this {
    if (!NAME.test(tool.name)) throw new AppError('CONFIG_INVALID', `Invalid tool name "${tool.name}"`);
    if (this.#tools.has(tool.name)) throw new AppError('CONFIG_INVALID', `Tool "${tool.name}" is registered twice`);
    this.#tools.set(tool.name, tool as ToolDefinition);
    return this;
  }

  /** Whether the tool exists (and, given a tenant, is granted to it: a tool not granted does not exist for that tenant). */
  has(name: string, tenantId?: string): boolean {
    const tool = this.#tools.get(name);
    return tool !== undefined && grantedTo(tool, tenantId);
  }

  /** The tool, or TOOL_NOT_FOUND (also for a tenant it is not granted to). */
  get(name: string, tenantId?: string): ToolDefinition {
    const tool = this.#tools.get(name);
    if (!tool || !grantedTo(tool, tenantId)) throw new AppError('TOOL_NOT_FOUND', `No tool named "${name}"`, { details: { tool: name } });
    return tool;
  }

  names(tenantId?: string): string[] {
    return [...this.#tools.values()].filter((t) => grantedTo(t, tenantId)).map((t) => t.name);
  }

  /** The tool as the tenant sees it (its own data sources, for tools whose description depends on them). */
  describe(name: string, tenantId?: string): ToolDescriptor {
    return describeTool(this.get(name, tenantId), tenantId);
  }

  list(tenantId?: string): ToolDescriptor[] {
    return [...this.#tools.values()].filter((t) => grantedTo(t, tenantId)).map((t) => describeTool(t, tenantId));
  }

  /**
   * Runs a tool. Invalid arguments fail with TOOL_INPUT_INVALID before the tool sees them; a call
   * past its timeout fails with TOOL_TIMEOUT; an abort from the caller propagates as is.
   */
  async invoke(name: string, args: unknown, ctx: ToolContext): Promise<unknown> {
    const tool = this.get(name, ctx.tenantId);
    const parsed = tool.input.safeParse(args);
    if (!parsed.success) {
      throw new AppError('TOOL_INPUT_INVALID', `Invalid arguments for ${name}: ${z.prettifyError(parsed.error)}`, {
        details: { tool: name, issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
      });
    }
    ctx.signal.throwIfAborted();
    const timeout = AbortSignal.timeout(tool.timeoutMs);
    const signal = AbortSignal.any([ctx.signal, timeout]);
    let result: unknown;
    try {
      result = await raceAbort(tool.run(parsed.data, { ...ctx, signal }), signal);
    } catch (err) {
      if (timeout.aborted && !ctx.signal.aborted) {
        throw new AppError('TOOL_TIMEOUT', `${name} did not finish within ${tool.timeoutMs} ms`, {
          details: { tool: name, timeout_ms: tool.timeoutMs },
          cause: err,
        });
      }
      if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
      if (err instanceof AppError) throw err;
      throw toAppError(err, 'TOOL_FAILED');
    }
    const checked = tool.output.safeParse(result);
    if (!checked.success) {
      throw new AppError('TOOL_OUTPUT_INVALID', `${name} returned output that does not match its schema`, {
        details: { tool: name, issues: checked.error.issues.slice(0, 10).map((i) => i.message) },
      });
    }
    return checked.data;
  }
}

/** Resolves or rejects with the promise, or rejects as soon as the signal aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  // The tool's own promise may still reject after the race is decided; that must not go unhandled.
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function grantedTo(tool: ToolDefinition, tenantId: string | undefined): boolean {
  return tenantId === undefined || tool.tenants === undefined || tool.tenants.includes(tenantId);
}

function describeTool(tool: ToolDefinition, tenantId?: string): ToolDescriptor {
  const seen = tenantId !== undefined && tool.forTenant ? tool.forTenant(tenantId) : tool;
  return {
    name: tool.name,
    description: seen.description,
    input_schema: z.toJSONSchema(seen.input, { unrepresentable: 'any', io: 'input' }),
    output_schema: z.toJSONSchema(tool.output, { unrepresentable: 'any' }),
    timeout_ms: tool.timeoutMs,
    effect: tool.effect,
    read_only: tool.effect === 'read_only',
    idempotent: tool.effect !== 'side_effect',
    side_effects: tool.effect !== 'read_only',
  };
}
