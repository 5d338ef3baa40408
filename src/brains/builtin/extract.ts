/**
 * Extractive reading of passages: key sentences for a topic, a centrality-based summary, and a
 * ranking of documents. Only sentences that are in the passages are ever returned, so every point
 * in a report can be traced to a document.
 */
import type { KeyPoint, RankedDocument } from './findings.js';
import type { PassageResult } from './results.js';
import { clip, countTerms, splitSentences, termsOf } from './text.js';

interface Sentence {
  text: string;
  document_id: string;
  title: string;
  /** Rank of its passage (0 = best), then position: the order sentences were found in. */
  passageRank: number;
  order: number;
}

/** Passages with repeats (same document and chunk) removed, first kept. */
export function uniquePassages(passages: readonly PassageResult[]): PassageResult[] {
  const seen = new Set<string>();
  return passages.filter((p) => {
    const key = `${p.document_id}#${p.chunk}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sentencesOf(passages: readonly PassageResult[]): Sentence[] {
  const out: Sentence[] = [];
  passages.forEach((p, passageRank) => {
    for (const text of splitSentences(p.text)) {
      out.push({ text: clip(text, 240), document_id: p.document_id, title: p.title, passageRank, order: out.length });
    }
  });
  return out;
}

function toPoint(s: Sentence): KeyPoint {
  return { text: s.text, document_id: s.document_id, title: s.title };
}

/** Picks the best `count` sentences by score, skipping repeats; ties go to the earlier sentence. */
function pickBest(sentences: Sentence[], score: (s: Sentence) => number, count: number): Sentence[] {
  const ranked = sentences
    .map((s) => ({ s, score: score(s) }))
    .sort((a, b) => b.score - a.score || a.s.order - b.s.order);
  const seen = new Set<string>();
  const picked: Sentence[] = [];
  for (const { s } of ranked) {
    const key = s.text.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    picked.push(s);
    if (picked.length === count) break;
  }
  return picked;
}

/**
 * The sentences that say most about a topic: each scores two points per distinct topic term it
 * contains, plus a little for coming from a better-ranked passage.
 */
export function keySentences(passages: readonly PassageResult[], topic: string, count = 5): KeyPoint[] {
  const topicStems = new Set(termsOf(topic));
  const score = (s: Sentence): number => {
    const stems = new Set(termsOf(s.text));
    const hits = [...topicStems].filter((t) => stems.has(t)).length;
    return hits * 2 + 1 / (1 + s.passageRank);
  };
  return pickBest(sentencesOf(passages), score, count).map(toPoint);
}

/**
 * An extractive summary: sentences whose terms recur most across all passages (a crude centrality),
 * returned in reading order so the bullets flow like the sources.
 */
export function summarySentences(passages: readonly PassageResult[], count = 5): KeyPoint[] {
  const sentences = sentencesOf(passages).filter((s) => s.text.split(' ').length >= 5);
  const counts = countTerms(sentences.map((s) => s.text));
  const score = (s: Sentence): number => {
    const stems = [...new Set(termsOf(s.text))];
    const weight = stems.reduce((sum, t) => sum + Math.max(0, (counts.get(t)?.count ?? 0) - 1), 0);
    return stems.length === 0 ? 0 : weight / Math.sqrt(stems.length);
  };
  return pickBest(sentences, score, count)
    .sort((a, b) => a.order - b.order)
    .map(toPoint);
}

/** Documents ranked by how many passages they contributed, then by best score, then by id. */
export function rankDocuments(passages: readonly PassageResult[]): RankedDocument[] {
  const byDoc = new Map<string, RankedDocument>();
  for (const p of passages) {
    const entry = byDoc.get(p.document_id) ?? { document_id: p.document_id, title: p.title, passages: 0, best_score: p.score };
    entry.passages += 1;
    entry.best_score = Math.max(entry.best_score, p.score);
    byDoc.set(p.document_id, entry);
  }
  return [...byDoc.values()].sort(
    (a, b) => b.passages - a.passages || b.best_score - a.best_score || (a.document_id < b.document_id ? -1 : 1),
  );
}
