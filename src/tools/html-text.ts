/**
 * Readable text from HTML, for tools that hand web pages and search snippets to models. Built on
 * html-to-text; this module only fixes the choices: no line wrapping (models do not need it),
 * headings in their own case, links kept as `text [absolute url]` so an agent can follow them,
 * and page furniture that carries no content (scripts, styles, navigation, images, embeds) left out.
 */
import { convert } from 'html-to-text';
import type { HtmlToTextOptions, SelectorDefinition } from 'html-to-text';

/** The parts of a page a reader needs. */
export interface ReadableText {
  /** The document's `<title>`, whitespace collapsed; absent when the page has none. */
  title?: string;
  text: string;
}

const SKIPPED = ['script', 'style', 'noscript', 'template', 'svg', 'canvas', 'iframe', 'object', 'embed', 'img', 'nav'];
const HEADINGS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
/** Longest title kept; anything longer is not a title but a broken page. */
const MAX_TITLE_CHARS = 500;

/**
 * A link target made absolute against the page URL (html-to-text's own `baseUrl` only prefixes
 * root-relative paths); script links become '' so that only their text remains.
 */
function absoluteLink(href: string, baseUrl: string | undefined): string {
  if (/^\s*javascript:/i.test(href)) return '';
  if (!baseUrl) return href;
  try {
    return new URL(href, baseUrl).href;
  } catch {
    return href;
  }
}

function converterOptions(baseUrl: string | undefined): HtmlToTextOptions {
  const selectors: SelectorDefinition[] = [
    ...SKIPPED.map((selector) => ({ selector, format: 'skip' })),
    ...HEADINGS.map((selector) => ({ selector, options: { uppercase: false } })),
    {
      selector: 'a',
      options: { pathRewrite: (href: string) => absoluteLink(href, baseUrl), hideLinkHrefIfSameAsText: true, noAnchorUrl: true },
    },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
  ];
  return {
    wordwrap: false,
    selectors,
    // Deeply nested markup is either generated junk or an attempt to exhaust the converter.
    limits: { maxDepth: 200, maxChildNodes: 5000, ellipsis: '…' },
  };
}

function tidy(text: string): string {
  return text
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Decodes entities and drops markup in a short fragment such as a title or a search snippet. */
export function htmlFragmentToText(fragment: string): string {
  if (!/[<&]/.test(fragment)) return fragment.replace(/\s+/g, ' ').trim();
  return convert(fragment, { wordwrap: false, selectors: SKIPPED.map((selector) => ({ selector, format: 'skip' })) })
    .replace(/\s+/g, ' ')
    .trim();
}

/** The `<title>` of a document, looked for in its head only (an `<svg><title>` in the body is not it). */
export function extractTitle(html: string): string | undefined {
  const headEnd = html.search(/<\/head\s*>|<body[\s>]/i);
  const head = headEnd === -1 ? html : html.slice(0, headEnd);
  const match = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(head);
  if (!match?.[1]) return undefined;
  const title = htmlFragmentToText(match[1]).slice(0, MAX_TITLE_CHARS);
  return title || undefined;
}

/**
 * The title and the readable text of an HTML document. Relative links are made absolute against
 * `baseUrl` (the URL the page was fetched from).
 */
export function htmlToReadableText(html: string, baseUrl?: string): ReadableText {
  const title = extractTitle(html);
  const text = tidy(convert(html, converterOptions(baseUrl)));
  return title === undefined ? { text } : { title, text };
}
