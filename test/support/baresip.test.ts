/**
 * Proves the baresip harness on its own, with no Ringside in between: two phones call each other
 * by IP (no registrar), the callee answers through ctrl_tcp, audio flows both ways, the caller
 * hangs up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Baresip } from './baresip.ts';

const phones: Baresip[] = [];
afterEach(async () => {
  await Promise.all(phones.splice(0).map((p) => p.stop()));
});

async function pair(transport: 'udp' | 'tcp'): Promise<[Baresip, Baresip]> {
  const [caller, callee] = await Promise.all([
    Baresip.start({ name: 'bob', account: { user: 'bob', answer: 'manual', transport }, register: false }),
    Baresip.start({ name: 'alice', account: { user: 'alice', answer: 'manual', transport }, register: false }),
  ]);
  phones.push(caller, callee);
  return [caller, callee];
}

describe('baresip harness', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`two phones call each other directly over ${transport}: ring, answer, audio both ways, hang up`, async () => {
      const [bob, alice] = await pair(transport);

      // baresip appends the account's transport itself: the URI carries none.
      await bob.dial(`sip:alice@127.0.0.1:${alice.sipPort}`);
      const incoming = await alice.waitForEvent('CALL_INCOMING');
      expect(incoming.peeruri).toBe(`sip:bob@127.0.0.1:${bob.sipPort}`);
      await bob.waitForEvent('CALL_RINGING');

      await alice.answer();
      await Promise.all([alice.waitForEvent('CALL_ESTABLISHED'), bob.waitForEvent('CALL_ESTABLISHED')]);

      // Half a second of 20 ms PCMU packets each way.
      const [bobAudio, aliceAudio] = await Promise.all([bob.waitForRtp(25), alice.waitForRtp(25)]);
      expect(bobAudio.txPackets).toBeGreaterThan(0);
      expect(aliceAudio.txPackets).toBeGreaterThan(0);

      await bob.hangup();
      const [bobClosed, aliceClosed] = await Promise.all([bob.waitForEvent('CALL_CLOSED'), alice.waitForEvent('CALL_CLOSED')]);
      expect(bobClosed.param).toBe('Connection reset by user');
      expect(aliceClosed.param).toBe('Connection reset by peer');

      // The SIP trace shows the whole dialog from each side.
      const seenByAlice = alice.sipMessages().map((m) => `${m.direction} ${m.startLine.split(' ').slice(0, 2).join(' ')}`);
      expect(seenByAlice).toEqual([
        expect.stringMatching(/^received INVITE sip:alice@/),
        'sent SIP/2.0 180',
        'sent SIP/2.0 200',
        expect.stringMatching(/^received ACK sip:alice-/),
        expect.stringMatching(/^received BYE sip:alice-/),
        'sent SIP/2.0 200',
      ]);
      expect(alice.sipMessages().every((m) => m.transport === transport)).toBe(true);
      const invite = bob.sipMessages().find((m) => m.startLine.startsWith('INVITE'))!;
      expect(invite.direction).toBe('sent');
      expect(invite.text).toContain('m=audio');
    });
  }

  it('a callee that hangs up an incoming call rejects it, and the caller sees why', async () => {
    const [bob, alice] = await pair('udp');
    await bob.dial(`sip:alice@127.0.0.1:${alice.sipPort}`);
    await alice.waitForEvent('CALL_INCOMING');
    await alice.hangup();
    const closed = await bob.waitForEvent('CALL_CLOSED');
    expect(closed.param).toBe('486 Rejected');
    const final = alice.sipMessages().find((m) => m.direction === 'sent' && /^SIP\/2\.0 [4-6]/.test(m.startLine));
    expect(final?.startLine).toBe('SIP/2.0 486 Rejected');
  });
});
