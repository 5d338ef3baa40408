/** Choosing CSV columns: the one a "by …" hint means, and the numeric ones worth aggregating. */
import type { ProfileColumn } from './results.js';

function normalise(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function singular(text: string): string {
  if (text.endsWith('ies') && text.length > 4) return `${text.slice(0, -3)}y`;
  if (text.endsWith('s') && !text.endsWith('ss') && text.length > 3) return text.slice(0, -1);
  return text;
}

/** "productCategory", "product_category", "Product Category" → ["product", "category"]. */
function columnWords(name: string): string[] {
  return name
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0)
    .map(singular);
}

/** How well a column name matches a hint: exact beats singular/plural, beats containment, beats shared words. */
function matchScore(column: string, hint: string): number {
  const col = normalise(column);
  const words = hint.split(/\s+/).filter((w) => w.length > 0);
  let best = 0;
  for (let n = words.length; n >= 1; n -= 1) {
    const phrase = normalise(words.slice(0, n).join(''));
    if (phrase.length === 0) continue;
    if (col === phrase) best = Math.max(best, 100 + n);
    else if (singular(col) === singular(phrase)) best = Math.max(best, 90 + n);
    else if (phrase.length >= 3 && (col.includes(singular(phrase)) || phrase.includes(col))) best = Math.max(best, 50 + n);
  }
  const shared = columnWords(column).filter((w) => words.map((h) => singular(normalise(h))).includes(w)).length;
  return Math.max(best, shared * 10);
}

/**
 * The column a hint like "region" or "product category" means, matched case-insensitively; null
 * when none matches at all. Ties go to the earlier column.
 */
export function matchColumn(hint: string, columns: readonly string[]): string | null {
  let chosen: string | null = null;
  let bestScore = 0;
  for (const column of columns) {
    const score = matchScore(column, hint);
    if (score > bestScore) {
      bestScore = score;
      chosen = column;
    }
  }
  return chosen;
}

/** True for columns that hold identifiers, whose sums and means mean nothing. */
export function isIdentifierColumn(name: string): boolean {
  return /^id$|[_\s-]id$|[a-z]Id$|^(?:zip|postal|phone)/i.test(name);
}

/**
 * Columns worth summing and averaging: numeric by `isNumeric`, not the grouping column, not
 * identifiers; at most `max`, in the file's order.
 */
export function pickMeasures<C extends { name: string; type: string }>(
  columns: readonly C[],
  groupBy: string | null,
  isNumeric: (type: string) => boolean,
  max = 4,
): C[] {
  return columns.filter((c) => isNumeric(c.type) && c.name !== groupBy && !isIdentifierColumn(c.name)).slice(0, max);
}

/** Numeric columns of a data_profile result to aggregate per group; see pickMeasures. */
export function measureColumns(columns: readonly ProfileColumn[], groupBy: string, max = 4): ProfileColumn[] {
  return pickMeasures(columns, groupBy, (type) => type === 'integer' || type === 'number', max);
}

const MONEY_LIKE = /revenue|sales|amount|total|price|cost|value|profit|income|spend/i;

/**
 * The aggregate to headline among keys like "sum(units)", "sum(revenue)": a sum over a money-like
 * column if there is one (that is usually what "by region" is asked about), else the first sum.
 */
export function headlineMeasure(measures: readonly string[]): string | null {
  const sums = measures.filter((m) => m.startsWith('sum('));
  return sums.find((m) => MONEY_LIKE.test(m)) ?? sums[0] ?? null;
}
