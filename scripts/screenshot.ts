/**
 * Regenerates the README's screenshots from a fresh demo server:
 *   node --import tsx scripts/screenshot.ts
 */
import path from 'node:path';
import { launchChromium } from '../test/support/browser.ts';
import { ROOT } from '../test/support/process.ts';
import { startServer } from '../test/support/server.ts';

const server = await startServer();
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Email').fill('alice@example.com');
  await page.getByLabel('Password').fill('ringside-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/contacts$/);
  await page.screenshot({ path: path.join(ROOT, 'docs/screenshots/contact-list.png') });
  await page.goto(`${server.url}/contacts?q=jane%40acme.com`);
  await page.getByRole('link', { name: 'Jane Doe' }).click();
  await page.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
  await page.getByRole('button', { name: 'Call +1 415 555 0134' }).focus();
  await page.screenshot({ path: path.join(ROOT, 'docs/screenshots/contact-page.png') });
  console.log('wrote docs/screenshots/contact-list.png and docs/screenshots/contact-page.png');
} finally {
  await browser.close();
  await server.stop();
}
