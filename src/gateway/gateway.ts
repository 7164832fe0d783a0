import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FlowIdentity, GuestIdentity } from '../sip/index.ts';
import type { User } from '../store/index.ts';
import type { SessionStore } from '../users/index.ts';

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface GatewayOptions {
  sessions: SessionStore;
  /** Server secret: signs WebSocket tokens. */
  secret: string;
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

  constructor(private readonly options: GatewayOptions) {
    this.clock = options.clock ?? Date.now;
    options.sessions.on('revoked', (ids) => this.closeSessions(ids));
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

  private track(sessionId: string, request: IncomingMessage): void {
    const socket = request.socket;
    let set = this.sockets.get(sessionId);
    if (!set) this.sockets.set(sessionId, (set = new Set()));
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && this.sockets.get(sessionId) === set) this.sockets.delete(sessionId);
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
  iceServers(userId: string): IceServer[] {
    const servers: IceServer[] = [];
    if (this.options.stunUrls.length > 0) servers.push({ urls: this.options.stunUrls });
    if (this.options.turnUrls.length > 0 && this.options.turnSecret) {
      const expiry = Math.floor(this.clock() / 1000) + this.options.turnTtlS;
      const username = `${expiry}:${userId}`;
      const credential = createHmac('sha1', this.options.turnSecret).update(username).digest('base64');
      servers.push({ urls: this.options.turnUrls, username, credential });
    }
    return servers;
  }

  /** A one-minute token that authenticates a WebSocket as this session's user (`/sip?token=`). */
  token(userId: string, sessionId: string): string {
    const payload = Buffer.from(JSON.stringify({ u: userId, s: sessionId, e: this.clock() + TOKEN_TTL_MS })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.options.secret).update(`sip-ws|${payload}`).digest('base64url');
  }

  /**
   * Binds a WebSocket upgrade to a user: the session cookie, else a token. Without either the
   * connection is anonymous (a SIP client that will authenticate with its device password);
   * with a bad or expired one it is refused.
   */
  async authenticateUpgrade(request: IncomingMessage): Promise<FlowIdentity | undefined | false> {
    const identity = await this.identityOf(request);
    if (identity && identity.sessionId) this.track(identity.sessionId, request);
    return identity;
  }

  private async identityOf(request: IncomingMessage): Promise<FlowIdentity | undefined | false> {
    const url = new URL(request.url ?? '/', 'http://x');
    const token = url.searchParams.get('token');
    // A guest from an invitation link: may call that one user, within the invitation's window.
    const invite = url.searchParams.get('invite');
    if (invite) return (await this.fromInvite(invite, url.searchParams.get('name'))) ?? false;
    if (token) return (await this.fromToken(token)) ?? false;
    const cookie = parseCookies(request.headers.cookie ?? '')[this.options.sessionCookie];
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

  private async fromToken(token: string): Promise<FlowIdentity | undefined> {
    const [payload, signature] = token.split('.');
    if (!payload || !signature) return undefined;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    let data: { u?: string; s?: string; e?: number };
    try {
      data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof data;
    } catch {
      return undefined;
    }
    if (!data.u || !data.s || !data.e || data.e < this.clock()) return undefined;
    // The session must still be alive: a token outlives nothing.
    const user = await this.options.sessions.userOfSession(data.s);
    if (!user || user.id !== data.u) return undefined;
    return { kind: 'user', userId: user.id, sipUsername: user.sip_username, sessionId: data.s };
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
