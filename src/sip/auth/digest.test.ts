import { describe, expect, it } from 'vitest';
import { SipRequest, parseUri } from '../message/index.ts';
import { DigestServer, answerChallenge, parseAuthHeader } from './digest.ts';

function register(authorization?: string): SipRequest {
  const r = new SipRequest('REGISTER', parseUri('sip:example.com'));
  if (authorization) r.setHeader('Authorization', authorization);
  return r;
}

const passwords: Record<string, string> = { alice: 'secret-password' };
const lookup = async (u: string) => passwords[u];

describe('digest authentication', () => {
  let now = 1_000_000;
  const server = new DigestServer({ realm: 'example.com', secret: 'k', nonceTtlMs: 60_000, clock: () => now });

  it('offers MD5 then SHA-256 with qop=auth', () => {
    const [md5, sha] = server.challenges();
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

  it('never loops or throws on garbage credentials', async () => {
    for (const junk of ['Digest', 'Digest ,,,,', 'Digest username=', 'Basic YWxpY2U6c2VjcmV0', 'Digest username="alice", realm="example.com", nonce="a.b.c", uri="x", response="y", algorithm=ROT13', '"""']) {
      const verdict = await server.verify(register(junk), 'Authorization', lookup);
      expect(['missing', 'failed']).toContain(verdict.kind);
    }
  });
});
