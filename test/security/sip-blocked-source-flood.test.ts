/**
 * Security review #1 and #8 (issue 13, "No unbounded state from unauthenticated input"): a source
 * whose guessing got it blocked, and a flood from spoofed addresses, must not make the server keep
 * anything. 200,000 unique-branch requests each; RSS grows < 50 MB and the transaction table
 * returns to where it was; a registered user keeps registering and being called meanwhile.
 *
 * Realistic timers (T1 = 500 ms: every transaction that is kept lives 32 s). The per-address rate
 * limit is off here, as the load bench runs, so that every request reaches the transaction layer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.ts';
import { TestPhone } from '../support/sip-phone.ts';
import { waitFor } from '../support/wait.ts';
import { anonymousInvite, collectGarbage, guessingRegister, mb, pacedFlood, rssSampler, udpSocketOn, type FloodTarget } from './sip-flood.ts';

const REQUESTS = 200_000;

describe('SIP floods leave no state behind', () => {
  let server: TestServer;
  let target: FloodTarget;

  beforeAll(async () => {
    server = await startServer({ env: { SIP_T1_MS: '500', SIP_RATE_LIMIT: '0', SIP_AUTH_FAILURE_LIMIT: '10' } });
    const transport = server.ringside.sip.endpoint.transport;
    target = { port: server.ringside.sip.ports.udp!, domain: '127.0.0.1', received: () => transport.stats.received };
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** Registers alice and has bob call her, while the flood goes on (both from 127.0.0.1). */
  async function legitimateCall(): Promise<number> {
    const sip = { address: '127.0.0.1', port: target.port };
    const alice = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: sip, answer: 'auto' });
    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: sip });
    try {
      expect((await alice.register()).status).toBe(200);
      const answered = await bob.call('alice');
      if (answered.status === 200) await bob.hangUp();
      return answered.status;
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  }

  function serverTransactions(): number {
    return server.ringside.sip.endpoint.transactions.size.servers;
  }

  async function measure(flood: () => Promise<{ sent: number; received: number }>) {
    const baseline = serverTransactions();
    collectGarbage();
    const rssStart = mb(process.memoryUsage.rss());
    const heapStart = process.memoryUsage().heapUsed;
    const sampler = rssSampler();
    // The legitimate call starts once the flood is well under way.
    const [result, callStatus] = await Promise.all([
      flood(),
      waitFor(() => target.received() > 20_000, { timeoutMs: 30_000, what: 'the flood under way' }).then(legitimateCall),
    ]);
    const rssPeak = sampler.stop();
    // The flood left nothing: what remains are the legitimate call's few (they end 64*T1 after it).
    const left = serverTransactions() - baseline;
    collectGarbage();
    const heapGrowthMb = mb(process.memoryUsage().heapUsed - heapStart);
    return { ...result, rssStart, rssPeak, heapGrowthMb, callStatus, left };
  }

  it('drops 200,000 unique-branch requests from a blocked source without keeping any of them', { timeout: 90_000 }, async () => {
    const attacker = await udpSocketOn('127.0.0.2');
    const from = { address: '127.0.0.2', port: attacker.address().port };
    try {
      // Ten wrong guesses for "x": this address may no longer try "x".
      for (let i = 0; i < 10; i++) attacker.send(guessingRegister(target, from, 'x', -i - 1), target.port, '127.0.0.1');
      await waitFor(() => attacker.replies >= 10, { what: 'ten 403s' });
      const repliesBefore = attacker.replies;
      const seen = await measure(() => pacedFlood(target, [attacker], REQUESTS, (_s, i) => guessingRegister(target, from, 'x', i)));
      expect(seen.received).toBeGreaterThanOrEqual(REQUESTS * 0.99);
      expect(attacker.replies - repliesBefore).toBe(0); // silently dropped: nothing to learn
      expect(seen.callStatus).toBe(200);
      expect(seen.rssPeak - seen.rssStart).toBeLessThan(50);
      expect(seen.heapGrowthMb).toBeLessThan(10);
      expect(seen.left).toBeLessThanOrEqual(10);
    } finally {
      attacker.close();
    }
  });

  it('answers 200,000 requests from spoofed addresses statelessly, keeping no transaction and bounded tables', { timeout: 90_000 }, async () => {
    const sockets = await Promise.all(Array.from({ length: 200 }, (_, i) => udpSocketOn(`127.0.0.${10 + i}`)));
    try {
      const guard = () => server.ringside.sip['guard'] as unknown as { size: { failures: number; blocked: number } };
      const seen = await measure(() =>
        pacedFlood(target, sockets, REQUESTS, (socket, i) => {
          const from = { address: socket.address().address, port: socket.address().port };
          // Half scanners' INVITEs (each gets one 407), half password guesses for a few names.
          return i % 2 === 0 ? anonymousInvite(target, from, i) : guessingRegister(target, from, `user${i % 20}`, i);
        }),
      );
      expect(seen.received).toBeGreaterThanOrEqual(REQUESTS * 0.99);
      expect(seen.callStatus).toBe(200);
      expect(seen.rssPeak - seen.rssStart).toBeLessThan(50);
      expect(seen.heapGrowthMb).toBeLessThan(10);
      expect(seen.left).toBeLessThanOrEqual(10);
      // Each INVITE got one answer, not eleven (no Timer G for a source that never authenticated).
      const replies = sockets.reduce((n, s) => n + s.replies, 0);
      expect(replies).toBeLessThanOrEqual(seen.sent);
      // 200 addresses × 20 names: the failure and block tables hold what they must, no more.
      expect(guard().size.failures + guard().size.blocked).toBeLessThanOrEqual(200 * 20);
      expect(server.ringside.sip.endpoint.transport.trackedSources).toBeLessThanOrEqual(201);
    } finally {
      for (const s of sockets) s.close();
    }
  });
});
