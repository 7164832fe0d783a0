/**
 * The application server (the brief's EXPERiUS role): the SIP transaction user that registers
 * devices, anchors every call as a B2BUA, forks it to all of the callee's devices, and sends
 * numbers that are not users out through a trunk. It answers everything that is not its
 * business with the right SIP error, and drops requests from addresses that keep failing to
 * authenticate.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.ts';
import {
  DigestServer,
  NameAddr,
  ownSipHosts,
  SipEndpoint,
  SipRequest,
  randomToken,
  createResponse,
  parseUri,
  percentDecode,
  responseDestination,
  type InviteServerTransaction,
  type ServerTransaction,
  type SipResponse,
  type Source,
  type TransactionUser,
  type WebSocketUpgradeAuth,
} from '../sip/index.ts';
import type { Store, User } from '../store/index.ts';
import { SipAuthenticator, type Caller } from './authenticator.ts';
import { randomUUID } from 'node:crypto';
import type { MediaRelay } from '../media/types.ts';
import { ALLOW, Call, DialogRegistry, type CallSetup, type CallTarget } from './b2bua/call.ts';
import { CallMedia, profileOfTransport, sdpProfile } from './b2bua/call-media.ts';
import { CallEventBus, CallRecorder, enqueueCallLogs, type CallParty } from './call-events.ts';
import { CallLimits, type Admission, type CallSlot } from './call-limits.ts';
import { nowIso } from '../store/index.ts';
import { LocationService } from './location-service.ts';
import { Registrar } from './registrar.ts';
import { CallRouter, dialledName, type Route } from './router.ts';
import { SipUsers } from './sip-users.ts';
import { SourceGuard } from './source-guard.ts';
import { TestCaller, type TestCallOptions, type TestCallResult } from './test-caller.ts';
import { Trunk, TrunkRegistration } from './trunks.ts';

export interface AppServerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AppServerDeps {
  config: Config;
  store: Store;
  log: AppServerLog;
  /** Shared secret for digest nonces (any node can check another's). */
  secret: string;
  /** Bridges browsers and plain SIP phones; without one, their SDP passes through unchanged. Closed with the app server. */
  relay?: MediaRelay;
  clock?: () => number;
}

/** A node whose heartbeat (every 5 s) is this old is gone: its guest-call claims can be taken over. */
const DEAD_NODE_MS = 20_000;

/** Option tags we understand when a request Requires them (RFC 3261 §8.2.2.3). */
const SUPPORTED = new Set(['outbound', 'path', 'gruu']);

export class AppServer implements TransactionUser {
  readonly endpoint: SipEndpoint;
  readonly events = new CallEventBus();
  readonly location: LocationService;
  readonly recorder: CallRecorder;
  readonly users: SipUsers;
  readonly trunks: Trunk[];
  readonly ports: { udp?: number; tcp?: number; tls?: number } = {};
  /** Whether a guest's invitation still lets them call (not cancelled, within its window now); set by the invitations wiring. */
  guestPassStillValid: (invitationId: string) => Promise<boolean> = async () => true;
  private readonly dialogs = new DialogRegistry();
  private readonly calls = new Map<string, Call>();
  private readonly registrar: Registrar;
  private readonly authenticator: SipAuthenticator;
  private readonly router: CallRouter;
  private readonly guard: SourceGuard;
  /** Guest calls whose invitation this node has claimed (see claimGuestCall). */
  private readonly heldGuestCalls = new Set<string>();
  /** Calls in progress and new calls per minute, per user (SIP_MAX_CALLS_PER_USER, SIP_MAX_CALL_RATE_PER_USER). */
  private readonly callLimits: CallLimits;
  private readonly trunkRegistrations: TrunkRegistration[] = [];
  /** Trunks trusted for calls in: the configured ones and the built-in test caller. */
  private readonly inboundTrunks: Trunk[];
  private testCaller: TestCaller | undefined;
  private readonly clock: () => number;
  private readonly log: AppServerLog;
  private readonly domain: string;
  private purgeTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly deps: AppServerDeps) {
    const { config, store } = deps;
    this.log = deps.log;
    this.clock = deps.clock ?? Date.now;
    this.domain = config.SIP_DOMAIN;
    this.endpoint = new SipEndpoint({
      transport: { maxMessageBytes: 64 * 1024, rateLimitPerSource: config.SIP_RATE_LIMIT, maxFlowsPerAddress: config.SIP_MAX_CONNECTIONS_PER_ADDRESS, logger: deps.log },
      timers: { T1: config.SIP_T1_MS },
      // An INVITE transaction outlives the longest ringing (and the 64*T1 after its answer) by a minute, never more.
      limits: { maxServerTransactions: config.SIP_MAX_TRANSACTIONS, inviteLifetimeMs: config.SIP_RING_TIMEOUT_S * 1000 + 128 * config.SIP_T1_MS + 60_000 },
      ...(config.SIP_ADVERTISED_HOST ? { advertisedHost: config.SIP_ADVERTISED_HOST } : {}),
      userAgent: 'Ringside',
    });
    this.endpoint.user = this;
    this.users = new SipUsers(store);
    this.trunks = config.TRUNKS.map((t) => new Trunk(t));
    this.location = new LocationService(store, this.endpoint.transport, config.NODE_ID, { clock: this.clock, maxContacts: config.SIP_MAX_CONTACTS });
    this.registrar = new Registrar(this.location, this.users, {
      minExpires: config.SIP_MIN_EXPIRES,
      maxExpires: config.SIP_MAX_EXPIRES,
      defaultExpires: Math.min(3600, config.SIP_MAX_EXPIRES),
      clock: this.clock,
    });
    this.callLimits = new CallLimits({ maxConcurrent: config.SIP_MAX_CALLS_PER_USER, ratePerMinute: config.SIP_MAX_CALL_RATE_PER_USER, clock: this.clock });
    this.guard = new SourceGuard({ limit: config.SIP_AUTH_FAILURE_LIMIT, blockMinutes: config.SIP_AUTH_BLOCK_MINUTES, clock: this.clock });
    const ownHosts = ownSipHosts({ domain: this.domain, listenHost: config.sipHost, advertisedHost: config.SIP_ADVERTISED_HOST });
    const digest = new DigestServer({ realm: this.domain, secret: deps.secret, node: config.NODE_ID, ownHosts, algorithms: config.SIP_DIGEST_ALGORITHMS, clock: this.clock });
    this.inboundTrunks = [...this.trunks];
    this.authenticator = new SipAuthenticator(digest, this.users, this.inboundTrunks, this.guard, deps.log);
    this.router = new CallRouter(this.users, this.trunks, { defaultRegion: config.PHONE_DEFAULT_REGION, allowedPrefixes: config.allowedPrefixes });
    this.recorder = new CallRecorder(store, this.events, config.NODE_ID, deps.log);
    if (deps.relay) {
      // A relayed call whose media stopped (a browser that vanished) is over.
      deps.relay.onMediaTimeout = (callId) => {
        const call = this.calls.get(callId);
        if (call) {
          deps.log.info({ call: callId }, 'media stopped; hanging up');
          call.hangUp('system', 'failed');
        }
      };
    }
  }

  static async start(deps: AppServerDeps): Promise<AppServer> {
    const server = new AppServer(deps);
    const { config } = deps;
    for (const trunk of server.trunks) await trunk.resolve();
    const recovered = await server.recoverInterruptedCalls();
    if (recovered > 0) deps.log.warn({ calls: recovered }, 'closed calls left open by the previous run as "interrupted"');
    await server.heartbeat(true);
    server.heartbeatTimer = setInterval(() => void server.heartbeat(false).catch(() => undefined), 5000);
    server.heartbeatTimer.unref();
    const dropped = await server.location.dropStaleFlows();
    if (dropped > 0) deps.log.info({ dropped }, 'dropped registrations whose connections ended with the last run');
    // UDP first: with SIP_PORT=0 (tests) TCP then takes the same free port, as SIP expects —
    // unless a TCP socket already holds that number (an outgoing connection's ephemeral port):
    // then another free UDP port, a few times.
    for (let attempt = 1; ; attempt++) {
      Object.assign(server.ports, await server.endpoint.listen({ host: config.sipHost, udp: config.SIP_PORT }));
      try {
        Object.assign(server.ports, await server.endpoint.listen({ host: config.sipHost, tcp: server.ports.udp! }));
        break;
      } catch (err) {
        if (config.SIP_PORT !== 0 || attempt >= 5 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        await server.endpoint.transport.closeUdp();
      }
    }
    if (config.tls) {
      Object.assign(server.ports, await server.endpoint.listen({ host: config.sipHost, tls: { port: config.SIPS_PORT, options: { cert: readFileSync(config.TLS_CERT!), key: readFileSync(config.TLS_KEY!) } } }));
    }
    for (const trunk of server.trunks) {
      if (trunk.config.register && trunk.credentials) {
        const registration = new TrunkRegistration(trunk, server.endpoint, deps.log);
        server.trunkRegistrations.push(registration);
        registration.start();
      }
    }
    // The built-in test caller (on loopback only), trusted like a trunk from its own address only (never for calls out).
    const serverHost = config.sipHost === '0.0.0.0' || config.sipHost === '::' ? '127.0.0.1' : config.sipHost;
    server.testCaller = new TestCaller({ protocol: 'UDP', address: serverHost, port: server.ports.udp! }, config.SIP_DOMAIN, deps.log);
    await server.testCaller.start();
    const testTrunk = new Trunk({ name: 'test-caller', host: server.testCaller.address.address, port: server.testCaller.address.port });
    await testTrunk.resolve();
    server.inboundTrunks.push(testTrunk);
    server.purgeTimer = setInterval(() => void server.location.purgeExpired().catch(() => undefined), 60_000);
    server.purgeTimer.unref();
    deps.log.info({ domain: config.SIP_DOMAIN, host: config.sipHost, ...server.ports, trunks: server.trunks.map((t) => t.name) }, 'SIP application server listening');
    return server;
  }

  /** SIP over WebSocket at `/sip` on the web server (RFC 7118). */
  attachWebSocket(
    http: HttpServer,
    options: { secure: boolean; host: string; port: number; authenticate?: WebSocketUpgradeAuth; clientAddress?: (request: IncomingMessage) => string },
  ): void {
    this.endpoint.transport.attachWebSocket(http, { path: '/sip', ...options });
  }

  /** This node is alive (written every few seconds; after a crash, the best-known end of its calls). */
  private async heartbeat(starting: boolean): Promise<void> {
    const now = nowIso(this.clock);
    const db = this.deps.store.db;
    await db
      .insertInto('nodes')
      .values({ node_id: this.deps.config.NODE_ID, heartbeat_at: now, started_at: now })
      .onConflict((oc) => oc.column('node_id').doUpdateSet(starting ? { heartbeat_at: now, started_at: now } : { heartbeat_at: now }))
      .execute();
  }

  /**
   * Calls this node had in progress when it last stopped without ending them (killed, crashed):
   * closed as "interrupted" at its last heartbeat, with the duration known up to then, and given
   * their activities like any other call.
   */
  private async recoverInterruptedCalls(): Promise<number> {
    const db = this.deps.store.db;
    const nodeId = this.deps.config.NODE_ID;
    const open = await db.selectFrom('calls').selectAll().where('node_id', '=', nodeId).where('state', '!=', 'ended').execute();
    if (open.length === 0) return 0;
    const node = await db.selectFrom('nodes').select('heartbeat_at').where('node_id', '=', nodeId).executeTakeFirst();
    const now = this.clock();
    await db.transaction().execute(async (trx) => {
      for (const call of open) {
        const lastAlive = Math.min(now, Date.parse(node?.heartbeat_at ?? call.updated_at ?? call.started_at));
        const end = Math.max(Date.parse(call.answered_at ?? call.started_at), lastAlive);
        const durationS = call.answered_at ? Math.round((end - Date.parse(call.answered_at)) / 1000) : 0;
        await trx
          .updateTable('calls')
          .set({ state: 'ended', ended_at: new Date(end).toISOString(), cause: 'interrupted', duration_s: durationS, hangup_by: 'system', updated_at: nowIso(this.clock) })
          .where('id', '=', call.id)
          .execute();
      }
      await enqueueCallLogs(trx, open.map((c) => c.id), now);
    });
    return open.length;
  }

  /**
   * Sends a JSON message to every browser of a user, over the WebSocket it registered on (a SIP
   * MESSAGE, RFC 3428, `application/vnd.ringside+json`): the widget learns things (the caller's
   * CRM record) without ever asking the CRM itself. Resolves with how many browsers took it.
   */
  async notifyUser(userId: string, body: unknown): Promise<number> {
    const bytes = Buffer.from(JSON.stringify(body));
    const bindings = (await this.location.bindings(userId)).filter((b) => b.transport === 'WS' || b.transport === 'WSS');
    const sent = await Promise.all(
      bindings.map(async (binding) => {
        const destination = this.location.destination(binding);
        if (!destination) return false;
        let uri;
        try {
          uri = parseUri(binding.contact);
        } catch {
          return false;
        }
        const user = await this.users.byId(userId);
        const message = new SipRequest('MESSAGE', uri);
        message.setHeader('From', `<sip:ringside@${this.domain}>;tag=${randomToken(6)}`);
        message.setHeader('To', `<sip:${user?.sip_username ?? 'user'}@${this.domain}>`);
        message.setHeader('Call-ID', `${randomToken(10)}@ringside`);
        message.setHeader('CSeq', '1 MESSAGE');
        message.setHeader('Content-Type', 'application/vnd.ringside+json');
        message.body = bytes;
        return new Promise<boolean>((resolve) => {
          this.endpoint.request(message, destination, {
            onResponse: (r) => r.status >= 200 && resolve(r.status < 300),
            onTimeout: () => resolve(false),
            onTransportError: () => resolve(false),
          });
        });
      }),
    );
    return sent.filter(Boolean).length;
  }

  /**
   * Rings a user from the built-in test caller (see TestCaller); resolves when the call is over.
   * A test call a user asked for holds a slot of their call limits (`admitCall`) until it ends.
   */
  testCall(options: TestCallOptions & { slot?: CallSlot }): Promise<TestCallResult> {
    const { slot, ...call } = options;
    if (!this.testCaller) {
      slot?.release();
      return Promise.reject(new Error('the app server is not started'));
    }
    return this.testCaller.call(call).finally(() => slot?.release());
  }

  /** Ends every call of a user an administrator disabled (on this node); returns how many. */
  endCallsOf(userId: string): number {
    let ended = 0;
    for (const call of [...this.calls.values()]) {
      if (call.state !== 'ended' && call.involves(userId)) {
        call.endForDisabledUser(userId);
        ended++;
      }
    }
    return ended;
  }

  /** Takes one of a user's call slots (concurrent calls and new calls per minute), or says why not. */
  admitCall(userId: string): Admission {
    return this.callLimits.admit(userId);
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  // ---------------------------------------------------------------- TransactionUser

  /**
   * Before a request costs a server transaction: drop it when its (address, username) is blocked,
   * and UDP INVITEs that claim a trunk's address but not its Via (spoofed); refuse new calls
   * statelessly when the dialog table is full or over a trunk's rate.
   */
  admit(request: SipRequest, source: Source): boolean {
    if (this.guard.blocks(source, () => this.authenticator.claimedUsername(request))) return false; // silently: guessers get nothing to learn from
    if (request.method !== 'INVITE' || request.to.tag !== undefined) return true;
    if (this.dialogs.size >= this.deps.config.SIP_MAX_DIALOGS) {
      this.log.warn({ dialogs: this.dialogs.size }, 'dialog table full: new call refused');
      this.endpoint.send(createResponse(request, 503, { reason: 'Server overloaded' }).setHeader('Retry-After', '5'), responseDestination(request, source));
      return false;
    }
    const trunk = this.authenticator.trunkFor(source);
    if (!trunk) return true;
    if (source.protocol === 'UDP' && !trunk.viaNamesTrunk(request, source)) {
      this.log.info({ trunk: trunk.name, source: `${source.address}:${source.port}`, via: request.topVia.sentBy }, 'UDP INVITE from a trunk address with a Via that is not the trunk dropped');
      return false;
    }
    if (!trunk.takeCall(this.clock())) {
      this.endpoint.send(createResponse(request, 503, { reason: 'Too many calls from this trunk' }).setHeader('Retry-After', '1'), responseDestination(request, source));
      return false;
    }
    return true;
  }

  onRequest(transaction: ServerTransaction): void {
    this.handle(transaction).catch((err: unknown) => {
      this.log.error({ err, method: transaction.request.method }, 'error handling SIP request');
      try {
        transaction.respond(createResponse(transaction.request, 500));
      } catch {
        // already answered
      }
    });
  }

  onAck(ack: SipRequest): void {
    const found = this.dialogs.find(ack);
    found?.call.onAck(found.side, ack);
  }

  onStrayResponse(response: SipResponse, source: Source): void {
    this.log.debug({ status: response.status, callId: response.header('Call-ID'), from: `${source.address}:${source.port}` }, 'response matched no transaction');
  }

  private async handle(transaction: ServerTransaction): Promise<void> {
    const { request, source } = transaction;
    const reply = (status: number, reason?: string, headers: [string, string][] = []) => answer(transaction, status, reason, headers);
    // Blocked sources never get here (admit). Sources not yet known are answered statelessly
    // (RFC 3261 §8.2.7): a spoofed request gets one reply — no retransmitted 407s, no state kept.
    transaction.stateless = !this.authenticator.isKnownSource(source);

    // RFC 4475 §3.3.7 / RFC 3261 §8.2.2.1: only SIP URIs are served.
    if (!request.uri.isSip) return reply(416, 'Unsupported URI Scheme');
    const required = request.headerValues('Require').filter((tag) => !SUPPORTED.has(tag.toLowerCase()));
    if (required.length > 0 && request.method !== 'ACK' && request.method !== 'CANCEL') {
      return reply(420, 'Bad Extension', [['Unsupported', required.join(', ')]]);
    }

    // Max-Forwards 0: a request for a user would have to go on to their devices (RFC 3261 §16.3).
    if (request.maxForwards === 0 && request.uri.user && request.method !== 'REGISTER' && request.method !== 'ACK') return reply(483);

    const inDialog = request.to.tag !== undefined;
    if (inDialog) {
      const found = this.dialogs.find(request);
      if (!found) return reply(481);
      transaction.stateless = false; // the peer of one of our calls: its answers are sent reliably
      found.call.onRequest(found.side, transaction);
      return;
    }

    switch (request.method) {
      case 'REGISTER': {
        // The address-of-record must be a SIP or SIPS URI (RFC 3261 §10.2, RFC 4475 §3.3.4).
        if (!request.to.uri.isSip) return reply(400, 'To must be a SIP URI');
        const caller = await this.authenticator.authenticate(transaction, { allowTrunk: false });
        if (caller?.kind !== 'user') return;
        if (await this.contactNamesAnotherUser(request, caller.user)) return reply(403, 'Contact names another user');
        await this.registrar.handle(transaction, caller.user);
        return;
      }
      case 'INVITE':
        return this.invite(transaction as InviteServerTransaction);
      case 'OPTIONS':
        return reply(200, undefined, [
          ['Allow', ALLOW],
          ['Accept', 'application/sdp'],
          ['Supported', 'outbound, path'],
        ]);
      case 'BYE':
      case 'INFO':
      case 'UPDATE':
      case 'PRACK':
      case 'NOTIFY':
        return reply(481);
      case 'MESSAGE':
      case 'SUBSCRIBE':
      case 'PUBLISH':
      case 'REFER':
        return reply(405, undefined, [['Allow', ALLOW]]);
      default:
        return reply(501);
    }
  }

  private async invite(transaction: InviteServerTransaction): Promise<void> {
    const { request } = transaction;
    const reply = (status: number, reason?: string, headers: [string, string][] = []) => answer(transaction, status, reason, headers);
    // No 100 Trying up front: a challenge, a refusal or the devices' 180 follows within
    // milliseconds, and the transaction sends 100 by itself should anything take 200 ms (§17.2.1).
    if (request.maxForwards === 0) return reply(483);
    if (request.body.length > 0 && !sdpOf(request)) return reply(415, undefined, [['Accept', 'application/sdp']]);
    // Our answers carry SDP: a caller that accepts no SDP could not read them (RFC 3261 §21.4.7).
    const accept = request.headerValues('Accept');
    if (accept.length > 0 && !accept.some((a) => /^\s*(application\/sdp|application\/\*|\*\/\*)\s*(;|$)/i.test(a))) {
      return reply(406, undefined, [['Accept', 'application/sdp']]);
    }
    const caller = await this.authenticator.authenticate(transaction, { allowTrunk: true });
    if (!caller) return;
    if (caller.kind === 'user' && !this.speaksForItself(request, caller.user)) {
      this.log.warn({ user: caller.user.sip_username, from: request.header('From') }, 'INVITE with another identity in From refused');
      return reply(403, 'From does not match the authenticated user');
    }
    if (caller.kind === 'user' && (await this.contactNamesAnotherUser(request, caller.user))) return reply(403, 'Contact names another user');
    if (caller.kind === 'guest') {
      // The pass was checked when the WebSocket opened: a cancellation or move since then (on any node) counts.
      const refusal = this.guestRefusal(request, caller) ?? ((await this.guestPassStillValid(caller.guest.invitationId)) ? undefined : 'The invitation was cancelled or moved');
      if (refusal) {
        this.log.info({ invitation: caller.guest.invitationId, to: request.uri.toString(), refusal }, 'guest call refused');
        return reply(403, refusal);
      }
    }
    if (transaction.cancelled) return reply(487);
    const route = await this.router.route(request, caller);
    if (route.kind === 'reject') {
      this.log.info({ to: request.uri.toString(), status: route.status, reason: route.reason }, 'call not routed');
      return reply(route.status, route.reason);
    }
    // Whatever the name matched, a guest's call rings its host and nobody else.
    if (caller.kind === 'guest' && (route.kind !== 'users' || route.users.some((u) => u.id !== caller.host.id))) {
      this.log.warn({ invitation: caller.guest.invitationId, to: request.uri.toString() }, 'guest call routed to someone other than the host; refused');
      return reply(403, 'Guests may only call their host');
    }
    // A user's calls count against their limits (a guest's and a trunk's are one call per
    // invitation, and inbound to our users). 503 with Retry-After, not 486: the callee is not busy,
    // this server will not place more calls for this caller now (RFC 3261 §21.5.4).
    let slot: CallSlot | undefined;
    if (caller.kind === 'user') {
      const admission = this.callLimits.admit(caller.user.id);
      if (!admission.admitted) {
        this.log.warn({ user: caller.user.sip_username, to: request.uri.toString(), reason: admission.reason }, 'call refused: per-user call limit');
        return reply(503, admission.reason, [['Retry-After', String(admission.retryAfterS)]]);
      }
      slot = admission.slot;
    }
    const id = randomUUID();
    // One call per invitation on every node, not only this one (the check above is this node's).
    const invitationId = caller.kind === 'guest' ? caller.guest.invitationId : undefined;
    if (invitationId && !(await this.claimGuestCall(invitationId, id))) {
      this.log.info({ invitation: invitationId }, 'guest call refused: the invitation is in a call on another node');
      return reply(403, 'This invitation is already in a call');
    }
    const releaseClaims = () => {
      slot?.release();
      if (invitationId) void this.releaseGuestCall(invitationId, id);
    };
    let setup: CallSetup;
    try {
      setup = await this.setup(transaction, caller, route, id);
    } catch (err) {
      releaseClaims();
      throw err;
    }
    const call = new Call(setup, {
      endpoint: this.endpoint,
      events: this.events,
      dialogs: this.dialogs,
      log: this.log,
      ringTimeoutMs: this.deps.config.SIP_RING_TIMEOUT_S * 1000,
      declineStopsAll: this.deps.config.SIP_DECLINE_STOPS_ALL,
      clock: this.clock,
      onEnded: (c) => {
        this.calls.delete(c.id);
        releaseClaims();
      },
    });
    this.calls.set(call.id, call);
    call.start();
  }

  /**
   * Why a guest's INVITE is refused, or undefined: a guest calls the user who invited them (by
   * SIP name or extension), within the invitation's window, one call at a time.
   */
  private guestRefusal(request: SipRequest, caller: Extract<Caller, { kind: 'guest' }>): string | undefined {
    if (this.clock() >= caller.guest.notAfter) return 'The invitation has ended';
    // The name as the router reads it (dots and dashes kept): the host's, and nobody else's.
    const dialled = dialledName(request.uri);
    if (!dialled || (dialled !== caller.host.sip_username && dialled !== caller.host.extension)) return 'Guests may only call their host';
    for (const call of this.calls.values()) {
      if (call.invitationId === caller.guest.invitationId && call.state !== 'ended') return 'This invitation is already in a call';
    }
    return undefined;
  }

  /**
   * Claims an invitation for one guest call (security review S5): a row per invitation in the
   * shared database, so a second call on another node finds it taken. A claim whose node stopped
   * its heartbeat, or that this node no longer holds (a restart), is taken over. Only guests' calls
   * pay for this query.
   */
  private async claimGuestCall(invitationId: string, callId: string, attempts = 3): Promise<boolean> {
    const db = this.deps.store.db;
    const nodeId = this.deps.config.NODE_ID;
    const claim = { invitation_id: invitationId, call_id: callId, node_id: nodeId, claimed_at: nowIso(this.clock) };
    const inserted = await db.insertInto('guest_call_claims').values(claim).onConflict((oc) => oc.column('invitation_id').doNothing()).executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return this.holding(callId);
    const holder = await db
      .selectFrom('guest_call_claims')
      .leftJoin('nodes', 'nodes.node_id', 'guest_call_claims.node_id')
      .select(['guest_call_claims.call_id', 'guest_call_claims.node_id', 'nodes.heartbeat_at'])
      .where('guest_call_claims.invitation_id', '=', invitationId)
      .executeTakeFirst();
    if (!holder) return attempts > 1 && this.claimGuestCall(invitationId, callId, attempts - 1); // let go of meanwhile: try again
    const alive =
      holder.node_id === nodeId
        ? this.heldGuestCalls.has(holder.call_id)
        : holder.heartbeat_at !== null && this.clock() - Date.parse(holder.heartbeat_at) < DEAD_NODE_MS;
    if (alive) return false;
    const taken = await db.updateTable('guest_call_claims').set(claim).where('invitation_id', '=', invitationId).where('call_id', '=', holder.call_id).executeTakeFirst();
    return Number(taken.numUpdatedRows) === 1 && this.holding(callId);
  }

  private holding(callId: string): true {
    this.heldGuestCalls.add(callId);
    return true;
  }

  private async releaseGuestCall(invitationId: string, callId: string): Promise<void> {
    this.heldGuestCalls.delete(callId);
    await this.deps.store.db
      .deleteFrom('guest_call_claims')
      .where('invitation_id', '=', invitationId)
      .where('call_id', '=', callId)
      .execute()
      .catch((err: unknown) => this.log.warn({ err, invitation: invitationId }, "could not release a guest call's claim"));
  }

  /** From must name the authenticated user (by SIP name or extension): nobody calls as someone else. */
  private speaksForItself(request: SipRequest, user: User): boolean {
    const from = request.from.uri;
    if (!from.isSip || !from.user) return false;
    const name = from.decodedUser!.toLowerCase();
    return name === user.sip_username || name === user.extension;
  }

  /**
   * A Contact whose user part is another user's SIP name or extension: a connection speaking for
   * someone else. (Browsers use random Contact users, phones their own name; neither matches.)
   */
  private async contactNamesAnotherUser(request: SipRequest, user: User): Promise<boolean> {
    let contacts;
    try {
      contacts = request.contacts;
    } catch {
      return false; // malformed Contacts are the registrar's 400
    }
    if (contacts === '*') return false;
    for (const c of contacts) {
      const name = c.uri.isSip ? c.uri.decodedUser?.toLowerCase() : undefined;
      if (!name || name === user.sip_username || name === user.extension) continue;
      const other = await this.users.find(name);
      if (other && other.id !== user.id) {
        this.log.warn({ user: user.sip_username, contact: c.uri.toString(), method: request.method }, 'Contact naming another user refused');
        return true;
      }
    }
    return false;
  }

  private async setup(transaction: InviteServerTransaction, caller: Caller, route: Exclude<Route, { kind: 'reject' }>, id: string): Promise<CallSetup> {
    const { request } = transaction;
    const offer = sdpOf(request);
    // The caller's SIP source: a phone behind NAT sends RTP from that address, not the one its SDP names.
    const media = new CallMedia(this.deps.relay, id, offer, sdpProfile(offer), transaction.source.address);
    // Click-to-dial: the widget names the record it dialled from (`X-Ringside-Record: contact:<id>`):
    // a built-in CRM's UUID or a Salesforce id (15 or 18 characters, case-sensitive).
    const recordHeader = caller.kind === 'user' ? /^(contact|lead|account):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)$/i.exec(request.header('X-Ringside-Record') ?? '') : null;
    // A guest's call belongs to the record they were invited from.
    const context = recordHeader
      ? { type: recordHeader[1]!.toLowerCase() as 'contact' | 'lead' | 'account', id: recordHeader[2]!.length === 36 ? recordHeader[2]!.toLowerCase() : recordHeader[2]! }
      : caller.kind === 'guest'
        ? caller.guest.record
        : null;
    const video = offer !== undefined && /^m=video [1-9]/m.test(offer.toString('latin1'));
    const invitationId = caller.kind === 'guest' ? caller.guest.invitationId : null;
    const fromHeader = request.from;
    let from: CallParty;
    let presentedFrom: NameAddr;
    if (caller.kind === 'user') {
      const u = caller.user;
      from = { uri: `sip:${u.sip_username}@${this.domain}`, number: u.extension ?? u.sip_username, display: u.name, userId: u.id };
      // Devices show a number they can call back: the extension when there is one.
      presentedFrom = new NameAddr(parseUri(`sip:${u.extension ?? u.sip_username}@${this.domain}`), u.name);
    } else if (caller.kind === 'guest') {
      const g = caller.guest;
      from = { uri: `sip:guest-${g.invitationId.slice(0, 8)}@${this.domain}`, number: null, display: g.name, userId: null };
      presentedFrom = new NameAddr(parseUri(`sip:guest@${this.domain}`), g.name);
    } else {
      const rawUser = fromHeader.uri.isSip ? percentDecode(fromHeader.uri.user ?? '') : '';
      const e164 = this.router.toE164(rawUser.replace(/[\s()./-]/g, ''), true);
      const number = e164 ?? (rawUser || null);
      from = { uri: fromHeader.uri.toString(), number, display: fromHeader.displayName ?? null, userId: null };
      presentedFrom = new NameAddr(parseUri(`sip:${encodeURIComponent(number ?? 'anonymous').replace('%2B', '+')}@${this.domain}`), fromHeader.displayName);
    }

    if (route.kind === 'trunk') {
      const trunk = route.trunk;
      const callerId = caller.kind === 'user' ? this.callerIdFor(caller.user, trunk) : undefined;
      const presented = new NameAddr(parseUri(`sip:${callerId ?? 'anonymous'}@${trunk.fromDomain}`), caller.kind === 'user' ? caller.user.name : undefined);
      const target: CallTarget = {
        userId: null,
        registrationId: null,
        device: `trunk ${trunk.name}`,
        trunkName: trunk.name,
        destination: trunk.destination(),
        requestUri: trunk.requestUri(route.number),
        profile: 'rtp',
        ...(trunk.credentials ? { credentials: trunk.credentials } : {}),
      };
      return {
        id,
        media,
        context,
        video,
        invitationId,
        transaction,
        direction: 'outbound',
        from,
        to: { uri: target.requestUri.toString(), number: route.number, display: null, userId: null },
        calleeUserIds: [],
        trunk: trunk.name,
        presentedFrom: presented,
        presentedTo: new NameAddr(parseUri(`sip:${route.number}@${trunk.fromDomain}`)),
        targets: [target],
        offer: sdpOf(request),
      };
    }

    const targets: CallTarget[] = [];
    for (const user of route.users) {
      for (const binding of await this.location.bindings(user.id)) {
        const destination = this.location.destination(binding);
        if (!destination) continue;
        // Calling oneself from a device: ring the user's other devices, not the calling one.
        if (destination.address === transaction.source.address && destination.port === transaction.source.port && destination.protocol === transaction.source.protocol) continue;
        let requestUri;
        try {
          requestUri = parseUri(binding.contact);
        } catch {
          continue;
        }
        targets.push({ userId: user.id, registrationId: binding.id, device: binding.device, trunkName: null, destination, requestUri, profile: profileOfTransport(binding.transport) });
      }
    }
    const first = route.users[0]!;
    return {
      id,
      media,
      context,
      video,
      invitationId,
      transaction,
      direction: caller.kind === 'user' ? 'internal' : 'inbound',
      from,
      to: { uri: `sip:${first.sip_username}@${this.domain}`, number: route.number ?? first.extension ?? first.sip_username, display: first.name, userId: first.id },
      calleeUserIds: route.users.map((u) => u.id),
      trunk: caller.kind === 'trunk' ? caller.trunk.name : null,
      presentedFrom,
      presentedTo: new NameAddr(parseUri(`sip:${first.sip_username}@${this.domain}`), first.name),
      targets,
      offer: sdpOf(request),
    };
  }

  /** The number a user's outbound calls show: their own DID on that trunk, else the trunk's. */
  private callerIdFor(user: User, trunk: Trunk): string | undefined {
    for (const [did, targets] of Object.entries(trunk.config.dids ?? {})) {
      const names = Array.isArray(targets) ? targets : [targets];
      if (names.some((n) => n.toLowerCase() === user.email || n.toLowerCase() === user.sip_username || n === user.extension)) return did;
    }
    return trunk.config.caller_id;
  }

  async close(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const r of this.trunkRegistrations) r.stop();
    await this.testCaller?.close();
    for (const call of [...this.calls.values()]) call.shutdown();
    await this.recorder.close();
    await this.endpoint.close();
    await this.deps.relay?.close();
  }
}

/** A final answer from the application; INVITEs use their transaction's To tag (so CANCEL's 200 matches). */
function answer(transaction: ServerTransaction, status: number, reason?: string, headers: [string, string][] = []): void {
  const response = createResponse(transaction.request, status, { ...(reason ? { reason } : {}), ...(transaction.isInvite ? { toTag: transaction.localTag } : {}) });
  for (const [k, v] of headers) response.setHeader(k, v);
  transaction.respond(response);
}

/**
 * The session description of a request: its body when that is SDP, or the SDP part of a
 * multipart/mixed body (RFC 5621) — the B2BUA passes only the SDP on.
 */
export function sdpOf(request: SipRequest): Buffer | undefined {
  const type = request.contentType;
  if (type === 'application/sdp') return request.body;
  if (type !== 'multipart/mixed' && type !== 'multipart/alternative') return undefined;
  const boundary = /boundary="?([^";]+)"?/i.exec(request.header('Content-Type') ?? '')?.[1];
  if (!boundary) return undefined;
  for (const part of request.body.toString('latin1').split(`--${boundary}`)) {
    const split = part.search(/\r?\n\r?\n/);
    if (split < 0) continue;
    const headers = part.slice(0, split);
    if (/^content-type:\s*application\/sdp/im.test(headers)) {
      const body = part.slice(split).replace(/^\r?\n\r?\n/, '').replace(/\r?\n$/, '');
      return Buffer.from(body, 'latin1');
    }
  }
  return undefined;
}
