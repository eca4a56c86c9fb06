import { timingSafeEqual } from 'node:crypto';
import express, { type Request, Router } from 'express';
import type { Config } from '../config.js';
import { hmacSha256Hex } from '../crypto/hash.js';
import { BadSignature, InvalidRequest, RateLimited } from '../errors.js';
import type { Logger } from '../logger.js';
import { loadShareCrypto } from '../shares/share-crypto.js';
import type { ShareService } from '../shares/share.service.js';

const REPLAY_WINDOW_SECONDS = 5 * 60;
/** Clocks drift a little; a timestamp further ahead than this was not made by Slack just now. */
const FUTURE_SKEW_SECONDS = 60;
/** Signatures remembered at most (a few hundred bytes each); Slack sends far fewer in five minutes. */
const MAX_REMEMBERED_SIGNATURES = 10_000;
const TTLS = [
  ['15m', '15 minutes'],
  ['1h', '1 hour'],
  ['4h', '4 hours'],
  ['24h', '24 hours'],
] as const;

/** Slack's request signing: v0=HMAC-SHA256(secret, "v0:<timestamp>:<raw body>"), within five minutes. */
export function verifySlackSignature(
  signingSecret: string,
  req: Pick<Request, 'get'>,
  rawBody: Buffer,
  nowSeconds: number,
): void {
  const timestamp = req.get('x-slack-request-timestamp') ?? '';
  const signature = req.get('x-slack-signature') ?? '';
  if (!/^\d{1,12}$/.test(timestamp)) throw new BadSignature('no timestamp');
  if (nowSeconds - Number(timestamp) > REPLAY_WINDOW_SECONDS) throw new BadSignature('stale timestamp');
  if (Number(timestamp) - nowSeconds > FUTURE_SKEW_SECONDS) throw new BadSignature('timestamp in the future');
  const expected = `v0=${hmacSha256Hex(signingSecret, `v0:${timestamp}:`, rawBody)}`;
  if (signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), Buffer.from(expected))) {
    throw new BadSignature('signature mismatch');
  }
}

/**
 * A signed request may be sent again by whoever saw it, within the window. Each verified signature is
 * remembered until its timestamp goes stale (after which the window check refuses it anyway), and a
 * second use is refused. Memory is bounded: when full, stale entries go; if none is stale, new
 * requests wait (429) rather than forgetting a live signature, which would reopen its replay.
 */
export function createReplayGuard(max = MAX_REMEMBERED_SIGNATURES) {
  const seen = new Map<string, number>();
  return function rememberOnce(signature: string, timestamp: number, nowSeconds: number): void {
    if (seen.has(signature)) throw new BadSignature('request already received (replay)');
    if (seen.size >= max) {
      for (const [known, staleAfter] of seen) if (staleAfter < nowSeconds) seen.delete(known);
      if (seen.size >= max) throw new RateLimited(FUTURE_SKEW_SECONDS, 'too many Slack requests: try again shortly');
    }
    seen.set(signature, timestamp + REPLAY_WINDOW_SECONDS);
  };
}

/** A view submission carries the secret: a malformed one is refused without echoing any of it. */
function parsePayload(text: string | null): unknown {
  try {
    return JSON.parse(text ?? '{}');
  } catch {
    throw new InvalidRequest('malformed interaction payload');
  }
}

function modal() {
  const input = (block_id: string, label: string, element: object, optional = false) => ({
    type: 'input',
    block_id,
    optional,
    label: { type: 'plain_text', text: label },
    element: { action_id: 'value', ...element },
  });
  const option = ([value, text]: readonly [string, string]) => ({ text: { type: 'plain_text', text }, value });
  return {
    type: 'modal',
    callback_id: 'sendsecret',
    title: { type: 'plain_text', text: 'Send a secret' },
    submit: { type: 'plain_text', text: 'Send' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      input('recipient', 'To', { type: 'users_select' }),
      input('secret', 'Secret (shown once)', { type: 'plain_text_input', multiline: true, max_length: 3000 }),
      input('note', 'Note', { type: 'plain_text_input', max_length: 300 }, true),
      input('ttl', 'Expires after', {
        type: 'static_select',
        options: TTLS.map(option),
        initial_option: option(TTLS[1]),
      }),
    ],
  };
}

/**
 * /sendsecret for Slack. Unlike the browser and CLI paths, the server encrypts here: it makes the
 * link's key, uses it once, DMs the link and forgets it; for that moment the server is trusted.
 */
export function slackRouter(deps: {
  slack: NonNullable<Config['slack']>;
  /** The server's public base URL, for the links in DMs. */
  publicUrl: () => string;
  shares: Pick<ShareService, 'create' | 'burnUndelivered'>;
  logger: Logger;
  now?: () => number;
  /**
   * Several instances (PostgreSQL): whether this signature is new to all of them (claimOnce in
   * http/rate-limit-store.ts); a replay sent to another instance is refused there too.
   */
  claimSignature?: ((signature: string, staleAfterMs: number) => Promise<boolean>) | undefined;
}): Router {
  const { slack, publicUrl, shares, logger } = deps;
  const now = deps.now ?? Date.now;
  const rememberOnce = createReplayGuard();
  const router = Router();

  const callSlack = async (method: string, body: object): Promise<{ ok: boolean; error?: string }> => {
    try {
      const response = await fetch(`${slack.apiUrl}/${method}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${slack.botToken}`, 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      return (await response.json()) as { ok: boolean; error?: string };
    } catch (error) {
      return { ok: false, error: (error as Error).name };
    }
  };

  // Signature first, on the raw bytes Slack signed, before anything else is parsed or done.
  router.use(express.raw({ type: () => true, limit: '64kb' }), async (req, _res, next) => {
    const nowSeconds = Math.floor(now() / 1000);
    verifySlackSignature(slack.signingSecret, req, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), nowSeconds);
    const signature = req.get('x-slack-signature')!;
    const timestamp = Number(req.get('x-slack-request-timestamp'));
    rememberOnce(signature, timestamp, nowSeconds);
    const staleAfterMs = (timestamp + REPLAY_WINDOW_SECONDS) * 1000;
    if (deps.claimSignature && !(await deps.claimSignature(`slack:${signature}`, staleAfterMs))) {
      throw new BadSignature('request already received (replay)');
    }
    (req as Request & { form: URLSearchParams }).form = new URLSearchParams((req.body as Buffer).toString('utf8'));
    next();
  });
  const form = (req: Request) => (req as Request & { form: URLSearchParams }).form;

  router.post('/commands', async (req, res) => {
    const triggerId = form(req).get('trigger_id');
    if (!triggerId) throw new InvalidRequest('no trigger_id');
    const opened = await callSlack('views.open', { trigger_id: triggerId, view: modal() });
    if (!opened.ok) logger.warn('slack views.open failed', { error: opened.error });
    res.status(200).end();
  });

  router.post('/interactions', async (req, res) => {
    const payload = parsePayload(form(req).get('payload')) as {
      type?: string;
      user?: { id?: string };
      view?: {
        callback_id?: string;
        state?: {
          values?: Record<
            string,
            { value?: { value?: string; selected_user?: string; selected_option?: { value?: string } } }
          >;
        };
      };
    };
    if (payload.type !== 'view_submission' || payload.view?.callback_id !== 'sendsecret') return res.status(200).end();
    const values = payload.view.state?.values ?? {};
    const sender = payload.user?.id ?? 'unknown';
    const recipient = values.recipient?.value?.selected_user;
    const secret = values.secret?.value?.value ?? '';
    const note = values.note?.value?.value ?? '';
    const ttl = values.ttl?.value?.selected_option?.value ?? '1h';
    if (!recipient || !secret || !TTLS.some(([value]) => value === ttl)) {
      return res.json({ response_action: 'errors', errors: { secret: 'Pick a recipient and write the secret.' } });
    }
    const actor = { name: `slack:${sender}`, ip: req.ip, userAgent: req.get('user-agent') };
    const { ciphertext, key } = await (await loadShareCrypto()).encryptShare(secret);
    const share = await shares.create({ ciphertext, ttl }, actor);
    const expires = `<!date^${Math.floor(new Date(share.expires_at).getTime() / 1000)}^{date_short_pretty} {time}|${share.expires_at}>`;
    const text = [
      `<@${sender}> sent you a secret. It can be viewed once, until ${expires}:`,
      `${publicUrl()}/s/${share.id}#${key}`,
      note && `Note: ${note}`,
    ]
      .filter(Boolean)
      .join('\n');
    const dm = await callSlack('chat.postMessage', {
      channel: recipient,
      text,
      unfurl_links: false,
      unfurl_media: false,
    });
    if (!dm.ok) {
      // The link never arrived: nobody may ever open it, so its ciphertext goes now.
      await shares.burnUndelivered(share.id, share.creator_key, actor, String(dm.error ?? 'unknown'));
      return res.json({
        response_action: 'errors',
        errors: { recipient: `Slack could not deliver the DM (${dm.error ?? 'unknown error'}). Nothing was shared.` },
      });
    }
    res.status(200).end();
  });

  return router;
}
