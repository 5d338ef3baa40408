/**
 * One error type for the whole service. Every error a user or operator can see carries a stable
 * UPPER_SNAKE `code`, declared once below with its HTTP status and category. Errors become HTTP
 * responses in exactly one place (the API error handler); the engine uses `retryable` to decide
 * between backing off and failing at once.
 */

/** Who is at fault, which tells operators where to look. */
export type ErrorCategory = 'user' | 'system' | 'third_party' | 'model';

interface CodeSpec {
  status: number;
  category: ErrorCategory;
  retryable: boolean;
}

/** The catalogue of error codes. Adding a code here is the only way to make a new one. */
export const ERROR_CODES = {
  // Request problems (4xx).
  VALIDATION_ERROR: { status: 400, category: 'user', retryable: false },
  INVALID_JSON: { status: 400, category: 'user', retryable: false },
  INVALID_ENCODING: { status: 400, category: 'user', retryable: false },
  NOT_FOUND: { status: 404, category: 'user', retryable: false },
  TASK_NOT_FOUND: { status: 404, category: 'user', retryable: false },
  DOCUMENT_NOT_FOUND: { status: 404, category: 'user', retryable: false },
  FILE_NOT_FOUND: { status: 404, category: 'user', retryable: false },
  TOOL_NOT_FOUND: { status: 404, category: 'user', retryable: false },
  IDEMPOTENCY_CONFLICT: { status: 409, category: 'user', retryable: false },
  TASK_NOT_CANCELLABLE: { status: 409, category: 'user', retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, category: 'user', retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, category: 'user', retryable: false },
  RATE_LIMITED: { status: 429, category: 'user', retryable: true },
  // Identity and access (docs/security.md#access-control).
  UNAUTHENTICATED: { status: 401, category: 'user', retryable: false },
  HOST_NOT_ALLOWED: { status: 421, category: 'user', retryable: false },
  ORIGIN_NOT_ALLOWED: { status: 403, category: 'user', retryable: false },
  KEY_NOT_FOUND: { status: 404, category: 'user', retryable: false },
  POLICY_VERSION_CONFLICT: { status: 409, category: 'user', retryable: false },
  QUOTA_EXCEEDED: { status: 429, category: 'user', retryable: false },
  STREAM_LIMIT: { status: 429, category: 'user', retryable: true },

  // Task and step outcomes (recorded on tasks and steps; surfaced as 4xx/5xx only when a route fails).
  PLAN_INVALID: { status: 422, category: 'model', retryable: false },
  UNKNOWN_AGENT: { status: 422, category: 'model', retryable: false },
  TOOL_NOT_ALLOWED: { status: 403, category: 'model', retryable: false },
  TOOL_INPUT_INVALID: { status: 400, category: 'model', retryable: false },
  TOOL_OUTPUT_INVALID: { status: 502, category: 'system', retryable: false },
  TOOL_TIMEOUT: { status: 504, category: 'third_party', retryable: true },
  TOOL_FAILED: { status: 502, category: 'third_party', retryable: true },
  TOOL_ERROR: { status: 422, category: 'user', retryable: false },
  SIDE_EFFECT_UNCERTAIN: { status: 409, category: 'system', retryable: false },
  MAX_ITERATIONS_EXCEEDED: { status: 422, category: 'model', retryable: false },
  DEADLINE_EXCEEDED: { status: 504, category: 'user', retryable: false },
  DEPENDENCY_FAILED: { status: 424, category: 'system', retryable: false },
  CANCELLED: { status: 409, category: 'user', retryable: false },
  BRAIN_ERROR: { status: 502, category: 'model', retryable: true },
  BUDGET_EXCEEDED: { status: 402, category: 'user', retryable: false },
  GOAL_NOT_MET: { status: 422, category: 'model', retryable: false },
  MODEL_RATE_LIMITED: { status: 429, category: 'third_party', retryable: true },
  MODEL_UNAVAILABLE: { status: 503, category: 'third_party', retryable: true },
  MODEL_REJECTED: { status: 502, category: 'third_party', retryable: false },
  REPLANNED: { status: 409, category: 'system', retryable: false },
  // Tools: sandboxed code, data, the web, email, approvals.
  SANDBOX_UNAVAILABLE: { status: 503, category: 'system', retryable: false },
  CODE_ERROR: { status: 422, category: 'user', retryable: false },
  RESOURCE_LIMIT: { status: 422, category: 'user', retryable: false },
  URL_BLOCKED: { status: 403, category: 'user', retryable: false },
  FETCH_FAILED: { status: 502, category: 'third_party', retryable: true },
  SQL_READ_ONLY: { status: 403, category: 'user', retryable: false },
  SQL_ERROR: { status: 422, category: 'user', retryable: false },
  SEARCH_FAILED: { status: 502, category: 'third_party', retryable: true },
  EMAIL_FAILED: { status: 502, category: 'third_party', retryable: true },
  APPROVAL_REJECTED: { status: 403, category: 'user', retryable: false },
  APPROVAL_NOT_FOUND: { status: 404, category: 'user', retryable: false },
  APPROVAL_DECIDED: { status: 409, category: 'user', retryable: false },
  APPROVAL_EXPIRED: { status: 409, category: 'user', retryable: false },
  TOOL_DENIED: { status: 403, category: 'user', retryable: false },
  CALL_IN_PROGRESS: { status: 409, category: 'user', retryable: true },
  FORBIDDEN: { status: 403, category: 'user', retryable: false },
  MCP_ERROR: { status: 502, category: 'third_party', retryable: true },

  // Service problems (5xx).
  NOT_READY: { status: 503, category: 'system', retryable: true },
  AUTH_UNAVAILABLE: { status: 503, category: 'third_party', retryable: true },
  CONFIG_INVALID: { status: 500, category: 'system', retryable: false },
  STORE_ERROR: { status: 503, category: 'system', retryable: true },
  INTERNAL_ERROR: { status: 500, category: 'system', retryable: true },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The JSON shape of an error everywhere it is stored or sent: `{code, message, details}`. */
export interface ErrorInfo {
  code: ErrorCode | string;
  message: string;
  details?: Record<string, unknown>;
}

export interface AppErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  /** Overrides the code's default, e.g. a tool that knows a failure is permanent. */
  retryable?: boolean;
}

/** The base error. `new AppError('TASK_NOT_FOUND', 'No task 123')`. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly category: ErrorCategory;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const spec: CodeSpec = ERROR_CODES[code];
    this.name = 'AppError';
    this.code = code;
    this.status = spec.status;
    this.category = spec.category;
    this.retryable = options.retryable ?? spec.retryable;
    this.details = options.details ?? {};
  }

  toInfo(): ErrorInfo {
    return Object.keys(this.details).length > 0
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Wraps anything thrown into an AppError, keeping AppErrors as they are. */
export function toAppError(err: unknown, fallback: ErrorCode = 'INTERNAL_ERROR'): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AppError(fallback, message || 'Unknown error', { cause: err });
}

