/**
 * A brain driven by functions instead of a model, with a fixed latency per call. Benchmarks use it to
 * model a provider's latency while exercising the real engine and tools; tests use it to script
 * exact sequences of decisions (retries, long loops, parallel plans).
 */
import { sleep } from '../engine/retry.js';
import type { Brain, BrainCallContext, BrainResult, CallEstimate, DecideRequest, Decision, JudgeRequest, PlanProposal, PlanRequest, ReplanRequest, Verdict } from './types.js';

export interface ScriptedBrainOptions {
  name?: string;
  /** Delay of every plan and decide call, ms (or a function of the request). */
  latencyMs?: number | ((kind: 'plan' | 'decide', request: PlanRequest | DecideRequest) => number);
  plan(request: PlanRequest): PlanProposal | Promise<PlanProposal>;
  /** Revised plans; none when absent (tasks then fail as they are, like with the built-in brain). */
  replan?: (request: ReplanRequest) => PlanProposal | Promise<PlanProposal>;
  decide(request: DecideRequest, ctx: BrainCallContext): Decision | Promise<Decision>;
  /** Tokens and cost each call reports (zero when absent), e.g. to exercise budgets. */
  usage?: (kind: 'plan' | 'decide', ctx: BrainCallContext) => { input_tokens: number; output_tokens: number; cost_usd: number };
  /** The worst case the brain declares for budgets; none when absent (a brain that costs nothing). */
  estimate?: CallEstimate;
  /** A judge of goals; none when absent (outputs then get the deterministic checks only). */
  judge?: (request: JudgeRequest) => Verdict | Promise<Verdict>;
}

export class ScriptedBrain implements Brain {
  readonly name: string;

  /** Present only when the options declare a worst case (a brain without it is free). */
  readonly estimate?: Brain['estimate'];
  /** Present only when the options give a judge. */
  readonly judge?: Brain['judge'];
  /** Present only when the options give revised plans. */
  readonly replan?: Brain['replan'];

  constructor(private readonly options: ScriptedBrainOptions) {
    this.name = options.name ?? 'scripted';
    const worst = options.estimate;
    if (worst) this.estimate = () => worst;
    const judge = options.judge;
    if (judge) this.judge = async (request, ctx) => ({ value: await judge(request), usage: this.#usage('decide', ctx) });
    const replan = options.replan;
    if (replan) {
      this.replan = async (request, ctx) => {
        await this.#wait('plan', request, ctx.signal);
        return { value: await replan(request), usage: this.#usage('plan', ctx) };
      };
    }
  }

  async plan(request: PlanRequest, ctx: BrainCallContext): Promise<BrainResult<PlanProposal>> {
    await this.#wait('plan', request, ctx.signal);
    return { value: await this.options.plan(request), usage: this.#usage('plan', ctx) };
  }

  async decide(request: DecideRequest, ctx: BrainCallContext): Promise<BrainResult<Decision>> {
    await this.#wait('decide', request, ctx.signal);
    return { value: await this.options.decide(request, ctx), usage: this.#usage('decide', ctx) };
  }

  async #wait(kind: 'plan' | 'decide', request: PlanRequest | DecideRequest, signal: AbortSignal): Promise<void> {
    const l = this.options.latencyMs;
    const ms = typeof l === 'function' ? l(kind, request) : (l ?? 0);
    if (ms > 0) await sleep(ms, signal);
  }

  #usage(kind: 'plan' | 'decide', ctx: BrainCallContext) {
    const u = this.options.usage?.(kind, ctx) ?? { input_tokens: 0, output_tokens: 0, cost_usd: 0 };
    return { model: this.name, cached_tokens: 0, ...u };
  }
}
