import { describe, it, expect } from 'vitest';
import { AppError } from '../errors.js';
import { createToolRegistry } from './index.js';
import { knowledgeSearchTool } from './knowledge-search.js';
import type { KnowledgeSearchOutput } from './knowledge-search.js';
import type { DocumentIndex, Passage } from './types.js';
import { appErrorOf, toolContext } from '../../test/support/tool-context.js';

const PASSAGES: Passage[] = [
  { document_id: 'doc-1', title: 'Refund policy', chunk: 0, text: 'Refunds are issued within 30 days.', score: 2.5 },
  { document_id: 'doc-2', title: 'Shipping', chunk: 3, text: 'Orders ship in 2 business days.', score: 1.25 },
  { document_id: 'doc-1', title: 'Refund policy', chunk: 1, text: 'Digital goods are not refundable.', score: 0.5 },
];

interface SearchCall {
  query: string;
  options: { limit?: number; documentIds?: string[] } | undefined;
}

/** A DocumentIndex returning fixed passages (filtered by document id) and recording its calls. */
function fixedIndex(calls: SearchCall[], passages: Passage[] = PASSAGES): DocumentIndex {
  return {
    async search(query, options) {
      calls.push({ query, options });
      const ids = options?.documentIds;
      return passages.filter((p) => !ids || ids.includes(p.document_id)).slice(0, options?.limit ?? 5);
    },
  };
}

const registry = createToolRegistry([knowledgeSearchTool]);

async function search(args: unknown, documents: DocumentIndex): Promise<KnowledgeSearchOutput> {
  return (await registry.invoke('knowledge_search', args, toolContext({ documents }))) as KnowledgeSearchOutput;
}

async function failure(args: unknown, documents: DocumentIndex): Promise<AppError> {
  return appErrorOf(registry.invoke('knowledge_search', args, toolContext({ documents })));
}

describe('knowledge_search', () => {
  it('returns the index passages with the query, using the default limit of 5', async () => {
    const calls: SearchCall[] = [];
    const out = await search({ query: 'refund window' }, fixedIndex(calls));
    expect(out).toEqual({ query: 'refund window', passages: PASSAGES });
    expect(calls).toEqual([{ query: 'refund window', options: { limit: 5 } }]);
  });

  it('passes limit and document_ids to the index', async () => {
    const calls: SearchCall[] = [];
    const out = await search({ query: 'refund', limit: 1, document_ids: ['doc-1'] }, fixedIndex(calls));
    expect(out.passages).toEqual([PASSAGES[0]]);
    expect(calls).toEqual([{ query: 'refund', options: { limit: 1, documentIds: ['doc-1'] } }]);
  });

  it('never returns more passages than the limit, even if the index does', async () => {
    const index: DocumentIndex = { search: async () => PASSAGES };
    const out = await search({ query: 'x', limit: 2 }, index);
    expect(out.passages.map((p) => p.chunk)).toEqual([0, 3]);
  });

  it('returns an empty list when nothing matches', async () => {
    const out = await search({ query: 'nothing' }, fixedIndex([], []));
    expect(out).toEqual({ query: 'nothing', passages: [] });
  });

  it('validates its arguments', async () => {
    const index = fixedIndex([]);
    expect((await failure({ query: '' }, index)).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ query: 'x'.repeat(1001) }, index)).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ query: 'x', limit: 0 }, index)).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ query: 'x', limit: 21 }, index)).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ query: 'x', limit: 2.5 }, index)).code).toBe('TOOL_INPUT_INVALID');
    const tooMany = Array.from({ length: 101 }, (_, i) => `doc-${i}`);
    expect((await failure({ query: 'x', document_ids: tooMany }, index)).code).toBe('TOOL_INPUT_INVALID');
  });

  it('rejects malformed passages from the index as TOOL_OUTPUT_INVALID', async () => {
    const index = { search: async () => [{ document_id: 'doc-1', title: 'T', chunk: -1, text: 'x', score: 1 }] };
    expect((await failure({ query: 'x' }, index)).code).toBe('TOOL_OUTPUT_INVALID');
  });

  it('propagates index failures as they are', async () => {
    const index: DocumentIndex = {
      search: async () => {
        throw new AppError('STORE_ERROR', 'database unavailable');
      },
    };
    const err = await failure({ query: 'x' }, index);
    expect(err.code).toBe('STORE_ERROR');
  });
});

describe('createToolRegistry', () => {
  it('registers the built-in tools with their effects and timeouts', () => {
    const all = createToolRegistry();
    expect(all.names().sort()).toEqual(['calculator', 'data_profile', 'knowledge_search']);
    expect(all.list().map((t) => [t.name, t.effect, t.timeout_ms])).toEqual([
      ['calculator', 'read_only', 2000],
      ['data_profile', 'read_only', 30_000],
      ['knowledge_search', 'read_only', 10_000],
    ]);
    // Defaults are applied by the tools, so the advertised schemas list only what a caller must give.
    expect(all.describe('knowledge_search').input_schema).toMatchObject({ required: ['query'] });
    expect(all.describe('data_profile').input_schema).toMatchObject({ required: ['file_id'] });
    expect(all.describe('calculator').input_schema).toMatchObject({ required: ['expression'] });
  });
});
