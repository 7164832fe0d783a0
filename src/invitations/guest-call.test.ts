/**
 * A guest's SIP WebSocket from an invitation link: it may call the user who invited them — which
 * rings every device of that user and is logged as a video call on the invited contact — and
 * nothing else: no REGISTER, no other user, no second call at once, nothing outside the window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTag, parseUri, SipRequest, type SipResponse } from '../sip/index.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { TestPhone } from '../../test/support/sip-phone.ts';
import { waitFor } from '../../test/support/wait.ts';
import { WeriftPeer } from '../../test/support/werift-peer.ts';
import { WsSipClient } from '../../test/support/ws-sip-client.ts';

const HOUR = 3_600_000;
const VIDEO_OFFER = Buffer.from(
  'v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n' +
    'm=audio 40100 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n' +
    'm=video 40102 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=sendrecv\r\n',
);

function invite(ws: WsSipClient, target: string, callId = `${newTag()}@guest`, offer: Buffer = VIDEO_OFFER): Promise<SipResponse> {
  const tag = newTag();
  return ws.request((cseq) => {
    const r = new SipRequest('INVITE', parseUri(`sip:${target}@127.0.0.1`));
    r.setHeader('From', `"Guest" <sip:guest@127.0.0.1>;tag=${tag}`);
    r.setHeader('To', `<sip:${target}@127.0.0.1>`);
    r.setHeader('Call-ID', callId);
    r.setHeader('CSeq', `${cseq} INVITE`);
    r.setHeader('Contact', ws.contact);
    r.setHeader('Max-Forwards', '70');
    r.setHeader('Content-Type', 'application/sdp');
    r.body = offer;
    return r;
  });
}

describe('a guest from an invitation link', () => {
  let server: TestServer;
  let shift = 0;
  const clock = () => Date.now() + shift;
  let alice: HttpClient;
  let janeId: string;
  let token: string;
  let wsUrl: string;

  beforeAll(async () => {
    server = await startServer({ clock, env: { SIP_RING_TIMEOUT_S: '10' } });
    wsUrl = `${server.url.replace('http', 'ws')}/sip`;
    alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
    janeId = (await alice.get('/api/v1/contacts?q=jane%40acme.com')).json().data[0].id;
    const minute = Math.floor(clock() / 60_000) * 60_000;
    const res = await alice.request('POST', '/api/v1/invitations', {
      json: { email: 'jane@acme.com', starts_at: new Date(minute + 5 * 60_000).toISOString(), ends_at: new Date(minute + HOUR).toISOString(), record_type: 'contact', record_id: janeId },
    });
    expect(res.status).toBe(201);
    token = new URL(res.json().invitation.link).pathname.split('/').pop()!;
  });
  afterAll(async () => {
    await server?.stop();
  });

  const connect = (name = 'Jane D.') => WsSipClient.connect(`${wsUrl}?invite=${token}&name=${encodeURIComponent(name)}`, { user: 'guest', password: 'none', domain: '127.0.0.1' });

  it('rings every device of the host; the answered call is a video call on the invited contact', async () => {
    const peers: WeriftPeer[] = [];
    const desk = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! }, answer: 'manual' });
    const widget = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${alice.cookie('rs_session')}` } });
    try {
      expect((await desk.register()).status).toBe(200);
      expect((await widget.register()).status).toBe(200);
      const guest = await connect();
      // Both browsers are real WebRTC peers (werift); the desk phone is reached through the relay.
      const guestPeer = new WeriftPeer({ video: true });
      const widgetPeer = new WeriftPeer();
      peers.push(guestPeer, widgetPeer);
      const answered = invite(guest, 'alice', undefined, Buffer.from(await guestPeer.createOffer()));
      const atWidget = await widget.nextRequest('INVITE');
      const atDesk = await desk.nextRequest('INVITE');
      expect(atDesk.from.displayName).toBe('Jane D.');
      // The desk phone cannot do video: it is offered what it can take (audio), the widget gets video.
      expect(atWidget.body.toString()).toMatch(/m=video [1-9]/);
      widget.respond(atWidget, 200, { toTag: 'w1', sdp: Buffer.from(await widgetPeer.answer(atWidget.body.toString())) });
      const response = await answered;
      expect(response.status).toBe(200);
      await desk.nextRequest('CANCEL');
      await guest.close(); // the guest closes the tab: the call ends

      const activity = await waitFor(async () => {
        const acts = (await alice.get(`/api/v1/activities?record_type=contact&record_id=${janeId}`)).json().data as { kind: string; subject: string; direction: string; disposition: string }[];
        return acts.find((a) => a.kind === 'call' && a.subject.includes('video call'));
      }, { timeoutMs: 10_000, what: 'the video call on Jane’s timeline' });
      expect(activity.subject).toBe('Inbound video call from Jane D.');
      expect(activity.direction).toBe('inbound');
      expect(activity.disposition).toBe('answered');
    } finally {
      for (const p of peers.splice(0)) await p.close();
      await widget.close();
      await desk.close();
    }
  });

  it('may not register, call anyone else, or hold two calls at once', async () => {
    const guest = await connect();
    try {
      const register = await guest.register();
      expect(register.status).toBe(403);
      expect((await invite(guest, 'bob')).status).toBe(403);
      expect((await invite(guest, '1002')).status).toBe(403);
      expect((await invite(guest, '+14155550134')).status).toBe(403);
    } finally {
      await guest.close();
    }

    const widget = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${alice.cookie('rs_session')}` } });
    const first = await connect();
    const second = await connect();
    try {
      expect((await widget.register()).status).toBe(200);
      const ringing = invite(first, 'alice');
      const atWidget = await widget.nextRequest('INVITE');
      expect((await invite(second, 'alice')).status).toBe(403);
      widget.respond(atWidget, 486, { toTag: 'busy' });
      expect((await ringing).status).toBe(486);
    } finally {
      await first.close();
      await second.close();
      await widget.close();
    }
  });

  it('is refused outside the window: before it opens and after it ends', async () => {
    try {
      shift = -HOUR; // an hour earlier: the link does not open yet
      await expect(connect()).rejects.toThrow(/401/);
      shift = 2 * HOUR;
      await expect(connect()).rejects.toThrow(/401/);
    } finally {
      shift = 0;
    }
    await expect(WsSipClient.connect(`${wsUrl}?invite=${token.slice(0, -2)}AA`, { user: 'guest', password: 'none', domain: '127.0.0.1' })).rejects.toThrow(/401/);
  });
});
