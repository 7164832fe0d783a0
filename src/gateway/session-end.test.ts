/**
 * A SIP WebSocket lives no longer than the web session that opened it: revoked, it closes at once
 * (and its registrations go with it); expired or idle, it closes at the gateway's next check.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipRequest, newTag, parseUri } from '../sip/index.ts';
import { ServerSecret, Store } from '../store/index.ts';
import { SessionStore, UserDirectory } from '../users/index.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { waitFor } from '../../test/support/wait.ts';
import { WsSipClient } from '../../test/support/ws-sip-client.ts';
import { SipGateway } from './gateway.ts';

const register = (ws: WsSipClient, user: string) =>
  ws.request((cseq) => {
    const r = new SipRequest('REGISTER', parseUri('sip:127.0.0.1'));
    r.setHeader('From', `<sip:${user}@127.0.0.1>;tag=${newTag()}`);
    r.setHeader('To', `<sip:${user}@127.0.0.1>`);
    r.setHeader('Call-ID', `${newTag()}@ws`);
    r.setHeader('CSeq', `${cseq} REGISTER`);
    r.setHeader('Contact', ws.contact);
    r.setHeader('Max-Forwards', '70');
    return r;
  });

describe('revoking a session closes its SIP WebSockets', () => {
  let server: TestServer;
  let wsUrl: string;

  beforeAll(async () => {
    server = await startServer();
    wsUrl = `${server.url.replace('http', 'ws')}/sip`;
  });
  afterAll(async () => server?.stop());

  async function signedIn(email: string): Promise<HttpClient> {
    const client = new HttpClient(server.url);
    expect((await client.login(email)).status).toBe(200);
    return client;
  }
  const bindingsOf = async (name: string) => server.ringside.sip.location.bindings((await server.ringside.sip.users.find(name))!.id);
  const closed = (ws: WsSipClient) => new Promise<void>((resolve) => (ws.ws.readyState === ws.ws.CLOSED ? resolve() : ws.ws.once('close', () => resolve())));

  it('by the user (API): that browser’s registration disappears at once, the others stay', async () => {
    const phone = await signedIn('bob@example.com');
    const laptop = await signedIn('bob@example.com');
    const phoneWs = await WsSipClient.connect(wsUrl, { user: 'bob', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${phone.cookie('rs_session')}` } });
    const laptopWs = await WsSipClient.connect(wsUrl, { user: 'bob', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${laptop.cookie('rs_session')}` } });
    expect((await register(phoneWs, 'bob')).status).toBe(200);
    expect((await register(laptopWs, 'bob')).status).toBe(200);
    expect(await bindingsOf('bob')).toHaveLength(2);

    const mine = (await laptop.get('/api/v1/sessions')).json().data as { id: string; current: boolean; browser: string; method: string }[];
    const phoneSession = mine.find((s) => !s.current)!;
    expect(phoneSession).toMatchObject({ method: 'password' });
    expect((await laptop.request('DELETE', `/api/v1/sessions/${phoneSession.id}`)).status).toBe(204);

    await closed(phoneWs);
    await waitFor(async () => (await bindingsOf('bob')).length === 1, { what: 'the revoked browser’s registration to go' });
    expect(laptopWs.ws.readyState).toBe(laptopWs.ws.OPEN);
    expect((await phone.get('/api/v1/users/me')).status).toBe(401);
    await laptopWs.close();
  });

  it('does not let a user revoke someone else’s session (404, as if it did not exist)', async () => {
    const alice = await signedIn('alice@example.com');
    const bob = await signedIn('bob@example.com');
    const bobsSession = ((await bob.get('/api/v1/sessions')).json().data as { id: string; current: boolean }[]).find((s) => s.current)!;
    expect((await alice.request('DELETE', `/api/v1/sessions/${bobsSession.id}`)).status).toBe(404);
    expect((await bob.get('/api/v1/users/me')).status).toBe(200);
  });

  it('by an admin signing a user out everywhere: token-authenticated sockets close too', async () => {
    const alice = await signedIn('alice@example.com');
    const token = (await alice.request('POST', '/api/v1/sip-token')).json().token as string;
    const viaToken = await WsSipClient.connect(`${wsUrl}?token=${encodeURIComponent(token)}`, { user: 'alice', password: 'unused', domain: '127.0.0.1' });
    expect((await register(viaToken, 'alice')).status).toBe(200);

    const admin = await signedIn('admin@example.com');
    const aliceId = (await server.ringside.users.findByEmail('alice@example.com'))!.id;
    expect((await admin.get(`/api/v1/users/${aliceId}/sessions`)).json().data.length).toBeGreaterThan(0);
    const res = await admin.request('DELETE', `/api/v1/users/${aliceId}/sessions`);
    expect(res.status).toBe(200);
    expect(res.json().revoked).toBeGreaterThan(0);

    await closed(viaToken);
    await waitFor(async () => (await bindingsOf('alice')).length === 0, { what: 'alice’s registration to go' });
    expect((await admin.get(`/api/v1/users/${aliceId}/sessions`)).json().data).toEqual([]);
    expect((await alice.get('/api/v1/users/me')).status).toBe(401);
  });

  it('lets only an admin list another user’s sessions', async () => {
    const bob = await signedIn('bob@example.com');
    const aliceId = (await server.ringside.users.findByEmail('alice@example.com'))!.id;
    expect((await bob.get(`/api/v1/users/${aliceId}/sessions`)).status).toBe(403);
  });
});

class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

describe('a session that expires loses its SIP WebSocket at the next check', () => {
  let store: Store;
  let now = Date.parse('2026-01-05T09:00:00Z');
  const clock = () => now;

  beforeAll(async () => {
    store = await Store.open({ dataDir: ':memory:' });
    await store.migrate();
  });
  afterAll(async () => store?.close());

  /** An upgrade request carrying this cookie, on a socket that records being destroyed. */
  function upgrade(cookie: string) {
    const socket = new FakeSocket();
    return { socket, request: { url: '/sip', headers: { cookie: `rs_session=${cookie}`, origin: 'https://ringside.example.com' }, socket } as unknown as IncomingMessage };
  }

  it('closes the sockets of sessions gone idle, expired or of a disabled user, and keeps live ones', async () => {
    const users = new UserDirectory(store, clock);
    const sessions = new SessionStore(store, { idleMinutes: 30, maxHours: 8, clock });
    const gateway = new SipGateway({ sessions, secret: new ServerSecret('x'.repeat(32)), publicUrl: () => 'https://ringside.example.com', publicUrlConfigured: true, turnUrls: [], stunUrls: [], turnTtlS: 60, relayOnly: false, sipDomain: 'example.com', sessionCookie: 'rs_session', clock });
    const carol = await users.create({ email: 'carol@example.com', name: 'Carol', password: 'a-long-password' });
    const dave = await users.create({ email: 'dave@example.com', name: 'Dave', password: 'a-long-password' });

    const idle = await sessions.create(carol.id);
    const busy = await sessions.create(carol.id);
    const disabled = await sessions.create(dave.id);
    const a = upgrade(idle.token);
    const b = upgrade(busy.token);
    const c = upgrade(disabled.token);
    for (const u of [a, b, c]) expect(await gateway.authenticateUpgrade(u.request)).toMatchObject({ kind: 'user' });

    await gateway.closeEndedSessions();
    expect([a.socket.destroyed, b.socket.destroyed, c.socket.destroyed]).toEqual([false, false, false]);

    // 20 minutes on, the busy session makes a request; 15 more and the idle one has been idle 35.
    now += 20 * 60_000;
    expect(await sessions.resolve(busy.token)).toBeDefined();
    now += 15 * 60_000;
    await store.db.updateTable('users').set({ disabled: 1 }).where('id', '=', dave.id).execute();
    await gateway.closeEndedSessions();
    expect([a.socket.destroyed, b.socket.destroyed, c.socket.destroyed]).toEqual([true, false, true]);

    // Past the absolute lifetime, however busy.
    now += 8 * 3_600_000;
    await gateway.closeEndedSessions();
    expect(b.socket.destroyed).toBe(true);
  });
});
