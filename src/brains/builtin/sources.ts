/** Building and merging the `sources` a step cites. */
import type { Source } from '../types.js';

/** A document source from a passage-like record. */
export function documentSource(doc: { document_id: string; title: string }): Source {
  return { kind: 'document', id: doc.document_id, title: doc.title };
}

/** A file source: id is the file id, title the file name. */
export function fileSource(file: { file_id: string; file_name: string }): Source {
  return { kind: 'file', id: file.file_id, title: file.file_name };
}

/** A tool computation, e.g. one calculator evaluation; the id names the tool and the expression. */
export function toolSource(tool: string, detail: string, title: string): Source {
  return { kind: 'tool', id: `${tool}:${detail}`, title };
}

/** Sources with repeats (same kind and id) removed, first occurrence kept, order kept. */
export function dedupeSources(sources: readonly Source[]): Source[] {
  const seen = new Set<string>();
  return sources.filter((source) => {
    const key = `${source.kind}\u0000${source.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
