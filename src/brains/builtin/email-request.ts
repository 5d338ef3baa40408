/**
 * Reads a request to send the result by email: "email the summary to ops@example.com", "send it to
 * a@x.com and b@y.com", "mail the report to the ops team at ops@example.com, cc boss@example.com".
 *
 * Sending mail cannot be undone, so the reading is conservative: there must be a sending verb
 * (email, e-mail, mail, send, forward) used as a verb, and at least one address after it in the
 * same sentence. "Summarize the email policy", "the email from alice@x.com" and "contact
 * support@x.com" are not requests to send anything.
 */

/** Who to send the result to, and the words of the task that asked for it. */
export interface EmailRequest {
  /** Recipients, in the order written, without repeats (case aside). */
  to: string[];
  /** Carbon-copy recipients ("cc boss@example.com"), not repeating any of `to`. */
  cc: string[];
  /** Where the request starts and ends in the task text, so other rules can read the task without it. */
  start: number;
  end: number;
}

/**
 * An email address as a person writes it in a sentence. The local part is dot-separated atoms of
 * letters, digits, `_`, `+` and `-`; the domain is dot-separated labels that start and end with a
 * letter or digit, then a top-level domain of letters. So a full stop or a quote right after the
 * address is never part of it, and every match is also a valid address for send_email's schema.
 */
const ADDRESS = /(?<![\w.+@-])[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w@-]|\.[A-Za-z0-9])/g;

/** A sending verb. "email" and "mail" are nouns too; see NOUN_BEFORE and NOUN_AFTER. */
const VERB = /(?<![\w-])(?:e-?mail|mail|send|forward)(?![\w-])/gi;

/** Words before "email"/"mail" that make it a noun: "an email to …", "the email from …", "by email". */
const NOUN_BEFORE = /\b(?:a|an|the|this|that|these|those|my|our|your|his|her|their|its|any|each|every|one|no|some|of|by|via|per|an?\s+\w+)\s*$/i;

/** Words after "email"/"mail" that make it a noun: "email address", "mail server". */
const NOUN_AFTER = /^\s*(?:address(?:es)?|account|server|list|policy|policies|thread|inbox|domain|client|signature|template|campaign)\b/i;

/** The end of the sentence a position is in: a full stop, "!", "?" or ";" before a space or the end, or a line break. */
const SENTENCE_END = /[.!?;](?=\s|$)|\n/g;

/** Marks addresses as copies ("cc", "cc:", "copy", "copying", "cc'ing"). */
const CC_CUE = /(?<![\w-])(?:b?cc(?:'?ing)?|copy(?:ing)?|copied)(?![\w-])/i;

/** Connecting words before the verb that belong to the request: ", and then please email …". */
const LEAD_IN = /(?:[\s,]*\b(?:and|then|also|please|and\s+then|and\s+also)\b)*[\s,]*$/i;

/** Every address in a text, in order. */
export function extractAddresses(text: string): Array<{ address: string; index: number }> {
  return [...text.matchAll(ADDRESS)]
    .filter((m) => m[0].length <= 254 && (m[0].split('@')[0]?.length ?? 0) <= 64)
    .map((m) => ({ address: m[0], index: m.index }));
}

function sentenceEnd(text: string, from: number): number {
  SENTENCE_END.lastIndex = from;
  const m = SENTENCE_END.exec(text);
  return m ? m.index : text.length;
}

function isNounUse(text: string, verbStart: number, verbEnd: number, verb: string): boolean {
  if (!/mail$/i.test(verb)) return false;
  return NOUN_BEFORE.test(text.slice(Math.max(0, verbStart - 40), verbStart)) || NOUN_AFTER.test(text.slice(verbEnd, verbEnd + 40));
}

function uniqueAddresses(addresses: readonly string[], exclude: readonly string[] = []): string[] {
  const seen = new Set(exclude.map((a) => a.toLowerCase()));
  return addresses.filter((a) => {
    const key = a.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The recipients written after one verb, up to the end of its sentence; addresses after "from" are senders, not recipients. */
function recipientsAfter(text: string, verbEnd: number): { to: string[]; cc: string[]; end: number } | null {
  const limit = sentenceEnd(text, verbEnd);
  const segment = text.slice(verbEnd, limit);
  const ccAt = segment.search(CC_CUE);
  const to: string[] = [];
  const cc: string[] = [];
  let end = -1;
  for (const { address, index } of extractAddresses(segment)) {
    if (/\bfrom\s*:?\s*$/i.test(segment.slice(Math.max(0, index - 10), index))) continue;
    (ccAt >= 0 && index > ccAt ? cc : to).push(address);
    end = verbEnd + index + address.length;
  }
  if (end < 0) return null;
  // "email the report, cc a@x.com" names no main recipient: the copies are the recipients then.
  const main = to.length > 0 ? to : cc.splice(0);
  const recipients = uniqueAddresses(main);
  return { to: recipients, cc: uniqueAddresses(cc, recipients), end };
}

/** The first request in a task to send something by email, or null when there is none. */
export function findEmailRequest(text: string): EmailRequest | null {
  for (const m of text.matchAll(VERB)) {
    const verbEnd = m.index + m[0].length;
    if (isNounUse(text, m.index, verbEnd, m[0])) continue;
    const found = recipientsAfter(text, verbEnd);
    if (!found) continue;
    // Only the words just before the verb can lead into it; a short window also keeps the match linear.
    const lead = LEAD_IN.exec(text.slice(Math.max(0, m.index - 40), m.index));
    return { to: found.to, cc: found.cc, start: m.index - (lead?.[0].length ?? 0), end: found.end };
  }
  return null;
}

/** The task without its email request, so that "… and email the summary to x" is not read as a request for a summary. */
export function withoutEmailRequest(text: string, request: EmailRequest | null): string {
  if (!request) return text;
  return `${text.slice(0, request.start)}${text.slice(request.end)}`.replace(/\s{2,}/g, ' ').trim();
}
