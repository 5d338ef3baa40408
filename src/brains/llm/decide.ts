/**
 * One turn of a step with a model: stream the model's answer, forwarding text to the engine as it
 * arrives (partial_output events), and turn the result into a Decision. Tool calls are passed on as
 * the model made them; the engine refuses tools the step may not use (TOOL_NOT_ALLOWED) and checks
 * arguments against the tool's schema (TOOL_INPUT_INVALID), and the model sees either as a failed
 * observation on its next turn.
 *
 * Empty answers (no text, no tool call): BRAIN_ERROR, retryable on the step's first attempt, so the
 * engine backs off and asks again once; not retryable from the second attempt on, so a model that
 * keeps answering nothing fails the step instead of looping.
 */
import { jsonSchema, streamText, tool, type LanguageModelUsage, type ModelMessage, type ToolSet } from 'ai';
import { AppError } from '../../errors.js';
import type { BrainCallContext, Decision, DecideRequest, ModelUsage, ToolCallRequest } from '../types.js';
import { callWithFallback, type CallPolicy, type ModelHandle } from './call.js';
import { withoutLocalRetry } from './errors.js';
import { decideMessages, decideSystemPrompt } from './prompts.js';

/** What one streamed turn produced. */
interface TurnReply {
  text: string;
  calls: ToolCallRequest[];
  usage: LanguageModelUsage | undefined;
  finishReason: string | undefined;
}

/** Decides the next action of a step; returns it with the model that answered and its usage. */
export async function decideWithModel(
  chain: ModelHandle[],
  request: DecideRequest,
  policy: CallPolicy,
  maxOutputTokens: number,
  ctx: BrainCallContext,
  usageOf: (handle: ModelHandle, usage: LanguageModelUsage | undefined) => ModelUsage,
): Promise<{ decision: Decision; handle: ModelHandle; usage: LanguageModelUsage | undefined }> {
  const system = decideSystemPrompt(request);
  const messages = decideMessages(request);
  const tools = toolSet(request);
  const { value: reply, handle } = await callWithFallback(chain, policy, ctx.signal, (h, signal) =>
    streamTurn(h, { system, messages, tools, maxOutputTokens }, signal, ctx.emitPartial),
  );
  return { decision: toDecision(reply, request, handle, () => usageOf(handle, reply.usage)), handle, usage: reply.usage };
}

/** The step's tools as the AI SDK wants them: description and JSON Schema input, no execute (the engine runs tools). */
function toolSet(request: DecideRequest): ToolSet {
  return Object.fromEntries(
    request.tools.map((t) => [t.name, tool({ description: t.description, inputSchema: jsonSchema(t.input_schema as Parameters<typeof jsonSchema>[0]) })]),
  );
}

interface TurnInput {
  system: string;
  messages: ModelMessage[];
  tools: ToolSet;
  maxOutputTokens: number;
}

/**
 * Streams one model call. An error before any text reaches the engine is thrown as is, so the
 * brain may retry or fall back; an error after text went out is final for the brain (a retry would
 * repeat the text) and left to the engine's step retry.
 */
async function streamTurn(handle: ModelHandle, input: TurnInput, signal: AbortSignal, emit: (text: string) => void): Promise<TurnReply> {
  // onError: the stream's error parts are handled below; the SDK's default would print them to stderr.
  const result = streamText({ model: handle.model, ...input, maxRetries: 0, abortSignal: signal, onError: () => undefined });
  const reply: TurnReply = { text: '', calls: [], usage: undefined, finishReason: undefined };
  try {
    for await (const part of result.fullStream) {
      if (part.type === 'text-delta') {
        reply.text += part.text;
        emit(part.text);
      } else if (part.type === 'tool-call') reply.calls.push({ tool: part.toolName, args: part.input });
      else if (part.type === 'error') throw part.error;
      else if (part.type === 'finish') {
        reply.usage = part.totalUsage;
        reply.finishReason = part.finishReason;
      }
    }
  } catch (err) {
    if (!reply.text || signal.aborted) throw err;
    throw streamCut(handle, err);
  }
  if (!reply.finishReason) throw reply.text ? streamCut(handle, undefined) : new Error('the stream ended without a finish');
  return reply;
}

function streamCut(handle: ModelHandle, cause: unknown): AppError {
  const message = cause instanceof Error ? `: ${cause.message}` : '';
  return withoutLocalRetry(
    new AppError('BRAIN_ERROR', `The answer of ${handle.spec.id} broke off after part of it had been streamed${message}`, {
      cause,
      retryable: true,
      details: { model: handle.spec.id, reason: 'stream_interrupted' },
    }),
  );
}

/** Tool calls win over text (the text is the model's reasoning); text alone is the step's output. */
function toDecision(reply: TurnReply, request: DecideRequest, handle: ModelHandle, usage: () => ModelUsage): Decision {
  const thought = reply.text.trim() || undefined;
  if (reply.calls.length > 0) return { type: 'tool_calls', ...(thought ? { thought } : {}), calls: reply.calls };
  if (thought) return { type: 'final', output: { text: reply.text.trim(), sources: [] } };
  throw new AppError('BRAIN_ERROR', `${handle.spec.id} returned an empty answer (no text, no tool call)`, {
    retryable: request.attempt <= 1,
    // The call was made and billed: its usage goes with the error (see BrainResult in ../types.ts).
    details: { model: handle.spec.id, reason: 'empty_answer', finish_reason: reply.finishReason ?? null, attempt: request.attempt, usage: usage() },
  });
}
