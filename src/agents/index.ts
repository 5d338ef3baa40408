/**
 * The agents a plan may assign steps to. An agent is a role: instructions for the brain and the
 * tools it may use. The tool lists name tools that may not be configured; the engine offers an agent
 * the intersection of its list and the registry.
 */
export interface AgentDefinition {
  name: string;
  description: string;
  instructions: string;
  /** Tools this agent may call. */
  tools: string[];
  /** May hand sub-tasks to other agents with the `delegate` call (src/engine/delegation.ts). */
  delegates?: boolean;
}

/** The call a delegating agent (the manager) uses to hand sub-tasks to other agents. */
export const DELEGATE_TOOL = 'delegate';

export const AGENTS: readonly AgentDefinition[] = Object.freeze([
  {
    name: 'researcher',
    description: 'Finds and collects information from the document index and the web.',
    instructions:
      'Gather the facts the step asks for. Search, read the passages, and report what you found with the ids of the documents it came from. Do not invent facts.',
    tools: ['knowledge_search', 'web_search', 'fetch_url'],
  },
  {
    name: 'analyst',
    description: 'Analyses data: profiles files, aggregates, computes statistics and quantities.',
    instructions:
      'Work out the numbers the step asks for with the tools, never by guessing. Report results with the columns, files and formulas used.',
    tools: ['data_profile', 'calculator', 'sql_query', 'run_python', 'knowledge_search'],
  },
  {
    name: 'coder',
    description: 'Writes and runs small programs to compute or transform things.',
    instructions: 'Solve the step by writing and running code in the sandbox. Report the result and the code that produced it.',
    tools: ['run_python', 'run_javascript', 'calculator'],
  },
  {
    name: 'writer',
    description: 'Composes the final answer from the outputs of earlier steps, and sends it by email when asked.',
    instructions:
      'Write the answer the task asks for, in markdown, from the earlier steps\' outputs only. Cite the documents and data used. ' +
      'When the task asks for it to be sent, send it with send_email.',
    tools: ['knowledge_search', 'send_email'],
  },
  {
    name: 'manager',
    description: 'Splits a large piece of work into sub-tasks for the other agents, then combines their results.',
    instructions:
      'Split the step into sub-tasks for the other agents and hand them over with one `delegate` call. When their results come back, ' +
      'combine them into the step\'s answer; delegate again only if something is missing.',
    tools: [],
    delegates: true,
  },
]);

const BY_NAME = new Map(AGENTS.map((a) => [a.name, a]));

export function getAgent(name: string): AgentDefinition | undefined {
  return BY_NAME.get(name);
}

export function agentNames(): string[] {
  return AGENTS.map((a) => a.name);
}
