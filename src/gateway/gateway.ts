import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { UpgradeRefused, type FlowIdentity, type GuestIdentity } from '../sip/index.ts';
import type { ServerSecret, User } from '../store/index.ts';
import type { SessionStore } from '../users/index.ts';

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface GatewayOptions {
  sessions: SessionStore;
  /** Server secret: signs WebSocket tokens (verified with the previous keys too, during a rotation). */
  secret: ServerSecret;
  /**
   * The browser origin the web pages are served from (BASE_URL's), read at each upgrade. A
   * WebSocket that carries the session cookie must come from it: cookies ride along with
   * same-site pages of other origins (a sibling subdomain, another port), Origin does not lie.
   */
  publicUrl: () => string;
  /**
   * Without BASE_URL the public URL is a guess (HOST:PORT): the page's own origin is then also
   * the request's Host header (what the HTTP CSRF check compares too).
   */
  publicUrlConfigured: boolean;
  /** Origins that may embed our pages and connect with a token (the Salesforce org's). */
  embeddingOrigins?: () => string[];
  /**
   * Uses a one-time token's nonce once: true the first time, on any node (the database), else
   * false. Without it, tokens are single-use per process.
   */
  consumeOnce?: (nonce: string, expiresAt: number) => Promise<boolean>;
  /** The TURN REST-API shared secret (coturn `use-auth-secret` / `static-auth-secret`). */
  turnSecret?: string | undefined;
  turnUrls: string[];
  stunUrls: string[];
  turnTtlS: number;
  /** Only relayed candidates (TURN) in browsers: for networks that block direct UDP. */
  relayOnly: boolean;
  sipDomain: string;
  sessionCookie: string;
  /** What an invitation's join token grants now (`/sip?invite=`), or undefined outside its window. */
  guests?: (token: string) => Promise<GuestPass | undefined>;
  clock?: () => number;
}

/** A guest's right to call one user (see `src/invitations`). */
export interface GuestPass {
  invitationId: string;
  hostUserId: string;
  name: string;
  email: string;
  record: GuestIdentity['record'];
  notAfter: number;
}

/** Refused upgrades: the status the transport answers with. */
const CROSS_ORIGIN = () => new UpgradeRefused(403, 'Forbidden', 'Cross-origin WebSocket refused');

export interface SoftphoneConfig {
  user: { id: string; name: string; email: string; extension: string | null; sip_username: string };
  sip: { uri: string; domain: string; display_name: string; ws_path: string };
  ice_servers: IceServer[];
  ice_transport_policy: 'all' | 'relay';
}

/** Tokens for WebSocket auth live a minute: enough to connect, useless if they leak later. */
const TOKEN_TTL_MS = 60_000;

export class SipGateway {
  private readonly clock: () => number;
  /**
   * The connections of each web session (the upgrade's socket, which the SIP WebSocket runs on).
   * Ending the socket closes the flow, and a closed flow takes its registrations with it.
   */
  private readonly sockets = new Map<string, Set<Duplex>>();
  /** The connections of each invitation's guests: cancelling or moving it ends them. */
  private readonly guestSockets = new Map<string, Set<Duplex>>();
  /** The end of the window each connected invitation's pass was given (to notice a move elsewhere). */
  private readonly guestNotAfter = new Map<string, number>();
  /** Nonces of tokens used here, when there is no shared `consumeOnce`. */
  private readonly usedTokens = new Map<string, number>();

  constructor(private readonly options: GatewayOptions) {
    this.clock = options.clock ?? Date.now;
    options.sessions.on('revoked', (ids) => this.closeSessions(ids));
  }

  /** Closes the SIP WebSockets of this invitation's guests (cancelled or moved: the old pass is void). */
  closeInvitation(invitationId: string): void {
    for (const socket of this.guestSockets.get(invitationId) ?? []) socket.destroy();
    this.guestSockets.delete(invitationId);
    this.guestNotAfter.delete(invitationId);
  }

  /**
   * Closes guest sockets whose invitation was cancelled or moved on another node since they
   * connected (`unchanged` compares it with the window their pass ended at). A call that merely
   * runs past the planned end is left alone: meetings overrun.
   */
  async closeChangedGuests(unchanged: (invitationId: string, notAfter: number) => Promise<boolean>): Promise<void> {
    for (const [id, notAfter] of [...this.guestNotAfter]) {
      if (!this.guestSockets.has(id)) this.guestNotAfter.delete(id);
      else if (!(await unchanged(id, notAfter))) this.closeInvitation(id);
    }
  }

  /** Closes the SIP WebSockets of these sessions (revoked: their devices must stop ringing now). */
  closeSessions(sessionIds: string[]): void {
    for (const id of sessionIds) {
      for (const socket of this.sockets.get(id) ?? []) socket.destroy();
      this.sockets.delete(id);
    }
  }

  /** Closes the SIP WebSockets of sessions that ended since (expired, idle, revoked on another node, user disabled). */
  async closeEndedSessions(): Promise<void> {
    const ids = [...this.sockets.keys()];
    const live = await this.options.sessions.liveIds(ids);
    this.closeSessions(ids.filter((id) => !live.has(id)));
  }

  private track(map: Map<string, Set<Duplex>>, key: string, request: IncomingMessage): void {
    const socket = request.socket;
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && map.get(key) === set) map.delete(key);
    });
  }

  /** What the widget needs to register and call (the user's SIP identity, ICE servers). */
  softphoneConfig(user: User): SoftphoneConfig {
    return {
      user: { id: user.id, name: user.name, email: user.email, extension: user.extension, sip_username: user.sip_username },
      sip: { uri: `sip:${user.sip_username}@${this.options.sipDomain}`, domain: this.options.sipDomain, display_name: user.name, ws_path: '/sip' },
      ice_servers: this.iceServers(user.id),
      ice_transport_policy: this.options.relayOnly ? 'relay' : 'all',
    };
  }

  /**
   * STUN and TURN servers, TURN with time-limited credentials in the REST-API form coturn's
   * `use-auth-secret` checks: username `expiry:userId`, password base64(HMAC-SHA1(secret, username)).
   */
  iceServers(userId: string, options: { notAfter?: number } = {}): IceServer[] {
    const servers: IceServer[] = [];
    if (this.options.stunUrls.length > 0) servers.push({ urls: this.options.stunUrls });
    // A guest's relay lasts no longer than the invitation's window (and TURN_TTL_S).
    const ttlS = Math.min(this.options.turnTtlS, options.notAfter === undefined ? Infinity : Math.floor((options.notAfter - this.clock()) / 1000));
    if (this.options.turnUrls.length > 0 && this.options.turnSecret && ttlS > 0) {
      const expiry = Math.floor(this.clock() / 1000) + ttlS;
      const username = `${expiry}:${userId}`;
      const credential = createHmac('sha1', this.options.turnSecret).update(username).digest('base64');
      servers.push({ urls: this.options.turnUrls, username, credential });
    }
    return servers;
  }

  /** A one-minute, one-time token that authenticates a WebSocket as this session's user (`/sip?token=`). */
  token(userId: string, sessionId: string): string {
    const payload = Buffer.from(JSON.stringify({ u: userId, s: sessionId, e: this.clock() + TOKEN_TTL_MS, n: randomBytes(12).toString('base64url') })).toString('base64url');
    return `${payload}.${this.options.secret.sign('sip-ws', payload)}`;
  }

  /**
   * Binds a WebSocket upgrade to a user: the session cookie, else a token. Without either the
   * connection is anonymous (a SIP client that will authenticate with its device password);
   * with a bad or expired one it is refused.
   */
  async authenticateUpgrade(request: IncomingMessage): Promise<FlowIdentity | undefined | false> {
    const identity = await this.identityOf(request);
    if (identity && identity.sessionId) this.track(this.sockets, identity.sessionId, request);
    if (identity && identity.guest) {
      this.track(this.guestSockets, identity.guest.invitationId, request);
      this.guestNotAfter.set(identity.guest.invitationId, identity.guest.notAfter);
    }
    return identity;
  }

  private async identityOf(request: IncomingMessage): Promise<FlowIdentity | undefined | false> {
    const url = new URL(request.url ?? '/', 'http://x');
    const token = url.searchParams.get('token');
    const invite = url.searchParams.get('invite');
    const cookie = parseCookies(request.headers.cookie ?? '')[this.options.sessionCookie];
    this.checkOrigin(request, cookie !== undefined && !invite && !token);
    // A guest from an invitation link: may call that one user, within the invitation's window.
    if (invite) return (await this.fromInvite(invite, url.searchParams.get('name'))) ?? false;
    if (token) return (await this.fromToken(token)) ?? false;
    if (!cookie) return undefined;
    const active = await this.options.sessions.resolve(cookie);
    if (!active) return false;
    return { kind: 'user', userId: active.user.id, sipUsername: active.user.sip_username, sessionId: active.session.id };
  }

  private async fromInvite(token: string, name: string | null): Promise<FlowIdentity | undefined> {
    const pass = this.options.guests ? await this.options.guests(token) : undefined;
    if (!pass) return undefined;
    // The name the guest typed on the join page (shown on the ringing phones), within reason.
    const given = (name ?? '').replace(/[\u0000-\u001f\u007f"<>\\]/g, '').trim().slice(0, 100);
    return {
      kind: 'guest',
      userId: pass.hostUserId,
      sipUsername: `guest-${pass.invitationId.slice(0, 8)}`,
      guest: { invitationId: pass.invitationId, name: given || pass.name, email: pass.email, record: pass.record, notAfter: pass.notAfter },
    };
  }

  /**
   * Cross-site WebSocket hijacking: a browser sends the session cookie with a WebSocket opened by
   * any same-site page, but names that page in Origin. An upgrade that uses the cookie must come
   * from our own origin; with a token or a join link (nothing ambient) also from the origins that
   * embed us; with neither (a SIP client that authenticates by digest) any Origin or none goes.
   */
  private checkOrigin(request: IncomingMessage, usesCookie: boolean): void {
    const origin = request.headers.origin;
    if (origin === undefined) {
      if (usesCookie) throw CROSS_ORIGIN();
      return;
    }
    const own = this.ownOrigins(request);
    if (own.includes(origin)) return;
    if (usesCookie) throw CROSS_ORIGIN();
    const url = new URL(request.url ?? '/', 'http://x');
    const ambientFree = url.searchParams.has('token') || url.searchParams.has('invite');
    if (ambientFree && (this.options.embeddingOrigins?.() ?? []).includes(origin)) return;
    // A page of another origin with a token or a join link is refused too: nothing needs it.
    if (ambientFree) throw CROSS_ORIGIN();
  }

  private ownOrigins(request: IncomingMessage): string[] {
    const origins = [new URL(this.options.publicUrl()).origin];
    if (!this.options.publicUrlConfigured && request.headers.host) {
      const scheme = new URL(this.options.publicUrl()).protocol;
      origins.push(`${scheme}//${request.headers.host}`);
    }
    return origins;
  }

  private async fromToken(token: string): Promise<FlowIdentity | undefined> {
    const [payload, signature] = token.split('.');
    if (!payload || !signature) return undefined;
    if (!this.options.secret.verify('sip-ws', payload, signature)) return undefined;
    let data: { u?: string; s?: string; e?: number; n?: string };
    try {
      data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof data;
    } catch {
      return undefined;
    }
    if (!data.u || !data.s || !data.e || !data.n || data.e < this.clock()) return undefined;
    // One connection per token: a token read from a log or a proxy's history is already spent.
    if (!(await this.consume(`sip-ws:${data.n}`, data.e))) return undefined;
    // The session must still be alive: a token outlives nothing.
    const user = await this.options.sessions.userOfSession(data.s);
    if (!user || user.id !== data.u) return undefined;
    return { kind: 'user', userId: user.id, sipUsername: user.sip_username, sessionId: data.s };
  }

  private async consume(nonce: string, expiresAt: number): Promise<boolean> {
    if (this.options.consumeOnce) return this.options.consumeOnce(nonce, expiresAt);
    const now = this.clock();
    for (const [n, until] of this.usedTokens) if (until < now) this.usedTokens.delete(n);
    if (this.usedTokens.has(nonce)) return false;
    this.usedTokens.set(nonce, expiresAt);
    return true;
  }
}

function parseCookies(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    try {
      out[name] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      out[name] = part.slice(eq + 1).trim();
    }
  }
  return out;
}
