import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '../errors.js';

/** Fastify's own error codes, mapped to ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_ERROR',
  FST_ERR_VALIDATION: 'VALIDATION_ERROR',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_NO_FORM_DATA: 'VALIDATION_ERROR',
  // Raised by the router before any route runs: a path segment longer than maxParamLength, or undecodable.
  FST_ERR_MAX_PARAM_LENGTH: 'VALIDATION_ERROR',
  FST_ERR_BAD_URL: 'VALIDATION_ERROR',
};

/** Turns any error into `{error: {code, message, details}}` with its status. The only place that does. */
export function toHttpError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as FastifyError & { type?: string };
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return new AppError(mapped, e.message, { cause: err });
  if (e instanceof SyntaxError || e?.type === 'entity.parse.failed') return new AppError('INVALID_JSON', `Malformed JSON: ${e.message}`);
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new AppError(e.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : e.statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'VALIDATION_ERROR', e.message, { cause: err });
  }
  return new AppError('INTERNAL_ERROR', 'Internal error', { cause: err });
}

/**
 * Sends any error as `{error: {code, message, details}}`. The error handler, and also Fastify's
 * `frameworkErrors` option: errors the router raises before a route is chosen, which Fastify would
 * otherwise answer in its own shape.
 */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const error = toHttpError(err);
  if (error.status >= 500) request.log.error({ err, code: error.code }, 'request failed');
  const retryAfter = error.details.retry_after_s;
  if (typeof retryAfter === 'number') void reply.header('retry-after', String(Math.ceil(retryAfter)));
  // RFC 6750: a 401 names the scheme the client should use.
  if (error.status === 401) void reply.header('www-authenticate', 'Bearer');
  void reply.status(error.status).send({ error: { code: error.code, message: error.message, details: error.details } });
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(sendError);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}`, details: {} } });
  });
}
