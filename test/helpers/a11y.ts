import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

// Run inside the page by page.evaluate (this project compiles without the DOM library).
declare const window: any;
declare const document: unknown;

/** axe-core's own bundle (a dev dependency), read once. */
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface Violation {
  readonly id: string;
  readonly impact: string;
  readonly help: string;
  /** CSS selectors of the offending elements (the first few). */
  readonly targets: string[];
}

/**
 * axe-core's check of the page as it is now, WCAG 2.x A and AA plus best practices, keeping only
 * the serious and critical violations. Our CSP (`script-src 'self'`) refuses an inline script tag,
 * so `page.addScriptTag({ content })` loads nothing here; the source is evaluated through the
 * DevTools protocol instead, which the page's CSP does not govern (and the page's own CSP stays on).
 */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  const loaded = await page.evaluate(() => typeof (window as { axe?: unknown }).axe === 'object');
  if (!loaded) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<any> } }).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return (result.violations as any[])
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id as string,
        impact: v.impact as string,
        help: v.help as string,
        targets: (v.nodes as any[]).slice(0, 5).map((n) => String(n.target)),
      }));
  });
}

/** One line per violation, for a failure message a reader can act on. */
export const describeViolations = (violations: readonly Violation[]): string =>
  violations.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.join(' | ')})`).join('\n');
