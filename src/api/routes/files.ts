import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { App } from '../../compose.js';
import { AppError } from '../../errors.js';
import { tenantOf } from '../context.js';
import { idParams, pageQuery } from '../schemas.js';
import { responses, schemaOf } from '../validation.js';

export function fileRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.post(
      '/v1/files',
      {
        config: { access: 'write' }, schema: {
          tags: ['files'],
          summary: 'Upload a file (multipart/form-data, field "file")',
          description: `Files larger than AGENTIC_MAX_FILE_BYTES (default 25 MiB) are refused with 413. Attach files to a task by id.`,
          consumes: ['multipart/form-data'],
          response: responses(201, 'The stored file: `{id, name, content_type, size, sha256, created_at}`'),
        },
      },
      async (request, reply) => {
        if (!request.isMultipart()) {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Upload files as multipart/form-data with a "file" field');
        }
        const { part, data } = await readUpload(request, app.config.maxFileBytes);
        const stored = await app.store.insertFile({
          id: randomUUID(),
          tenantId: tenantOf(request),
          name: fileName(part.filename),
          contentType: MEDIA_TYPE.test(part.mimetype) ? part.mimetype : 'application/octet-stream',
          data,
        });
        return reply.status(201).send(stored);
      },
    );

    f.get<{ Querystring: z.infer<typeof pageQuery> }>(
      '/v1/files',
      { config: { access: 'read' }, schema: { tags: ['files'], summary: 'List uploaded files, newest first', querystring: schemaOf(pageQuery) } },
      async (request) => {
        const page = await app.store.listFiles({ tenantId: tenantOf(request), limit: request.query.limit, cursor: request.query.cursor });
        return { items: page.items, next_cursor: page.next_cursor };
      },
    );

    f.get<{ Params: { id: string } }>(
      '/v1/files/:id',
      { config: { access: 'read' }, schema: { tags: ['files'], summary: 'Metadata of an uploaded file', params: schemaOf(idParams) } },
      async (request) => {
        const file = await app.store.getFile(request.params.id, tenantOf(request));
        if (!file) throw new AppError('FILE_NOT_FOUND', `No file ${request.params.id}`, { details: { file_id: request.params.id } });
        return file;
      },
    );

    f.get<{ Params: { id: string } }>(
      '/v1/files/:id/content',
      { config: { access: 'read' }, schema: { tags: ['files'], summary: 'The bytes of an uploaded file', params: schemaOf(idParams) } },
      async (request, reply) => {
        const file = await app.store.readFile(request.params.id, tenantOf(request));
        if (!file) throw new AppError('FILE_NOT_FOUND', `No file ${request.params.id}`, { details: { file_id: request.params.id } });
        return reply
          .header('content-type', file.content_type)
          .header('content-disposition', contentDisposition(file.name))
          .header('x-content-type-options', 'nosniff')
          .send(file.data);
      },
    );
  };
}

/** A media type as it may be stored and sent back in a Content-Type header. */
const MEDIA_TYPE = /^[\w.+-]{1,100}\/[\w.+-]{1,100}(?:\s*;[\x20-\x7e]{0,200})?$/;

type FilePart = NonNullable<Awaited<ReturnType<FastifyRequest['file']>>>;

/** The first file of the form and its bytes. A form the multipart parser cannot read is the client's error (400), not ours. */
async function readUpload(request: FastifyRequest, maxBytes: number): Promise<{ part: FilePart; data: Buffer }> {
  try {
    const part = await request.file({ limits: { fileSize: maxBytes, files: 1 } });
    if (!part) throw new AppError('VALIDATION_ERROR', 'No file in the form; send it in a field named "file"');
    return { part, data: await part.toBuffer() };
  } catch (err) {
    // Limits and our own errors carry a code the error handler maps; the parser's own errors carry none.
    if (err instanceof AppError || (err as { code?: unknown }).code !== undefined) throw err;
    throw new AppError('VALIDATION_ERROR', `Unreadable multipart/form-data body: ${(err as Error).message}`, { cause: err });
  }
}

/** The base name of an uploaded file, without control characters (which the store cannot hold or headers carry). */
function fileName(raw: string | undefined): string {
  // eslint-disable-next-line no-control-regex -- replacing control characters is the point
  const name = basename(raw ?? '').replace(/[\u0000-\u001f\u007f]/g, '_').replace(UNPAIRED_SURROGATE, '\ufffd');
  return name.slice(0, 255) || 'upload';
}

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `attachment` with an ASCII fallback name and the exact name in RFC 6266/5987 form (header values must be ASCII). */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}
