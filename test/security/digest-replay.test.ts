/**
 * Review #18 (and the digest part of S5): a captured Authorization must not be replayable. An
 * attacker on the path of a cleartext UDP phone copies alice's Proxy-Authorization and sends it
 * again (same nonce count), to another destination, after a restart, or answers a challenge the
 * RFC 2069 way (no qop, so no nonce count at all). Each attempt is refused; the phone's own
 * requests, and SIPp's way of naming the server in the digest uri, keep working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipRequest, answerChallenge, newTag, parseAuthHeader, parseUri, randomToken, type SipResponse } from '../../src/sip/index.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { TEST_SDP, TestPhone } from '../support/sip-phone.ts';

let server: TestServer;
let alice: TestPhone;
let attacker: TestPhone;
const phones: TestPhone[] = [];

async function phone(user: string, password = 'ringside-demo', userAgent?: string): Promise<TestPhone> {
  const p = await TestPhone.start({ user, password, domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! }, ...(userAgent ? { userAgent } : {}) });
  phones.push(p);
  return p;
}

/** An INVITE as alice's phone would send it to `target`, optionally with a (stolen) Proxy-Authorization. */
function inviteAsAlice(target: string, proxyAuthorization?: string): () => SipRequest {
  return () => {
    const r = new SipRequest('INVITE', parseUri(`sip:${target}@127.0.0.1`));
    r.setHeader('From', `<sip:alice@127.0.0.1>;tag=${newTag()}`);
    r.setHeader('To', `<sip:${target}@127.0.0.1>`);
    r.setHeader('Call-ID', `${randomToken(8)}@attacker`);
    r.setHeader('CSeq', '1 INVITE');
    r.setHeader('Contact', attacker.endpoint.contact('UDP', 'alice'));
    r.setHeader('Content-Type', 'application/sdp');
    r.body = TEST_SDP(41000);
    if (proxyAuthorization) r.setHeader('Proxy-Authorization', proxyAuthorization);
    return r;
  };
}

/** A fresh challenge the attacker obtains by sending an INVITE without credentials. */
async function freshChallenge(userAgent?: string): Promise<string> {
  const who = userAgent ? await phone('alice', 'x', userAgent) : attacker;
  const response = await who.send(inviteAsAlice('bob'), { authenticate: false });
  expect(response.status).toBe(407);
  return response.header('Proxy-Authenticate')!;
}

/** What alice's phone computes for `uri` on that challenge: the value the attacker captures. */
function alicesAnswer(challenge: string, uri: string, nc = 1): string {
  return answerChallenge(challenge, { method: 'INVITE', uri }, { username: 'alice', password: 'ringside-demo' }, { nc });
}

/** Authenticated and past the authenticator: bob has no registered device, so the call gets 480. */
const passedAuthentication = (r: SipResponse) => r.status === 480;
const refused = (r: SipResponse) => r.status === 403 || r.status === 407;

beforeAll(async () => {
  server = await startServer();
  alice = await phone('alice');
  attacker = await phone('alice', 'not-known-to-the-attacker');
});
afterAll(async () => {
  for (const p of phones) await p.close();
  await server.stop();
});

describe('a captured digest response cannot be replayed', () => {
  it('refuses alice’s INVITE credentials sent again, to her callee or to anyone else', async () => {
    expect((await alice.call('bob')).status).toBe(480); // the real phone: challenged, authenticated, bob offline
    const captured = alice.lastInvite!.header('Proxy-Authorization')!;
    expect(parseAuthHeader(captured).params.get('qop')).toBe('auth');

    expect((await attacker.send(inviteAsAlice('bob', captured), { authenticate: false })).status).toBe(403);
    expect((await attacker.send(inviteAsAlice('admin', captured), { authenticate: false })).status).toBe(403);
  });

  it('refuses credentials computed for one destination on a request to another (intercepted before they arrived)', async () => {
    const challenge = await freshChallenge();
    const forBob = alicesAnswer(challenge, 'sip:bob@127.0.0.1');
    const redirected = await attacker.send(inviteAsAlice('admin', forBob), { authenticate: false });
    expect(redirected.status).toBe(403);
    // The same credentials on the request they were made for still work (nothing consumed them).
    expect(passedAuthentication(await attacker.send(inviteAsAlice('bob', forBob), { authenticate: false }))).toBe(true);
  });

  it('refuses an RFC 2069 answer (no qop, hence no nonce count) even with the right password', async () => {
    const challenge = (await freshChallenge()).replace(/,\s*qop="auth"/, '');
    const old = alicesAnswer(challenge, 'sip:bob@127.0.0.1');
    expect(old).not.toMatch(/qop=/);
    expect((await attacker.send(inviteAsAlice('bob', old), { authenticate: false })).status).toBe(403);
  });

  it('refuses a lower nonce count on the same nonce', async () => {
    const challenge = await freshChallenge();
    expect(passedAuthentication(await attacker.send(inviteAsAlice('bob', alicesAnswer(challenge, 'sip:bob@127.0.0.1', 7)), { authenticate: false }))).toBe(true);
    expect((await attacker.send(inviteAsAlice('bob', alicesAnswer(challenge, 'sip:bob@127.0.0.1', 6)), { authenticate: false })).status).toBe(403);
    expect(passedAuthentication(await attacker.send(inviteAsAlice('bob', alicesAnswer(challenge, 'sip:bob@127.0.0.1', 8)), { authenticate: false }))).toBe(true);
  });

  it('accepts a digest uri naming this server’s own address, as SIPp sends it, and gives SIPp MD5 alone', async () => {
    const port = server.ringside.sip.ports.udp!;
    const challenges = (await (await phone('alice', 'x', 'SIPp ringside-bench')).send(inviteAsAlice('bob'), { authenticate: false })).headerValues('Proxy-Authenticate');
    expect(challenges).toHaveLength(1);
    expect(challenges[0]).toMatch(/algorithm=MD5/);
    for (const uri of [`sip:127.0.0.1:${port}`, `127.0.0.1:${port}`]) {
      const challenge = await freshChallenge();
      expect(passedAuthentication(await attacker.send(inviteAsAlice('bob', alicesAnswer(challenge, uri)), { authenticate: false }))).toBe(true);
    }
  });

  it('challenges afresh, instead of trusting, a captured answer after the server restarted (its nonce counts are gone)', async () => {
    const challenge = await freshChallenge();
    const captured = alicesAnswer(challenge, 'sip:bob@127.0.0.1');
    expect(passedAuthentication(await alice.send(inviteAsAlice('bob', captured), { authenticate: false }))).toBe(true);

    const dataDir = server.dataDir;
    for (const p of phones.splice(0)) await p.close();
    await server.stop({ keepData: true });
    server = await startServer({ dataDir });
    attacker = await phone('alice', 'not-known-to-the-attacker');
    alice = await phone('alice');

    const replayed = await attacker.send(inviteAsAlice('bob', captured), { authenticate: false });
    expect(refused(replayed)).toBe(true);
    expect(replayed.header('Proxy-Authenticate') ?? '').toMatch(/stale=true/);
    // The real phone answers the fresh challenge and goes on calling.
    expect((await alice.call('bob')).status).toBe(480);
  });
});
