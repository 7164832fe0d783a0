import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runInPrivateNetwork } from '../../test/support/netns.ts';
import { ensureWidgetBuilt, type MediaStats } from '../../test/support/widget.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('softphone widget in Firefox', () => {
  beforeAll(() => ensureWidgetBuilt());

  // Firefox leaves loopback addresses out of its ICE candidates whatever its preferences say, so
  // the whole call — server, Chromium, Firefox — runs in a network namespace of its own, where
  // Firefox offers an address that nothing outside the namespace can reach.
  it('calls from a widget in Firefox to a widget in Chromium: audio and video both ways', async () => {
    const result = await runInPrivateNetwork(['node', '--import', 'tsx', 'test/support/firefox-call.ts'], { cwd: ROOT, timeoutMs: 90_000 });
    expect(result.code, result.stderr).toBe(0);
    const figures = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { firefox: MediaStats; chromium: MediaStats; hungUp: boolean };
    expect(figures.firefox.audioBytes).toBeGreaterThan(0);
    expect(figures.firefox.framesDecoded).toBeGreaterThan(0);
    expect(figures.chromium.audioBytes).toBeGreaterThan(0);
    expect(figures.chromium.framesDecoded).toBeGreaterThan(0);
    expect(figures.hungUp).toBe(true);
  }, 120_000);
});
