/**
 * The `knowledge_search` tool: ranked full-text search over the tenant's ingested documents. It is
 * a thin shell over the DocumentIndex contract, so the ranking lives in one place (the store) and
 * this tool only fixes the argument and result shapes that planners and models see.
 */
import { z } from 'zod';
import type { ToolDefinition } from './types.js';

/** Passages returned when `limit` is not given. */
export const DEFAULT_SEARCH_LIMIT = 5;

// Defaults are applied in `run`, not with zod's .default(), so the advertised JSON schema keeps them optional.
export const knowledgeSearchInputSchema = z.object({
  query: z.string().min(1).max(1000).describe('What to look for, in plain words.'),
  limit: z.number().int().min(1).max(20).optional().describe('Passages to return, best first. Default 5.'),
  document_ids: z.array(z.string().min(1)).max(100).optional().describe('Search only these documents.'),
});

const passageSchema = z.object({
  document_id: z.string(),
  title: z.string(),
  chunk: z.number().int().nonnegative(),
  text: z.string(),
  score: z.number(),
});

export const knowledgeSearchOutputSchema = z.object({
  query: z.string(),
  passages: z.array(passageSchema),
});

export type KnowledgeSearchInput = z.output<typeof knowledgeSearchInputSchema>;
export type KnowledgeSearchOutput = z.output<typeof knowledgeSearchOutputSchema>;

/** The `knowledge_search` tool. */
export const knowledgeSearchTool: ToolDefinition<KnowledgeSearchInput, KnowledgeSearchOutput> = {
  name: 'knowledge_search',
  description:
    'Searches the ingested documents and returns the most relevant passages, best first, each with its ' +
    'document_id, title, chunk number, text and score. Cite document ids when you use a passage.',
  input: knowledgeSearchInputSchema,
  output: knowledgeSearchOutputSchema,
  timeoutMs: 10_000,
  effect: 'read_only',
  async run(input, ctx) {
    const limit = input.limit ?? DEFAULT_SEARCH_LIMIT;
    const options: { limit: number; documentIds?: string[] } = { limit };
    if (input.document_ids) options.documentIds = input.document_ids;
    const passages = await ctx.documents.search(input.query, options);
    return { query: input.query, passages: passages.slice(0, limit) };
  },
};
