/**
 * Helpers for the softphone widget's browser tests: the built bundle, signing in, reading the
 * panel, and measuring media through RTCPeerConnection.getStats() in the page.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUNDLE = path.join(ROOT, 'web/dist/assets/ringside.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  if (!existsSync(BUNDLE)) return false;
  const sources = Math.max(newestMtime(path.join(ROOT, 'web/src')), statSync(path.join(ROOT, 'vite.config.ts')).mtimeMs);
  return statSync(BUNDLE).mtimeMs >= sources;
}

/**
 * Builds web/dist unless it is newer than every source (`npm test` builds first; a single test
 * file run by hand may not have). Test files run in parallel processes: a lock directory makes
 * one of them build while the others wait for it.
 */
export function ensureWidgetBuilt(): void {
  if (isFresh()) return;
  const lock = path.join(ROOT, 'web/.build-lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a build that was killed: older than any real build takes.
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs;
      if (since !== undefined && Date.now() - since > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another widget build');
      // Another process builds: wait for it (a blocking wait is fine in a test's setup).
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!isFresh()) execFileSync('npx', ['vite', 'build'], { cwd: ROOT, stdio: 'inherit' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Keeps only 127.0.0.1 ICE candidates in what the page signals: the machine's other interface
 * must not carry test media. Patches `localDescription`, which JsSIP reads to build its SDP.
 */
export const LOOPBACK_ONLY_ICE = `(() => {
  const proto = window.RTCPeerConnection && RTCPeerConnection.prototype;
  const original = proto && Object.getOwnPropertyDescriptor(proto, 'localDescription');
  if (!original || !original.get) return;
  const keep = (sdp) => sdp.split('\\r\\n').filter((line) => !line.startsWith('a=candidate:') || line.includes(' 127.0.0.1 ')).join('\\r\\n');
  Object.defineProperty(proto, 'localDescription', {
    configurable: true,
    get() {
      const d = original.get.call(this);
      return d && d.sdp ? new RTCSessionDescription({ type: d.type, sdp: keep(d.sdp) }) : d;
    },
  });
})();`;

/** A new browser profile signed in as `email`, on `path` (default the contacts list). */
export async function signedInPage(context: BrowserContext, baseUrl: string, email: string, pagePath = '/contacts', options: { loopbackOnly?: boolean } = {}): Promise<Page> {
  if (options.loopbackOnly !== false) await context.addInitScript(LOOPBACK_ONLY_ICE);
  const page = await context.newPage();
  await page.goto(`${baseUrl}/login?next=${encodeURIComponent(pagePath)}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('ringside-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === pagePath);
  return page;
}

/** The panel's registration status: 'registered', 'connecting' or 'offline'. */
export function registrationStatus(page: Page): Promise<string | null> {
  return page.locator('#sp-registration').getAttribute('data-status');
}

export async function waitForRegistered(page: Page, timeout = 5000): Promise<void> {
  await page.locator('#sp-registration[data-status="registered"]').waitFor({ timeout });
}

export interface MediaStats {
  audioBytes: number;
  videoBytes: number;
  framesDecoded: number;
}

/** The in-page half of receivedMedia (runs in Chromium or Firefox). */
export async function inPageReceivedMedia(): Promise<MediaStats> {
  const pc = (window as unknown as { ringside: { peerConnection(): RTCPeerConnection | null } }).ringside.peerConnection();
  const out = { audioBytes: 0, videoBytes: 0, framesDecoded: 0 };
  if (!pc) return out;
  const stats = await pc.getStats();
  stats.forEach((s: { type: string; kind?: string; bytesReceived?: number; framesDecoded?: number }) => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'audio') out.audioBytes += s.bytesReceived ?? 0;
    if (s.kind === 'video') {
      out.videoBytes += s.bytesReceived ?? 0;
      out.framesDecoded += s.framesDecoded ?? 0;
    }
  });
  return out;
}

/** Anything that runs a function in a page: a Playwright or a Puppeteer page. */
export interface PageLike {
  evaluate(fn: () => Promise<MediaStats>): Promise<MediaStats>;
}

/** What this page's call has received so far (inbound-rtp, summed per kind). */
export function receivedMedia(page: PageLike): Promise<MediaStats> {
  return page.evaluate(inPageReceivedMedia);
}

/**
 * Waits until media has arrived on this page's call: audio bytes, and decoded video frames when
 * `video`. getStats has no event for "bytes arrived", so this polls it.
 */
export async function waitForMedia(page: PageLike, options: { video: boolean; timeoutMs?: number; moreThan?: MediaStats }): Promise<MediaStats> {
  const base = options.moreThan ?? { audioBytes: 0, videoBytes: 0, framesDecoded: 0 };
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last: MediaStats = { audioBytes: 0, videoBytes: 0, framesDecoded: 0 };
  while (Date.now() < deadline) {
    last = await receivedMedia(page);
    if (last.audioBytes > base.audioBytes && (!options.video || last.framesDecoded > base.framesDecoded)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${options.video ? 'audio and video' : 'audio'} received within the timeout: ${JSON.stringify(last)}`);
}

/** The buttons of the panel, by their accessible names. */
export function panelButton(page: Page, name: string) {
  return page.locator('#ringside-softphone').getByRole('button', { name, exact: true });
}

/** Dials `target` from the panel's Number field. */
export async function dial(page: Page, target: string): Promise<void> {
  await page.locator('#ringside-softphone').getByLabel('Number', { exact: true }).fill(target);
  await panelButton(page, 'Call').click();
}

export function tabRole(page: Page): Promise<string | null> {
  return page.evaluate(() => (window as unknown as { ringside: { role(): string | null } }).ringside.role());
}
