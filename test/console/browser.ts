// Debian's Chromium driven by playwright-core for the console's browser tests, and screenshots written as
// test artifacts (test-artifacts/console/, git-ignored). scripts/install-chromium.sh installs the browser.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { projectRoot } from '../../src/config/paths.js';

export const ARTIFACTS = join(projectRoot, 'test-artifacts', 'console');

function chromiumPath(): string {
  return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
}

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<TestBrowser> {
  // playwright-core gives the browser a fresh profile in a temporary folder of its own.
  // Without the background-networking switches Chromium keeps trying to reach Google's services, which this
  // machine's network refuses; the tests need nothing but the loopback server.
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
