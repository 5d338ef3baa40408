#!/usr/bin/env node
/**
 * A small MCP server over stdio for the tests of what server-everything does not exercise: tools
 * listed over several pages, tools without annotations, a destructive tool, a schema zod cannot
 * express, cancellation reaching the server, and a server that dies in the middle of a call.
 */
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const PAGES = [
  [
    {
      name: 'listFiles',
      description: 'Lists files in a folder.',
      inputSchema: { type: 'object', properties: { folder: { type: 'string' } }, required: ['folder'] },
    },
    {
      name: 'slow',
      description: 'Waits `ms` milliseconds, or until the call is cancelled.',
      inputSchema: { type: 'object', properties: { ms: { type: 'integer', minimum: 0 } }, required: ['ms'] },
    },
  ],
  [
    {
      name: 'delete-file',
      description: 'Deletes a file.',
      inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
      annotations: { readOnlyHint: false, idempotentHint: true, destructiveHint: true },
    },
    {
      name: 'conditional',
      description: 'Needs `b` when `a` is 1.',
      inputSchema: {
        type: 'object',
        properties: { a: { type: 'integer' }, b: { type: 'string' } },
        required: ['a'],
        if: { properties: { a: { const: 1 } } },
        then: { required: ['b'] },
      },
    },
  ],
  [
    { name: 'crash', description: 'Exits the server process.', inputSchema: { type: 'object' } },
    { name: 'stats', description: 'Counts of calls and cancellations seen.', inputSchema: { type: 'object' } },
  ],
];

const seen = { calls: 0, cancelled: 0, pid: process.pid };

const server = new Server({ name: 'paged-fixture', version: '1.0.0' }, { capabilities: { tools: {} } });

server.setRequestHandler(ListToolsRequestSchema, async (request) => {
  const page = Number(request.params?.cursor ?? '0');
  const next = page + 1 < PAGES.length ? String(page + 1) : undefined;
  return { tools: PAGES[page] ?? [], ...(next ? { nextCursor: next } : {}) };
});

server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
  seen.calls += 1;
  const args = request.params.arguments ?? {};
  switch (request.params.name) {
    case 'slow':
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Number(args.ms));
        extra.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          seen.cancelled += 1;
          resolve();
        });
      });
      return { content: [{ type: 'text', text: `waited ${args.ms} ms` }] };
    case 'crash':
      process.exit(3);
      break;
    case 'stats':
      return { content: [{ type: 'text', text: JSON.stringify(seen) }], structuredContent: { ...seen } };
    default:
      return { content: [{ type: 'text', text: `${request.params.name} ${JSON.stringify(args)}` }] };
  }
});

await server.connect(new StdioServerTransport());
