import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const SIGNING_SECRET = 'slack-signing-secret-for-tests';

/** A stand-in for Slack's Web API on loopback: records calls; DMs to U_UNREACHABLE fail. */
async function startSlackStandIn() {
  const calls: { method: string; auth: string | undefined; body: Record<string, any> }[] = [];
  const app = express();
  app.use(express.json());
  app.post('/:method', (req, res) => {
    calls.push({ method: req.params.method, auth: req.get('authorization'), body: req.body as Record<string, any> });
    if (req.params.method === 'chat.postMessage' && req.body.channel === 'U_UNREACHABLE')
      return res.json({ ok: false, error: 'channel_not_found' });
    res.json({ ok: true });
  });
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    calls,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

function signed(body: string, timestamp = Math.floor(Date.now() / 1000), secret = SIGNING_SECRET) {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return {
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signature,
    'content-type': 'application/x-www-form-urlencoded',
  };
}

const submission = (recipient: string, secret: string, note = 'for the deploy') =>
  new URLSearchParams({
    payload: JSON.stringify({
      type: 'view_submission',
      user: { id: 'U_SENDER' },
      view: {
        callback_id: 'sendsecret',
        state: {
          values: {
            recipient: { value: { selected_user: recipient } },
            secret: { value: { value: secret } },
            note: { value: { value: note } },
            ttl: { value: { selected_option: { value: '15m' } } },
          },
        },
      },
    }),
  }).toString();

describe('Slack /sendsecret', () => {
  let slack: Awaited<ReturnType<typeof startSlackStandIn>>;
  let server: TestServer;
  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${server.url}/integrations/slack${path}`, { method: 'POST', headers, body });

  beforeAll(async () => {
    slack = await startSlackStandIn();
    server = await startTestServer({
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: slack.url,
    });
  });
  afterAll(async () => {
    await server.close();
    await slack.close();
  });

  it('should refuse a bad signature and a stale timestamp before doing anything', async () => {
    const body = 'command=%2Fsendsecret&trigger_id=T1';
    const forged = await post('/commands', body, signed(body, undefined, 'not-the-secret'));
    expect([forged.status, ((await forged.json()) as { error: { code: string } }).error.code]).toEqual([
      401,
      'invalid_signature',
    ]);
    const stale = await post('/commands', body, signed(body, Math.floor(Date.now() / 1000) - 301));
    expect(stale.status).toBe(401);
    const tampered = await post('/commands', `${body}x`, signed(body));
    expect(tampered.status).toBe(401);
    expect(slack.calls).toEqual([]);
  });

  it('should open the modal for /sendsecret', async () => {
    const body = 'command=%2Fsendsecret&trigger_id=TRIGGER_123&user_id=U_SENDER';
    const res = await post('/commands', body, signed(body));
    expect(res.status).toBe(200);
    const open = slack.calls.find((c) => c.method === 'views.open')!;
    expect(open.auth).toBe('Bearer xoxb-test-token');
    expect(open.body.trigger_id).toBe('TRIGGER_123');
    expect(open.body.view.blocks.map((b: { block_id: string }) => b.block_id)).toEqual([
      'recipient',
      'secret',
      'note',
      'ttl',
    ]);
    expect(open.body.view.blocks[3].element.options.map((o: { value: string }) => o.value)).toEqual([
      '15m',
      '1h',
      '4h',
      '24h',
    ]);
  });

  it('should refuse a replay of a signed request within the window, acting on it once', async () => {
    const body = 'command=%2Fsendsecret&trigger_id=REPLAYED_TRIGGER';
    const headers = signed(body);
    expect((await post('/commands', body, headers)).status).toBe(200);
    const replay = await post('/commands', body, headers);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'invalid_signature',
      message: expect.stringMatching(/replay/),
    });
    expect(slack.calls.filter((c) => c.body.trigger_id === 'REPLAYED_TRIGGER')).toHaveLength(1);
  });

  it('should refuse a timestamp more than a minute in the future, and take a small clock drift', async () => {
    const body = 'command=%2Fsendsecret&trigger_id=FUTURE_TRIGGER';
    const now = Math.floor(Date.now() / 1000);
    expect((await post('/commands', body, signed(body, now + 120))).status).toBe(401);
    expect(slack.calls.filter((c) => c.body.trigger_id === 'FUTURE_TRIGGER')).toHaveLength(0);
    expect((await post('/commands', body, signed(body, now + 20))).status).toBe(200);
  });

  it('should DM the recipient a one-time link that opens to the exact secret', async () => {
    const body = submission('U_RECIPIENT', 'db password: s3cr3t ünï\nline 2');
    const res = await post('/interactions', body, signed(body));
    expect(res.status).toBe(200);
    const dm = slack.calls.find((c) => c.method === 'chat.postMessage' && c.body.channel === 'U_RECIPIENT')!;
    expect(dm.body.text).toContain('<@U_SENDER> sent you a secret');
    expect(dm.body.text).toContain('Note: for the deploy');
    const link = /(http:\/\/\S+\/s\/\S+#\S+)/.exec(dm.body.text)![1]!;
    expect(link.startsWith(`${server.url}/s/`)).toBe(true);
    const opened = await runCli(['share', 'open', link], { dataDir: tempDir() });
    expect(opened.stdout).toBe('db password: s3cr3t ünï\nline 2\n');
    await server.ctx.audit.flush();
    const created = (await server.ctx.audit.list({ action: 'share_created' }))[0]!;
    expect(created.actor).toBe('slack:U_SENDER');
  });

  it('should burn the share and audit dm_failed when Slack refuses the DM', async () => {
    const body = submission('U_UNREACHABLE', 'never delivered');
    const res = await post('/interactions', body, signed(body));
    const answer = (await res.json()) as { response_action: string; errors: { recipient: string } };
    expect(answer.response_action).toBe('errors');
    expect(answer.errors.recipient).toContain('channel_not_found');
    const failed = (await server.ctx.audit.list({ action: 'dm_failed' }))[0]!;
    expect(failed.details).toMatchObject({ error: 'channel_not_found' });
    const shareId = failed.details!.share_id as string;
    expect((await server.ctx.shares.peek(shareId)).state).toBe('burned');
  });
});

describe('Slack payloads', () => {
  it('should answer a signed but malformed payload with 400, echoing none of it', async () => {
    const slack = await startSlackStandIn();
    const server = await startTestServer({
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: slack.url,
    });
    try {
      const body = new URLSearchParams({ payload: '{"secret": "l3aked-value" oops' }).toString();
      const res = await fetch(`${server.url}/integrations/slack/interactions`, {
        method: 'POST',
        headers: signed(body),
        body,
      });
      expect(res.status).toBe(400);
      expect(await res.text()).not.toContain('l3aked-value');
      expect(server.logLines.join('')).not.toContain('l3aked-value');
    } finally {
      await server.close();
      await slack.close();
    }
  });
});
