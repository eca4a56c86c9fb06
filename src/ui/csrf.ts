import { ipKeyGenerator } from 'express-rate-limit';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { hmacSha256, hmacSha256Hex } from '../crypto/hash.js';

const COOKIE = 'sf.csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const isSafeMethod = (req: Request): boolean => SAFE_METHODS.has(req.method);

/**
 * Whether the browser says this request came from another site. Sec-Fetch-Site is the browser's own
 * verdict and wins; without it, Origin is compared with Host. Our Referrer-Policy (no-referrer)
 * makes browsers send `Origin: null` on our own forms, so "null" proves nothing either way, and a
 * request with neither header (a script, an old browser) is judged by its CSRF token alone.
 */
export function isCrossSite(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = req.get('origin');
  if (origin === undefined || origin === 'null') return false;
  try {
    return new URL(origin).host !== req.get('host');
  } catch {
    return true;
  }
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * CSRF tokens for the forms shown before sign-in (login, setup), kept in no session so that an
 * anonymous visit stores nothing: a signed double-submit token. The form field must equal the
 * `sf.csrf` cookie (SameSite=Strict: another site's form does not carry it), and the cookie must
 * carry our HMAC, so a cookie planted from a sibling domain is refused too.
 */
export function createAnonymousCsrf(sessionSecret: string) {
  // Its own key, derived so that it works across restarts and instances sharing SESSION_SECRET.
  const key = hmacSha256(sessionSecret, 'secretsfly anonymous form csrf');
  const sign = (nonce: string) => `${nonce}.${hmacSha256Hex(key, nonce)}`;
  const isSigned = (value: string | undefined): value is string => {
    const nonce = value?.split('.')[0];
    if (!value || !nonce) return false;
    const expected = Buffer.from(sign(nonce));
    const given = Buffer.from(value);
    return expected.length === given.length && timingSafeEqual(expected, given);
  };

  return {
    /** The token for a form on this page; sets the cookie unless the browser already holds a good one. */
    issue(req: Request, res: Response): string {
      const held = readCookie(req, COOKIE);
      if (isSigned(held)) return held;
      const token = sign(randomBytes(18).toString('base64url'));
      res.cookie(COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
      return token;
    },
    /** Whether a submitted form carries the token its cookie vouches for. */
    accepts(req: Request): boolean {
      const held = readCookie(req, COOKIE);
      const field = (req.body as Record<string, unknown> | undefined)?._csrf;
      if (!isSigned(held) || typeof field !== 'string' || field.length !== held.length) return false;
      return timingSafeEqual(Buffer.from(field), Buffer.from(held));
    },
  };
}

/**
 * Whether an event a stranger can trigger at will (a refused form, a wrong setup link) should be
 * recorded: once a minute per source (IPv6 counted per /56, or one host would be endless sources)
 * and `also` (e.g. the signed-in user), and at most `perMinute` such events a minute in all, so that
 * many addresses cannot fill the audit log either.
 */
export function oncePerMinute(now: () => number, perMinute = 100) {
  let seen = new Map<string, number>();
  let windowStart = 0;
  return (source: string | undefined, also = ''): boolean => {
    const at = now();
    if (at - windowStart >= 60_000) {
      seen = new Map();
      windowStart = at;
    }
    const key = `${source ? ipKeyGenerator(source) : ''}|${also}`;
    if (seen.has(key) || seen.size >= perMinute) return false;
    seen.set(key, at);
    return true;
  };
}
