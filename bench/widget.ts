/**
 * bench/widget — what the softphone widget costs a page.
 *
 * - bundle_gzip_kb: everything a signed-in page loads for the widget (web/dist/assets/ringside.js
 *   and ringside.css; Turbo, Preact and JsSIP are inside), gzip level 9, in KiB. Target < 200.
 * - load_to_registered_ms_p50 / _p95: a CRM page loaded afresh in Chromium (a new document each
 *   time, signed in already) until the widget is registered on the server — measured in the page
 *   as the `ringside:registered` performance mark, which is relative to the navigation's start.
 *   Target < 1000 on loopback.
 *
 * Builds the widget first when its sources are newer. Prints one JSON line.
 *
 *   npm run bench:widget [-- --loads 20 --page /contacts]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { launchChromium } from '../test/support/browser.ts';
import { startServer } from '../test/support/server.ts';
import { ensureWidgetBuilt, signedInPage, waitForRegistered } from '../test/support/widget.ts';

const { values: args } = parseArgs({ options: { loads: { type: 'string', default: '20' }, page: { type: 'string', default: '/contacts' } } });
const LOADS = Number(args.loads);
const PAGE = args.page;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (m: string) => process.stderr.write(`[widget] ${m}\n`);

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

ensureWidgetBuilt();
const bundleBytes = ['ringside.js', 'ringside.css'].reduce((sum, f) => sum + gzipSync(readFileSync(path.join(ROOT, 'web/dist/assets', f)), { level: 9 }).length, 0);

const server = await startServer();
const browser = await launchChromium();
try {
  const context = await browser.newContext();
  const page = await signedInPage(context, server.url, 'alice@example.com', PAGE);
  await waitForRegistered(page);
  const samples: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    // A new document: the old one's WebSocket closes and its Web Lock is released on unload.
    await page.goto(`${server.url}${PAGE}`);
    await waitForRegistered(page, 10_000);
    const ms = await page.evaluate(() => performance.getEntriesByName('ringside:registered')[0]?.startTime ?? Number.NaN);
    if (!Number.isFinite(ms)) throw new Error('the page has no ringside:registered mark');
    samples.push(ms);
    log(`load ${i + 1}: ${ms.toFixed(0)} ms`);
  }
  samples.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bundle_gzip_kb: Math.round((bundleBytes / 1024) * 10) / 10,
      load_to_registered_ms_p50: Math.round(percentile(samples, 50)),
      load_to_registered_ms_p95: Math.round(percentile(samples, 95)),
      loads: LOADS,
      page: PAGE,
    }),
  );
} finally {
  await browser.close();
  await server.stop();
}
