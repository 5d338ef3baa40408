/**
 * Request schemas are zod schemas. Each is turned into JSON Schema once, for the OpenAPI document,
 * and the route validator maps that JSON Schema back to its zod schema: one source of truth.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../errors.js';

const zodByJson = new WeakMap<object, z.ZodType>();

/** The JSON Schema of a zod schema, remembered so the validator can find the zod schema again. */
export function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'draft-7', unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
  delete json.$schema;
  zodByJson.set(json, schema);
  return json;
}

export function registerZodValidation(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const zod = zodByJson.get(schema);
    if (!zod) return () => ({ value: undefined });
    return (data: unknown) => {
      const parsed = zod.safeParse(data);
      if (parsed.success) return { value: parsed.data };
      const where = httpPart === 'body' ? 'body' : httpPart === 'querystring' ? 'query' : (httpPart ?? 'request');
      return { error: validationError(where, parsed.error) };
    };
  });
}

export function validationError(where: string, error: z.ZodError): AppError {
  const issues = error.issues.slice(0, 20).map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  return new AppError('VALIDATION_ERROR', `Invalid ${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
    details: { issues },
  });
}

/** Parses with a zod schema, throwing VALIDATION_ERROR. For inputs the route schema does not cover. */
export function parseOr400<T>(schema: z.ZodType<T>, data: unknown, where: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw validationError(where, parsed.error);
  return parsed.data;
}

const ERROR_SCHEMA = {
  type: 'object',
  description: 'An error: `{"error": {"code", "message", "details"}}`',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object', additionalProperties: true } },
    },
  },
};

/**
 * The responses of a route for the OpenAPI document: its success status with a description, and the
 * error shape for 4xx and 5xx. Bodies are passed through as they are (no properties are dropped).
 */
export function responses(status: 200 | 201 | 202 | 204, description: string): Record<string, unknown> {
  const success = status === 204 ? { description, type: 'null' } : { description, type: 'object', additionalProperties: true };
  return { [status]: success, '4xx': ERROR_SCHEMA, '5xx': ERROR_SCHEMA };
}
