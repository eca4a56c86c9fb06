/** A cookie-keeping HTTP client that submits forms the way a browser would, CSRF field included. */
export class FormClient {
  cookies = new Map<string, string>();
  lastCsrf = '';
  lastSetCookie: string[] = [];

  constructor(readonly base: string) {}

  private remember(response: Response): void {
    this.lastSetCookie = response.headers.getSetCookie();
    for (const line of this.lastSetCookie) {
      const [pair] = line.split(';');
      const [name, ...value] = pair!.split('=');
      this.cookies.set(name!.trim(), value.join('='));
    }
  }

  private get cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async get(path: string, headers: Record<string, string> = {}) {
    const response = await fetch(this.base + path, {
      headers: { cookie: this.cookieHeader, ...headers },
      redirect: 'manual',
    });
    this.remember(response);
    const text = await response.text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(text)?.[1];
    if (csrf) this.lastCsrf = csrf;
    return { status: response.status, text, headers: response.headers, location: response.headers.get('location') };
  }

  async post(
    path: string,
    fields: Record<string, string>,
    options: { csrf?: boolean; headers?: Record<string, string> } = {},
  ) {
    const body = new URLSearchParams(options.csrf === false ? fields : { _csrf: this.lastCsrf, ...fields });
    const response = await fetch(this.base + path, {
      method: 'POST',
      headers: { cookie: this.cookieHeader, 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
      body: body.toString(),
      redirect: 'manual',
    });
    this.remember(response);
    const text = await response.text();
    return { status: response.status, text, headers: response.headers, location: response.headers.get('location') };
  }

  /** GET the form page first (for its CSRF token), then submit it. */
  async submit(pagePath: string, action: string, fields: Record<string, string>) {
    await this.get(pagePath);
    return this.post(action, fields);
  }

  async login(username: string, password: string) {
    const result = await this.submit('/login', '/login', { username, password });
    if (result.status !== 303) throw new Error(`login failed: ${result.status}`);
    return result;
  }
}
