/**
 * A real SMTP server for tests (the smtp-server package) that keeps every message it receives,
 * parsed enough to assert on: envelope, headers, subject, text and HTML bodies. It listens on
 * 127.0.0.1 on a free port, offers no STARTTLS (so clients talk plain SMTP), and can require a
 * login or refuse chosen recipients with a chosen reply.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerError, SMTPServerSession } from 'smtp-server';

/** One message as the server received it. */
export interface ReceivedMessage {
  /** MAIL FROM and RCPT TO of the SMTP transaction. */
  envelope: { from: string; to: string[] };
  /** The user that logged in, when the server required a login. */
  user?: string;
  /** Header fields by lower-case name, unfolded and with encoded words decoded; repeated fields keep the first. */
  headers: Map<string, string>;
  subject: string;
  /** The Message-ID header, angle brackets included. */
  messageId: string;
  /** The text/plain part, transfer encoding undone. */
  text?: string;
  /** The text/html part, transfer encoding undone. */
  html?: string;
  /** The message as sent, CRLF line ends. */
  raw: string;
}

/** A recipient refusal: the reply code and text the server answers RCPT TO with. */
export interface Refusal {
  code: number;
  message: string;
}

export interface SmtpSinkOptions {
  /** When set, clients must log in with these credentials (PLAIN or LOGIN). */
  auth?: { user: string; pass: string };
  /** Decides, per recipient address, whether RCPT TO is refused. */
  refuseRecipient?: (address: string) => Refusal | undefined;
  /** Refuses the message after DATA with this reply. */
  refuseData?: Refusal;
}

export interface SmtpSink {
  port: number;
  /** `smtp://127.0.0.1:port`, with the credentials when the sink requires a login. */
  url: string;
  readonly messages: ReceivedMessage[];
  /** Resolves once `count` messages have arrived; rejects after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  stop(): Promise<void>;
}

function smtpError(refusal: Refusal): SMTPServerError {
  const err: SMTPServerError = new Error(refusal.message);
  err.responseCode = refusal.code;
  return err;
}

async function readStream(stream: SMTPServerDataStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts a sink on a free port of 127.0.0.1. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: ReceivedMessage[] = [];
  const waiters: Array<() => void> = [];
  const server = new SMTPServer({
    disabledCommands: options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    onAuth(auth, _session, callback) {
      const ok = options.auth && auth.username === options.auth.user && auth.password === options.auth.pass;
      if (!ok) return callback(smtpError({ code: 535, message: 'Authentication credentials invalid' }));
      callback(null, { user: auth.username });
    },
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback) {
      const refusal = options.refuseRecipient?.(address.address);
      callback(refusal ? smtpError(refusal) : null);
    },
    onData(stream, session, callback) {
      readStream(stream).then(
        (raw) => {
          if (options.refuseData) return callback(smtpError(options.refuseData));
          messages.push(toMessage(raw, session));
          for (const wake of waiters.splice(0)) wake();
          callback(null);
        },
        (err: Error) => callback(err),
      );
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as AddressInfo).port;
  const credentials = options.auth
    ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@`
    : '';

  return {
    port,
    url: `smtp://${credentials}127.0.0.1:${port}`,
    messages,
    async waitForMessages(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`Expected ${count} messages, received ${messages.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return messages.slice(0, count);
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function toMessage(raw: string, session: SMTPServerSession): ReceivedMessage {
  const part = parsePart(raw);
  const bodies = collectBodies(part);
  const mailFrom = session.envelope.mailFrom;
  return {
    envelope: { from: mailFrom ? mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) },
    user: typeof session.user === 'string' ? session.user : undefined,
    headers: part.headers,
    subject: part.headers.get('subject') ?? '',
    messageId: part.headers.get('message-id') ?? '',
    text: bodies.text,
    html: bodies.html,
    raw,
  };
}

// ---------------------------------------------------------------------------------------------
// A small MIME reader: enough for what nodemailer produces (single part or nested multipart,
// 7bit, quoted-printable or base64 bodies, RFC 2047 encoded words in headers).

interface MimePart {
  headers: Map<string, string>;
  body: string;
}

function parsePart(raw: string): MimePart {
  const split = raw.indexOf('\r\n\r\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, decodeWords(line.slice(colon + 1).trim()));
  }
  return { headers, body };
}

function collectBodies(part: MimePart): { text?: string; html?: string } {
  const type = part.headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const found: { text?: string; html?: string } = {};
    for (const section of part.body.split(`--${boundary}`).slice(1)) {
      if (section.startsWith('--')) break;
      const child = collectBodies(parsePart(section.replace(/^\r\n/, '')));
      found.text ??= child.text;
      found.html ??= child.html;
    }
    return found;
  }
  const decoded = decodeBody(part.body, part.headers.get('content-transfer-encoding') ?? '7bit');
  return /^text\/html/i.test(type) ? { html: decoded } : { text: decoded };
}

function decodeBody(body: string, encoding: string): string {
  const trimmed = body.replace(/\r\n$/, '');
  if (/base64/i.test(encoding)) return Buffer.from(trimmed.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (/quoted-printable/i.test(encoding)) return decodeQuotedPrintable(trimmed);
  return trimmed;
}

function decodeQuotedPrintable(text: string): string {
  // Runs of escaped bytes decode together, so that a multi-byte UTF-8 character stays whole.
  return text
    .replace(/=\r\n/g, '')
    .replace(/(?:=[0-9A-F]{2})+/gi, (run) => Buffer.from(run.replace(/=/g, ''), 'hex').toString('utf8'));
}

/** RFC 2047: =?charset?B|Q?text?=, assuming UTF-8 (nodemailer's only choice). */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BQ])\?([^?]*)\?=/gi, (_, _charset: string, kind: string, text: string) =>
      kind.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : decodeQuotedPrintable(text.replace(/_/g, ' ')),
    );
}
