/**
 * A brain driven by functions instead of a model, with a fixed latency per call. Benchmarks use it to
 * model a provider's latency while exercising the real engine and tools; tests use it to script
 * exact sequences of decisions (retries, long loops, parallel plans).
 */
import { sleep } from '../engine/retry.js';
import type { Brain, BrainCallContext, BrainResult, DecideRequest, Decision, PlanProposal, PlanRequest } from './types.js';

export interface ScriptedBrainOptions {
  name?: string;
  /** Delay of every plan and decide call, ms (or a function of the request). */
  latencyMs?: number | ((kind: 'plan' | 'decide', request: PlanRequest | DecideRequest) => number);
  plan(request: PlanRequest): PlanProposal | Promise<PlanProposal>;
  decide(request: DecideRequest, ctx: BrainCallContext): Decision | Promise<Decision>;
}

export class ScriptedBrain implements Brain {
  readonly name: string;

  constructor(private readonly options: ScriptedBrainOptions) {
    this.name = options.name ?? 'scripted';
  }

  async plan(request: PlanRequest, ctx: BrainCallContext): Promise<BrainResult<PlanProposal>> {
    await this.#wait('plan', request, ctx.signal);
    return { value: await this.options.plan(request), usage: this.#usage() };
  }

  async decide(request: DecideRequest, ctx: BrainCallContext): Promise<BrainResult<Decision>> {
    await this.#wait('decide', request, ctx.signal);
    return { value: await this.options.decide(request, ctx), usage: this.#usage() };
  }

  async #wait(kind: 'plan' | 'decide', request: PlanRequest | DecideRequest, signal: AbortSignal): Promise<void> {
    const l = this.options.latencyMs;
    const ms = typeof l === 'function' ? l(kind, request) : (l ?? 0);
    if (ms > 0) await sleep(ms, signal);
  }

  #usage() {
    return { model: this.name, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0 };
  }
}
