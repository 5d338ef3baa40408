import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startSmtpSink } from '../../test/support/smtp-server.js';
import type { SmtpSink, SmtpSinkOptions } from '../../test/support/smtp-server.js';
import { createToolRegistry } from './index.js';
import { createSendEmailTool, messageIdFor } from './send-email.js';
import type { SendEmailOptions, SendEmailOutput } from './send-email.js';
import type { ToolContext } from './types.js';
import { appErrorOf, toolContext } from '../../test/support/tool-context.js';

const FROM = 'Agentic <agent@agentic.test>';

function context(key = 'task-1:step-1:attempt-1:call-0', signal?: AbortSignal): ToolContext {
  return toolContext({ idempotencyKey: key, signal });
}

const sinks: SmtpSink[] = [];
async function sink(options?: SmtpSinkOptions): Promise<SmtpSink> {
  const started = await startSmtpSink(options);
  sinks.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.stop()));
});

function registryFor(options: Partial<SendEmailOptions> & { smtpUrl: string }) {
  return createToolRegistry([createSendEmailTool({ from: FROM, ...options })]);
}

async function send(options: Partial<SendEmailOptions> & { smtpUrl: string }, args: unknown, ctx = context()) {
  return (await registryFor(options).invoke('send_email', args, ctx)) as SendEmailOutput;
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that accepts connections and never says a word. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('send_email delivery', () => {
  it('delivers subject, bodies and recipients with a Message-ID derived from the idempotency key', async () => {
    const smtp = await sink();
    const out = await send(
      { smtpUrl: smtp.url },
      {
        to: ['ana@example.com', 'ben@example.com'],
        cc: 'cleo@example.com',
        subject: 'Quarterly report: 12% up — naïve forecast',
        text: 'Hello team,\nrevenue grew 12% (€1.2M).\n.\nA line with a lone dot above.',
        html: '<p>Hello team, revenue grew <b>12%</b>.</p>',
      },
    );
    const [message] = await smtp.waitForMessages(1);
    const expectedId = messageIdFor('tenant-1', 'task-1:step-1:attempt-1:call-0', 'agentic.test');
    expect(out).toMatchObject({
      message_id: expectedId,
      accepted: ['ana@example.com', 'ben@example.com', 'cleo@example.com'],
      rejected: [],
    });
    expect(out.response).toMatch(/^250/);
    expect(expectedId).toMatch(/^<[0-9a-f]{64}@agentic\.test>$/);
    expect(message?.messageId).toBe(expectedId);
    expect(message?.headers.get('x-agentic-idempotency-key')).toBe(expectedId.slice(1, 65));
    expect(message?.envelope).toEqual({
      from: 'agent@agentic.test',
      to: ['ana@example.com', 'ben@example.com', 'cleo@example.com'],
    });
    expect(message?.headers.get('from')).toBe('Agentic <agent@agentic.test>');
    expect(message?.headers.get('to')).toBe('ana@example.com, ben@example.com');
    expect(message?.headers.get('cc')).toBe('cleo@example.com');
    expect(message?.subject).toBe('Quarterly report: 12% up — naïve forecast');
    expect(message?.text).toBe('Hello team,\nrevenue grew 12% (€1.2M).\n.\nA line with a lone dot above.'.replace(/\n/g, '\r\n'));
    expect(message?.html).toBe('<p>Hello team, revenue grew <b>12%</b>.</p>');
  });

  it('gives every attempt of one call the same Message-ID, and other calls other ids', async () => {
    const smtp = await sink();
    const args = { to: 'ana@example.com', subject: 'Hi', text: 'Body' };
    const first = await send({ smtpUrl: smtp.url }, args, context('key-A'));
    const again = await send({ smtpUrl: smtp.url }, args, context('key-A'));
    const other = await send({ smtpUrl: smtp.url }, args, context('key-B'));
    const received = await smtp.waitForMessages(3);
    expect(first.message_id).toBe(again.message_id);
    expect(other.message_id).not.toBe(first.message_id);
    expect(received.map((m) => m.messageId)).toEqual([first.message_id, first.message_id, other.message_id]);
  });

  it('keys Message-IDs by tenant too, and uses the configured Message-ID domain', () => {
    expect(messageIdFor('tenant-1', 'k', 'agentic')).not.toBe(messageIdFor('tenant-2', 'k', 'agentic'));
    expect(messageIdFor('tenant-1', 'k', 'mail.example.org')).toMatch(/@mail\.example\.org>$/);
  });

  it('logs in when the URL carries credentials', async () => {
    const smtp = await sink({ auth: { user: 'agent@agentic.test', pass: 'p@ss:word/1' } });
    expect(smtp.url).toContain('agent%40agentic.test:p%40ss%3Aword%2F1@');
    const out = await send({ smtpUrl: smtp.url }, { to: 'ana@example.com', subject: 'Auth', text: 'ok' });
    const [message] = await smtp.waitForMessages(1);
    expect(out.accepted).toEqual(['ana@example.com']);
    expect(message?.user).toBe('agent@agentic.test');
  });

  it('fails permanently with the server code when the credentials are wrong, without showing them', async () => {
    const smtp = await sink({ auth: { user: 'agent', pass: 'right' } });
    const err = await appErrorOf(
      send({ smtpUrl: `smtp://agent:wrong-secret@127.0.0.1:${smtp.port}` }, { to: 'a@example.com', subject: 's', text: 't' }),
    );
    expect(err.code).toBe('EMAIL_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ smtp_code: 535, server: `127.0.0.1:${smtp.port}` });
    expect(err.message).toMatch(/refused the credentials/);
    expect(JSON.stringify(err.toInfo())).not.toContain('wrong-secret');
    expect(smtp.messages).toHaveLength(0);
  });
});

describe('send_email refusals', () => {
  const refuse = (address: string) =>
    address.startsWith('nobody@') ? { code: 550, message: 'No such user here' } : undefined;

  it('reports recipients the server refused and delivers to the rest', async () => {
    const smtp = await sink({ refuseRecipient: refuse });
    const out = await send(
      { smtpUrl: smtp.url },
      { to: ['ana@example.com', 'nobody@example.com'], subject: 'Partial', text: 'x' },
    );
    const [message] = await smtp.waitForMessages(1);
    expect(out.accepted).toEqual(['ana@example.com']);
    expect(out.rejected).toEqual(['nobody@example.com']);
    expect(message?.envelope.to).toEqual(['ana@example.com']);
  });

  it('fails permanently (not retryable) when the server refuses every recipient with 5xx', async () => {
    const smtp = await sink({ refuseRecipient: refuse });
    const err = await appErrorOf(send({ smtpUrl: smtp.url }, { to: 'nobody@example.com', subject: 's', text: 't' }));
    expect(err.code).toBe('EMAIL_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ smtp_code: 550, rejected: ['nobody@example.com'] });
    expect(err.message).toMatch(/refused every recipient.*No such user here/);
  });

  it('fails as retryable when the refusal is temporary (4xx)', async () => {
    const smtp = await sink({ refuseRecipient: () => ({ code: 451, message: 'Greylisted, try again later' }) });
    const err = await appErrorOf(send({ smtpUrl: smtp.url }, { to: 'ana@example.com', subject: 's', text: 't' }));
    expect(err.code).toBe('EMAIL_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.details).toMatchObject({ smtp_code: 451 });
  });

  it('fails permanently when the server refuses the message after DATA', async () => {
    const smtp = await sink({ refuseData: { code: 554, message: 'Message looks like spam' } });
    const err = await appErrorOf(send({ smtpUrl: smtp.url }, { to: 'ana@example.com', subject: 's', text: 't' }));
    expect(err.code).toBe('EMAIL_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ smtp_code: 554 });
    expect(err.message).toContain('Message looks like spam');
  });
});

describe('send_email connection problems', () => {
  it('fails clearly, and as retryable, when the server is down', async () => {
    const port = await closedPort();
    const started = Date.now();
    const err = await appErrorOf(
      send({ smtpUrl: `smtp://user:hunter2@127.0.0.1:${port}` }, { to: 'a@example.com', subject: 's', text: 't' }),
    );
    expect(err.code).toBe('EMAIL_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`Could not talk to SMTP server 127.0.0.1:${port}`);
    expect(err.message).not.toContain('hunter2');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('gives up on a server that never greets after the greeting timeout', async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const err = await appErrorOf(
        send(
          { smtpUrl: `smtp://127.0.0.1:${silent.port}`, greetingTimeoutMs: 300 },
          { to: 'a@example.com', subject: 's', text: 't' },
        ),
      );
      expect(err.code).toBe('EMAIL_FAILED');
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(/did not answer in time \(GREETING_TIMEOUT\)/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  it('stops promptly when the call is cancelled', async () => {
    const silent = await silentServer();
    try {
      const controller = new AbortController();
      const tool = createSendEmailTool({ smtpUrl: `smtp://127.0.0.1:${silent.port}`, from: FROM });
      const started = Date.now();
      setTimeout(() => controller.abort(new Error('cancelled by test')), 100);
      const err = await tool.run({ to: 'a@example.com', subject: 's', text: 't' }, context('k', controller.signal)).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toBe('cancelled by test');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await silent.close();
    }
  });

  it('refuses to send unencrypted when TLS is required', async () => {
    const smtp = await sink();
    const err = await appErrorOf(
      send({ smtpUrl: smtp.url, requireTls: true }, { to: 'a@example.com', subject: 's', text: 't' }),
    );
    expect(err.code).toBe('EMAIL_FAILED');
    expect(smtp.messages).toHaveLength(0);
  });
});

describe('send_email input and configuration', () => {
  const smtpUrl = 'smtp://127.0.0.1:2525';

  it.each([
    ['an invalid address', { to: 'not-an-address', subject: 's', text: 't' }],
    ['an invalid address in a list', { to: ['ana@example.com', 'bad@'], subject: 's', text: 't' }],
    ['a display name instead of a bare address', { to: 'Ana <ana@example.com>', subject: 's', text: 't' }],
    ['an invalid cc', { to: 'ana@example.com', cc: 'x@y', subject: 's', text: 't' }],
    ['a header injection in the subject', { to: 'ana@example.com', subject: 'Hi\r\nBcc: eve@example.com', text: 't' }],
    ['an empty body', { to: 'ana@example.com', subject: 's', text: '' }],
    ['a missing subject', { to: 'ana@example.com', text: 't' }],
    ['an over-long subject', { to: 'ana@example.com', subject: 'x'.repeat(301), text: 't' }],
    [
      'too many recipients',
      {
        to: Array.from({ length: 30 }, (_, i) => `to${i}@example.com`),
        cc: Array.from({ length: 21 }, (_, i) => `cc${i}@example.com`),
        subject: 's',
        text: 't',
      },
    ],
  ])('refuses %s with TOOL_INPUT_INVALID', async (_label, args) => {
    const err = await appErrorOf(send({ smtpUrl }, args));
    expect(err.code).toBe('TOOL_INPUT_INVALID');
  });

  it('refuses recipients outside the allowed domains before connecting', async () => {
    const smtp = await sink();
    const options = { smtpUrl: smtp.url, allowedDomains: ['Example.com'] };
    const err = await appErrorOf(send(options, { to: ['ana@example.com', 'eve@evil.test'], subject: 's', text: 't' }));
    expect(err.code).toBe('TOOL_INPUT_INVALID');
    expect(err.details).toMatchObject({ rejected: ['eve@evil.test'] });
    expect(smtp.messages).toHaveLength(0);
    const out = await send(options, { to: 'ANA@EXAMPLE.COM', subject: 's', text: 't' });
    expect(out.accepted).toHaveLength(1);
  });

  it.each([
    ['a URL that does not parse', { smtpUrl: 'not a url', from: FROM }],
    ['another scheme', { smtpUrl: 'http://mail.example.com', from: FROM }],
    ['a sender that is not an address', { smtpUrl, from: 'Agentic <nobody>' }],
    ['a sender with a line break', { smtpUrl, from: 'agent@agentic.test\r\nBcc: eve@evil.test' }],
  ])('rejects %s with CONFIG_INVALID', (_label, options) => {
    expect(() => createSendEmailTool(options)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('is described as a side effect with its limits', () => {
    const descriptor = registryFor({ smtpUrl }).describe('send_email');
    expect(descriptor).toMatchObject({ effect: 'side_effect', side_effects: true, idempotent: false });
    expect(descriptor.description).toContain('agent@agentic.test');
    expect(JSON.stringify(descriptor.input_schema)).toContain('"maxLength":300');
  });
});
