import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

/** Deeper JSON is refused: no legitimate request nests this far, and deep structures are a cheap DoS. */
export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Replaces Fastify's JSON parser: bodies must be valid UTF-8 (INVALID_ENCODING otherwise), valid JSON
 * (INVALID_JSON) and nest no deeper than MAX_JSON_DEPTH (VALIDATION_ERROR).
 */
export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(/^application\/(.+\+)?json$/, { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      done(null, parseJsonBody(body));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

export function parseJsonBody(body: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new AppError('INVALID_ENCODING', 'The request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new AppError('INVALID_JSON', 'The request body is empty; send a JSON object');
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new AppError('VALIDATION_ERROR', `JSON nests deeper than ${MAX_JSON_DEPTH} levels`, { details: { max_depth: MAX_JSON_DEPTH } });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError('INVALID_JSON', `Malformed JSON: ${(err as Error).message}`);
  }
}

/** Nesting depth of JSON text, counted without parsing (brackets inside strings ignored). */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      depth++;
      if (depth > max) max = depth;
      if (max > MAX_JSON_DEPTH) return max;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}
