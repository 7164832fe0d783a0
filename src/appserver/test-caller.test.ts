import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Baresip } from '../../test/support/baresip.ts';
import { ROOT } from '../../test/support/process.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { waitFor } from '../../test/support/wait.ts';

describe('the built-in test caller', () => {
  let server: TestServer;
  let desk: Baresip;

  beforeAll(async () => {
    server = await startServer();
    desk = await Baresip.start({ name: 'desk', account: { user: 'alice', password: 'ringside-demo', domain: `127.0.0.1:${server.ringside.sip.ports.udp}`, answer: 'auto' } });
  }, 30_000);
  afterAll(async () => {
    await desk?.stop();
    await server?.stop();
  });

  const lastCall = async () => {
    await server.ringside.sip.recorder.flush();
    return server.ringside.store.db.selectFrom('calls').selectAll().orderBy('started_at', 'desc').executeTakeFirst();
  };

  it('rings the user from a demo contact’s number and plays a tone once answered, then hangs up', async () => {
    const alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
    const started = await alice.request('POST', '/api/v1/test-call', { json: { duration_s: 2 } });
    expect(started.status).toBe(202);
    const { from } = started.json() as { from: string };
    expect(from).toMatch(/^\+\d+$/);

    // An auto-answering phone goes straight to established.
    const established = await desk.waitForEvent('CALL_ESTABLISHED');
    expect(established.peeruri).toContain(from);
    const audio = await desk.waitForRtp(25); // half a second of the tone
    expect(audio.rxPackets).toBeGreaterThanOrEqual(25);
    await desk.waitForEvent('CALL_CLOSED', 5000);
    const call = await waitFor(async () => {
      const c = await lastCall();
      return c?.state === 'ended' ? c : undefined;
    });
    expect(call).toMatchObject({ direction: 'inbound', trunk: 'test-caller', from_number: from, cause: 'completed', answered_device: 'baresip (UDP)' });
  });

  it('rings only yourself unless you are an administrator', async () => {
    const bob = new HttpClient(server.url);
    await bob.login('bob@example.com');
    const refused = await bob.request('POST', '/api/v1/test-call', { json: { to: 'alice@example.com' } });
    expect(refused.status).toBe(403);
    const bad = await bob.request('POST', '/api/v1/test-call', { json: { from: 'not a number' } });
    expect(bad.status).toBe(400);
  });

  it('works from the command line against a running server', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/test-call.ts', 'alice@example.com', '--from', '+14155550134', '--duration', '1'], {
      cwd: ROOT,
      env: { ...process.env, RINGSIDE_URL: server.url },
    });
    expect(stdout).toContain('Ringing alice@example.com from +14155550134');
    const established = await desk.waitForEvent('CALL_ESTABLISHED');
    expect(established.peeruri).toContain('+14155550134');
    await desk.waitForEvent('CALL_CLOSED', 5000);
  });
});
