import nodemailer from 'nodemailer';
import type { Config } from '../config.js';
import { InvalidRequest } from '../errors.js';

const EMAIL = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,190}\.[^\s@<>"]{1,63}$/;

export type ShareNotifier = ReturnType<typeof createShareNotifier>;

export function assertEmail(to: unknown): asserts to is string {
  if (typeof to !== 'string' || !EMAIL.test(to)) throw new InvalidRequest('"notify_email" must be an e-mail address');
}

/**
 * Optional e-mail notice to a share's recipient. It says a secret is waiting and until when; it
 * cannot carry the link, because the server never has the link's key (the sender sends the link).
 */
export function createShareNotifier(smtp: Config['smtp']) {
  const transport = smtp ? nodemailer.createTransport(smtp.url) : undefined;
  return {
    async notify(to: unknown, share: { expiresAt: string; sender: string }): Promise<void> {
      assertEmail(to);
      if (!transport || !smtp) throw new InvalidRequest('e-mail notices are not set up on this server (SMTP_URL)');
      await transport.sendMail({
        from: smtp.from,
        to,
        subject: 'A secret is waiting for you',
        text: [
          `${share.sender} shared a secret with you through secretsfly.`,
          '',
          'They will send you the link themselves: it carries the key that opens the secret, which this',
          'server never sees. The link works once, until',
          `${new Date(share.expiresAt).toUTCString()}.`,
          '',
          'If you were not expecting this, you can ignore this message.',
        ].join('\n'),
      });
    },
  };
}
