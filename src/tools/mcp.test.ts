import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '../errors.js';
import {
  MCP_DEFAULTS,
  mcpInputSchema,
  mcpToolEffect,
  parseMcpServers,
  registryToolNames,
  type McpServerConfig,
} from './mcp.js';
import { toToolOutput } from './mcp/result.js';
import { approvalOf } from './mcp/schema.js';
import type { Artifact, ArtifactSink } from './types.js';

const TOOL_NAME = /^[a-z][a-z0-9_]{0,63}$/;

function configError(text: string): AppError {
  try {
    parseMcpServers(text);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('CONFIG_INVALID');
    return err as AppError;
  }
  throw new Error(`expected CONFIG_INVALID for ${text}`);
}

describe('parseMcpServers', () => {
  it('reads nothing from an empty or absent setting', () => {
    expect(parseMcpServers(undefined)).toEqual([]);
    expect(parseMcpServers('  ')).toEqual([]);
    expect(parseMcpServers('[]')).toEqual([]);
  });

  it('reads stdio and HTTP servers with their defaults', () => {
    const servers = parseMcpServers(
      JSON.stringify([
        { name: 'files', command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/data'], env: { LOG: '1' } },
        { name: 'Docs-Site', url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer t' } },
      ]),
    );
    expect(servers).toEqual<McpServerConfig[]>([
      {
        transport: 'stdio',
        name: 'files',
        prefix: 'files',
        command: 'npx',
        args: ['-y', '@modelcontextprotocol/server-filesystem', '/data'],
        env: { LOG: '1' },
        cwd: undefined,
        effect: 'side_effect',
        trustAnnotations: true,
        toolEffects: {},
        timeoutMs: MCP_DEFAULTS.timeoutMs,
        connectTimeoutMs: MCP_DEFAULTS.connectTimeoutMs,
        maxOutputChars: MCP_DEFAULTS.maxOutputChars,
        tools: undefined,
        approval: undefined,
      },
      {
        transport: 'http',
        name: 'Docs-Site',
        prefix: 'docs_site',
        url: 'https://mcp.example.com/mcp',
        headers: { Authorization: 'Bearer t' },
        effect: 'side_effect',
        trustAnnotations: true,
        toolEffects: {},
        timeoutMs: MCP_DEFAULTS.timeoutMs,
        connectTimeoutMs: MCP_DEFAULTS.connectTimeoutMs,
        maxOutputChars: MCP_DEFAULTS.maxOutputChars,
        tools: undefined,
        approval: undefined,
      },
    ]);
  });

  it('reads every option', () => {
    const [server] = parseMcpServers(
      JSON.stringify([
        {
          name: 'gh',
          command: 'github-mcp',
          cwd: '/srv',
          effect: 'read_only',
          trust_annotations: false,
          tool_effects: { create_issue: 'side_effect' },
          timeout_ms: 5000,
          connect_timeout_ms: 2000,
          max_output_chars: 1000,
          tools: ['search', 'create_issue'],
          approval: { create_issue: 'always', '*': 'never' },
        },
      ]),
    );
    expect(server).toMatchObject({
      cwd: '/srv',
      effect: 'read_only',
      trustAnnotations: false,
      toolEffects: { create_issue: 'side_effect' },
      timeoutMs: 5000,
      connectTimeoutMs: 2000,
      maxOutputChars: 1000,
      tools: ['search', 'create_issue'],
      approval: { create_issue: 'always', '*': 'never' },
    });
    expect(parseMcpServers('[{"name":"a","command":"x","approval":"always"}]')[0]?.approval).toBe('always');
  });

  it('names the problem in CONFIG_INVALID', () => {
    expect(configError('{not json').message).toMatch(/not valid JSON/);
    expect(configError('{"name":"a"}').message).toMatch(/JSON array/);
    expect(configError('[{"name":"a"}]').message).toMatch(/server "a".*exactly one of "command".*"url"/);
    expect(configError('[{"name":"a","command":"x","url":"https://x"}]').message).toMatch(/exactly one/);
    expect(configError('[{"command":"x"}]').message).toMatch(/server #1.*name/);
    expect(configError('[{"name":"a","url":"ftp://x/mcp"}]').message).toMatch(/server "a".*http/);
    expect(configError('[{"name":"a","command":"x","timeoutMs":5}]').message).toMatch(/timeoutMs/);
    expect(configError('[{"name":"a","command":"x","effect":"harmless"}]').message).toMatch(/effect/);
    expect(configError('[{"name":"a","command":"x","approval":"sometimes"}]').message).toMatch(/approval/);
    expect(configError('[{"name":"a","command":"x","approval":{"t":"maybe"}}]').message).toMatch(/approval/);
    expect(configError('[{"name":"a","command":"x","timeout_ms":10}]').message).toMatch(/timeout_ms/);
    expect(configError('[{"name":"a","command":"x","headers":{"A":"b"}}]').message).toMatch(/headers only apply/);
    expect(configError('[{"name":"a","url":"https://x","env":{"A":"b"}}]').message).toMatch(/env only apply/);
    expect(configError('[{"name":"a","command":"x","env":{"A B":"b"}}]').message).toMatch(/env\["A B"\]/);
    expect(configError('[{"name":"9lives","command":"x"}]').message).toMatch(/start with a letter/);
    expect(configError(`[{"name":"${'a'.repeat(33)}","command":"x"}]`).message).toMatch(/at most 32/);
    expect(configError('[{"name":"Files","command":"x"},{"name":"files","url":"https://x"}]').message).toMatch(
      /"Files" and "files" both become the tool prefix "files"/,
    );
  });
});

describe('registryToolNames', () => {
  it('prefixes and sanitises names to the registry rule', () => {
    const names = registryToolNames('files', ['read_file', 'get-sum', 'listDirectory', 'Search.Web', 'x/y']);
    expect(Object.fromEntries(names)).toEqual({
      read_file: 'files__read_file',
      'get-sum': 'files__get_sum',
      listDirectory: 'files__list_directory',
      'Search.Web': 'files__search_web',
      'x/y': 'files__x_y',
    });
  });

  it('keeps colliding and long names distinct, within 64 characters, whatever the order', () => {
    const mcpNames = ['get-sum', 'get_sum', 'getSum', 'a'.repeat(80), `${'a'.repeat(80)}b`, '---'];
    const names = registryToolNames('server', mcpNames);
    const values = [...names.values()];
    expect(new Set(values).size).toBe(mcpNames.length);
    for (const name of values) expect(name).toMatch(TOOL_NAME);
    expect(names.get('get-sum')).toMatch(/^server__get_sum_[0-9a-f]{6}$/);
    expect(names.get('a'.repeat(80))).toHaveLength(64);
    expect(names.get('---')).toBe('server_____');
    expect(Object.fromEntries(registryToolNames('server', [...mcpNames].reverse()))).toEqual(Object.fromEntries(names));
  });
});

describe('mcpInputSchema', () => {
  const describeInput = (schema: z.ZodType) => z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' });

  it("describes the tool with the server's own schema and checks arguments against it", () => {
    const server = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: {
        query: { type: 'string', description: 'What to look for', minLength: 1 },
        limit: { type: 'integer', minimum: 1, maximum: 50, default: 10 },
        kind: { type: 'string', enum: ['web', 'news'] },
        tags: { type: 'array', items: { type: 'string' } },
      },
      required: ['query'],
      additionalProperties: false,
    };
    const schema = mcpInputSchema(server);
    expect(describeInput(schema)).toEqual(server);
    expect(schema.safeParse({ query: 'mcp', limit: 5, kind: 'news', tags: ['a'] }).success).toBe(true);
    expect(schema.safeParse({ query: 'mcp' }).data).toEqual({ query: 'mcp', limit: 10 });
    for (const bad of [{}, { query: '' }, { query: 'x', limit: 0 }, { query: 'x', limit: 1.5 }, { query: 'x', kind: 'blog' }, { query: 'x', extra: 1 }]) {
      expect(schema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('keeps local $refs working', () => {
    const server = {
      type: 'object',
      properties: { point: { $ref: '#/$defs/Point' } },
      required: ['point'],
      $defs: { Point: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] } },
    };
    const schema = mcpInputSchema(server);
    expect(describeInput(schema)).toMatchObject(server);
    expect(schema.safeParse({ point: { x: 1 } }).success).toBe(true);
    expect(schema.safeParse({ point: { x: 'one' } }).success).toBe(false);
  });

  it("runs none of the server's regular expressions, but still describes them", () => {
    const server = {
      type: 'object',
      properties: {
        // A property may itself be called "pattern"; only the keyword goes.
        pattern: { type: 'string', pattern: '^(a+)+$' },
        nested: { type: 'array', items: { type: 'object', properties: { id: { type: 'string', pattern: '^(a|aa)+$' } } } },
      },
      required: ['pattern'],
      patternProperties: { '^x-': { type: 'number' } },
    };
    const schema = mcpInputSchema(server);
    expect(describeInput(schema)).toMatchObject(server);
    const evil = `${'a'.repeat(40)}!`;
    const started = performance.now();
    expect(schema.safeParse({ pattern: evil, nested: [{ id: evil }], 'x-y': 'not checked here' }).success).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
    expect(schema.safeParse({ pattern: 1 }).success).toBe(false);
    expect(schema.safeParse({}).success).toBe(false);
  });

  it('falls back to a top-level check for schemas zod cannot express, still describing them as given', () => {
    const server = {
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: ['string', 'null'] }, c: { enum: ['x', 'y'] } },
      required: ['a'],
      if: { properties: { a: { const: 1 } } },
      then: { required: ['b'] },
    };
    const schema = mcpInputSchema(server);
    expect(describeInput(schema)).toMatchObject(server);
    expect(schema.safeParse({ a: 2, b: null, c: 'x' }).success).toBe(true);
    expect(schema.safeParse({ b: 'x' }).success).toBe(false);
    expect(schema.safeParse({ a: 1.5 }).success).toBe(false);
    expect(schema.safeParse({ a: 1, b: 3 }).success).toBe(false);
    expect(schema.safeParse({ a: 1, c: 'z' }).success).toBe(false);
    expect(schema.safeParse('not an object').success).toBe(false);
  });
});

describe('mcpToolEffect', () => {
  const effect = (hints: Parameters<typeof mcpToolEffect>[0], trustAnnotations = true) =>
    mcpToolEffect(hints, { fallback: 'side_effect', trustAnnotations });

  it('follows the annotations, conservatively', () => {
    expect(effect({ readOnlyHint: true })).toBe('read_only');
    expect(effect({ readOnlyHint: true, destructiveHint: true })).toBe('read_only');
    expect(effect({ idempotentHint: true, destructiveHint: false })).toBe('idempotent');
    // MCP's default for destructiveHint is true.
    expect(effect({ idempotentHint: true })).toBe('side_effect');
    expect(effect({ idempotentHint: true, destructiveHint: true })).toBe('side_effect');
    expect(effect({ readOnlyHint: false })).toBe('side_effect');
  });

  it('uses the server default without hints or trust, and the operator override always', () => {
    expect(mcpToolEffect(undefined, { fallback: 'idempotent', trustAnnotations: true })).toBe('idempotent');
    expect(mcpToolEffect({}, { fallback: 'read_only', trustAnnotations: true })).toBe('read_only');
    expect(effect({ readOnlyHint: true }, false)).toBe('side_effect');
    expect(mcpToolEffect({ readOnlyHint: true }, { fallback: 'read_only', trustAnnotations: true, override: 'side_effect' })).toBe(
      'side_effect',
    );
  });

  it('works out approval from the setting', () => {
    expect(approvalOf(undefined, 'x')).toBeUndefined();
    expect(approvalOf('always', 'x')).toBe('always');
    expect(approvalOf('never', 'x')).toBe('never');
    expect(approvalOf({ x: 'always' }, 'x')).toBe('always');
    expect(approvalOf({ x: 'always' }, 'y')).toBeUndefined();
    expect(approvalOf({ x: 'always', '*': 'never' }, 'y')).toBe('never');
    expect(approvalOf({ x: 'always' }, 'constructor')).toBeUndefined();
  });
});

describe('toToolOutput', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

  function sink(): ArtifactSink & { saved: Map<string, { data: Buffer; type: string }> } {
    const saved = new Map<string, { data: Buffer; type: string }>();
    return {
      saved,
      async save(name, data, contentType): Promise<Artifact> {
        saved.set(name, { data, type: contentType });
        return { name, content_type: contentType, size: data.length, sha256: 'x' };
      },
    };
  }

  it('joins text, keeps links and stores binary content as artifacts', async () => {
    const artifacts = sink();
    const output = await toToolOutput(
      {
        content: [
          { type: 'text', text: 'first' },
          { type: 'image', data: png.toString('base64'), mimeType: 'image/png' },
          { type: 'resource_link', uri: 'file:///a.txt', name: 'a.txt' },
          { type: 'resource', resource: { uri: 'file:///b.txt', mimeType: 'text/plain', text: 'second' } },
          { type: 'resource', resource: { uri: 'file:///c.gz', mimeType: 'application/gzip', blob: png.toString('base64') } },
        ],
        structuredContent: { ok: true },
      },
      { toolName: 'srv__tool', maxOutputChars: 1000, ctx: { idempotencyKey: 'task:1', artifacts } },
    );
    expect(output.text).toBe('first\nsecond');
    expect(output.structured).toEqual({ ok: true });
    expect(output.truncated).toBeUndefined();
    expect(output.content[1]).toMatchObject({ type: 'image', mime_type: 'image/png', bytes: 7, artifact: expect.stringMatching(/^srv__tool-[0-9a-f]{8}-2\.png$/) });
    expect(output.content[2]).toEqual({ type: 'resource_link', uri: 'file:///a.txt', name: 'a.txt' });
    expect(output.content[4]).toMatchObject({ type: 'resource', bytes: 7, artifact: expect.stringMatching(/-5\.gz$/) });
    expect([...artifacts.saved.values()].map((a) => a.data.equals(png))).toEqual([true, true]);
    expect(JSON.stringify(output)).not.toContain(png.toString('base64'));
  });

  it('reports binary sizes without a place to store them, and cuts text to the limit', async () => {
    const output = await toToolOutput(
      {
        content: [
          { type: 'text', text: 'a'.repeat(80) },
          { type: 'audio', data: png.toString('base64'), mimeType: 'audio/wav' },
          { type: 'text', text: 'b'.repeat(80) },
        ],
        structuredContent: { big: 'c'.repeat(100) },
      },
      { toolName: 't', maxOutputChars: 100, ctx: { idempotencyKey: 'k' } },
    );
    expect(output.content[1]).toEqual({ type: 'audio', mime_type: 'audio/wav', bytes: 7 });
    expect(output.text).toBe(`${'a'.repeat(80)}\n${'b'.repeat(20)}`);
    expect(output.structured).toBeUndefined();
    expect(output.truncated).toBe(true);
  });
});
