/**
 * One Ringside process: storage, the built-in CRM, users and the web server, wired together.
 * `Ringside.start(config)` is what `npm start` runs and what the tests start on a free port.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ActivityOutbox } from './activity/index.ts';
import { AppServer } from './appserver/index.ts';
import { CallDesk } from './calls/index.ts';
import { InvitationService } from './invitations/index.ts';
import { createMediaRelay } from './media/index.ts';
import { createMailer, type Mailer } from './mail/index.ts';
import { SipGateway } from './gateway/index.ts';
import { clientAddress, isLoopbackHost, trustFunction, type Config } from './config/index.ts';
import { BuiltinCrm, type CrmPort } from './crm/index.ts';
import { addSalesforceReadiness, createSalesforceCrm, type SalesforceCrm } from './crm/salesforce/index.ts';
import { httpsOnly, sessionCookieName } from './web/auth.ts';
import { salesforceOrigins } from './web/salesforce.ts';
import { DEFAULT_DEMO_PASSWORD, demoSeeding } from './demo/policy.ts';
import { DEMO_USERS, seedDemo, type SeedResult } from './demo/seed.ts';
import { PhoneIndex, PhoneNumbers } from './phone/index.ts';
import { SingleSignOn } from './sso/index.ts';
import { loadServerSecret, Store } from './store/index.ts';
import { LoginThrottle, SessionStore, UserDirectory } from './users/index.ts';
import { createMetrics, createWebServer, registerOutboxMetrics, registerSipMetrics } from './web/index.ts';

export interface StartOptions {
  logger?: Logger;
  /** PostgreSQL schema (tests isolate runs with one each). */
  pgSchema?: string;
  clock?: () => number;
}

export class Ringside {
  private constructor(
    readonly config: Config,
    readonly logger: Logger,
    readonly store: Store,
    readonly crm: BuiltinCrm,
    readonly users: UserDirectory,
    readonly sessions: SessionStore,
    readonly phones: PhoneNumbers,
    readonly metrics: Registry,
    readonly http: FastifyInstance,
    readonly sip: AppServer,
    readonly outbox: ActivityOutbox,
    readonly invitations: InvitationService,
    readonly mailer: Mailer,
    readonly seeded: SeedResult | undefined,
    private readonly timers: NodeJS.Timeout[],
  ) {}

  /** The Salesforce adapter, with CRM=salesforce. */
  salesforce: SalesforceCrm | undefined;

  /** The CRM behind the port (calls, activities, invitations): Salesforce, or the built-in CRM. */
  get crmPort(): CrmPort {
    return this.salesforce ?? this.crm;
  }

  /** Base URL the HTTP server actually listens on (PORT=0 picks a free port). */
  get url(): string {
    const address = this.http.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.config.tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  static async start(config: Config, options: StartOptions = {}): Promise<Ringside> {
    const logger = options.logger ?? pino({ level: config.LOG_LEVEL });
    const clock = options.clock ?? Date.now;
    const store = await Store.open({
      databaseUrl: config.DATABASE_URL,
      dataDir: config.dataDir,
      poolSize: config.DATABASE_POOL_SIZE,
      ...(options.pgSchema ? { pgSchema: options.pgSchema } : {}),
    });
    try {
      const applied = await store.migrate();
      logger.info({ engine: store.engine, location: store.location, migrations: applied }, 'database ready');
      // The MAC key of links and tokens: SECRET_KEY or DATA_DIR/secret.key, never the database.
      const secret = await loadServerSecret({
        db: store.db,
        secretKey: config.SECRET_KEY,
        previous: config.SECRET_KEY_PREVIOUS,
        dataDir: config.dataDir,
        shared: store.engine === 'postgres',
        log: logger,
      });

      const phones = new PhoneNumbers({ defaultRegion: config.PHONE_DEFAULT_REGION, matchDigits: config.PHONE_MATCH_DIGITS });
      const phoneIndex = new PhoneIndex(phones);
      const crm = new BuiltinCrm({ store, phoneIndex, baseUrl: () => config.publicUrl, clock });
      // CRM=salesforce: calls are matched in and logged to Salesforce (a bad setting shows on /readyz).
      const salesforce = config.CRM === 'salesforce' ? createSalesforceCrm(config, { store, phones, logger, clock }) : undefined;
      await salesforce?.start();
      const crmPort: CrmPort = salesforce ?? crm;
      const users = new UserDirectory(store, clock, config.SIP_DOMAIN);
      const sessions = new SessionStore(store, { idleMinutes: config.SESSION_IDLE_MINUTES, maxHours: config.SESSION_MAX_HOURS, clock });
      const throttle = new LoginThrottle({
        maxFailuresPerAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
        maxFailuresPerIp: config.LOGIN_MAX_FAILURES_PER_IP,
        windowMinutes: config.LOGIN_LOCK_MINUTES,
        clock,
      });

      const seeded = await seedDemoIfAllowed(config, { store, users, crm, logger });
      await hashLegacyDevicePasswords(users, logger);

      const metrics = createMetrics(() => store.poolStats(), store.engine);
      // Browsers (WebRTC) and SIP phones (RTP) meet in the media relay; the app server closes it.
      const relay = createMediaRelay({
        kind: config.MEDIA_RELAY,
        ...(config.RTPENGINE_NG ? { rtpengineNg: config.RTPENGINE_NG } : {}),
        bindAddress: config.MEDIA_BIND_ADDRESS,
        portMin: config.MEDIA_PORT_MIN,
        portMax: config.MEDIA_PORT_MAX,
        mediaTimeoutMs: config.MEDIA_TIMEOUT_S * 1000,
      });
      const sip = await AppServer.start({ config, store, log: logger.child({ role: 'sip' }), secret: secret.current, relay, clock });

      registerSipMetrics(metrics, sip);
      // Finished calls reach the CRM through the outbox: woken as soon as the recorder wrote them.
      // Without SMTP_URL, invitation mails become .eml files under DATA_DIR/mail (the embedded default).
      const mailer = createMailer({ smtpUrl: config.SMTP_URL, mailDir: path.join(config.dataDir, 'mail') });
      const outbox = new ActivityOutbox({
        store,
        crm: crmPort,
        mailer,
        log: logger.child({ role: 'activity' }),
        clock,
        baseBackoffMs: config.ACTIVITY_RETRY_BASE_MS,
        maxBackoffMs: config.ACTIVITY_RETRY_MAX_MS,
      });
      sip.recorder.on('written', (batch: { type: string }[]) => {
        if (batch.some((e) => e.type === 'call.ended')) outbox.wake();
      });
      outbox.start();
      registerOutboxMetrics(metrics, outbox, store);
      const calls = new CallDesk({ store, crm: crmPort, sip, display: (n) => phones.display(n), log: logger.child({ role: 'calls' }), clock });
      const invitations = new InvitationService({
        store,
        crm: crmPort,
        outbox,
        secret,
        publicUrl: () => config.publicUrl,
        mailFrom: config.MAIL_FROM ?? `Ringside <no-reply@${new URL(config.publicUrl).hostname}>`,
        limits: { earlyJoinMinutes: config.INVITE_EARLY_JOIN_MINUTES, maxMinutes: config.INVITE_MAX_MINUTES, maxDaysAhead: config.INVITE_MAX_DAYS_AHEAD, maxMailsPerHour: config.INVITE_MAX_PER_HOUR },
        clock,
      });
      const gateway = new SipGateway({
        sessions,
        secret,
        publicUrl: () => config.publicUrl,
        publicUrlConfigured: config.BASE_URL !== undefined,
        // The Salesforce softphone is our page framed by the org; its socket uses a one-time token.
        embeddingOrigins: () => (salesforce ? salesforceOrigins(salesforce.client?.instanceUrl, config.SALESFORCE_LOGIN_URL) : []),
        consumeOnce: (nonce, expiresAt) => store.consumeOnce(nonce, expiresAt, clock()),
        turnSecret: config.TURN_SECRET,
        turnUrls: config.TURN_URLS,
        stunUrls: config.STUN_URLS,
        turnTtlS: config.TURN_TTL_S,
        relayOnly: config.ICE_RELAY_ONLY,
        sipDomain: config.SIP_DOMAIN,
        sessionCookie: sessionCookieName(httpsOnly(config)),
        guests: (token) => invitations.guestPass(token),
        clock,
      });
      // A cancelled or moved invitation: its guests' sockets close now, and every guest INVITE re-checks.
      invitations.on('changed', (id) => gateway.closeInvitation(id));
      sip.guestPassStillValid = (id) => invitations.guestPassStillValid(id);
      const sso = new SingleSignOn({ store, users, sessions, providers: config.oidcProviders, secret: secret.current, clock });
      const http = await createWebServer({ config, store, secret, crm, users, sessions, throttle, phones, metrics, logger, sip, gateway, calls, outbox, invitations, mailer, sso });
      if (salesforce) addSalesforceReadiness(http, salesforce);
      try {
        await http.listen({ host: config.HOST, port: config.PORT });
      } catch (err) {
        await sip.close();
        await outbox.close();
        await salesforce?.stop();
        mailer.close();
        throw err;
      }
      const address = http.server.address() as AddressInfo;
      // PORT=0 (tests): links must name the port actually taken.
      if (!config.BASE_URL && config.PORT === 0) config.publicUrl = config.publicUrl.replace(/:0$/, `:${address.port}`);
      const trustedProxies = trustFunction(config.TRUST_PROXY);
      sip.attachWebSocket(http.server, {
        secure: config.tls,
        host: config.HOST,
        port: address.port,
        authenticate: (r) => gateway.authenticateUpgrade(r),
        // The same X-Forwarded-For reading as request.ip: one client, one address, on HTTP and SIP.
        clientAddress: (r) => clientAddress(r, trustedProxies),
      });
      const ringside = new Ringside(config, logger, store, crm, users, sessions, phones, metrics, http, sip, outbox, invitations, mailer, seeded, [
        setInterval(() => void sessions.prune().catch((err: unknown) => logger.warn({ err }, 'session prune failed')), 3_600_000).unref(),
        // Sessions that expired (or were revoked on another node) lose their SIP WebSockets within a minute.
        setInterval(() => void gateway.closeEndedSessions().catch((err: unknown) => logger.warn({ err }, 'session sweep failed')), 60_000).unref(),
        // Guests whose invitation was cancelled or moved on another node lose their socket within a minute.
        setInterval(() => void gateway.closeChangedGuests((id, notAfter) => invitations.guestPassUnchanged(id, notAfter)).catch((err: unknown) => logger.warn({ err }, 'guest sweep failed')), 60_000).unref(),
      ]);
      ringside.salesforce = salesforce;
      if (config.trustProxyWasTrue) {
        logger.warn('TRUST_PROXY=true now means one proxy hop (the right-most X-Forwarded-For entry): set the number of proxies, or their addresses, to say so');
      }
      if (!config.tls && !isLoopbackHost(config.HOST)) {
        logger.warn(
          `listening on ${config.HOST} without TLS: browsers allow microphones only on localhost or HTTPS, and passwords cross the network in clear. Set TLS_CERT and TLS_KEY, or put Ringside behind an HTTPS proxy.`,
        );
      }
      logger.info({ url: ringside.url, publicUrl: config.publicUrl }, `Ringside is running at ${ringside.url}`);
      return ringside;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.sip.close();
    await this.outbox.close();
    await this.salesforce?.stop();
    this.mailer.close();
    await this.http.close();
    await this.store.close();
  }
}

/**
 * Seeds the demo organisation into an empty database when `demoSeeding` allows it; refuses to
 * start (before anything listens) when the configuration asks for the published password on a
 * reachable host. The log names the demo users, never their password (the README does).
 */
async function seedDemoIfAllowed(config: Config, deps: { store: Store; users: UserDirectory; crm: BuiltinCrm; logger: Logger }): Promise<SeedResult | undefined> {
  const decision = demoSeeding(config);
  if ('refusal' in decision) throw new Error(decision.refusal);
  if (!decision.seed) {
    if (config.SEED_DEMO === undefined && (await deps.users.count()) === 0) deps.logger.info(`no demo organisation: ${decision.reason}`);
    return undefined;
  }
  if ((await deps.users.count()) > 0) return undefined;
  const seeded = await seedDemo({ store: deps.store, users: deps.users, crm: deps.crm, password: config.DEMO_PASSWORD });
  deps.logger.info(seeded, 'seeded the demo organisation');
  deps.logger.warn(
    { users: DEMO_USERS.map((u) => u.email) },
    config.DEMO_PASSWORD === DEFAULT_DEMO_PASSWORD
      ? 'demo users sign in with the demo password from the README: only this machine can reach them (every listener is on loopback)'
      : 'demo users sign in with DEMO_PASSWORD',
  );
  return seeded;
}

/** Device passwords stored in clear by an older version become HA1 values; users of a changed SIP_DOMAIN are told to reset theirs. */
async function hashLegacyDevicePasswords(users: UserDirectory, logger: Logger): Promise<void> {
  const converted = await users.hashLegacyDevicePasswords();
  if (converted > 0) logger.info({ users: converted }, `stored ${converted} device passwords as digest hashes (realm ${users.sipRealm}); the plaintext is gone`);
  const otherRealm = await users.countDevicePasswordsOfOtherRealms();
  if (otherRealm > 0) {
    logger.warn({ users: otherRealm }, `${otherRealm} users have device passwords made for another SIP_DOMAIN: their phones cannot sign in until they reset the device password on their settings page`);
  }
}
