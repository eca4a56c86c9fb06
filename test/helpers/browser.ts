import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, beforeEach } from 'vitest';

/**
 * Headless, and nothing that reaches outside this machine. The headless-shell build inside
 * @sparticuz/chromium starts with these alone, as root and as nobody. Its own `chromium.args` are not
 * used: they turn off web security and allow insecure content (what our tests check), and force
 * --single-process.
 */
const OFFLINE_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The Chromium inside the npm package @sparticuz/chromium, so that the browser tests need nothing but
 * `npm install`. The package's `executablePath()` inflates into the shared /tmp/chromium and returns
 * any file already there: two test files starting at once launch a half-written binary (ETXTBSY), a
 * killed run leaves a truncated one for good, and an upgraded package keeps the old one. So it
 * inflates here into a fresh directory (its TMPDIR, in a child process) that is renamed into place
 * whole, once per package version and user. Its fonts go with it: on a machine without fonts every
 * text would render empty.
 */
function bundledChromium(): { executablePath: string; env: NodeJS.ProcessEnv } {
  const entry = createRequire(import.meta.url).resolve('@sparticuz/chromium');
  // Its build/ folders hold package.json files of their own: find the package's.
  let version: string | undefined;
  for (let dir = path.dirname(entry); !version && dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    const json = fs.existsSync(file)
      ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string })
      : {};
    if (json.name === '@sparticuz/chromium') version = json.version;
  }
  const dir = path.join(os.tmpdir(), `secretsfly-chromium-${version ?? 'unknown'}-${process.getuid?.() ?? 'user'}`);
  if (!fs.existsSync(dir)) {
    const staging = fs.mkdtempSync(`${dir}.partial-`);
    try {
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { default: c } = await import(${JSON.stringify(pathToFileURL(entry).href)}); await c.executablePath();`,
        ],
        { env: { ...process.env, TMPDIR: staging }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      // The package's fonts.conf names /tmp/fonts; this one names the fonts beside this binary.
      fs.writeFileSync(
        path.join(staging, 'fonts.conf'),
        `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${dir}/fonts</dir>\n  <cachedir>${dir}/fonts-cache</cachedir>\n</fontconfig>\n`,
      );
      fs.renameSync(staging, dir);
    } catch (error) {
      fs.rmSync(staging, { recursive: true, force: true });
      // Another test file renamed its copy into place first: use that one.
      if (!fs.existsSync(dir)) throw error;
    }
  }
  // In a shared /tmp, only a directory of our own may hold the binary we run.
  const stat = fs.statSync(dir);
  if (stat.uid !== (process.getuid?.() ?? stat.uid) || (stat.mode & 0o022) !== 0) {
    throw new Error(`${dir} is not a directory of this user's alone`);
  }
  return {
    executablePath: path.join(dir, 'chromium'),
    env: { ...process.env, FONTCONFIG_FILE: path.join(dir, 'fonts.conf') },
  };
}

/**
 * Chromium, headless: a system one when CHROMIUM_PATH names it, else the one in @sparticuz/chromium.
 * When none starts, this throws one line saying why, and every browser test fails with it.
 */
export async function launchBrowser(): Promise<Browser> {
  const systemPath = process.env.CHROMIUM_PATH;
  try {
    const { executablePath, env, args } = systemPath
      ? { executablePath: systemPath, env: process.env, args: OFFLINE_ARGS }
      : { ...bundledChromium(), args: OFFLINE_ARGS };
    return await chromium.launch({ executablePath, env, args, headless: true, timeout: 30_000 });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new Error(
      systemPath
        ? `cannot launch CHROMIUM_PATH=${systemPath}: ${reason} (it must name a Chromium binary; unset it to use @sparticuz/chromium)`
        : `cannot launch the Chromium of @sparticuz/chromium: ${reason} (run npm install, or set CHROMIUM_PATH to a Chromium binary)`,
    );
  }
}

/**
 * One browser for the tests of a describe block, launched before them (then `setUp` runs) and closed
 * after. If it cannot launch, each test fails with that one line: a failing beforeAll would only mark
 * them skipped, and the summary would count no failure.
 */
export function useBrowser(setUp?: (browser: Browser) => Promise<void>): { readonly browser: Browser } {
  let browser: Browser | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      browser = await launchBrowser();
    } catch (error) {
      failure = error;
      return;
    }
    await setUp?.(browser);
  }, 60_000);
  beforeEach(() => {
    if (failure) throw failure;
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      if (!browser) throw new Error('no browser: useBrowser() launches it in beforeAll');
      return browser;
    },
  };
}
