import { describe, expect, it } from 'vitest';
import { BadSignature, RateLimited } from '../../src/errors.js';
import { createReplayGuard } from '../../src/integrations/slack.js';

describe('Slack replay guard', () => {
  it('should take a signature once and refuse it again', () => {
    const rememberOnce = createReplayGuard();
    rememberOnce('v0=aa', 1000, 1000);
    expect(() => rememberOnce('v0=aa', 1000, 1001)).toThrow(BadSignature);
    expect(() => rememberOnce('v0=bb', 1000, 1001)).not.toThrow();
  });

  it('should stay bounded: drop stale signatures when full, and never forget a live one', () => {
    const rememberOnce = createReplayGuard(2);
    rememberOnce('v0=1', 1000, 1000);
    rememberOnce('v0=2', 1100, 1100);
    // Full, and both still inside their five minutes: refuse rather than forget one.
    expect(() => rememberOnce('v0=3', 1200, 1200)).toThrow(RateLimited);
    expect(() => rememberOnce('v0=1', 1000, 1200)).toThrow(BadSignature);
    // v0=1 went stale at 1300: its place is taken, v0=2 is still remembered.
    expect(() => rememberOnce('v0=3', 1301, 1301)).not.toThrow();
    expect(() => rememberOnce('v0=2', 1100, 1302)).toThrow(BadSignature);
  });
});
