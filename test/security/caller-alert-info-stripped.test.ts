/**
 * Security review #6 (issue 13, must hold 8): many desk phones answer at once, microphone open,
 * when an INVITE carries `Alert-Info: …;info=alert-autoanswer` or `Call-Info: …;answer-after=0`
 * (intercom), and some fetch the Alert-Info URL. Whoever calls — a guest over WebSocket, a caller
 * behind a trunk over UDP, a user — those headers, and identity or Ringside headers a caller might
 * forge, stop at Ringside: the INVITE that reaches the callee's desk phone has none of them.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipRequest, newTag, parseUri } from '../../src/sip/index.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { TEST_SDP, TestPhone } from '../support/sip-phone.ts';
import { WsSipClient } from '../support/ws-sip-client.ts';

const DID = '+14155550100';
/** What an attacker adds to its INVITE. */
const HOSTILE: [string, string][] = [
  ['Alert-Info', '<http://x>;info=alert-autoanswer'],
  ['Call-Info', '<sip:x>;answer-after=0'],
  ['P-Asserted-Identity', '"Chief Executive" <sip:ceo@127.0.0.1>'],
  ['P-Preferred-Identity', '<sip:ceo@127.0.0.1>'],
  ['X-Ringside-Record', 'contact:00000000-0000-4000-8000-000000000001'],
  ['X-Ringside-Call', 'attacker-chosen-id'],
];
const STRIPPED = ['Alert-Info', 'Call-Info', 'P-Asserted-Identity', 'P-Preferred-Identity', 'X-Ringside-Record'];

describe("a caller's auto-answer and identity headers never reach the callee's devices", () => {
  let server: TestServer;
  let trunk: dgram.Socket;
  let desk: TestPhone;
  let sipPort: number;
  let wsUrl: string;
  let token: string;

  beforeAll(async () => {
    trunk = dgram.createSocket('udp4');
    trunk.bind(0, '127.0.0.1');
    await once(trunk, 'listening');
    server = await startServer({ env: { TRUNKS: JSON.stringify([{ name: 'carrier', host: '127.0.0.1', port: trunk.address().port, dids: { [DID]: 'alice' } }]) } });
    sipPort = server.ringside.sip.ports.udp!;
    wsUrl = `${server.url.replace('http', 'ws')}/sip`;
    // Alice's desk phone: it records every INVITE and answers busy.
    desk = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: sipPort }, answer: 'busy' });
    expect((await desk.register()).status).toBe(200);

    const alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const res = await alice.request('POST', '/api/v1/invitations', {
      json: { email: 'guest@elsewhere.test', starts_at: new Date(minute + 5 * 60_000).toISOString(), ends_at: new Date(minute + 3_600_000).toISOString() },
    });
    expect(res.status).toBe(201);
    token = new URL(res.json().invitation.link).pathname.split('/').pop()!;
  });
  afterAll(async () => {
    await desk?.close();
    trunk?.close();
    await server?.stop();
  });

  /** The next INVITE the desk phone got. */
  async function inviteAtDesk(): Promise<SipRequest> {
    return desk.nextRequest('INVITE', 5000);
  }

  function expectClean(atDesk: SipRequest): void {
    for (const name of STRIPPED) expect(atDesk.headerValues(name), name).toEqual([]);
    expect(atDesk.header('X-Ringside-Call')).toMatch(/^[0-9a-f-]{36}$/); // the server's own id, not the caller's
    expect(atDesk.header('Subject')).toBe('Quarterly numbers'); // what describes the call still passes
  }

  it('from a guest over the invitation WebSocket', async () => {
    const guest = await WsSipClient.connect(`${wsUrl}?invite=${token}&name=Guest`, { user: 'guest', password: 'none', domain: '127.0.0.1' });
    try {
      const tag = newTag();
      const callId = `${newTag()}@guest`;
      const response = guest.request((cseq) => {
        const r = new SipRequest('INVITE', parseUri('sip:alice@127.0.0.1'));
        r.setHeader('From', `"Guest" <sip:guest@127.0.0.1>;tag=${tag}`);
        r.setHeader('To', '<sip:alice@127.0.0.1>');
        r.setHeader('Call-ID', callId);
        r.setHeader('CSeq', `${cseq} INVITE`);
        r.setHeader('Contact', guest.contact);
        r.setHeader('Max-Forwards', '70');
        r.setHeader('Subject', 'Quarterly numbers');
        for (const [k, v] of HOSTILE) r.addHeader(k, v);
        r.setHeader('Content-Type', 'application/sdp');
        r.body = TEST_SDP();
        return r;
      });
      expectClean(await inviteAtDesk());
      expect((await response).status).toBe(486);
    } finally {
      await guest.close();
    }
  });

  it('from a caller behind the trunk, over UDP', async () => {
    const sdp = TEST_SDP(40200).toString();
    const port = trunk.address().port;
    const hostile = HOSTILE.map(([k, v]) => `${k}: ${v}\r\n`).join('');
    const message =
      `INVITE sip:${DID}@127.0.0.1:${sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${newTag()}\r\n` +
      `From: <sip:+15550001111@carrier.example>;tag=${newTag()}\r\nTo: <sip:${DID}@127.0.0.1>\r\nCall-ID: ${newTag()}@carrier\r\nCSeq: 1 INVITE\r\n` +
      `Contact: <sip:caller@127.0.0.1:${port}>\r\nMax-Forwards: 70\r\nSubject: Quarterly numbers\r\n${hostile}` +
      `Content-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(sdp)}\r\n\r\n${sdp}`;
    trunk.send(message, sipPort, '127.0.0.1');
    expectClean(await inviteAtDesk());
  });

  it('from an authenticated user', async () => {
    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: sipPort } });
    try {
      const tag = newTag();
      const callId = `${newTag()}@bob`;
      let cseq = 0;
      const response = bob.send(() => {
        const r = new SipRequest('INVITE', parseUri('sip:alice@127.0.0.1'));
        r.setHeader('From', `<sip:bob@127.0.0.1>;tag=${tag}`);
        r.setHeader('To', '<sip:alice@127.0.0.1>');
        r.setHeader('Call-ID', callId);
        r.setHeader('CSeq', `${++cseq} INVITE`);
        r.setHeader('Contact', bob.endpoint.contact('UDP', 'bob'));
        r.setHeader('Subject', 'Quarterly numbers');
        for (const [k, v] of HOSTILE) r.addHeader(k, v);
        r.setHeader('Content-Type', 'application/sdp');
        r.body = TEST_SDP(40300);
        return r;
      });
      expectClean(await inviteAtDesk());
      expect((await response).status).toBe(486);
    } finally {
      await bob.close();
    }
  });
});
