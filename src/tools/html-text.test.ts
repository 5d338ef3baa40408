import { describe, expect, it } from 'vitest';
import { extractTitle, htmlFragmentToText, htmlToReadableText } from './html-text.js';

describe('htmlToReadableText', () => {
  it('keeps the content, drops scripts, styles, navigation and images, and keeps heading case', () => {
    const { title, text } = htmlToReadableText(
      '<html><head><title>T</title><style>p{}</style></head><body><nav><a href="/">Home</a></nav>' +
        '<script>alert("x")</script><h2>Setup Guide</h2><p>Run <code>make</code>.</p><img src="a.png" alt="diagram"></body></html>',
    );
    expect(title).toBe('T');
    expect(text).toBe('Setup Guide\n\nRun make.');
  });

  it('makes links absolute against the page URL and drops script and fragment links', () => {
    const { text } = htmlToReadableText(
      '<p><a href="../b/c.html">rel</a> <a href="/root">root</a> <a href="https://x.example/">https://x.example/</a> ' +
        '<a href="javascript:void(0)">js</a> <a href="#top">top</a></p>',
      'https://example.com/docs/a/page.html',
    );
    expect(text).toBe('rel [https://example.com/docs/b/c.html] root [https://example.com/root] https://x.example/ js top');
  });

  it('renders tables as aligned rows without upper-casing headers', () => {
    const { text } = htmlToReadableText('<table><tr><th>City</th><th>Pop</th></tr><tr><td>Oslo</td><td>700k</td></tr></table>');
    expect(text.split('\n')).toEqual(['City   Pop', 'Oslo   700k']);
  });

  it('collapses runs of blank lines', () => {
    const { text } = htmlToReadableText('<p>a</p><br><br><br><br><p>b</p>');
    expect(text).not.toMatch(/\n{3,}/);
    expect(text.startsWith('a')).toBe(true);
    expect(text.endsWith('b')).toBe(true);
  });

  it('omits the title when the document has none', () => {
    expect(htmlToReadableText('<p>only text</p>')).toEqual({ text: 'only text' });
  });
});

describe('extractTitle', () => {
  it('decodes entities, collapses whitespace and ignores titles inside the body', () => {
    expect(extractTitle('<head><title>\n  A &amp; B &#8212; C\n</title></head>')).toBe('A & B — C');
    expect(extractTitle('<html><body><svg><title>icon</title></svg></body></html>')).toBeUndefined();
    expect(extractTitle('<title></title>')).toBeUndefined();
    expect(extractTitle(`<title>${'x'.repeat(2000)}</title>`)).toHaveLength(500);
  });
});

describe('htmlFragmentToText', () => {
  it('strips markup and decodes entities in snippets', () => {
    expect(htmlFragmentToText('The <strong>Brave</strong> &amp; the bold')).toBe('The Brave & the bold');
    expect(htmlFragmentToText('  plain\n text ')).toBe('plain text');
    expect(htmlFragmentToText('a <script>evil()</script>b')).toBe('a b');
  });
});
