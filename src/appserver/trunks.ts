/**
 * SIP trunks: the carriers or PBXs that bring DIDs in and take calls out. A trunk is recognised
 * by the address its requests come from; calls out go to its host with the number in E.164; a
 * trunk that wants registration gets a REGISTER refreshed before it expires, answering its digest
 * challenge with the configured credentials.
 *
 * A source address is spoofable over UDP: a UDP INVITE "from" the trunk whose Via does not name
 * it is dropped, and each trunk has a cap on new calls per second. TLS or TCP trunks (or a trunk
 * that authenticates with digest, as a user) are the safer choice. Calls out over TLS check the
 * trunk's certificate against its host name (`tls_verify: false` turns that off, loudly).
 */
import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { TrunkConfig } from '../config/index.ts';
import {
  SipRequest,
  answerChallenge,
  parseSipUri,
  randomToken,
  type Destination,
  type SipEndpoint,
  type SipResponse,
  type SipUri,
  type Source,
  type TransportProtocol,
} from '../sip/index.ts';

export class Trunk {
  /** Resolved addresses requests from this trunk come from (any port when none is configured). */
  private sources: { ip: string; port: number | undefined }[] = [];
  /** Host names and addresses a Via from this trunk may name (its host, its inbound addresses and what they resolve to). */
  private viaHosts = new Set<string>();
  private resolved: Destination | undefined;
  /** Token bucket of new calls (max_calls_per_second). */
  private callTokens = 0;
  private callTokensAt = 0;

  constructor(readonly config: TrunkConfig) {}

  /** New calls per second accepted from this trunk (0 = no limit). */
  get maxCallsPerSecond(): number {
    return this.config.max_calls_per_second ?? 100;
  }

  get name(): string {
    return this.config.name;
  }

  get protocol(): TransportProtocol {
    return (this.config.transport ?? 'udp').toUpperCase() as TransportProtocol;
  }

  get port(): number {
    return this.config.port ?? (this.protocol === 'TLS' ? 5061 : 5060);
  }

  async resolve(): Promise<void> {
    const address = isIP(this.config.host) ? this.config.host : (await lookup(this.config.host)).address;
    this.resolved = { protocol: this.protocol, address, port: this.port };
    if (this.protocol === 'TLS') {
      this.resolved.tls = {
        servername: this.config.host,
        verify: this.config.tls_verify !== false,
        ...(this.config.tls_ca ? { ca: readFileSync(this.config.tls_ca) } : {}),
      };
    }
    const inbound = this.config.inbound_addresses ?? [`${address}:${this.port}`];
    this.viaHosts = new Set([this.config.host.toLowerCase(), address]);
    this.sources = await Promise.all(
      inbound.map(async (entry) => {
        const m = /^(.*?)(?::(\d+))?$/.exec(entry)!;
        const host = m[1]!.replace(/^\[|\]$/g, '');
        const ip = isIP(host) ? host : (await lookup(host)).address;
        this.viaHosts.add(host.toLowerCase()).add(ip);
        return { ip, port: m[2] ? Number(m[2]) : undefined };
      }),
    );
  }

  /**
   * Does the top Via of a request from this trunk's address name the trunk (its address, host
   * or an inbound address)? Over UDP anyone can send "from" the carrier's address; a forger
   * who does not also forge the Via is caught here. (A forged Via is not: prefer TLS/TCP trunks.)
   */
  viaNamesTrunk(request: SipRequest, source: Source): boolean {
    const host = request.topVia.host.replace(/^\[|\]$/g, '').toLowerCase();
    return host === source.address || this.viaHosts.has(host);
  }

  /** Takes one new call from the trunk's budget; false when over max_calls_per_second. */
  takeCall(now: number): boolean {
    const rate = this.maxCallsPerSecond;
    if (rate <= 0) return true;
    const burst = rate * 2;
    this.callTokens = Math.min(burst, this.callTokens + ((now - this.callTokensAt) / 1000) * rate);
    if (this.callTokensAt === 0) this.callTokens = burst;
    this.callTokensAt = now;
    if (this.callTokens < 1) return false;
    this.callTokens -= 1;
    return true;
  }

  destination(): Destination {
    if (!this.resolved) throw new Error(`trunk ${this.name} not resolved`);
    return this.resolved;
  }

  /** Does this request come from the trunk? (Address, and port when the configuration names one.) */
  matches(source: Source): boolean {
    // Called for every request (no allocation here): address, and port when configured.
    for (const s of this.sources) if (s.ip === source.address && (s.port === undefined || s.port === source.port)) return true;
    return false;
  }

  /** `sip:+14155550134@carrier.example;user=phone`. */
  requestUri(e164: string): SipUri {
    const user = this.config.number_format === 'e164-no-plus' ? e164.slice(1) : e164;
    const transport = this.protocol === 'UDP' ? '' : `;transport=${this.protocol.toLowerCase()}`;
    return parseSipUri(`sip:${encodeURIComponent(user).replace('%2B', '+')}@${this.config.host}:${this.port};user=phone${transport}`);
  }

  get fromDomain(): string {
    return this.config.from_domain ?? this.config.host;
  }

  get credentials(): { username: string; password: string } | undefined {
    return this.config.username && this.config.password ? { username: this.config.username, password: this.config.password } : undefined;
  }

  /** The users a DID rings (as configured: emails, SIP usernames or extensions). */
  didTargets(e164: string): string[] | undefined {
    const t = this.config.dids?.[e164];
    return t === undefined ? undefined : Array.isArray(t) ? t : [t];
  }
}

/** Keeps a registration with a trunk alive (for carriers that send DID calls to registered clients). */
export class TrunkRegistration {
  private timer: NodeJS.Timeout | undefined;
  private readonly callId = `${randomToken(10)}@ringside`;
  private readonly tag = randomToken(6);
  private cseq = 0;
  private stopped = false;
  status: 'registering' | 'registered' | 'failed' = 'registering';

  constructor(
    private readonly trunk: Trunk,
    private readonly endpoint: SipEndpoint,
    private readonly log: { info(o: object, m?: string): void; warn(o: object, m?: string): void },
    private readonly expiresS = 300,
  ) {}

  start(): void {
    this.send();
  }

  private send(authorization?: { header: string; value: string }): void {
    if (this.stopped) return;
    const creds = this.trunk.credentials!;
    const aor = `sip:${creds.username}@${this.trunk.fromDomain}`;
    const request = new SipRequest('REGISTER', parseSipUri(`sip:${this.trunk.config.host}:${this.trunk.port}`));
    request.setHeader('From', `<${aor}>;tag=${this.tag}`);
    request.setHeader('To', `<${aor}>`);
    request.setHeader('Call-ID', this.callId);
    request.setHeader('CSeq', `${++this.cseq} REGISTER`);
    request.setHeader('Contact', this.endpoint.contact(this.trunk.protocol, creds.username));
    request.setHeader('Expires', String(this.expiresS));
    if (authorization) request.setHeader(authorization.header, authorization.value);
    this.endpoint.request(request, this.trunk.destination(), {
      onResponse: (response) => this.onResponse(request, response, authorization !== undefined),
      onTimeout: () => this.retry('timeout'),
      onTransportError: () => this.retry('transport error'),
    });
  }

  private onResponse(request: SipRequest, response: SipResponse, authenticated: boolean): void {
    if (response.status < 200) return;
    if ((response.status === 401 || response.status === 407) && !authenticated) {
      const header = response.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
      const challenge = response.header(header);
      if (challenge) {
        const value = answerChallenge(challenge, { method: 'REGISTER', uri: request.uri.toString() }, this.trunk.credentials!);
        this.send({ header: response.status === 401 ? 'Authorization' : 'Proxy-Authorization', value });
        return;
      }
    }
    if (response.status >= 200 && response.status < 300) {
      if (this.status !== 'registered') this.log.info({ trunk: this.trunk.name }, 'registered with trunk');
      this.status = 'registered';
      const granted = Number(/expires=(\d+)/i.exec(response.header('Contact') ?? '')?.[1] ?? response.header('Expires') ?? this.expiresS);
      this.schedule(Math.max(30, Math.floor(granted * 0.8)));
      return;
    }
    this.retry(`${response.status} ${response.reason}`);
  }

  private retry(reason: string): void {
    this.status = 'failed';
    this.log.warn({ trunk: this.trunk.name, reason }, 'trunk registration failed; retrying in 60 s');
    this.schedule(60);
  }

  private schedule(seconds: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.send(), seconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
