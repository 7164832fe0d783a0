import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipRequest, newTag, parseUri } from '../sip/index.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { WsSipClient } from '../../test/support/ws-sip-client.ts';

describe('gateway: SIP over WebSocket bound to the web session', () => {
  let server: TestServer;
  let wsUrl: string;

  beforeAll(async () => {
    server = await startServer({ env: { TURN_URLS: 'turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp', TURN_SECRET: 'coturn-secret', STUN_URLS: 'stun:127.0.0.1:3478' } });
    wsUrl = `${server.url.replace('http', 'ws')}/sip`;
  });
  afterAll(async () => server?.stop());

  async function signedIn(email: string): Promise<HttpClient> {
    const client = new HttpClient(server.url);
    expect((await client.login(email)).status).toBe(200);
    return client;
  }

  const register = (ws: WsSipClient, user: string, contactUser = 'k3j2') =>
    ws.request((cseq) => {
      const r = new SipRequest('REGISTER', parseUri('sip:127.0.0.1'));
      r.setHeader('From', `<sip:${user}@127.0.0.1>;tag=${newTag()}`);
      r.setHeader('To', `<sip:${user}@127.0.0.1>`);
      r.setHeader('Call-ID', `${newTag()}@ws`);
      r.setHeader('CSeq', `${cseq} REGISTER`);
      r.setHeader('Contact', `<sip:${contactUser}@${newTag()}.invalid;transport=ws>`);
      r.setHeader('Max-Forwards', '70');
      return r;
    });

  it('registers the signed-in user with no SIP password at all', async () => {
    const bob = await signedIn('bob@example.com');
    const ws = await WsSipClient.connect(wsUrl, { user: 'bob', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${bob.cookie('rs_session')}` } });
    const response = await register(ws, 'bob');
    expect(response.status).toBe(200); // no 401 challenge first
    await ws.close();
  });

  it('refuses (403) and logs a connection speaking for another user, and registers nothing', async () => {
    const bob = await signedIn('bob@example.com');
    const ws = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', headers: { cookie: `rs_session=${bob.cookie('rs_session')}` } });
    expect((await register(ws, 'alice')).status).toBe(403);
    expect((await register(ws, 'bob', 'alice')).status).toBe(403); // own AOR, but a Contact in alice's name
    const invite = await ws.request((cseq) => {
      const r = new SipRequest('INVITE', parseUri('sip:1003@127.0.0.1'));
      r.setHeader('From', `<sip:alice@127.0.0.1>;tag=${newTag()}`);
      r.setHeader('To', '<sip:1003@127.0.0.1>');
      r.setHeader('Call-ID', `${newTag()}@ws`);
      r.setHeader('CSeq', `${cseq} INVITE`);
      r.setHeader('Contact', `<sip:k3j2@${newTag()}.invalid;transport=ws>`);
      r.setHeader('Max-Forwards', '70');
      return r;
    });
    expect(invite.status).toBe(403);
    const alice = (await server.ringside.sip.users.find('alice'))!;
    expect(await server.ringside.sip.location.bindings(alice.id)).toEqual([]);
    await ws.close();
  });

  it('refuses an upgrade with a dead session cookie, and challenges an anonymous connection', async () => {
    await expect(
      WsSipClient.connect(wsUrl, { user: 'bob', password: 'x', domain: '127.0.0.1', headers: { cookie: 'rs_session=not-a-session' } }),
    ).rejects.toThrow(/401/);
    const anonymous = await WsSipClient.connect(wsUrl, { user: 'bob', password: 'wrong', domain: '127.0.0.1' });
    expect((await register(anonymous, 'bob')).status).toBe(403); // challenged (401), then the wrong device password
    await anonymous.close();
  });

  it('authenticates a WebSocket with a one-minute token where no cookie can go', async () => {
    const bob = await signedIn('bob@example.com');
    const { token, ws_path } = (await bob.request('POST', '/api/v1/sip-token')).json() as { token: string; ws_path: string };
    const ws = await WsSipClient.connect(`${server.url.replace('http', 'ws')}${ws_path}?token=${encodeURIComponent(token)}`, { user: 'bob', password: 'unused', domain: '127.0.0.1' });
    expect((await register(ws, 'bob')).status).toBe(200);
    await ws.close();
    const tampered = token.slice(0, -3) + (token.endsWith('AAA') ? 'BBB' : 'AAA');
    await expect(WsSipClient.connect(`${wsUrl}?token=${encodeURIComponent(tampered)}`, { user: 'bob', password: 'x', domain: 'x' })).rejects.toThrow(/401/);
    // A token dies with its session.
    await bob.request('DELETE', '/api/v1/session');
    await expect(WsSipClient.connect(`${wsUrl}?token=${encodeURIComponent(token)}`, { user: 'bob', password: 'x', domain: 'x' })).rejects.toThrow(/401/);
  });

  it('shrugs off garbage on the WebSocket and keeps serving the connection', async () => {
    const bob = await signedIn('bob@example.com');
    const ws = await WsSipClient.connect(wsUrl, { user: 'bob', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${bob.cookie('rs_session')}` } });
    ws.ws.send('\u0000\u0001 not SIP at all \r\n\r\n');
    ws.ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    ws.ws.send('INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/WS x;branch=z9hG4bKq\r\nCSeq: 1 INVITE\r\n\r\n');
    expect((await register(ws, 'bob')).status).toBe(200);
    await ws.close();
  });

  it('ends the call and sends BYE to the other side when a browser vanishes mid-call', async () => {
    const alice = await signedIn('alice@example.com');
    const browser = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${alice.cookie('rs_session')}` } });
    expect((await browser.register()).status).toBe(200);
    const { TestPhone } = await import('../../test/support/sip-phone.ts');
    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! } });
    const call = bob.call('alice');
    const invite = await browser.nextRequest('INVITE');
    // The phone's RTP offer reaches the browser through the relay, as WebRTC; a real peer answers it.
    const { WeriftPeer } = await import('../../test/support/werift-peer.ts');
    const peer = new WeriftPeer();
    browser.respond(invite, 200, { toTag: 'b1', sdp: Buffer.from(await peer.answer(invite.body.toString())) });
    expect((await call).status).toBe(200);
    await peer.close();
    browser.ws.terminate(); // no BYE: the tab crashed, the network went
    await bob.nextRequest('BYE');
    await bob.close();
  });

  it('hands out TURN credentials in the REST form coturn checks, and the softphone settings', async () => {
    const alice = await signedIn('alice@example.com');
    const { ice_servers, ttl_s } = (await alice.get('/api/v1/ice-servers')).json() as { ice_servers: { urls: string[]; username?: string; credential?: string }[]; ttl_s: number };
    expect(ice_servers[0]).toEqual({ urls: ['stun:127.0.0.1:3478'] });
    const turn = ice_servers[1]!;
    expect(turn.urls).toEqual(['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp']);
    const [expiry, userId] = turn.username!.split(':');
    expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(ttl_s - 5);
    expect(userId).toBe((await server.ringside.sip.users.find('alice'))!.id);
    expect(turn.credential).toBe(createHmac('sha1', 'coturn-secret').update(turn.username!).digest('base64'));

    const config = (await alice.get('/api/v1/softphone')).json();
    expect(config.sip).toEqual({ uri: 'sip:alice@127.0.0.1', domain: '127.0.0.1', display_name: 'Alice Adams', ws_path: '/sip' });
    expect(config.ice_transport_policy).toBe('all');
    expect((await new HttpClient(server.url).get('/api/v1/softphone')).status).toBe(401);
  });
});
