/**
 * The tool contract. A tool declares its name, a description for planners and models, zod input and
 * output schemas, a timeout and its effect on the world. The engine relies on the effect:
 * - `read_only`: reads only; safe to run again and to run in parallel with other read-only calls.
 * - `idempotent`: changes the world, but running it twice with the same idempotency key is harmless.
 * - `side_effect`: changes the world; a call that started but recorded no result is never repeated blindly.
 */
import type { z } from 'zod';

export type ToolEffect = 'read_only' | 'idempotent' | 'side_effect';

/** A file uploaded through `POST /v1/files`. */
export interface StoredFile {
  id: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
  created_at: string;
}

/** Read access to uploaded files, scoped to one tenant. */
export interface FileAccess {
  /** Metadata and bytes of a file; throws FILE_NOT_FOUND. */
  read(fileId: string): Promise<StoredFile & { data: Buffer }>;
  /** Metadata of a file, or null. */
  get(fileId: string): Promise<StoredFile | null>;
  /** The files attached to the task, in the order given; absent or empty outside a task (direct invocation names its files). */
  list?(): Promise<StoredFile[]>;
}

/** One ranked passage of a document. */
export interface Passage {
  document_id: string;
  title: string;
  chunk: number;
  text: string;
  score: number;
}

/** Ranked full-text search over ingested documents, scoped to one tenant. */
export interface DocumentIndex {
  search(query: string, options?: { limit?: number; documentIds?: string[] }): Promise<Passage[]>;
}

/** A file a tool produced for its task (run_python's outputs folder), stored as a task artifact. */
export interface Artifact {
  name: string;
  content_type: string;
  size: number;
  sha256: string;
}

/** Where a tool puts the files it produced; they are served at `GET /v1/tasks/{id}/artifacts/{name}`. */
export interface ArtifactSink {
  /** Stores (or replaces) an artifact of the task. `name` is a plain file name: no slashes, at most 200 characters. */
  save(name: string, data: Buffer, contentType: string): Promise<Artifact>;
}

/** What a running tool may use. Everything that touches storage goes through these contracts. */
export interface ToolContext {
  /** Aborted on cancel, deadline, timeout or shutdown; tools must stop promptly when it fires. */
  signal: AbortSignal;
  tenantId: string;
  taskId?: string;
  stepId?: string;
  /** Derived from (task, step, attempt, turn, call index); stable across resumes. */
  idempotencyKey: string;
  /** Files attached to the task (or, for direct invocation, any of the tenant's files). */
  files: FileAccess;
  documents: DocumentIndex;
  /** Where files the tool produced go; absent where nothing can keep them (then tools report them without storing). */
  artifacts?: ArtifactSink;
}

export interface ToolDefinition<I = unknown, O = unknown> {
  /** snake_case, unique in the registry. */
  name: string;
  description: string;
  input: z.ZodType<I>;
  output: z.ZodType<O>;
  /** A call running longer is aborted and fails with TOOL_TIMEOUT. */
  timeoutMs: number;
  effect: ToolEffect;
  run(input: I, ctx: ToolContext): Promise<O>;
  /** The tenants the operator granted this tool to (MCP servers' `tenants`); absent: every tenant. */
  tenants?: readonly string[];
  /**
   * The description and input schema one tenant sees, when they differ by tenant (sql_query lists only
   * the data sources granted to it). Absent: the same for every tenant.
   */
  forTenant?(tenantId: string): { description: string; input: z.ZodType<I> };
}

/** A tool as the registry describes it, with JSON Schemas of its input and output. */
export interface ToolDescriptor {
  name: string;
  description: string;
  input_schema: unknown;
  output_schema: unknown;
  timeout_ms: number;
  effect: ToolEffect;
  read_only: boolean;
  idempotent: boolean;
  side_effects: boolean;
}
