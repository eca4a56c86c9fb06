import { CliError } from './io.js';

/**
 * The server could not be reached, broke off, or failed (5xx): `run` may fall back on its sealed copy
 * (fallback.ts). A refusal (4xx) is a plain CliError and never falls back.
 */
export class ServerUnavailable extends CliError {}

/** The server answered, and refused: its status (401 and 403 end a token's sealed copy). */
export class ServerRefused extends CliError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** What to do about a refusal, for the ones people meet most. */
function nextStep(status: number, body: string): string {
  const code = /"code":"([a-z_]+)"/.exec(body)?.[1];
  if (code === 'invalid_token')
    return ": the token is revoked, expired or mistyped: get a new one (secretsfly token create) and run 'secretsfly login' again";
  if (code === 'invalid_master_key')
    return ': check SECRETSFLY_MASTER_KEY or --master-key-file (the key of the root project, as printed when it was created or last rotated)';
  if (code === 'forbidden' && /read[- ]only|read_write/i.test(body))
    return ': the token is read-only: create one with --write';
  if (code === 'rate_limited') return ': wait a minute, then try again';
  if (code === 'too_large') return ': the value is larger than the server accepts (MAX_SECRET_BYTES)';
  if (status >= 500) return ': the server failed; try again, and tell its operator if it persists';
  return '';
}

/**
 * One request to a secretsfly server. Any failure becomes one clear line: the server unreachable,
 * or what it refused and why (from its `{"error":{code,message}}`).
 */
export async function callServer(url: string, init: RequestInit = {}): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { 'user-agent': 'secretsfly-cli', ...init.headers },
      // A redirect would carry X-Master-Key (which fetch does not strip) to wherever it points.
      redirect: 'error',
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const { cause } = error as { cause?: { code?: string; message?: string } };
    throw new ServerUnavailable(
      `cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  let body: string;
  try {
    body = await response.text();
  } catch (error) {
    // The connection broke, or the timeout fired, while the answer was arriving: nothing of it is used.
    const { cause } = error as { cause?: { code?: string; message?: string } };
    throw new ServerUnavailable(
      `the connection to ${new URL(url).origin} was cut before the answer was complete: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const { error } = JSON.parse(body) as { error?: { code?: string; message?: string } };
      if (error?.message) message = `${error.message} (${error.code}, HTTP ${response.status})`;
    } catch {
      // not our JSON: the status alone
    }
    const line = `the server refused: ${message}${nextStep(response.status, body)}`;
    throw response.status >= 500 ? new ServerUnavailable(line) : new ServerRefused(line, response.status);
  }
  return body;
}
