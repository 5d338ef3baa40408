/**
 * What tool tests need to call a tool outside the engine: a ToolContext, files held in memory, and
 * the AppError a call failed with.
 */
import { expect } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { FileAccess, StoredFile, ToolContext } from '../../src/tools/types.js';

/** A file held in memory: its bytes, or its name, bytes and (optionally) media type and claimed size. */
export type MemoryFile = string | Buffer | { name: string; data: string | Buffer; content_type?: string; size?: number };

export interface MemoryFilesOptions {
  /** Offer `list()` (the files attached to a task), as the engine does; absent otherwise. */
  listing?: boolean;
  /** Sizes to claim instead of the real ones, by file id. */
  sizes?: Record<string, number>;
  /** Called on every read. */
  onRead?: () => void;
}

/** Files by id. A file given as bare bytes is named `<id>.csv`; the media type defaults to text/csv. */
export function memoryFiles(files: Record<string, MemoryFile>, options: MemoryFilesOptions = {}): FileAccess {
  const entry = (id: string) => {
    const f = files[id];
    if (f === undefined) return null;
    return typeof f === 'string' || Buffer.isBuffer(f) ? { name: `${id}.csv`, data: Buffer.from(f) } : { ...f, data: Buffer.from(f.data) };
  };
  const meta = (id: string): StoredFile | null => {
    const f = entry(id);
    if (!f) return null;
    const size = options.sizes?.[id] ?? ('size' in f && f.size !== undefined ? f.size : f.data.length);
    const content_type = 'content_type' in f && f.content_type ? f.content_type : 'text/csv';
    return { id, name: f.name, content_type, size, sha256: 'test', created_at: '2025-01-01T00:00:00.000Z' };
  };
  const access: FileAccess = {
    get: async (id) => meta(id),
    read: async (id) => {
      const m = meta(id);
      if (!m) throw new AppError('FILE_NOT_FOUND', `No file ${id}`);
      options.onRead?.();
      return { ...m, data: entry(id)!.data };
    },
  };
  if (options.listing) access.list = async () => Object.keys(files).map((id) => meta(id)!);
  return access;
}

/** A context for one call: tenant `tenant-1`, key `key-1`, no files, no documents, unless given. */
export function toolContext(over: Partial<ToolContext> = {}): ToolContext {
  const given = Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)) as Partial<ToolContext>;
  return {
    signal: new AbortController().signal,
    tenantId: 'tenant-1',
    idempotencyKey: 'key-1',
    files: memoryFiles({}),
    documents: { search: async () => [] },
    ...given,
  };
}

/** The AppError the call failed with; the test fails if it succeeded or threw anything else. */
export async function appErrorOf(call: Promise<unknown>): Promise<AppError> {
  const err = await call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}
