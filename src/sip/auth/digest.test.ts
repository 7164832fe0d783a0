import { describe, expect, it } from 'vitest';
import { SipRequest, parseUri } from '../message/index.ts';
import { DigestServer, answerChallenge, digestHa1, parseAuthHeader, type DigestHa1 } from './digest.ts';

function register(authorization?: string): SipRequest {
  const r = new SipRequest('REGISTER', parseUri('sip:example.com'));
  if (authorization) r.setHeader('Authorization', authorization);
  return r;
}

const passwords: Record<string, string> = { alice: 'secret-password' };
const ha1s = (realm: string) => async (u: string): Promise<DigestHa1 | undefined> =>
  passwords[u] === undefined ? undefined : { realm, MD5: digestHa1('MD5', u, realm, passwords[u]!), 'SHA-256': digestHa1('SHA-256', u, realm, passwords[u]!) };
const lookup = ha1s('example.com');

describe('digest authentication', () => {
  let now = 1_000_000;
  const server = new DigestServer({ realm: 'example.com', secret: 'k', nonceTtlMs: 60_000, clock: () => now });

  it('offers SHA-256 then MD5 with qop=auth', () => {
    const [sha, md5] = server.challenges();
    expect(parseAuthHeader(md5!).params.get('algorithm')).toBe('MD5');
    expect(parseAuthHeader(sha!).params.get('algorithm')).toBe('SHA-256');
    expect(parseAuthHeader(md5!).params.get('qop')).toBe('auth');
  });

  it.each(['MD5', 'SHA-256'])('accepts the right password with %s, and refuses a wrong one', async (algorithm) => {
    const challenge = server.challenges().find((c) => c.includes(`algorithm=${algorithm}`))!;
    const good = answerChallenge(challenge, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' });
    expect(await server.verify(register(good), 'Authorization', lookup)).toEqual({ kind: 'ok', username: 'alice', algorithm });
    const bad = answerChallenge(challenge, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'guess' });
    expect(await server.verify(register(bad), 'Authorization', lookup)).toMatchObject({ kind: 'failed', reason: 'wrong password' });
  });

  it('says "missing" without credentials for our realm', async () => {
    expect(await server.verify(register(), 'Authorization', lookup)).toEqual({ kind: 'missing' });
    const other = 'Digest username="alice", realm="elsewhere", nonce="x", uri="sip:example.com", response="00"';
    expect(await server.verify(register(other), 'Authorization', lookup)).toEqual({ kind: 'missing' });
  });

  it('refuses a replayed nonce count and a forged nonce', async () => {
    const challenge = server.challenges()[0]!;
    const first = answerChallenge(challenge, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' }, { nc: 1 });
    expect((await server.verify(register(first), 'Authorization', lookup)).kind).toBe('ok');
    expect(await server.verify(register(first), 'Authorization', lookup)).toMatchObject({ kind: 'failed', reason: 'replayed nonce count' });
    const next = answerChallenge(challenge, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' }, { nc: 2 });
    expect((await server.verify(register(next), 'Authorization', lookup)).kind).toBe('ok');
    const forged = challenge.replace(/nonce="([^"]+)"/, (_m, n: string) => `nonce="${n.slice(0, -2)}xx"`);
    const withForged = answerChallenge(forged, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' });
    expect(await server.verify(register(withForged), 'Authorization', lookup)).toMatchObject({ kind: 'failed', reason: 'nonce not issued by us' });
  });

  it('calls an expired nonce stale (the password was right: challenge again with stale=true)', async () => {
    const challenge = server.challenges()[0]!;
    now += 61_000;
    const late = answerChallenge(challenge, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' });
    expect(await server.verify(register(late), 'Authorization', lookup)).toEqual({ kind: 'stale', username: 'alice' });
    expect(server.challenges(true)[0]).toMatch(/stale=true$/);
  });

  it('refuses an RFC 2069 response (no qop, so no nonce count) even with the right password', async () => {
    const challenge = server.challenges()[0]!.replace(', qop="auth"', '');
    const old = answerChallenge(challenge, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' });
    expect(old).not.toMatch(/qop/);
    expect(await server.verify(register(old), 'Authorization', lookup)).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/qop=auth required/) });
  });

  it('refuses a lower nonce count than one already seen', async () => {
    const challenge = server.challenges()[0]!;
    const at = (nc: number) => answerChallenge(challenge, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' }, { nc });
    expect((await server.verify(register(at(5)), 'Authorization', lookup)).kind).toBe('ok');
    expect(await server.verify(register(at(3)), 'Authorization', lookup)).toMatchObject({ kind: 'failed', reason: 'replayed nonce count' });
  });

  it('takes a digest uri naming the Request-URI or this server, never another destination', async () => {
    const own = new DigestServer({ realm: 'example.com', secret: 'k', ownHosts: ['10.0.0.5'], clock: () => now });
    const invite = (ruri: string, uri: string) => {
      const challenge = own.challenges()[0]!;
      const r = new SipRequest('INVITE', parseUri(ruri));
      r.setHeader('Proxy-Authorization', answerChallenge(challenge, { method: 'INVITE', uri }, { username: 'alice', password: 'secret-password' }));
      return own.verify(r, 'Proxy-Authorization', lookup);
    };
    expect((await invite('sip:bob@example.com', 'sip:bob@example.com')).kind).toBe('ok');
    // SIPp: the server's address, with or without the scheme.
    expect((await invite('sip:bob@example.com', 'sip:10.0.0.5:5060')).kind).toBe('ok');
    expect((await invite('sip:bob@10.0.0.5:5060', '10.0.0.5:5060')).kind).toBe('ok');
    // A dispatcher that rewrote the Request-URI's host to this node's address.
    expect((await invite('sip:bob@10.0.0.5', 'sip:bob@example.com')).kind).toBe('ok');
    for (const [ruri, uri] of [
      ['sip:+18765550100@example.com', 'sip:bob@example.com'],
      ['sip:bob@example.com', 'sip:bob@elsewhere.net'],
      ['sip:bob@example.com', 'sip:elsewhere.net'],
      ['sip:bob@example.com', 'tel:+18765550100'],
    ]) {
      expect(await invite(ruri!, uri!)).toMatchObject({ kind: 'failed', reason: 'digest uri names another destination' });
    }
  });

  it("answers another node's (or an earlier run's) nonce with a fresh challenge", async () => {
    const other = new DigestServer({ realm: 'example.com', secret: 'k', node: 'node-b', clock: () => now });
    const mine = new DigestServer({ realm: 'example.com', secret: 'k', node: 'node-a', clock: () => now });
    const good = answerChallenge(other.challenges()[0]!, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' });
    expect((await other.verify(register(good), 'Authorization', lookup)).kind).toBe('ok');
    expect(await mine.verify(register(good), 'Authorization', lookup)).toEqual({ kind: 'stale', username: 'alice' });
    const restarted = new DigestServer({ realm: 'example.com', secret: 'k', node: 'node-b', clock: () => now });
    expect(await restarted.verify(register(good), 'Authorization', lookup)).toEqual({ kind: 'stale', username: 'alice' });
  });

  it('keeps the nonce-count table under its cap, and an evicted nonce can never be replayed', async () => {
    const small = new DigestServer({ realm: 'example.com', secret: 'k', maxNonces: 10, clock: () => now });
    const first = answerChallenge(small.challenges()[0]!, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' });
    expect((await small.verify(register(first), 'Authorization', lookup)).kind).toBe('ok');
    for (let i = 0; i < 50; i++) {
      now += 1;
      const fresh = answerChallenge(small.challenges()[0]!, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' });
      expect((await small.verify(register(fresh), 'Authorization', lookup)).kind).toBe('ok');
      expect(small.trackedNonces).toBeLessThanOrEqual(10);
    }
    expect((await small.verify(register(first), 'Authorization', lookup)).kind).not.toBe('ok');
  });

  it('refuses HA1 values made for another realm (SIP_DOMAIN changed) with a reason that says so', async () => {
    const challenge = server.challenges()[0]!;
    const good = answerChallenge(challenge, { method: 'REGISTER', uri: 'sip:example.com' }, { username: 'alice', password: 'secret-password' });
    expect(await server.verify(register(good), 'Authorization', ha1s('old.example.com'))).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/realm old\.example\.com/) });
  });

  it('never loops or throws on garbage credentials', async () => {
    for (const junk of ['Digest', 'Digest ,,,,', 'Digest username=', 'Basic YWxpY2U6c2VjcmV0', 'Digest username="alice", realm="example.com", nonce="a.b.c", uri="x", response="y", algorithm=ROT13', '"""']) {
      const verdict = await server.verify(register(junk), 'Authorization', lookup);
      expect(['missing', 'failed']).toContain(verdict.kind);
    }
  });
});
