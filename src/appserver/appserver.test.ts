import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SipRequest, newTag, parseMessage, parseUri, type SipResponse } from '../sip/index.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { TEST_SDP, TestPhone, type AnswerMode, type PhoneOptions } from '../../test/support/sip-phone.ts';
import { waitFor } from '../../test/support/wait.ts';

/** A stand-in carrier: a UDP socket that records what reaches it and answers every INVITE "busy". */
class FakeTrunk {
  readonly received: SipRequest[] = [];
  readonly responses: SipResponse[] = [];
  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (buf, rinfo) => {
      let m;
      try {
        m = parseMessage(buf);
      } catch {
        return;
      }
      if (!m.isRequest) {
        this.responses.push(m);
        return;
      }
      this.received.push(m);
      if (m.method === 'ACK') return;
      const status = m.method === 'INVITE' ? 486 : 200;
      const vias = m.headerValues('Via').map((v) => `Via: ${v}`).join('\r\n');
      const reply = `SIP/2.0 ${status} ${status === 200 ? 'OK' : 'Busy Here'}\r\n${vias}\r\nFrom: ${m.header('From')}\r\nTo: ${m.header('To')};tag=trunk1\r\nCall-ID: ${m.callId}\r\nCSeq: ${m.header('CSeq')}\r\nContent-Length: 0\r\n\r\n`;
      socket.send(reply, rinfo.port, rinfo.address);
    });
  }
  static async start(): Promise<FakeTrunk> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new FakeTrunk(socket);
  }
  get port(): number {
    return this.socket.address().port;
  }
  /** The carrier delivers a call to one of our DIDs; resolves with the final response. */
  async invite(serverPort: number, did: string, caller: string): Promise<SipResponse> {
    const callId = `${newTag()}@carrier`;
    const message =
      `INVITE sip:${did}@127.0.0.1:${serverPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${newTag()}\r\n` +
      `From: "Caller" <sip:${caller}@carrier.example>;tag=${newTag()}\r\nTo: <sip:${did}@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n` +
      `Contact: <sip:${caller}@127.0.0.1:${this.port}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: ${TEST_SDP().length}\r\n\r\n${TEST_SDP().toString()}`;
    this.socket.send(message, serverPort, '127.0.0.1');
    return waitFor(() => this.responses.find((r) => r.callId === callId && r.status >= 200), { timeoutMs: 8000, what: 'final response' });
  }
  close(): void {
    this.socket.close();
  }
}

describe('SIP application server', () => {
  let server: TestServer;
  let trunk: FakeTrunk;
  let sipPort: number;
  const phones: TestPhone[] = [];

  beforeAll(async () => {
    trunk = await FakeTrunk.start();
    server = await startServer({
      env: {
        SIP_RING_TIMEOUT_S: '5',
        SIP_AUTH_FAILURE_LIMIT: '50',
        TRUNKS: JSON.stringify([{ name: 'carrier', host: '127.0.0.1', port: trunk.port, dids: { '+14155550100': ['alice@example.com', 'bob'] } }]),
      },
    });
    sipPort = server.ringside.sip.ports.udp!;
  });
  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.close()));
    for (const name of ['alice', 'bob']) await server.ringside.sip.location.removeAll((await server.ringside.sip.users.find(name))!.id);
  });
  afterAll(async () => {
    trunk?.close();
    await server?.stop();
  });

  async function phone(user: string, answer: AnswerMode = 'auto', extra: Partial<PhoneOptions> = {}): Promise<TestPhone> {
    const p = await TestPhone.start({ user, password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: sipPort }, answer, ...extra });
    phones.push(p);
    return p;
  }

  async function registered(user: string, answer: AnswerMode = 'auto', extra: Partial<PhoneOptions> = {}): Promise<TestPhone> {
    const p = await phone(user, answer, extra);
    expect((await p.register()).status).toBe(200);
    return p;
  }

  async function lastCall() {
    await server.ringside.sip.recorder.flush();
    return server.ringside.store.db.selectFrom('calls').selectAll().orderBy('started_at', 'desc').executeTakeFirstOrThrow();
  }

  describe('registrar', () => {
    it('challenges with SHA-256 first, then MD5, and registers with the device password', async () => {
      const p = await phone('alice');
      const challenge = await p.register(600, { authenticate: false });
      expect(challenge.status).toBe(401);
      const offers = challenge.headerValues('WWW-Authenticate');
      expect(offers).toHaveLength(2);
      expect(offers[0]).toMatch(/^Digest realm="127\.0\.0\.1", nonce="[^"]+", algorithm=SHA-256, qop="auth"$/);
      expect(offers[1]).toMatch(/algorithm=MD5/);
      const ok = await p.register();
      expect(ok.status).toBe(200);
      expect(ok.headerValues('Contact')).toEqual([expect.stringMatching(/^<sip:alice@127\.0\.0\.1:\d+>;expires=600$/)]);
    });

    it('answers a wrong password with 403', async () => {
      const p = await phone('alice', 'auto', { password: 'not-the-password' });
      expect((await p.register()).status).toBe(403);
    });

    it('accepts the extension as the username, and lets nobody register someone else', async () => {
      const byExtension = await phone('1001');
      expect((await byExtension.register()).status).toBe(200);
      const bob = await phone('bob');
      const response = await bob.send(() => {
        const r = new SipRequest('REGISTER', parseUri('sip:127.0.0.1'));
        r.setHeader('From', `<sip:alice@127.0.0.1>;tag=${newTag()}`);
        r.setHeader('To', '<sip:alice@127.0.0.1>');
        r.setHeader('Call-ID', `${newTag()}@t`);
        r.setHeader('CSeq', '1 REGISTER');
        r.setHeader('Contact', bob.endpoint.contact('UDP', 'bob'));
        return r;
      });
      expect(response.status).toBe(403);
    });

    it('keeps many devices per user, replaces a device’s own binding by instance id, and un-registers', async () => {
      const a = await registered('alice', 'auto', { instance: '11111111-1111-4111-8111-111111111111' });
      const b = await registered('alice');
      const aliceId = (await server.ringside.sip.users.find('alice'))!.id;
      expect(await server.ringside.sip.location.bindings(aliceId)).toHaveLength(2);
      // The same device from a new port (it restarted): its binding is replaced, not added.
      const again = await registered('alice', 'auto', { instance: '11111111-1111-4111-8111-111111111111' });
      const bindings = await server.ringside.sip.location.bindings(aliceId);
      expect(bindings).toHaveLength(2);
      expect(bindings.map((x) => x.contact)).toContain(`sip:alice@${again.endpoint.sentBy('UDP')}`);
      expect((await b.register(0)).status).toBe(200);
      expect(await server.ringside.sip.location.bindings(aliceId)).toHaveLength(1);
      void a;
    });

    it('answers too short an expiry with 423 and Min-Expires', async () => {
      const p = await phone('alice');
      const r = await p.register(5);
      expect(r.status).toBe(423);
      expect(r.header('Min-Expires')).toBe('60');
    });
  });

  describe('calls to a user ring every registered device', () => {
    it('forks in parallel; the first answer wins; the others get CANCEL with the Reason; BYE ends it; the call is recorded', async () => {
      const desk = await registered('alice', 'auto');
      const soft = await registered('alice', 'manual');
      const bob = await registered('bob');
      const answered = await bob.call('alice');
      expect(answered.status).toBe(200);
      expect(answered.body.toString()).toContain('m=audio 41000'); // the device's SDP answer, passed through
      expect(desk.calls).toHaveLength(1);
      expect(soft.calls).toHaveLength(1);
      const cancel = await soft.nextRequest('CANCEL');
      expect(cancel.header('Reason')).toBe('SIP;cause=200;text="Call completed elsewhere"');
      expect((await bob.hangUp()).status).toBe(200);
      await desk.nextRequest('BYE');
      const call = await waitFor(async () => {
        const c = await lastCall();
        return c.state === 'ended' ? c : undefined;
      });
      expect(call).toMatchObject({
        direction: 'internal',
        cause: 'completed',
        hangup_by: 'caller',
        answered_device: 'TestPhone (UDP)',
        from_number: '1002',
        to_number: '1001',
      });
      expect(call.duration_s).toBe(0);
    });

    it('rings the user by extension too, and the callee can hang up', async () => {
      const desk = await registered('alice', 'auto');
      const bob = await registered('bob');
      expect((await bob.call('1001')).status).toBe(200);
      expect((await desk.hangUpIncoming()).status).toBe(200);
      await bob.nextRequest('BYE');
      expect(await lastCall()).toMatchObject({ cause: 'completed', hangup_by: 'callee' });
    });

    it('answers 486 when every device is busy', async () => {
      await registered('alice', 'busy');
      await registered('alice', 'busy');
      const bob = await registered('bob');
      expect((await bob.call('alice')).status).toBe(486);
      expect(await lastCall()).toMatchObject({ cause: 'busy', sip_status: 486 });
    });

    it('keeps ringing the other devices when one declines, and the other can still answer', async () => {
      await registered('alice', 'decline');
      const other = await registered('alice', 'manual');
      const bob = await registered('bob');
      const result = bob.call('alice');
      const incoming = await waitFor(() => other.calls[0]);
      await waitFor(async () => (await server.ringside.store.db.selectFrom('call_events').select('type').where('type', '=', 'call.ringing').execute()).length > 0);
      other.answer(incoming);
      expect((await result).status).toBe(200);
      await bob.hangUp();
    });

    it('answers 480 "no answer" after the ring timeout and cancels every device', async () => {
      const a = await registered('alice', 'manual');
      const bob = await registered('bob');
      const started = Date.now();
      const r = await bob.call('alice');
      expect(r.status).toBe(480);
      expect(Date.now() - started).toBeGreaterThanOrEqual(4900);
      await a.nextRequest('CANCEL');
      expect(await lastCall()).toMatchObject({ cause: 'no-answer' });
    });

    it('cancels every device when the caller gives up', async () => {
      const a = await registered('alice', 'manual');
      const b = await registered('alice', 'manual');
      const bob = await registered('bob');
      const result = bob.call('alice');
      await waitFor(() => a.calls.length === 1 && b.calls.length === 1 && bob.provisionals.some((r) => r.status === 180));
      bob.cancelCall();
      expect((await result).status).toBe(487);
      await a.nextRequest('CANCEL');
      await b.nextRequest('CANCEL');
      expect(await lastCall()).toMatchObject({ cause: 'cancelled', hangup_by: 'caller' });
    });

    it('answers 480 when the user has no device registered', async () => {
      const bob = await registered('bob');
      expect((await bob.call('alice')).status).toBe(480);
      expect(await lastCall()).toMatchObject({ cause: 'unavailable' });
    });

    it('passes re-INVITE (hold) and INFO through both legs', async () => {
      const desk = await registered('alice', 'auto');
      const bob = await registered('bob');
      expect((await bob.call('alice')).status).toBe(200);
      const hold = TEST_SDP().toString().replace('a=sendrecv', 'a=sendonly');
      const reinvite = await bob.inDialog(bob.outgoingDialog!, 'INVITE', Buffer.from(hold));
      expect(reinvite.status).toBe(200);
      const seen = await desk.nextRequest('INVITE', 5000, (r) => r.to.tag !== undefined);
      expect(seen.body.toString()).toContain('a=sendonly');
      await desk.nextRequest('ACK');
      expect((await bob.inDialog(bob.outgoingDialog!, 'INFO', Buffer.from('Signal=5\r\nDuration=160\r\n'))).status).toBe(200);
      expect((await desk.nextRequest('INFO')).body.toString()).toContain('Signal=5');
      await bob.hangUp();
    });

    it('ends the call cleanly when a device that crashed stops answering in-dialog requests', async () => {
      const desk = await registered('alice', 'auto');
      const bob = await registered('bob');
      expect((await bob.call('alice')).status).toBe(200);
      await desk.close(); // the phone is gone without a BYE
      const r = await bob.inDialog(bob.outgoingDialog!, 'INVITE', TEST_SDP(42000));
      expect(r.status).toBe(408);
      await bob.nextRequest('BYE');
      expect(await lastCall()).toMatchObject({ cause: 'failed', hangup_by: 'system' });
    });
  });

  describe('trunks and toll fraud', () => {
    it('rings every user of a DID when the trunk calls it, and shows the caller in E.164', async () => {
      const a = await registered('alice', 'manual');
      const b = await registered('bob', 'auto');
      const response = await trunk.invite(sipPort, '+14155550100', '+12125550199');
      expect(response.status).toBe(200);
      expect(a.calls[0]!.request.from.uri.toString()).toBe('sip:+12125550199@127.0.0.1');
      await a.nextRequest('CANCEL');
      expect(await lastCall()).toMatchObject({ direction: 'inbound', trunk: 'carrier', from_number: '+12125550199', to_number: '+14155550100' });
      void b;
    });

    it('never routes an unauthenticated INVITE to the trunk', async () => {
      const before = trunk.received.length;
      const stranger = await phone('mallory');
      const r = await stranger.call('+12125550123', { authenticate: false, from: 'sip:mallory@127.0.0.1' });
      expect(r.status).toBe(407);
      expect(trunk.received.length).toBe(before);
    });

    it('sends an allowed number out through the trunk in E.164, and refuses a number outside the user’s prefixes', async () => {
      const bob = await registered('bob');
      const before = trunk.received.length;
      const busy = await bob.call('2125550123');
      expect(busy.status).toBe(486); // the stand-in carrier answers busy
      const invite = trunk.received.slice(before).find((m) => m.method === 'INVITE')!;
      expect(invite.uri.toString()).toBe(`sip:+12125550123@127.0.0.1:${trunk.port};user=phone`);
      expect(await lastCall()).toMatchObject({ direction: 'outbound', trunk: 'carrier', to_number: '+12125550123' });

      const count = trunk.received.length;
      const refused = await bob.call('+44 20 7946 0958'.replace(/\s/g, ''));
      expect(refused.status).toBe(403);
      expect(refused.reason).toBe('Number not allowed');
      expect(trunk.received.length).toBe(count);
    });

    it('refuses an INVITE whose From is another user than the one authenticated', async () => {
      const bob = await registered('bob');
      const r = await bob.call('alice', { from: 'sip:alice@127.0.0.1' });
      expect(r.status).toBe(403);
    });

  });

  it('counts calls and SIP traffic in /metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/ringside_calls_started_total\{direction="internal"\} [1-9]/);
    expect(text).toMatch(/ringside_calls_ended_total\{cause="completed"\} [1-9]/);
    expect(text).toMatch(/ringside_sip_messages_received_total [1-9]/);
    expect(text).toMatch(/ringside_sip_active_calls \d+/);
  });

  it('answers OPTIONS, refuses unknown methods with 501 and unknown URI schemes with 416', async () => {
    const p = await phone('bob');
    const build = (method: string, uri: string) => () => {
      const r = new SipRequest(method, parseUri(uri));
      r.setHeader('From', `<sip:bob@127.0.0.1>;tag=${newTag()}`);
      r.setHeader('To', `<${uri}>`);
      r.setHeader('Call-ID', `${newTag()}@t`);
      r.setHeader('CSeq', `1 ${method}`);
      return r;
    };
    const options: SipResponse = await p.send(build('OPTIONS', 'sip:127.0.0.1'));
    expect(options.status).toBe(200);
    expect(options.header('Allow')).toContain('INVITE');
    expect((await p.send(build('FOOBAR', 'sip:127.0.0.1'))).status).toBe(501);
    expect((await p.send(build('OPTIONS', 'tel:+14155550134'))).status).toBe(416);
  });
});

describe('SIP source blocking', () => {
  it('drops the guessed username’s requests from an address after repeated authentication failures', async () => {
    const server = await startServer({ env: { SIP_AUTH_FAILURE_LIMIT: '3' } });
    const guesser = await TestPhone.start({
      user: 'alice',
      password: 'guess',
      domain: '127.0.0.1',
      server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! },
    });
    try {
      for (let i = 0; i < 3; i++) expect((await guesser.register()).status).toBe(403);
      // Now blocked: its next guess for alice gets no answer at all (its transaction times out).
      await expect(guesser.register()).rejects.toThrow(/timed out/);
    } finally {
      await guesser.close();
      await server.stop();
    }
  });
});
