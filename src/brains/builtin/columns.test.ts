import { describe, expect, it } from 'vitest';
import { headlineMeasure, matchColumn } from './columns.js';

describe('matchColumn', () => {
  const columns = ['order_id', 'Region', 'product_category', 'units', 'revenue'];

  it.each([
    ['region', 'Region'],
    ['regions', 'Region'],
    ['product category', 'product_category'],
    ['category', 'product_category'],
    ['unit', 'units'],
  ])('matches "%s" to %s', (hint, column) => {
    expect(matchColumn(hint, columns)).toBe(column);
  });

  it('returns null when nothing matches', () => {
    expect(matchColumn('month', columns)).toBeNull();
  });
});

describe('headlineMeasure', () => {
  it('prefers a money-like sum', () => {
    expect(headlineMeasure(['sum(units)', 'mean(units)', 'sum(revenue)'])).toBe('sum(revenue)');
    expect(headlineMeasure(['mean(units)', 'sum(units)'])).toBe('sum(units)');
    expect(headlineMeasure(['mean(units)'])).toBeNull();
  });
});
