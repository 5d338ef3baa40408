/**
 * The tools domain: the tool contract, the registry that runs tools, and the built-in tools.
 * Other domains import from here, never from the files behind it.
 */
import { calculatorTool } from './calculator.js';
import { dataProfileTool } from './data-profile.js';
import { knowledgeSearchTool } from './knowledge-search.js';
import { ToolRegistry } from './registry.js';
import type { ToolDefinition } from './types.js';

export type {
  Artifact,
  ArtifactSink,
  DocumentIndex,
  FileAccess,
  Passage,
  StoredFile,
  ToolContext,
  ToolDefinition,
  ToolDescriptor,
  ToolEffect,
} from './types.js';
export { ToolRegistry } from './registry.js';
export { calculatorTool, evaluateExpression } from './calculator.js';
export type { CalculatorInput, CalculatorOutput } from './calculator.js';
export { dataProfileTool } from './data-profile.js';
export type { DataProfileInput, DataProfileOutput } from './data-profile.js';
export { knowledgeSearchTool } from './knowledge-search.js';
export { createFetchUrlTool } from './fetch-url.js';
export type { FetchUrlOptions } from './fetch-url.js';
export { createConfiguredWebSearchTool, createWebSearchTool } from './web-search.js';
export type { WebSearchConfig, WebSearchSettings } from './web-search.js';
export { createSendEmailTool } from './send-email.js';
export type { SendEmailOptions } from './send-email.js';
export { createSqlQueryTool, parseSqlSources } from './sql-query.js';
export { assertRunPythonAvailable, createRunPythonTool } from './run-python.js';
export { connectMcpServers, parseMcpServers } from './mcp.js';
export type { McpConnection, McpServerConfig } from './mcp.js';
export type { RunPythonOptions } from './run-python.js';
export { assertRunJavaScriptAvailable, createRunJavaScriptTool } from './run-javascript.js';
export type { RunJavaScriptOptions } from './run-javascript.js';
export type { SqlQueryOptions, SqlSource } from './sql-query.js';
export type { KnowledgeSearchInput, KnowledgeSearchOutput } from './knowledge-search.js';

/** The tools that need nothing beyond the ToolContext contracts: calculator, data_profile, knowledge_search. */
export function createBuiltinTools(): ToolDefinition[] {
  return [calculatorTool, dataProfileTool, knowledgeSearchTool];
}

/**
 * A registry holding the given tools.
 * @defaultValue tools: createBuiltinTools()
 */
export function createToolRegistry(tools: ToolDefinition[] = createBuiltinTools()): ToolRegistry {
  const registry = new ToolRegistry();
  for (const tool of tools) registry.register(tool);
  return registry;
}
