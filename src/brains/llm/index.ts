/**
 * Model brains: plans and agent turns made by a language model through the Vercel AI SDK (OpenAI,
 * Anthropic, and OpenAI-compatible servers such as Ollama, vLLM, llama.cpp server and LM Studio),
 * chosen by `AGENTIC_MODEL=provider:model`. See docs/models.md.
 *
 * Each role (the planner and each agent) has a chain of models: its own (`AGENTIC_MODEL_<ROLE>`) or
 * the default one, then `AGENTIC_MODEL_FALLBACKS`. Calls go down the chain past models whose
 * circuit breaker is open (call.ts, breaker.ts). Every call's tokens and cost are reported with
 * the result (prices.ts).
 */
import type { LanguageModelUsage } from 'ai';
import { MODEL_ROLES, ROLE_MODEL_KEYS, type Config, type ModelPrice, type ModelRole, type ModelSpec } from '../../config/index.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Brain, BreakerStatus, BrainCallContext, BrainResult, CallEstimate, DecideRequest, Decision, JudgeRequest, ModelUsage, PlanProposal, PlanRequest, ReplanRequest } from '../types.js';
import { InProcessCircuitBreakers, type CircuitBreakers } from './breaker.js';
import type { CallPolicy, ModelHandle } from './call.js';
import { decideWithModel } from './decide.js';
import { judgeWithModel } from './judge.js';
import { MAX_PLAN_REPAIRS, planWithModel } from './plan.js';
import { DEFAULT_PRICES, findPrice, usageOf } from './prices.js';
import { createLanguageModel } from './providers.js';

export { DEFAULT_PRICES, findPrice, usageOf } from './prices.js';
export { InProcessCircuitBreakers, type BreakerState, type BreakerStatus, type CircuitBreakers } from './breaker.js';
export { RedisCircuitBreakers, type RedisBreakerOptions } from './redis-breaker.js';
export { MAX_PLAN_REPAIRS, planSchema } from './plan.js';

/** A Retry-After longer than this moves to the next model rather than waiting, ms. */
const MAX_RETRY_AFTER_MS = 30_000;

export interface ModelBrainOptions {
  logger?: Logger;
  /** Breaker state: in-process unless given; compose.ts passes `RedisCircuitBreakers` when Redis is configured. */
  breakers?: CircuitBreakers;
}

/** A brain backed by language models. Its name is the default model, e.g. `openai:gpt-4.1-mini`. */
export class ModelBrain implements Brain {
  readonly name: string;
  readonly breakers: CircuitBreakers;
  readonly #config: Config;
  readonly #policy: CallPolicy;
  readonly #prices: Readonly<Record<string, ModelPrice>>;
  readonly #handles = new Map<string, ModelHandle>();
  readonly #unpriced = new Set<string>();
  readonly #logger?: Logger;

  constructor(config: Config, options: ModelBrainOptions = {}) {
    if (!config.model) throw new AppError('CONFIG_INVALID', 'AGENTIC_MODEL must be set to use a model brain');
    this.name = config.model.id;
    this.#config = config;
    this.#logger = options.logger;
    this.#prices = { ...DEFAULT_PRICES, ...(config.prices ?? {}) };
    this.breakers = options.breakers ?? new InProcessCircuitBreakers({ failureThreshold: config.modelBreakerFailures, cooldownMs: config.modelBreakerCooldownMs });
    this.#policy = {
      attempts: config.modelAttempts,
      baseMs: config.retryBaseMs,
      capMs: config.retryCapMs,
      timeoutMs: config.modelTimeoutMs,
      maxRetryAfterMs: MAX_RETRY_AFTER_MS,
      breakers: this.breakers,
    };
    if (config.modelJudge) {
      this.judge = (request, ctx) => {
        const usage = (h: ModelHandle, u: LanguageModelUsage | undefined) => this.#usage(h, u);
        return judgeWithModel(this.chain(undefined), request, { policy: this.#policy, maxOutputTokens: this.#outputLimit(ctx), usage }, ctx.signal);
      };
    }
  }

  /** The goal check's judge (judge.ts), when AGENTIC_MODEL_JUDGE is on. */
  readonly judge?: Brain['judge'];

  /** Asks the planner's model chain for a plan, repairing invalid ones (plan.ts). */
  async plan(request: PlanRequest, ctx: BrainCallContext): Promise<BrainResult<PlanProposal>> {
    const usage = (h: ModelHandle, u: LanguageModelUsage | undefined) => this.#usage(h, u);
    return planWithModel(this.chain('planner'), request, { policy: this.#policy, maxOutputTokens: this.#outputLimit(ctx), usage }, ctx.signal);
  }

  /** Asks the planner's model chain for a revised plan, given what the earlier steps did (prompts.ts). */
  async replan(request: ReplanRequest, ctx: BrainCallContext): Promise<BrainResult<PlanProposal>> {
    return this.plan(request, ctx);
  }

  /** Asks the agent's model chain for the step's next action, streaming its text (decide.ts). */
  async decide(request: DecideRequest, ctx: BrainCallContext): Promise<BrainResult<Decision>> {
    const usageOf = (h: ModelHandle, u: LanguageModelUsage | undefined) => this.#usage(h, u);
    const { decision, handle, usage } = await decideWithModel(this.chain(roleOf(request)), request, this.#policy, this.#outputLimit(ctx), ctx, usageOf);
    return { value: decision, usage: this.#usage(handle, usage) };
  }

  /**
   * The worst case of a call, for budgets: the prompt estimated at four characters a token, the
   * output limit, the plan repairs a planning call may take, and the dearest model of the chain.
   */
  estimate(kind: 'plan' | 'decide' | 'judge', request: PlanRequest | DecideRequest | JudgeRequest): CallEstimate {
    const chain = kind === 'plan' ? this.chain('planner') : kind === 'judge' ? this.chain(undefined) : this.chain(roleOf(request as DecideRequest));
    const prices = chain.map((h) => findPrice(h.spec.model, this.#prices) ?? { input: 0, output: 0 });
    return {
      prompt_tokens: PROMPT_OVERHEAD_TOKENS + Math.ceil(JSON.stringify(request).length / 4),
      max_output_tokens: this.#config.modelMaxOutputTokens,
      calls: kind === 'plan' ? MAX_PLAN_REPAIRS + 1 : 1,
      usd_per_input_token: Math.max(...prices.map((p) => p.input)) / 1e6,
      usd_per_output_token: Math.max(...prices.map((p) => p.output)) / 1e6,
    };
  }

  /** The breaker of every model of every role's chain, each model once, in chain order. */
  async breakerStates(): Promise<BreakerStatus[]> {
    const roles: Array<ModelRole | undefined> = [undefined, ...MODEL_ROLES];
    const ids = [...new Set(roles.flatMap((role) => this.#chainSpecs(role).map((s) => s.id)))];
    return this.breakers.states(ids);
  }

  /** The output limit of a call: the configured one, lowered to what the task's budget leaves. */
  #outputLimit(ctx: BrainCallContext): number {
    return Math.min(this.#config.modelMaxOutputTokens, ctx.maxOutputTokens ?? Number.POSITIVE_INFINITY);
  }

  /** The models a role calls, in order: its own or the default, then the fallbacks (no repeats). */
  chain(role: ModelRole | undefined): ModelHandle[] {
    return this.#chainSpecs(role).map((spec) => this.#handle(spec));
  }

  #chainSpecs(role: ModelRole | undefined): ModelSpec[] {
    const own = role ? (this.#config[ROLE_MODEL_KEYS[role]] as ModelSpec | undefined) : undefined;
    const specs = [own ?? this.#config.model!, ...this.#config.modelFallbacks];
    const ids = [...new Set(specs.map((s) => s.id))];
    return ids.map((id) => specs.find((s) => s.id === id)!);
  }

  #handle(spec: ModelSpec): ModelHandle {
    let h = this.#handles.get(spec.id);
    if (!h) this.#handles.set(spec.id, (h = { spec, model: createLanguageModel(spec, this.#config) }));
    return h;
  }

  #usage(handle: ModelHandle, usage: LanguageModelUsage | undefined): ModelUsage {
    if (!findPrice(handle.spec.model, this.#prices) && !this.#unpriced.has(handle.spec.id)) {
      this.#unpriced.add(handle.spec.id);
      this.#logger?.warn({ model: handle.spec.id }, `No price known for ${handle.spec.id}: its calls are counted at cost 0 (set AGENTIC_PRICES to price it)`);
    }
    return usageOf(handle.spec.id, handle.spec.model, usage, this.#prices);
  }
}

/** Instructions and framing around the request in a prompt, tokens (a generous estimate). */
const PROMPT_OVERHEAD_TOKENS = 600;

function roleOf(request: DecideRequest): ModelRole | undefined {
  return (MODEL_ROLES as readonly string[]).includes(request.agent.name) ? (request.agent.name as ModelRole) : undefined;
}

/** Creates the model brain of `config.model` (which must be set). */
export function createModelBrain(config: Config, options: ModelBrainOptions = {}): ModelBrain {
  return new ModelBrain(config, options);
}
