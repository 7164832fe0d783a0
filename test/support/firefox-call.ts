/**
 * One call from a widget in Firefox (Alice, puppeteer-core over WebDriver BiDi) to a widget in
 * Chromium (Bob, Playwright), both on a real Ringside started here. Prints one JSON line with
 * what each side received. Meant to run inside runInPrivateNetwork() (see netns.ts): the widget
 * test (src/web/widget-firefox.test.ts) starts it and checks the figures.
 */
import type { Page as FirefoxPage } from 'puppeteer-core';
import { launchChromium, launchFirefox } from './browser.ts';
import { startServer } from './server.ts';
import { panelButton, signedInPage, waitForMedia, waitForRegistered, type PageLike } from './widget.ts';

/** Clicks the panel's button with exactly this name (Puppeteer's ARIA selector). */
async function press(page: FirefoxPage, name: string): Promise<void> {
  await page.locator(`#ringside-softphone ::-p-aria([name="${name}"][role="button"])`).click();
}

async function main(): Promise<void> {
  const server = await startServer();
  const [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
  const pages: { name: string; page: PageLike & { evaluate(fn: () => unknown): Promise<unknown> } }[] = [];
  try {
    const alice = await firefox.newPage();
    pages.push({ name: 'firefox', page: alice as never });
    await alice.goto(`${server.url}/login?next=/phone`);
    await alice.locator('#email').fill('alice@example.com');
    await alice.locator('#password').fill('ringside-demo');
    await Promise.all([alice.waitForNavigation(), alice.locator('button[type="submit"]').click()]);
    await alice.waitForSelector('#sp-registration[data-status="registered"]', { timeout: 5000 });

    const bob = await signedInPage(await chromium.newContext(), server.url, 'bob@example.com', '/phone', { loopbackOnly: false });
    pages.push({ name: 'chromium', page: bob as never });
    await waitForRegistered(bob);

    await press(alice, 'Video on');
    await alice.locator('#sp-number').fill('1002'); // Bob's extension
    await press(alice, 'Call');
    await panelButton(bob, 'Answer').waitFor();
    await panelButton(bob, 'Video on').click();
    await panelButton(bob, 'Answer').click();

    const [atAlice, atBob] = await Promise.all([waitForMedia(alice as unknown as PageLike, { video: true, timeoutMs: 20_000 }), waitForMedia(bob, { video: true, timeoutMs: 20_000 })]);
    await press(alice, 'Hang up');
    await Promise.all([bob.locator('#sp-number').waitFor(), alice.waitForSelector('#sp-number')]);
    console.log(JSON.stringify({ firefox: atAlice, chromium: atBob, hungUp: true }));
  } catch (err) {
    // Say what each widget showed: the panel's state is the best clue to a failed call.
    for (const { name, page } of pages) {
      const state = await page.evaluate(() => (window as unknown as { ringside: { state(): unknown } }).ringside.state()).catch((e: unknown) => String(e));
      console.error(`${name} widget state: ${JSON.stringify(state)}`);
    }
    throw err;
  } finally {
    await firefox.close();
    await chromium.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
