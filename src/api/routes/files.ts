import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { App } from '../../compose.js';
import { AppError } from '../../errors.js';
import { tenantOf } from '../context.js';
import { idParams, pageQuery } from '../schemas.js';
import { schemaOf } from '../validation.js';

export function fileRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.post(
      '/v1/files',
      {
        schema: {
          tags: ['files'],
          summary: 'Upload a file (multipart/form-data, field "file")',
          description: `Files larger than AGENTIC_MAX_FILE_BYTES (default 25 MiB) are refused with 413. Attach files to a task by id.`,
          consumes: ['multipart/form-data'],
        },
      },
      async (request, reply) => {
        if (!request.isMultipart()) {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Upload files as multipart/form-data with a "file" field');
        }
        const part = await request.file({ limits: { fileSize: app.config.maxFileBytes, files: 1 } });
        if (!part) throw new AppError('VALIDATION_ERROR', 'No file in the form; send it in a field named "file"');
        const data = await part.toBuffer();
        const name = basename(part.filename || 'upload').slice(0, 255) || 'upload';
        const stored = await app.store.insertFile({
          id: randomUUID(),
          tenantId: tenantOf(request),
          name,
          contentType: part.mimetype || 'application/octet-stream',
          data,
        });
        return reply.status(201).send(stored);
      },
    );

    f.get<{ Querystring: z.infer<typeof pageQuery> }>(
      '/v1/files',
      { schema: { tags: ['files'], summary: 'List uploaded files, newest first', querystring: schemaOf(pageQuery) } },
      async (request) => {
        const page = await app.store.listFiles({ tenantId: tenantOf(request), limit: request.query.limit, cursor: request.query.cursor });
        return { items: page.items, next_cursor: page.next_cursor };
      },
    );

    f.get<{ Params: { id: string } }>(
      '/v1/files/:id',
      { schema: { tags: ['files'], summary: 'Metadata of an uploaded file', params: schemaOf(idParams) } },
      async (request) => {
        const file = await app.store.getFile(request.params.id, tenantOf(request));
        if (!file) throw new AppError('FILE_NOT_FOUND', `No file ${request.params.id}`, { details: { file_id: request.params.id } });
        return file;
      },
    );

    f.get<{ Params: { id: string } }>(
      '/v1/files/:id/content',
      { schema: { tags: ['files'], summary: 'The bytes of an uploaded file', params: schemaOf(idParams) } },
      async (request, reply) => {
        const file = await app.store.readFile(request.params.id, tenantOf(request));
        if (!file) throw new AppError('FILE_NOT_FOUND', `No file ${request.params.id}`, { details: { file_id: request.params.id } });
        return reply
          .header('content-type', file.content_type)
          .header('content-disposition', `attachment; filename="${file.name.replace(/["\\\r\n]/g, '_')}"`)
          .send(file.data);
      },
    );
  };
}
