/**
 * What a built-in step handler gets and returns. A handler looks at the observations so far and
 * either asks for more tool calls or finalizes; decide() turns that into a Decision.
 */
import type { DecideRequest, Observation, Source, StepOutput, ToolCallRequest } from '../types.js';
import type { Finding } from './findings.js';

/** Inputs of one turn of a step handler. */
export interface StepInput<P> {
  request: DecideRequest;
  params: P;
  /** Every observation of this attempt, oldest first. */
  observations: Observation[];
  /** True while another tool turn fits in the iteration budget; handlers finalize otherwise. */
  canCall: boolean;
  /** Tools this step may call, by name. */
  available: ReadonlySet<string>;
  /** Tools the plan meant to call first that were not called (not offered to the step, or no turns left). */
  notRun: string[];
}

/** A handler's answer for this turn. */
export type StepOutcome =
  | { type: 'calls'; thought: string; calls: ToolCallRequest[] }
  | { type: 'final'; thought: string; output: StepOutput };

/** A final outcome; `data` is the step's finding for later steps. */
export function finalOutcome(thought: string, text: string, sources: Source[], data?: Finding): StepOutcome {
  const output: StepOutput = data === undefined ? { text, sources } : { text, sources, data };
  return { type: 'final', thought, output };
}

/** A follow-up tool turn. */
export function callOutcome(thought: string, calls: ToolCallRequest[]): StepOutcome {
  return { type: 'calls', thought, calls };
}

/** A "Problems" paragraph listing failed calls, or '' when nothing failed. Failures are never hidden. */
export function problemsSection(failures: readonly string[]): string {
  if (failures.length === 0) return '';
  return `**Problems:**\n\n${failures.map((f) => `- ${f}`).join('\n')}`;
}

/** A sentence saying which planned tools did not run, or ''. */
export function notRunNote(tools: readonly string[], consequence: string): string {
  if (tools.length === 0) return '';
  const names = tools.map((t) => `\`${t}\``).join(', ');
  return `${names} could not be called in this step (not offered to it, or no turns left), so ${consequence}.`;
}

/** Joins the non-empty blocks of a step's text with blank lines. */
export function joinBlocks(blocks: ReadonlyArray<string | null | undefined | false>): string {
  return blocks.filter((b): b is string => typeof b === 'string' && b.trim().length > 0).join('\n\n');
}
