/**
 * Splits a document into passages for search: paragraphs packed up to `target` characters, long
 * paragraphs cut at sentence ends, so that a passage is a readable unit to quote.
 */
export function chunkText(content: string, target = 800): string[] {
  const paragraphs = content
    .replace(/\r\n?/g, '\n')
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .flatMap((p) => (p.length > target ? splitLong(p, target) : [p]));
  const chunks: string[] = [];
  let current = '';
  for (const p of paragraphs) {
    if (current && current.length + p.length + 2 > target) {
      chunks.push(current);
      current = p;
    } else {
      current = current ? `${current}\n\n${p}` : p;
    }
  }
  if (current) chunks.push(current);
  return chunks.length > 0 ? chunks : [content.trim()];
}

function splitLong(paragraph: string, target: number): string[] {
  const sentences = paragraph.match(/[^.!?]+[.!?]+["')\]]*\s*|[^.!?]+$/g) ?? [paragraph];
  const out: string[] = [];
  let current = '';
  for (const s of sentences) {
    if (current && current.length + s.length > target) {
      out.push(current.trim());
      current = '';
    }
    // A single sentence longer than the target is cut hard so no passage grows without bound.
    for (let i = 0; i < s.length; i += target * 2) {
      const piece = s.slice(i, i + target * 2);
      if (piece.length >= target * 2) out.push(piece.trim());
      else current += piece;
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}
