/**
 * Who sent a request: a user (digest with their device password, or a connection the gateway
 * bound to them), a trunk (by source address), or nobody — in which case the request is
 * challenged and goes no further. Failures count per (source address, username) and per
 * connection (`SourceGuard`); failures "from" a trunk's address are never counted (over UDP they
 * are spoofable, and would otherwise block the carrier).
 */
import { createResponse, DigestServer, type GuestIdentity, type ServerTransaction, type SipRequest, type Source } from '../sip/index.ts';
import { isTrustedFlow } from './source-guard.ts';
import type { User } from '../store/index.ts';
import type { SipUsers } from './sip-users.ts';
import type { SourceGuard } from './source-guard.ts';
import type { Trunk } from './trunks.ts';

/**
 * Clients that fail when offered more than MD5: baresip 1.x (libre) aborts the whole
 * authentication with ENOSYS on any non-MD5 challenge instead of skipping it; SIPp 3.x speaks MD5
 * only and reads the first challenge. They get MD5 alone.
 */
const MD5_ONLY_AGENTS = [/^baresip v?[01]\./i, /^SIPp\b/i];

export type Caller = { kind: 'user'; user: User } | { kind: 'trunk'; trunk: Trunk } | { kind: 'guest'; guest: GuestIdentity; host: User };

export interface AuthenticatorLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export class SipAuthenticator {
  constructor(
    private readonly digest: DigestServer,
    private readonly users: SipUsers,
    private readonly trunks: Trunk[],
    private readonly guard: SourceGuard,
    private readonly log: AuthenticatorLog,
  ) {}

  trunkFor(source: Source): Trunk | undefined {
    return this.trunks.find((t) => t.matches(source));
  }

  /**
   * A source whose requests are known: a connection that authenticated or that the gateway bound
   * to someone, or a trunk. Everyone else is answered statelessly until they authenticate.
   */
  isKnownSource(source: Source): boolean {
    return isTrustedFlow(source) || this.trunkFor(source) !== undefined;
  }

  /** The username a request's credentials claim, as `authenticate` will check them. */
  claimedUsername(request: SipRequest): string | undefined {
    return this.digest.claimedUsername(request, request.method === 'REGISTER' ? 'Authorization' : 'Proxy-Authorization');
  }

  /**
   * The authenticated caller of `transaction`'s request, or undefined after answering it
   * (401/407 challenge, 403 for wrong credentials). REGISTER uses 401/WWW-Authenticate, every
   * other request 407/Proxy-Authenticate (RFC 3261 §22.3).
   */
  async authenticate(transaction: ServerTransaction, options: { allowTrunk: boolean }): Promise<Caller | undefined> {
    const { request, source } = transaction;
    const identity = source.flow?.identity;
    if (identity?.kind === 'guest') {
      // A guest's connection places calls to its host and does nothing else (no REGISTER, no other targets).
      const host = request.method === 'INVITE' && identity.guest ? await this.users.byId(identity.userId) : undefined;
      if (host && !host.disabled) return { kind: 'guest', guest: identity.guest!, host };
      this.log.info({ method: request.method, invitation: identity.guest?.invitationId }, 'guest request refused');
      transaction.respond(createResponse(request, 403, { reason: 'Guests may only call their host', ...(transaction.isInvite ? { toTag: transaction.localTag } : {}) }));
      return undefined;
    }
    if (identity?.kind === 'user') {
      const user = await this.users.byId(identity.userId);
      if (user && !user.disabled) return { kind: 'user', user };
      transaction.respond(createResponse(request, 403, { reason: 'Forbidden' }));
      return undefined;
    }
    if (options.allowTrunk) {
      const trunk = this.trunkFor(source);
      if (trunk) return { kind: 'trunk', trunk };
    }
    const registrar = request.method === 'REGISTER';
    const claimed = this.claimedUsername(request);
    if (claimed !== undefined && this.guard.isBlocked(source, claimed)) {
      // Blocked while this request was on its way (the transaction layer drops the later ones).
      transaction.respond(createResponse(request, 403, { reason: 'Forbidden', ...(transaction.isInvite ? { toTag: transaction.localTag } : {}) }));
      return undefined;
    }
    let user: User | undefined;
    const verdict = await this.digest.verify(request, registrar ? 'Authorization' : 'Proxy-Authorization', async (name) => {
      const found = await this.users.ha1Of(name);
      user = found?.user;
      return found?.ha1;
    });
    switch (verdict.kind) {
      case 'ok': {
        if (!user) break;
        this.guard.succeeded(source, verdict.username);
        // Known from now on: failures of others from its address never block this connection, and
        // its answers are sent reliably again.
        if (source.flow) source.flow.authenticated = true;
        transaction.stateless = false;
        return { kind: 'user', user };
      }
      case 'missing':
      case 'stale': {
        const response = createResponse(request, registrar ? 401 : 407, transaction.isInvite ? { toTag: transaction.localTag } : {});
        const agent = request.header('User-Agent') ?? '';
        const only = MD5_ONLY_AGENTS.some((re) => re.test(agent)) ? (['MD5'] as const) : undefined;
        for (const c of this.digest.challenges(verdict.kind === 'stale', only ? [...only] : undefined)) response.addHeader(registrar ? 'WWW-Authenticate' : 'Proxy-Authenticate', c);
        transaction.respond(response);
        return undefined;
      }
      case 'failed':
        this.log.info({ source: `${source.address}:${source.port}`, username: verdict.username, reason: verdict.reason, method: request.method }, 'SIP authentication failed');
        break;
    }
    const failedName = verdict.kind === 'failed' ? verdict.username : claimed;
    if (this.trunkFor(source)) {
      this.log.info({ source: `${source.address}:${source.port}`, username: failedName }, 'authentication failure from a trunk address not counted');
    } else if (this.guard.failed(source, failedName)) {
      this.log.warn({ source: source.address, username: failedName }, 'blocking this username from this address after repeated SIP authentication failures');
    }
    transaction.respond(createResponse(request, 403, { reason: 'Forbidden', ...(transaction.isInvite ? { toTag: transaction.localTag } : {}) }));
    return undefined;
  }
}
