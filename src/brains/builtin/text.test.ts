import { describe, expect, it } from 'vitest';
import { clip, formatNumber, splitClauses, splitSentences, titleFromTask, topicOf } from './text.js';

describe('topicOf', () => {
  it.each([
    ['What do our documents say about vacation policy?', 'vacation policy'],
    ['Research the history of PGlite', 'history PGlite'],
    ['Summarize our onboarding documents', 'onboarding'],
    ['Analyze sales.csv by region', 'region'],
  ])('%s → %s', (input, topic) => {
    expect(topicOf(input)).toBe(topic);
  });
});

describe('splitClauses', () => {
  it('splits at sentence ends and at "and" before a new request', () => {
    expect(splitClauses('Research vacation policy and compute 15% of 2400. Thanks!')).toEqual([
      'Research vacation policy',
      'compute 15% of 2400',
      'Thanks',
    ]);
  });

  it('keeps lists and file names whole', () => {
    expect(splitClauses('Analyze sales.csv and the average of 3, 5 and 10')).toEqual(['Analyze sales.csv and the average of 3, 5 and 10']);
  });
});

describe('formatting', () => {
  it('formats numbers without locale surprises', () => {
    expect(formatNumber(1234567.891)).toBe('1,234,567.891');
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(1e20)).toBe('1.00000e+20');
  });

  it('clips at a word boundary', () => {
    expect(clip('one two three four five', 12)).toBe('one two…');
  });

  it('derives a title from the first sentence', () => {
    expect(titleFromTask('compare X and Y. Then write it up.')).toBe('Compare X and Y');
  });

  it('splits passages into sentences', () => {
    expect(splitSentences('First point here. Second point there.\n- Third item in a list')).toEqual([
      'First point here.',
      'Second point there.',
      'Third item in a list',
    ]);
  });
});
