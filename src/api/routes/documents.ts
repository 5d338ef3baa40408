import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { App } from '../../compose.js';
import { AppError } from '../../errors.js';
import { tenantOf } from '../context.js';
import { createDocumentBody, idParams, pageQuery } from '../schemas.js';
import { responses, schemaOf } from '../validation.js';

export function documentRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.post<{ Body: z.infer<typeof createDocumentBody> }>(
      '/v1/documents',
      {
        bodyLimit: app.config.maxFileBytes,
        config: { access: 'write' }, schema: {
          tags: ['documents'],
          summary: 'Add a document to the searchable index',
          body: schemaOf(createDocumentBody),
          response: responses(201, 'The document: `{id, tenant_id, title, metadata, chunks, size, created_at}`'),
        },
      },
      async (request, reply) => {
        const doc = await app.store.insertDocument({
          id: randomUUID(),
          tenantId: tenantOf(request),
          title: request.body.title,
          content: request.body.content,
          metadata: request.body.metadata ?? {},
        });
        return reply.status(201).send(doc);
      },
    );

    f.get<{ Querystring: z.infer<typeof pageQuery> }>(
      '/v1/documents',
      { config: { access: 'read' }, schema: { tags: ['documents'], summary: 'List documents, newest first', querystring: schemaOf(pageQuery) } },
      async (request) => {
        const page = await app.store.listDocuments({ tenantId: tenantOf(request), limit: request.query.limit, cursor: request.query.cursor });
        return { items: page.items, next_cursor: page.next_cursor };
      },
    );

    f.get<{ Params: { id: string } }>(
      '/v1/documents/:id',
      { config: { access: 'read' }, schema: { tags: ['documents'], summary: 'A document with its content', params: schemaOf(idParams) } },
      async (request) => {
        const doc = await app.store.getDocument(request.params.id, tenantOf(request));
        if (!doc) throw new AppError('DOCUMENT_NOT_FOUND', `No document ${request.params.id}`, { details: { document_id: request.params.id } });
        return doc;
      },
    );

    f.delete<{ Params: { id: string } }>(
      '/v1/documents/:id',
      { config: { access: 'write' }, schema: { tags: ['documents'], summary: 'Delete a document and its passages', params: schemaOf(idParams), response: responses(204, 'Deleted') } },
      async (request, reply) => {
        if (!(await app.store.deleteDocument(request.params.id, tenantOf(request)))) {
          throw new AppError('DOCUMENT_NOT_FOUND', `No document ${request.params.id}`, { details: { document_id: request.params.id } });
        }
        return reply.status(204).send();
      },
    );
  };
}
