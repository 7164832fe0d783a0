/**
 * SIPp against Ringside, as the load benchmark drives it (bench/sip-load.ts at a low rate): the
 * demo user bob's SIPp authenticates each INVITE with digest (MD5, the server's address as the
 * digest uri — SIPp's way), every call forks to alice's two registered SIPp devices, one answers,
 * the other gets CANCEL, and BYE ends it. Keeps the benchmark's scenarios honest against the
 * server's SIP rules (digest hardening, per-user limits, flood protection) as they change.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../test/support/process.ts';

const run = promisify(execFile);

describe('SIPp calls', () => {
  it('all connect: digest-authenticated INVITEs forked to two registered devices, CANCEL to the other, BYE', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/sip-load.ts', '--target', 'ringside', '--rates', '20', '--step-seconds', '3'], {
      cwd: ROOT,
      timeout: 90_000,
      maxBuffer: 10 * 1024 * 1024,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { steps: { calls: number; successful: number; failed: number; device_failed: number; uncancelled_branches: number }[] };
    const [step] = result.steps;
    expect(step).toBeDefined();
    expect(step!.calls).toBe(60);
    expect(step).toMatchObject({ successful: 60, failed: 0, device_failed: 0, uncancelled_branches: 0 });
  }, 120_000);
});
