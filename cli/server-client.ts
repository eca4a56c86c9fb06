import { CliError } from './io.js';

/** SECRETSFLY_URL, without a trailing slash. */
export function serverUrl(): string {
  const url = process.env.SECRETSFLY_URL?.trim().replace(/\/+$/, '');
  if (!url) throw new CliError('SECRETSFLY_URL is not set (e.g. https://secrets.example.com)');
  return url;
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
    throw new CliError(
      `cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  let body: string;
  try {
    body = await response.text();
  } catch (error) {
    // The connection broke, or the timeout fired, while the answer was arriving: nothing of it is used.
    const { cause } = error as { cause?: { code?: string; message?: string } };
    throw new CliError(
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
    throw new CliError(`the server refused: ${message}`);
  }
  return body;
}
