import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

/** Deeper JSON is refused: no legitimate request nests this far, and deep structures are a cheap DoS. */
export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `application/json` and `application/<x>+json`, with or without parameters (`; charset=utf-8`). */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/**
 * Replaces Fastify's body parsers: bodies must be valid UTF-8 (INVALID_ENCODING otherwise), valid JSON
 * (INVALID_JSON), nest no deeper than MAX_JSON_DEPTH and hold no prototype-poisoning keys
 * (VALIDATION_ERROR). Plain text is not accepted anywhere, so a text/plain body is a 415 rather than
 * a string handed to a route that expects an object.
 */
export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(JSON_MEDIA_TYPE, { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError('INVALID_JSON', `Malformed JSON: ${(err as Error).message}`);
  }
  // The same rule as Fastify's own parser (onProtoPoisoning / onConstructorPoisoning: 'error'), which this one replaces.
  if (text.includes('__proto__') || text.includes('constructor')) refusePoisonedKeys(value);
  return value;
}

/** Throws VALIDATION_ERROR for a `__proto__` key or a `constructor` object holding `prototype`. */
function refusePoisonedKeys(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    const poisoned = key === '__proto__' || (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype'));
    if (poisoned) throw new AppError('VALIDATION_ERROR', `JSON key "${key}" is not allowed`, { details: { key } });
    refusePoisonedKeys(child);
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
