/**
 * The `send_email` tool: sends a plain-text (optionally HTML) email through the operator's SMTP
 * server (SMTP_URL), from the operator's fixed sender address (AGENTIC_EMAIL_FROM).
 *
 * Sending email cannot be undone, so the tool is a `side_effect`: the engine never repeats a call
 * that started but recorded no result. For the case where a message did go out twice anyway (a
 * crash between the server's 250 and the ledger write, then a deliberate retry), every message
 * carries a Message-ID derived from the call's idempotency key, the same on every attempt of the
 * same call, so mail systems and clients that dedupe on Message-ID show it once.
 *
 * Terms used below:
 * - permanent failure: an SMTP 5xx reply (except 503); sending the same message again gets the
 *   same answer, so the error is not retryable.
 * - transient failure: a 4xx reply or a connection, greeting or socket problem; retryable.
 */
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { NodemailerError, SendMailOptions, SMTPSentMessageInfo, Transporter } from 'nodemailer';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { ToolContext, ToolDefinition } from './types.js';

/** Limits of the tool's input. */
export const SEND_EMAIL_LIMITS = Object.freeze({
  /** Recipients in `to` and `cc` together. */
  maxRecipients: 50,
  /** Characters of the subject; one header line stays well under RFC 5322's 998. */
  maxSubjectLength: 300,
  /** Characters of the plain-text body. */
  maxTextLength: 200_000,
  /** Characters of the HTML body. */
  maxHtmlLength: 500_000,
});

/** Defaults of the options. */
export const SEND_EMAIL_DEFAULTS = Object.freeze({
  /** Tool timeout; the SMTP timeouts below are shorter, so a hung server fails as EMAIL_FAILED first. */
  timeoutMs: 60_000,
  connectionTimeoutMs: 10_000,
  greetingTimeoutMs: 10_000,
  /** Inactivity allowed on an open connection (between replies), not a bound on the whole send. */
  socketTimeoutMs: 30_000,
});

/** How the tool reaches the SMTP server and whom it sends as. */
export interface SendEmailOptions {
  /**
   * SMTP server, `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://user:pass@host:465`
   * (TLS from the start). Credentials are URL-encoded. Read from SMTP_URL.
   * @example 'smtps://agent%40example.com:secret@smtp.example.com:465'
   */
  smtpUrl: string;
  /**
   * The sender, a bare address or `Name <address>`; models cannot change it. Read from AGENTIC_EMAIL_FROM.
   * @example 'Agentic <agent@example.com>'
   */
  from: string;
  /**
   * When set, every recipient must be at one of these domains (exact match, case-insensitive), so an
   * agent cannot mail arbitrary outsiders. Read from AGENTIC_EMAIL_ALLOWED_DOMAINS.
   * @defaultValue undefined (any domain)
   */
  allowedDomains?: string[];
  /**
   * Right-hand side of generated Message-IDs.
   * @defaultValue the domain of `from`
   */
  messageIdDomain?: string;
  /** @defaultValue SEND_EMAIL_DEFAULTS.timeoutMs */
  timeoutMs?: number;
  /** Time to open the TCP (or TLS) connection. @defaultValue SEND_EMAIL_DEFAULTS.connectionTimeoutMs */
  connectionTimeoutMs?: number;
  /** Time from connecting to the server's 220 greeting. @defaultValue SEND_EMAIL_DEFAULTS.greetingTimeoutMs */
  greetingTimeoutMs?: number;
  /** Inactivity allowed on an open connection. @defaultValue SEND_EMAIL_DEFAULTS.socketTimeoutMs */
  socketTimeoutMs?: number;
  /**
   * Refuse to send unless the connection is encrypted (TLS or STARTTLS). Leave off only for a
   * relay on the same host or network.
   * @defaultValue false
   */
  requireTls?: boolean;
}

const address = z.email({ error: 'Not a valid email address' }).max(254);
const recipients = z.union([address, z.array(address).min(1).max(SEND_EMAIL_LIMITS.maxRecipients)]);
const noLineBreaks = (s: string) => !/[\r\n]/.test(s);

export const sendEmailInputSchema = z
  .object({
    to: recipients.describe('Recipient address, or a list of them (bare addresses, e.g. "ana@example.com").'),
    cc: recipients.optional().describe('Carbon-copy address or addresses.'),
    subject: z
      .string()
      .min(1)
      .max(SEND_EMAIL_LIMITS.maxSubjectLength)
      .refine(noLineBreaks, 'The subject must be a single line')
      .describe('Subject line, one line.'),
    text: z.string().min(1).max(SEND_EMAIL_LIMITS.maxTextLength).describe('Plain-text body.'),
    html: z
      .string()
      .min(1)
      .max(SEND_EMAIL_LIMITS.maxHtmlLength)
      .optional()
      .describe('HTML body, sent as an alternative to the text; clients that show HTML prefer it.'),
  })
  .refine((input) => listOf(input.to).length + listOf(input.cc).length <= SEND_EMAIL_LIMITS.maxRecipients, {
    message: `At most ${SEND_EMAIL_LIMITS.maxRecipients} recipients in to and cc together`,
    path: ['to'],
  });

export const sendEmailOutputSchema = z.object({
  /** The Message-ID header, angle brackets included; the same for every attempt of one call. */
  message_id: z.string(),
  /** Recipients the server accepted. */
  accepted: z.array(z.string()),
  /** Recipients the server refused; the message went to the others. */
  rejected: z.array(z.string()),
  /** The server's reply to the message, e.g. "250 2.0.0 Ok: queued as 4Bx...". */
  response: z.string(),
});

export type SendEmailInput = z.output<typeof sendEmailInputSchema>;
export type SendEmailOutput = z.output<typeof sendEmailOutputSchema>;

function listOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

// ---------------------------------------------------------------------------------------------
// Configuration

interface SmtpEndpoint {
  url: string;
  /** host:port, safe to show: never the credentials. */
  label: string;
}

function configError(message: string): AppError {
  return new AppError('CONFIG_INVALID', message, { details: { tool: 'send_email' } });
}

function parseSmtpUrl(smtpUrl: string): SmtpEndpoint {
  let url: URL;
  try {
    url = new URL(smtpUrl);
  } catch {
    throw configError('SMTP_URL is not a URL; expected smtp://user:pass@host:587 or smtps://user:pass@host:465');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw configError(`SMTP_URL must start with smtp:// or smtps://, not ${url.protocol}//`);
  }
  if (!url.hostname) throw configError('SMTP_URL has no host');
  const port = url.port || (url.protocol === 'smtps:' ? '465' : '587');
  return { url: smtpUrl, label: `${url.hostname}:${port}` };
}

/** The address inside `Name <address>`, or the whole string. */
function bareAddress(from: string): string {
  const match = /<([^<>]+)>\s*$/.exec(from);
  return (match ? (match[1] as string) : from).trim();
}

function domainOf(addr: string): string {
  return addr.slice(addr.lastIndexOf('@') + 1).toLowerCase();
}

function checkFrom(from: string): string {
  const addr = bareAddress(from);
  if (!address.safeParse(addr).success || /[\r\n]/.test(from)) {
    throw configError(`AGENTIC_EMAIL_FROM is not a valid sender address: ${JSON.stringify(from)}`);
  }
  return addr;
}

// ---------------------------------------------------------------------------------------------
// Idempotency

/**
 * The Message-ID of a call: a hash of the tenant and the idempotency key. The key itself is not
 * sent: it names internal tasks and steps, and recipients are outsiders. The tenant is hashed in
 * so that two tenants using the same key (direct invocations) never share a Message-ID, which
 * would make receivers drop one of two different messages.
 */
export function messageIdFor(tenantId: string, idempotencyKey: string, domain: string): string {
  return `<${idempotencyHash(tenantId, idempotencyKey)}@${domain}>`;
}

function idempotencyHash(tenantId: string, idempotencyKey: string): string {
  return createHash('sha256').update(`${tenantId}\n${idempotencyKey}`).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Codes of failures to reach or talk to the server, as opposed to replies refusing the message. */
const CONNECTION_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROXY']);

function emailFailed(err: NodemailerError, server: string): AppError {
  const details: Record<string, unknown> = { tool: 'send_email', server, reason: err.code };
  if (err.responseCode !== undefined) details.smtp_code = err.responseCode;
  if (err.response) details.response = err.response;
  if (err.command) details.command = err.command;
  if (err.rejected?.length) details.rejected = err.rejected;
  return new AppError('EMAIL_FAILED', describeFailure(err, server), {
    details,
    cause: err,
    retryable: isRetryable(err),
  });
}

function describeFailure(err: NodemailerError, server: string): string {
  if (err.code === 'EAUTH') return `SMTP server ${server} refused the credentials: ${err.response ?? err.message}`;
  if (err.code === 'EENVELOPE' && err.rejected?.length) {
    return `SMTP server ${server} refused every recipient (${err.rejected.join(', ')}): ${err.response ?? err.message}`;
  }
  if (err.code === 'ETIMEDOUT') return `SMTP server ${server} did not answer in time (${err.timeoutType ?? 'timeout'})`;
  if (err.code && CONNECTION_CODES.has(err.code)) return `Could not talk to SMTP server ${server}: ${err.message}`;
  if (err.response) return `SMTP server ${server} refused the message: ${err.response}`;
  return `Sending email through ${server} failed: ${err.message}`;
}

/** 5xx (except 503) is permanent; 4xx, 503 and anything without a reply (connection trouble) may pass later. */
function isRetryable(err: NodemailerError): boolean {
  if (err.permanent !== undefined) return !err.permanent;
  if (err.responseCode !== undefined) return err.responseCode < 500 || err.responseCode === 503;
  // A configuration mistake (missing credentials, bad options) does not fix itself.
  return err.code !== 'ENOAUTH' && err.code !== 'ECONFIG';
}

// ---------------------------------------------------------------------------------------------
// The tool

function checkDomains(input: SendEmailInput, allowed: Set<string> | null): void {
  if (!allowed) return;
  const outside = [...listOf(input.to), ...listOf(input.cc)].filter((a) => !allowed.has(domainOf(a)));
  if (outside.length > 0) {
    throw new AppError('TOOL_INPUT_INVALID', `Recipients outside the allowed domains: ${outside.join(', ')}`, {
      details: { tool: 'send_email', rejected: outside, allowed_domains: [...allowed] },
    });
  }
}

function createTransporter(endpoint: SmtpEndpoint, options: SendEmailOptions): Transporter<SMTPSentMessageInfo> {
  return nodemailer.createTransport({
    url: endpoint.url,
    connectionTimeout: options.connectionTimeoutMs ?? SEND_EMAIL_DEFAULTS.connectionTimeoutMs,
    greetingTimeout: options.greetingTimeoutMs ?? SEND_EMAIL_DEFAULTS.greetingTimeoutMs,
    socketTimeout: options.socketTimeoutMs ?? SEND_EMAIL_DEFAULTS.socketTimeoutMs,
    dnsTimeout: options.connectionTimeoutMs ?? SEND_EMAIL_DEFAULTS.connectionTimeoutMs,
    // A server that does not close its side after QUIT must not hold the call open.
    socketCloseTimeout: 1000,
    requireTLS: options.requireTls ?? false,
  });
}

/**
 * Creates the `send_email` tool. Throws CONFIG_INVALID for a malformed SMTP URL or sender.
 * @example createSendEmailTool({ smtpUrl: 'smtp://user:pass@mail.example.com:587', from: 'Agentic <agent@example.com>' })
 */
export function createSendEmailTool(options: SendEmailOptions): ToolDefinition<SendEmailInput, SendEmailOutput> {
  const endpoint = parseSmtpUrl(options.smtpUrl);
  const fromAddress = checkFrom(options.from);
  const idDomain = options.messageIdDomain ?? domainOf(fromAddress);
  const allowed = options.allowedDomains?.length ? new Set(options.allowedDomains.map((d) => d.toLowerCase())) : null;
  const transporter = createTransporter(endpoint, options);

  async function run(input: SendEmailInput, ctx: ToolContext): Promise<SendEmailOutput> {
    checkDomains(input, allowed);
    const messageId = messageIdFor(ctx.tenantId, ctx.idempotencyKey, idDomain);
    const mail: SendMailOptions = {
      from: options.from,
      to: listOf(input.to),
      cc: input.cc === undefined ? undefined : listOf(input.cc),
      subject: input.subject,
      text: input.text,
      html: input.html,
      messageId,
      headers: { 'X-Agentic-Idempotency-Key': idempotencyHash(ctx.tenantId, ctx.idempotencyKey) },
      // Nodemailer closes the connection when the call is cancelled or times out.
      signal: ctx.signal,
      // Bodies come from a model: never let them pull in local files or URLs as attachments.
      disableFileAccess: true,
      disableUrlAccess: true,
    };
    let info: SMTPSentMessageInfo;
    try {
      info = await transporter.sendMail(mail);
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
      throw emailFailed(err as NodemailerError, endpoint.label);
    }
    return {
      message_id: messageId,
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
      response: info.response,
    };
  }

  const domains = allowed ? ` Recipients must be at ${[...allowed].join(', ')}.` : '';
  return {
    name: 'send_email',
    description:
      `Sends an email from ${fromAddress} to one or more addresses (to, optional cc), with a subject, a plain-text ` +
      `body and an optional HTML body. It really sends: call it once per message, only when the task asks for it. ` +
      `Returns the Message-ID and which recipients the server accepted or rejected.${domains}`,
    input: sendEmailInputSchema,
    output: sendEmailOutputSchema,
    timeoutMs: options.timeoutMs ?? SEND_EMAIL_DEFAULTS.timeoutMs,
    effect: 'side_effect',
    run,
  };
}
