/**
 * The application server with real phones: Debian's baresip as Alice's desk phone and softphone,
 * and as a caller on a trunk. Everything over UDP on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Baresip } from '../../test/support/baresip.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { waitFor } from '../../test/support/wait.ts';

const DID = '+14155550100';
const CALLER = '+12125550199';

describe('calls with baresip phones', () => {
  let server: TestServer;
  let carrier: Baresip;
  let desk: Baresip;
  let soft: Baresip;
  let domain: string;

  beforeAll(async () => {
    // The carrier exists first: the trunk is configured with its address and port.
    carrier = await Baresip.start({ name: 'carrier', account: { user: CALLER, answer: 'manual', displayName: 'Trunk caller' }, register: false });
    server = await startServer({
      env: {
        SIP_RING_TIMEOUT_S: '5',
        TRUNKS: JSON.stringify([{ name: 'carrier', host: '127.0.0.1', port: carrier.sipPort, dids: { [DID]: ['alice'] } }]),
      },
    });
    domain = `127.0.0.1:${server.ringside.sip.ports.udp}`;
    [desk, soft] = await Promise.all([
      Baresip.start({ name: 'desk', account: { user: 'alice', password: 'ringside-demo', domain, answer: 'manual' } }),
      Baresip.start({ name: 'soft', account: { user: 'alice', password: 'ringside-demo', domain, answer: 'manual' } }),
    ]);
  }, 60_000);

  afterAll(async () => {
    // Phones first: with the registrar gone they would hang on un-registering.
    await Promise.all([desk?.stop(), soft?.stop(), carrier?.stop()]);
    await server?.stop();
  });

  async function lastCall() {
    await server.ringside.sip.recorder.flush();
    return server.ringside.store.db.selectFrom('calls').selectAll().orderBy('started_at', 'desc').executeTakeFirstOrThrow();
  }

  const endedCall = () =>
    waitFor(async () => {
      const c = await lastCall();
      return c.state === 'ended' ? c : undefined;
    }, { what: 'the call record to end' });

  it('registers both of Alice’s phones', async () => {
    const alice = (await server.ringside.sip.users.find('alice'))!;
    const bindings = await server.ringside.sip.location.bindings(alice.id);
    expect(bindings.map((b) => b.device).sort()).toEqual(['baresip (UDP)', 'baresip (UDP)']);
  });

  it('rings both phones; the desk phone answers; the softphone gets CANCEL with the Reason; audio flows; BYE ends it; the record shows device and duration', async () => {
    await carrier.dial(`sip:${DID}@${domain}`);
    const [deskRing, softRing] = await Promise.all([desk.waitForEvent('CALL_INCOMING'), soft.waitForEvent('CALL_INCOMING')]);
    expect(deskRing.peeruri).toContain(CALLER); // the caller shown in E.164
    expect(softRing.peeruri).toContain(CALLER);
    await carrier.waitForEvent('CALL_RINGING');

    await desk.answer();
    await Promise.all([desk.waitForEvent('CALL_ESTABLISHED'), carrier.waitForEvent('CALL_ESTABLISHED')]);
    await soft.waitForEvent('CALL_CLOSED');
    const cancel = soft.sipMessages().find((m) => m.direction === 'received' && m.startLine.startsWith('CANCEL'));
    expect(cancel?.text).toMatch(/Reason: SIP;cause=200;text="Call completed elsewhere"/);

    // A second of 20 ms packets each way, through the B2BUA's SDP.
    const [callerAudio, deskAudio] = await Promise.all([carrier.waitForRtp(50), desk.waitForRtp(50)]);
    expect(callerAudio.txPackets).toBeGreaterThan(0);
    expect(deskAudio.txPackets).toBeGreaterThan(0);

    await carrier.hangup();
    await Promise.all([desk.waitForEvent('CALL_CLOSED'), carrier.waitForEvent('CALL_CLOSED')]);
    const call = await endedCall();
    expect(call).toMatchObject({
      direction: 'inbound',
      trunk: 'carrier',
      from_number: CALLER,
      to_number: DID,
      cause: 'completed',
      hangup_by: 'caller',
      answered_device: 'baresip (UDP)',
    });
    expect(call.duration_s).toBeGreaterThanOrEqual(1);
  });

  it('answers busy when both phones reject the call', async () => {
    await carrier.dial(`sip:${DID}@${domain}`);
    await Promise.all([desk.waitForEvent('CALL_INCOMING'), soft.waitForEvent('CALL_INCOMING')]);
    await desk.hangup();
    await soft.hangup();
    const closed = await carrier.waitForEvent('CALL_CLOSED');
    expect(closed.param).toMatch(/^486/);
    await Promise.all([desk.waitForEvent('CALL_CLOSED'), soft.waitForEvent('CALL_CLOSED')]);
    expect(await endedCall()).toMatchObject({ cause: 'busy', sip_status: 486 });
  });

  it('gives up with "no answer" after the ring timeout and stops both phones ringing', async () => {
    await carrier.dial(`sip:${DID}@${domain}`);
    await Promise.all([desk.waitForEvent('CALL_INCOMING'), soft.waitForEvent('CALL_INCOMING')]);
    const closed = await carrier.waitForEvent('CALL_CLOSED', 10_000);
    expect(closed.param).toMatch(/^480/);
    await Promise.all([desk.waitForEvent('CALL_CLOSED'), soft.waitForEvent('CALL_CLOSED')]);
    expect(await endedCall()).toMatchObject({ cause: 'no-answer' });
  });

  it('stops both phones ringing when the caller hangs up first', async () => {
    await carrier.dial(`sip:${DID}@${domain}`);
    await Promise.all([desk.waitForEvent('CALL_INCOMING'), soft.waitForEvent('CALL_INCOMING')]);
    await carrier.waitForEvent('CALL_RINGING');
    await carrier.hangup();
    await Promise.all([desk.waitForEvent('CALL_CLOSED'), soft.waitForEvent('CALL_CLOSED'), carrier.waitForEvent('CALL_CLOSED')]);
    expect(await endedCall()).toMatchObject({ cause: 'cancelled', hangup_by: 'caller' });
  });

  it('answers a wrong device password with 401 and then 403', async () => {
    // The phone gives up on the 403; its start fails with its SIP trace in the message.
    const failure = await Baresip.start({ name: 'intruder', account: { user: 'alice', password: 'not-her-password', domain, answer: 'auto' } }).then(
      async (phone) => {
        await phone.stop();
        return 'registered';
      },
      (error: Error) => error.message,
    );
    const statuses = [...failure.matchAll(/^SIP\/2\.0 (\d{3}) /gm)].map((m) => m[1]);
    expect(statuses.slice(0, 2)).toEqual(['401', '403']);
  });

  it('never sends an unauthenticated call to the trunk (toll fraud)', async () => {
    const stranger = await Baresip.start({ name: 'stranger', account: { user: 'mallory', answer: 'auto' }, register: false });
    try {
      const before = carrier.sipMessages().filter((m) => m.direction === 'received').length;
      await stranger.dial(`sip:+442079460958@${domain}`);
      const closed = await stranger.waitForEvent('CALL_CLOSED');
      expect(closed.param).toMatch(/^40[37]/);
      const received = carrier.sipMessages().filter((m) => m.direction === 'received').slice(before);
      expect(received.filter((m) => m.startLine.startsWith('INVITE'))).toEqual([]);
    } finally {
      await stranger.stop();
    }
  });
});
