/**
 * Join links: `/join/<token>`, the token being the invitation id and a MAC over it and a
 * per-invitation salt under the server secret (16 + 16 bytes, base64url). Unguessable (128-bit
 * MAC, and the id itself is random), checkable without a lookup table, the same on every resend,
 * and dead with the row (cancelled, deleted) or after a salt change.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ServerSecret } from '../store/index.ts';

export class JoinLinks {
  constructor(
    private readonly secret: ServerSecret,
    /** Read at each use: a server on port 0 learns its address only once listening. */
    private readonly publicUrl: () => string,
  ) {}

  token(invitation: { id: string; link_salt: string }, key = this.secret.current): string {
    const id = Buffer.from(invitation.id.replace(/-/g, ''), 'hex');
    return `${id.toString('base64url')}${this.mac(key, invitation.id, invitation.link_salt).toString('base64url')}`;
  }

  url(invitation: { id: string; link_salt: string }): string {
    return `${this.publicUrl().replace(/\/$/, '')}/join/${this.token(invitation)}`;
  }

  /** The invitation id a well-formed token names (not yet verified), or undefined. */
  idOf(token: string): string | undefined {
    if (!/^[A-Za-z0-9_-]{44}$/.test(token)) return undefined;
    const hex = Buffer.from(token.slice(0, 22), 'base64url').toString('hex');
    if (hex.length !== 32) return undefined;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** Whether `token` is the one this invitation's link carries (constant time). */
  verify(token: string, invitation: { id: string; link_salt: string }): boolean {
    // The whole text, not the decoded bytes: the last character of each 16-byte half carries
    // padding bits a decoder ignores, so another spelling of the same bytes is not this link.
    // Links mailed before a key rotation keep working while the old key is in SECRET_KEY_PREVIOUS.
    const given = Buffer.from(token);
    let ok = false;
    for (const key of this.secret.keys) {
      const expected = Buffer.from(this.token(invitation, key));
      if (given.length === expected.length && timingSafeEqual(given, expected)) ok = true;
    }
    return ok;
  }

  private mac(key: string, id: string, salt: string): Buffer {
    return createHmac('sha256', key).update(`join|${id}|${salt}`).digest().subarray(0, 16);
  }
}
