/**
 * Configuration: every option Ringside reads, in one table.
 *
 * Values come from an optional JSON config file (`--config FILE` or `RINGSIDE_CONFIG`), then from
 * environment variables, which win. Every value is validated at start; a bad one stops the process
 * with one line naming the key, the value and what is expected (see `ConfigError`).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { getCountries, getCountryCallingCode, type CountryCode } from 'libphonenumber-js';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { isProxyAddress, type TrustProxySetting } from './trust-proxy.ts';
import { issuerProblem, normaliseDomain, OIDC_PROVIDERS_EXPECTED, parseGroupRoles, parseOidcProviders, toProviderConfig, type OidcProviderConfig, type OidcProviderSetting } from './oidc.ts';

export type { OidcProviderConfig } from './oidc.ts';
export { clientAddress, trustFunction, type TrustFunction, type TrustProxySetting } from './trust-proxy.ts';

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`Invalid configuration: ${key}=${JSON.stringify(value)}: expected ${expected}`);
    this.name = 'ConfigError';
  }
}

type Parser<T> = { parse(raw: string, key: string): T; expected: string };

const string: Parser<string> = { parse: (raw) => raw, expected: 'a string' };

const optionalString: Parser<string | undefined> = {
  parse: (raw) => (raw === '' ? undefined : raw),
  expected: 'a string',
};

function integer(min: number, max: number): Parser<number> {
  const expected = `an integer from ${min} to ${max}`;
  return {
    expected,
    parse(raw, key) {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(key, raw, expected);
      const n = Number(raw);
      if (n < min || n > max) throw new ConfigError(key, raw, expected);
      return n;
    },
  };
}

const boolean: Parser<boolean> = {
  expected: 'true or false',
  parse(raw, key) {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    throw new ConfigError(key, raw, 'true or false');
  },
};

/** true, false, or unset (empty) for "decide from the rest of the configuration". */
const optionalBoolean: Parser<boolean | undefined> = {
  expected: 'true or false',
  parse: (raw, key) => (raw.trim() === '' ? undefined : boolean.parse(raw, key)),
};

function oneOf<T extends string>(...values: T[]): Parser<T> {
  const expected = `one of ${values.join(', ')}`;
  return {
    expected,
    parse(raw, key) {
      if ((values as string[]).includes(raw)) return raw as T;
      throw new ConfigError(key, raw, expected);
    },
  };
}

const host: Parser<string> = {
  expected: 'an IP address or host name',
  parse(raw, key) {
    if (isIP(raw) || /^[a-zA-Z0-9.-]+$/.test(raw)) return raw;
    throw new ConfigError(key, raw, 'an IP address or host name');
  },
};

const region: Parser<CountryCode> = {
  expected: 'a two-letter ISO country code such as US, GB or DE',
  parse(raw, key) {
    const v = raw.trim().toUpperCase();
    if ((getCountries() as string[]).includes(v)) return v as CountryCode;
    throw new ConfigError(key, raw, 'a two-letter ISO country code such as US, GB or DE');
  },
};

function optionalHost(): Parser<string | undefined> {
  return {
    expected: host.expected,
    parse: (raw, key) => (raw === '' ? undefined : host.parse(raw, key)),
  };
}

const databaseUrl: Parser<string | undefined> = {
  expected: 'a postgres:// or postgresql:// URL (leave unset for SQLite)',
  parse(raw, key) {
    if (raw === '') return undefined;
    if (!/^postgres(ql)?:\/\//.test(raw)) throw new ConfigError(key, raw, databaseUrl.expected);
    try {
      new URL(raw);
    } catch {
      throw new ConfigError(key, raw, databaseUrl.expected);
    }
    return raw;
  },
};

const smtpUrl: Parser<string | undefined> = {
  expected: 'an smtp:// or smtps:// URL such as smtps://user:password@mail.example.com:465',
  parse(raw, key) {
    if (raw === '') return undefined;
    if (!/^smtps?:\/\//.test(raw)) throw new ConfigError(key, raw, smtpUrl.expected);
    try {
      new URL(raw);
    } catch {
      throw new ConfigError(key, raw, smtpUrl.expected);
    }
    return raw;
  },
};

const baseUrl: Parser<string | undefined> = {
  expected: 'an absolute http(s) URL such as https://ringside.example.com',
  parse(raw, key) {
    if (raw === '') return undefined;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
      return u.origin + u.pathname.replace(/\/$/, '');
    } catch {
      throw new ConfigError(key, raw, baseUrl.expected);
    }
  },
};

/** A comma-separated list of STUN/TURN URLs. */
const iceUrls: Parser<string[]> = {
  expected: 'comma-separated stun:/turn:/turns: URLs such as turn:turn.example.com:3478?transport=udp',
  parse(raw, key) {
    const list = raw.split(',').map((u) => u.trim()).filter(Boolean);
    if (!list.every((u) => /^(stun|stuns|turn|turns):[^\s]+$/.test(u))) throw new ConfigError(key, raw, iceUrls.expected);
    return list;
  },
};

/** `host:port`. */
const hostPort: Parser<string | undefined> = {
  expected: 'host:port, such as 127.0.0.1:2223',
  parse(raw, key) {
    if (raw === '') return undefined;
    if (!/^[A-Za-z0-9.\-]+:\d{1,5}$/.test(raw) || Number(raw.split(':')[1]) > 65535) throw new ConfigError(key, raw, hostPort.expected);
    return raw;
  },
};

/** Digest algorithms in the order challenges offer them (RFC 8760: a phone takes the first it knows). */
const digestAlgorithms: Parser<('SHA-256' | 'MD5')[]> = {
  expected: 'SHA-256 and/or MD5, comma-separated, most preferred first (SHA-256,MD5)',
  parse(raw, key) {
    const list = raw.split(',').map((a) => a.trim().toUpperCase()).filter(Boolean);
    if (list.length === 0 || new Set(list).size !== list.length || !list.every((a) => a === 'SHA-256' || a === 'MD5')) throw new ConfigError(key, raw, digestAlgorithms.expected);
    return list as ('SHA-256' | 'MD5')[];
  },
};

/** A comma-separated list of E.164 prefixes (`+1,+44`). */
const prefixes: Parser<string[] | undefined> = {
  expected: 'comma-separated E.164 prefixes such as +1,+44 (or * for any)',
  parse(raw, key) {
    if (raw.trim() === '') return undefined;
    const list = raw.split(',').map((p) => p.trim()).filter(Boolean);
    if (list.length === 0 || !list.every((p) => p === '*' || /^\+\d{1,14}$/.test(p))) throw new ConfigError(key, raw, prefixes.expected);
    return list;
  },
};

export const TrunkConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
    host: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    transport: Type.Optional(Type.Union([Type.Literal('udp'), Type.Literal('tcp'), Type.Literal('tls')])),
    username: Type.Optional(Type.String({ maxLength: 128 })),
    password: Type.Optional(Type.String({ maxLength: 256 })),
    register: Type.Optional(Type.Boolean()),
    from_domain: Type.Optional(Type.String({ maxLength: 255 })),
    caller_id: Type.Optional(Type.String({ pattern: '^\\+\\d{4,15}$' })),
    number_format: Type.Optional(Type.Union([Type.Literal('e164'), Type.Literal('e164-no-plus')])),
    /** DID (E.164) → the users it rings: email, SIP username or extension. */
    dids: Type.Optional(Type.Record(Type.String({ pattern: '^\\+\\d{4,15}$' }), Type.Union([Type.String(), Type.Array(Type.String())]))),
    /** Addresses calls from this trunk come from ("203.0.113.5" or "203.0.113.5:5060"); the host when absent. */
    inbound_addresses: Type.Optional(Type.Array(Type.String())),
    /** TLS trunks: verify the certificate and that it names `host` (default true; false is logged at warn on every connection). */
    tls_verify: Type.Optional(Type.Boolean()),
    /** TLS trunks: PEM file of the CA(s) to trust instead of the system's (a private CA or a pinned self-signed certificate). */
    tls_ca: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    /** New calls per second accepted from this trunk (default 100; 0 = no limit); more get 503. */
    max_calls_per_second: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);
export type TrunkConfig = Static<typeof TrunkConfig>;
const trunkList = Compile(Type.Array(TrunkConfig));

const trunks: Parser<TrunkConfig[]> = {
  expected: 'a JSON array of trunks [{"name","host","port","transport","username","password","register","dids":{"+1…":["alice"]}}]',
  parse(raw, key) {
    if (raw.trim() === '') return [];
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ConfigError(key, raw, trunks.expected);
    }
    if (!trunkList.Check(value)) {
      const first = trunkList.Errors(value)[0];
      throw new ConfigError(key, raw.length > 120 ? `${raw.slice(0, 117)}...` : raw, `${trunks.expected}; at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`);
    }
    return value;
  },
};

const oidcIssuer: Parser<string | undefined> = {
  expected: 'an https:// issuer URL (http:// only on 127.0.0.1 or localhost)',
  parse(raw, key) {
    if (raw.trim() === '') return undefined;
    const problem = issuerProblem(raw.trim());
    if (problem) throw new ConfigError(key, raw, problem);
    return raw.trim();
  },
};

const domains: Parser<string[]> = {
  expected: 'comma-separated email domains such as acme.com,acme.de (or * for any)',
  parse(raw, key) {
    const list = raw.split(',').map(normaliseDomain).filter(Boolean);
    if (!list.every((d) => d === '*' || /^[a-z0-9.-]+\.[a-z0-9-]+$/.test(d))) throw new ConfigError(key, raw, domains.expected);
    return list;
  },
};

const groupRoles: Parser<Record<string, 'admin' | 'user'>> = {
  expected: 'comma-separated group=role pairs such as ringside-admins=admin',
  parse(raw, key) {
    const map = parseGroupRoles(raw);
    if (!map) throw new ConfigError(key, raw, groupRoles.expected);
    return map;
  },
};

const oidcProviders: Parser<OidcProviderSetting[]> = {
  expected: OIDC_PROVIDERS_EXPECTED,
  parse(raw, key) {
    const parsed = parseOidcProviders(raw);
    if (typeof parsed === 'string') throw new ConfigError(key, raw.length > 120 ? `${raw.slice(0, 117)}...` : raw, parsed);
    return parsed;
  },
};

const httpUrl: Parser<string> = {
  expected: 'an absolute http(s) URL such as https://login.salesforce.com',
  parse(raw, key) {
    try {
      const u = new URL(raw.trim());
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
      return u.origin + u.pathname.replace(/\/$/, '');
    } catch {
      throw new ConfigError(key, raw, httpUrl.expected);
    }
  },
};

const apiVersion: Parser<string> = {
  expected: 'a Salesforce API version such as 62.0',
  parse(raw, key) {
    const m = /^v?(\d{2,3}\.\d)$/.exec(raw.trim());
    if (!m) throw new ConfigError(key, raw, apiVersion.expected);
    return m[1]!;
  },
};

/** A JSON object of Ringside email → Salesforce username, email or User Id. */
const userMap: Parser<Record<string, string>> = {
  expected: 'a JSON object {"ringside email": "Salesforce username, email or User Id"}',
  parse(raw, key) {
    if (raw.trim() === '') return {};
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ConfigError(key, raw, userMap.expected);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string' && v !== '')) {
      throw new ConfigError(key, raw, userMap.expected);
    }
    return Object.fromEntries(Object.entries(value as Record<string, string>).map(([k, v]) => [k.trim().toLowerCase(), v.trim()]));
  },
};

const customField: Parser<string | undefined> = {
  expected: 'a custom field API name such as Ringside_Call_Id__c (empty: check by CallObject)',
  parse(raw, key) {
    if (raw.trim() === '') return undefined;
    if (!/^[A-Za-z][A-Za-z0-9_]*__c$/.test(raw.trim())) throw new ConfigError(key, raw, customField.expected);
    return raw.trim();
  },
};

/** A MAC key: at least 32 characters (e.g. `openssl rand -base64 32`). */
const secretKey: Parser<string | undefined> = {
  expected: 'at least 32 characters (openssl rand -base64 32)',
  parse(raw, key) {
    const v = raw.trim();
    if (v === '') return undefined;
    if (v.length < 32 || v.includes(',')) throw new ConfigError(key, '(hidden)', secretKey.expected);
    return v;
  },
};

const secretKeys: Parser<string[]> = {
  expected: 'comma-separated keys of at least 32 characters',
  parse(raw, key) {
    const list = raw.split(',').map((k) => k.trim()).filter((k) => k !== '');
    if (list.some((k) => k.length < 32)) throw new ConfigError(key, '(hidden)', secretKeys.expected);
    return list;
  },
};

/**
 * TRUST_PROXY: how many reverse proxies stand in front (a number), or their addresses and CIDR
 * ranges (comma-separated; loopback, linklocal, uniquelocal as names). `true` used to trust
 * every hop, so a client could forge its address with X-Forwarded-For: it now means one hop.
 */
const trustProxy: Parser<TrustProxySetting> = {
  expected: 'false, a number of proxy hops (1 for one proxy), or comma-separated proxy addresses/CIDRs',
  parse(raw, key) {
    const v = raw.trim().toLowerCase();
    if (['', 'false', 'no', 'off', '0'].includes(v)) return false;
    if (['true', 'yes', 'on'].includes(v)) return 1;
    if (/^\d+$/.test(v)) {
      const hops = Number(v);
      if (hops > 20) throw new ConfigError(key, raw, trustProxy.expected);
      return hops;
    }
    const list = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (list.length === 0 || !list.every(isProxyAddress)) throw new ConfigError(key, raw, trustProxy.expected);
    return list;
  },
};

const logLevel = oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent');

interface OptionSpec<T> {
  parser: Parser<T>;
  default: T;
  /** How the default is shown in --help when it is computed. */
  defaultText?: string;
  help: string;
}

function option<T>(parser: Parser<T>, def: T, help: string, defaultText?: string): OptionSpec<T> {
  return defaultText === undefined ? { parser, default: def, help } : { parser, default: def, help, defaultText };
}

/** Every option, keyed by its environment variable name. The order is the order of `--help`. */
export const OPTIONS = {
  HOST: option(host, '127.0.0.1', 'Address the HTTP(S) server listens on.'),
  PORT: option(integer(0, 65535), 8080, 'HTTP(S) port.'),
  BASE_URL: option(baseUrl, undefined, 'Public URL of this server, used in links and e-mails.', 'http(s)://HOST:PORT'),
  DATA_DIR: option(string, './data', 'Directory for the SQLite database and other local files.'),
  DATABASE_URL: option(databaseUrl, undefined, 'PostgreSQL URL (postgres://user@host/db); SQLite under DATA_DIR when unset.', '(SQLite)'),
  DATABASE_POOL_SIZE: option(integer(1, 200), 10, 'Maximum PostgreSQL connections of this node.'),
  SEED_DEMO: option(optionalBoolean, undefined, 'Seed a demo organisation (users, accounts, contacts, leads) into an empty database. Unset: only while HOST, SIP_HOST and MEDIA_BIND_ADDRESS are all loopback; true: also on a reachable host (needs a DEMO_PASSWORD of your own); false: never.', 'only on loopback'),
  DEMO_PASSWORD: option(string, 'ringside-demo', 'Web and device password of the seeded demo users (refused with SEED_DEMO=true: choose your own).'),
  TLS_CERT: option(optionalString, undefined, 'PEM certificate file: serve HTTPS (needed for microphones off localhost).'),
  TLS_KEY: option(optionalString, undefined, 'PEM private key file for TLS_CERT.'),
  SECRET_KEY: option(secretKey, undefined, 'Server secret (MAC key of join links, SIP tokens, the Salesforce hand-off); never stored in the database.', 'DATA_DIR/secret.key (made at first start)'),
  SECRET_KEY_PREVIOUS: option(secretKeys, [] as string[], 'Earlier SECRET_KEY values, comma-separated: still accepted while links and tokens they signed run out (rotation).', '(none)'),
  TRUST_PROXY: option(trustProxy, false as TrustProxySetting, 'Reverse proxies in front: a hop count (1 = one proxy; true means 1) or their addresses/CIDRs; X-Forwarded-For is read only that far from the right.'),
  METRICS_TOKEN: option(optionalString, undefined, 'Bearer token for GET /metrics from other hosts (Prometheus bearer_token); without it /metrics answers loopback clients only.'),
  LOG_LEVEL: option(logLevel, 'info', 'Log level (fatal, error, warn, info, debug, trace, silent).'),
  PHONE_DEFAULT_REGION: option(region, 'US' as CountryCode, 'Country assumed for phone numbers written without a country code.'),
  PHONE_MATCH_DIGITS: option(integer(6, 12), 9, 'Trailing digits compared when a stored number has no country code.'),
  BODY_LIMIT_BYTES: option(integer(1024, 50 * 1024 * 1024), 1024 * 1024, 'Largest accepted request body (bigger gets 413).'),
  SESSION_IDLE_MINUTES: option(integer(1, 60 * 24 * 30), 60 * 12, 'A session ends after this long without a request.'),
  SESSION_MAX_HOURS: option(integer(1, 24 * 365), 24 * 14, 'A session ends this long after login, whatever happens.'),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: option(integer(1, 1000), 5, 'Failed logins to one account before it is paused for LOGIN_LOCK_MINUTES.'),
  LOGIN_MAX_FAILURES_PER_IP: option(integer(1, 100000), 30, 'Failed logins from one address (any accounts) per LOGIN_LOCK_MINUTES before it is paused.'),
  LOGIN_LOCK_MINUTES: option(integer(1, 24 * 60), 15, 'Window of the login rate limits.'),
  SIP_HOST: option(optionalHost(), undefined, 'Address the SIP UDP/TCP/TLS listeners bind to.', 'HOST'),
  SIP_PORT: option(integer(0, 65535), 5060, 'SIP over UDP and TCP port (SIP over WebSocket is at /sip on PORT).'),
  SIPS_PORT: option(integer(0, 65535), 5061, 'SIP over TLS port, when TLS_CERT/TLS_KEY are set.'),
  SIP_DOMAIN: option(host, os.hostname(), 'SIP domain of the users (sip:alice@SIP_DOMAIN) and digest realm.', 'the host name'),
  SIP_ADVERTISED_HOST: option(optionalHost(), undefined, 'Host put in Via and Contact headers (set it behind NAT).', 'SIP_HOST'),
  SIP_T1_MS: option(integer(10, 10_000), 500, 'SIP timer T1 (round-trip estimate); every retransmission timer scales with it.'),
  SIP_RING_TIMEOUT_S: option(integer(5, 600), 45, 'Seconds a call rings before the caller gets "no answer" (480).'),
  SIP_DECLINE_STOPS_ALL: option(boolean, false, 'Declining on one device stops the call ringing on the others.'),
  SIP_MAX_CONTACTS: option(integer(1, 100), 10, 'Registered devices per user; the least recently refreshed goes first.'),
  SIP_MIN_EXPIRES: option(integer(10, 3600), 60, 'Shortest registration accepted (shorter gets 423 Interval Too Brief).'),
  SIP_MAX_EXPIRES: option(integer(60, 86_400), 3600, 'Longest registration granted.'),
  SIP_RATE_LIMIT: option(integer(0, 1_000_000), 500, 'SIP requests per second one address may send (0 = no limit).'),
  SIP_MAX_CONNECTIONS_PER_ADDRESS: option(integer(1, 1_000_000), 1000, 'Open SIP connections (TCP, TLS, WebSocket) one address may hold.'),
  SIP_AUTH_FAILURE_LIMIT: option(integer(1, 10_000), 10, 'Failed SIP authentications of one username from one address (or on one connection) before they are blocked.'),
  SIP_AUTH_BLOCK_MINUTES: option(integer(1, 24 * 60), 15, 'How long such a username is blocked from that address.'),
  SIP_DIGEST_ALGORITHMS: option(digestAlgorithms, ['SHA-256', 'MD5'] as ('SHA-256' | 'MD5')[], 'Digest algorithms offered to phones, most preferred first; MD5 first (or alone) for old phones that answer only the first challenge.', 'SHA-256,MD5'),
  SIP_MAX_TRANSACTIONS: option(integer(100, 10_000_000), 300_000, 'SIP server transactions alive at once (3,000 calls/s × 32 s × ~3 a call); beyond it new requests get 503.'),
  SIP_MAX_DIALOGS: option(integer(100, 10_000_000), 600_000, 'SIP dialogs (call legs) open at once; beyond it new calls get 503.'),
  SIP_ALLOWED_PREFIXES: option(prefixes, undefined, 'E.164 prefixes users may dial out to by default (per-user setting overrides). A bare country code covers only its home country (+1: the US and Canada) and no premium-rate or personal numbers; name others explicitly (+1876, +1900).', '+<country code of PHONE_DEFAULT_REGION>'),
  SIP_MAX_CALLS_PER_USER: option(integer(0, 1_000_000), 20, 'Calls one user may have in progress at once, test calls included (0 = no limit).'),
  SIP_MAX_CALL_RATE_PER_USER: option(integer(0, 1_000_000), 60, 'New calls one user may place per minute, test calls included (0 = no limit).'),
  TRUNKS: option(trunks, [] as TrunkConfig[], 'SIP trunks as JSON (better in the config file): host, port, transport, credentials, register, DIDs.', '[]'),
  NODE_ID: option(string, os.hostname(), 'Name of this node when several share a database.', 'the host name'),
  STUN_URLS: option(iceUrls, [] as string[], 'STUN servers for browsers (comma-separated stun: URLs).', '(none)'),
  TURN_URLS: option(iceUrls, [] as string[], 'TURN servers for browsers (comma-separated turn:/turns: URLs); needs TURN_SECRET.', '(none)'),
  TURN_SECRET: option(optionalString, undefined, "Shared secret of the TURN server's REST API (coturn static-auth-secret)."),
  TURN_TTL_S: option(integer(60, 7 * 86_400), 86_400, 'Lifetime of the TURN credentials handed to a browser.'),
  ICE_RELAY_ONLY: option(boolean, false, 'Browsers use TURN-relayed candidates only (networks that block direct UDP).'),
  MEDIA_RELAY: option(oneOf('in-process', 'rtpengine'), 'in-process', 'Media relay between browsers and SIP phones: in-process (built in) or rtpengine.'),
  RTPENGINE_NG: option(hostPort, undefined, "rtpengine's ng control address (host:port), with MEDIA_RELAY=rtpengine."),
  MEDIA_BIND_ADDRESS: option(host, '127.0.0.1', 'Address the in-process relay binds its RTP ports to and announces in SDP.'),
  MEDIA_PORT_MIN: option(integer(1024, 65535), 40000, 'Lowest RTP port of the in-process relay.'),
  MEDIA_PORT_MAX: option(integer(1024, 65535), 49999, 'Highest RTP port of the in-process relay.'),
  ACTIVITY_RETRY_BASE_MS: option(integer(10, 3_600_000), 1000, 'First retry delay of an activity the CRM refused; doubled per attempt.'),
  ACTIVITY_RETRY_MAX_MS: option(integer(100, 86_400_000), 300_000, 'Longest delay between delivery attempts of an activity.'),
  MEDIA_TIMEOUT_S: option(integer(5, 3600), 30, 'A relayed call whose media stopped this long is hung up.'),
  CRM: option(oneOf('builtin', 'salesforce'), 'builtin', 'The CRM calls are matched in and logged to: builtin or salesforce (docs/salesforce.md).'),
  SALESFORCE_LOGIN_URL: option(httpUrl, 'https://login.salesforce.com', 'Salesforce login URL (https://test.salesforce.com for a sandbox, or the My Domain URL).'),
  SALESFORCE_CLIENT_ID: option(optionalString, undefined, "Consumer key of Ringside's connected app (with CRM=salesforce)."),
  SALESFORCE_USERNAME: option(optionalString, undefined, 'Username of the Salesforce integration user Ringside signs in as (JWT bearer flow).'),
  SALESFORCE_PRIVATE_KEY_FILE: option(optionalString, undefined, "PEM file of the private key whose certificate is uploaded to the connected app."),
  SALESFORCE_API_VERSION: option(apiVersion, '62.0', 'Salesforce REST API version.'),
  SALESFORCE_SYNC_INTERVAL_S: option(integer(5, 86_400), 60, 'Seconds between fetches of what changed in Salesforce (the local phone-index mirror).'),
  SALESFORCE_API_RESERVE_PCT: option(integer(0, 90), 10, 'Under this % of the daily API allocation left, Ringside batches harder and polls less.'),
  SALESFORCE_USER_MATCH: option(oneOf('email', 'username', 'none'), 'email', "How a Ringside user's email finds their Salesforce user (the activities' owner): email, username, or none (integration user)."),
  SALESFORCE_USER_MAP: option(userMap, {} as Record<string, string>, 'Exceptions as JSON: {"ringside email": "Salesforce username, email or User Id"}.', '{}'),
  SALESFORCE_EXTERNAL_ID_FIELD: option(customField, 'Ringside_Call_Id__c' as string | undefined, 'Task/Event external-ID field for exactly-once logging; empty: check by CallObject.'),
  SALESFORCE_BATCH_WINDOW_MS: option(integer(0, 60_000), 2000, 'How long finished calls wait to travel to Salesforce together in one request.'),
  SMTP_URL: option(smtpUrl, undefined, 'Mail server for invitations; without it, mails are written as .eml files under DATA_DIR/mail.', '(files)'),
  MAIL_FROM: option(optionalString, undefined, 'Sender of invitation mails.', 'Ringside <no-reply@host of BASE_URL>'),
  INVITE_EARLY_JOIN_MINUTES: option(integer(0, 240), 10, 'How many minutes before its start an invitation link lets the guest in.'),
  INVITE_MAX_MINUTES: option(integer(5, 1440), 240, 'Longest time window of an invitation, in minutes.'),
  INVITE_MAX_DAYS_AHEAD: option(integer(1, 3650), 365, 'How far ahead an invitation may start, in days.'),
  INVITE_MAX_PER_HOUR: option(integer(0, 100_000), 30, "Invitation mails (new, resent, moved) one user may send per hour (0 = no limit): the org's mail address is no spam relay."),
  OIDC_ISSUER: option(oidcIssuer, undefined, 'Issuer URL of an OpenID Connect identity provider: single sign-on (redirect URI BASE_URL/auth/oidc/callback).'),
  OIDC_CLIENT_ID: option(optionalString, undefined, "Ringside's client id at OIDC_ISSUER."),
  OIDC_CLIENT_SECRET: option(optionalString, undefined, "Ringside's client secret at OIDC_ISSUER."),
  OIDC_ALLOWED_DOMAINS: option(domains, [] as string[], 'Email domains that may sign in through OIDC_ISSUER (comma-separated; * for any); required with it.', '(none)'),
  OIDC_NAME: option(string, 'SSO', 'Name of the provider on the login page: "Sign in with OIDC_NAME".'),
  OIDC_TRUST_EMAIL: option(boolean, false, 'Take the email OIDC_ISSUER gives as verified although it sends no email_verified (Entra ID without xms_edov).'),
  OIDC_GROUP_ROLES: option(groupRoles, {} as Record<string, 'admin' | 'user'>, 'Groups (ID-token claim "groups") mapped to roles, such as ringside-admins=admin.', '(none)'),
  OIDC_PROVIDERS: option(oidcProviders, [] as OidcProviderSetting[], 'More OpenID Connect providers as JSON (better in the config file), see docs/sso.md.', '[]'),
  PASSWORD_LOGIN: option(boolean, true, 'Users may sign in with email and password (false: single sign-on only).'),
} as const;

type Options = typeof OPTIONS;
export type ConfigKey = keyof Options;
export type Config = { [K in ConfigKey]: Options[K]['default'] } & {
  /** Directory the SQLite database lives in, absolute. */
  dataDir: string;
  /** Public base URL without trailing slash. */
  publicUrl: string;
  /** True when the HTTP server speaks TLS. */
  tls: boolean;
  /** Where values came from, for the start-up log. */
  configFile: string | undefined;
  /** SIP listen address (SIP_HOST or HOST). */
  sipHost: string;
  /** Dialling rule for users without their own. */
  allowedPrefixes: string[];
  /** Single sign-on providers: OIDC_ISSUER's first, then OIDC_PROVIDERS. */
  oidcProviders: OidcProviderConfig[];
  /** TRUST_PROXY was `true` (now read as one hop): the start-up log says so. */
  trustProxyWasTrue: boolean;
};

export interface LoadConfigInput {
  env?: Record<string, string | undefined>;
  argv?: string[];
  cwd?: string;
}

/** Reads `--config FILE` / `RINGSIDE_CONFIG` then the environment; throws ConfigError on the first bad value. */
export function loadConfig({ env = process.env, argv = [], cwd = process.cwd() }: LoadConfigInput = {}): Config {
  const fileArgIndex = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  let configFile: string | undefined;
  if (fileArgIndex >= 0) {
    const arg = argv[fileArgIndex]!;
    configFile = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[fileArgIndex + 1];
    if (!configFile) throw new ConfigError('--config', '', 'a path to a JSON file');
  } else if (env.RINGSIDE_CONFIG) {
    configFile = env.RINGSIDE_CONFIG;
  }

  const fromFile: Record<string, string> = {};
  if (configFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path.resolve(cwd, configFile), 'utf8'));
    } catch (err) {
      throw new ConfigError('--config', configFile, `a readable JSON file (${(err as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError('--config', configFile, 'a JSON object of OPTION: value');
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (!(key in OPTIONS)) throw new ConfigError(`${configFile}: ${key}`, String(value), `a known option (see --help)`);
      fromFile[key] = typeof value === 'string' ? value : JSON.stringify(value);
    }
  }

  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(OPTIONS) as [ConfigKey, OptionSpec<unknown>][]) {
    const raw = env[key] ?? fromFile[key];
    values[key] = raw === undefined ? spec.default : spec.parser.parse(raw, key);
  }
  const config = values as Config;

  if ((config.TLS_CERT === undefined) !== (config.TLS_KEY === undefined)) {
    const missing = config.TLS_CERT === undefined ? 'TLS_CERT' : 'TLS_KEY';
    throw new ConfigError(missing, '', `a PEM file, because ${missing === 'TLS_CERT' ? 'TLS_KEY' : 'TLS_CERT'} is set`);
  }
  config.tls = config.TLS_CERT !== undefined;
  config.dataDir = path.resolve(cwd, config.DATA_DIR);
  config.configFile = configFile;
  const scheme = config.tls ? 'https' : 'http';
  const shownHost = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
  const hostPart = isIP(shownHost) === 6 ? `[${shownHost}]` : shownHost;
  config.publicUrl = config.BASE_URL ?? `${scheme}://${hostPart}:${config.PORT}`;
  config.sipHost = config.SIP_HOST ?? config.HOST;
  config.allowedPrefixes = config.SIP_ALLOWED_PREFIXES ?? [`+${getCountryCallingCode(config.PHONE_DEFAULT_REGION)}`];
  if (config.SIP_MIN_EXPIRES > config.SIP_MAX_EXPIRES) {
    throw new ConfigError('SIP_MIN_EXPIRES', String(config.SIP_MIN_EXPIRES), `at most SIP_MAX_EXPIRES (${config.SIP_MAX_EXPIRES})`);
  }
  if (config.CRM === 'salesforce') {
    for (const key of ['SALESFORCE_CLIENT_ID', 'SALESFORCE_USERNAME', 'SALESFORCE_PRIVATE_KEY_FILE'] as const) {
      if (!config[key]) throw new ConfigError(key, '', 'a value, because CRM=salesforce (docs/salesforce.md)');
    }
  }
  if (config.TURN_URLS.length > 0 && !config.TURN_SECRET) throw new ConfigError('TURN_SECRET', '', 'the TURN REST-API secret, because TURN_URLS is set');
  if (config.MEDIA_RELAY === 'rtpengine' && !config.RTPENGINE_NG) throw new ConfigError('RTPENGINE_NG', '', "rtpengine's ng address, because MEDIA_RELAY=rtpengine");
  if (config.MEDIA_PORT_MIN >= config.MEDIA_PORT_MAX) throw new ConfigError('MEDIA_PORT_MIN', String(config.MEDIA_PORT_MIN), `below MEDIA_PORT_MAX (${config.MEDIA_PORT_MAX})`);
  const names = new Set<string>();
  for (const t of config.TRUNKS) {
    if (names.has(t.name)) throw new ConfigError('TRUNKS', t.name, 'unique trunk names');
    names.add(t.name);
  }
  config.oidcProviders = oidcProvidersOf(config);
  config.trustProxyWasTrue = /^\s*(true|yes|on)\s*$/i.test(env.TRUST_PROXY ?? fromFile.TRUST_PROXY ?? '');
  return config;
}

function oidcProvidersOf(config: Config): OidcProviderConfig[] {
  const list: OidcProviderConfig[] = [];
  if (config.OIDC_ISSUER) {
    if (!config.OIDC_CLIENT_ID) throw new ConfigError('OIDC_CLIENT_ID', '', "Ringside's client id, because OIDC_ISSUER is set");
    if (config.OIDC_ALLOWED_DOMAINS.length === 0) throw new ConfigError('OIDC_ALLOWED_DOMAINS', '', 'the email domains that may sign in, because OIDC_ISSUER is set');
    list.push(
      toProviderConfig({
        name: config.OIDC_NAME,
        issuer: config.OIDC_ISSUER,
        client_id: config.OIDC_CLIENT_ID,
        ...(config.OIDC_CLIENT_SECRET ? { client_secret: config.OIDC_CLIENT_SECRET } : {}),
        allowed_domains: config.OIDC_ALLOWED_DOMAINS,
        group_roles: config.OIDC_GROUP_ROLES,
        trust_email: config.OIDC_TRUST_EMAIL,
      }),
    );
  }
  for (const setting of config.OIDC_PROVIDERS) {
    const problem = issuerProblem(setting.issuer);
    if (problem) throw new ConfigError('OIDC_PROVIDERS', setting.issuer, problem);
    list.push(toProviderConfig(setting));
  }
  const ids = new Set<string>();
  for (const p of list) {
    if (ids.has(p.id)) throw new ConfigError('OIDC_PROVIDERS', p.id, 'unique provider names (or ids)');
    ids.add(p.id);
  }
  if (!config.PASSWORD_LOGIN && list.length === 0) throw new ConfigError('PASSWORD_LOGIN', 'false', 'true, unless a single sign-on provider is configured (OIDC_ISSUER)');
  return list;
}

/** The text of `--help`: every option with its default and meaning. */
export function helpText(): string {
  const lines = [
    'Ringside — voice and video calling inside your CRM.',
    '',
    'Usage: npm start [-- --config FILE]    (or: node --import tsx src/main.ts [--config FILE])',
    '',
    'Options are environment variables; a JSON file given with --config FILE (or RINGSIDE_CONFIG)',
    'may set the same keys, and the environment wins. Every value is checked at start.',
    '',
  ];
  const width = Math.max(...Object.keys(OPTIONS).map((k) => k.length));
  for (const [key, spec] of Object.entries(OPTIONS) as [ConfigKey, OptionSpec<unknown>][]) {
    const def = spec.defaultText ?? (spec.default === undefined ? '(unset)' : String(spec.default));
    lines.push(`  ${key.padEnd(width)}  ${spec.help}`);
    lines.push(`  ${''.padEnd(width)}  default: ${def}; ${spec.parser.expected}`);
  }
  return lines.join('\n');
}

export function isLoopbackHost(h: string): boolean {
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
