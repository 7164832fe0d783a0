/**
 * Single sign-on settings: OpenID Connect providers, one from `OIDC_*` variables and any number
 * from `OIDC_PROVIDERS` (a JSON array, better kept in the config file), checked at start like
 * every other option.
 */
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';

/** One identity provider, as written in `OIDC_PROVIDERS`. */
export const OidcProviderSetting = Type.Object(
  {
    /** Short name in URLs and the database (`okta`); from `name` when absent. */
    id: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' })),
    /** Shown on the button: "Sign in with <name>". */
    name: Type.String({ minLength: 1, maxLength: 60 }),
    issuer: Type.String({ minLength: 8, maxLength: 500 }),
    client_id: Type.String({ minLength: 1, maxLength: 500 }),
    client_secret: Type.Optional(Type.String({ maxLength: 2000 })),
    /** Email domains that may sign in (`acme.com`); `*` for any — careful with public providers. */
    allowed_domains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1 }),
    /** Group → Ringside role; a member of any group mapped to `admin` is an administrator. */
    group_roles: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Union([Type.Literal('admin'), Type.Literal('user')]))),
    /** The ID-token claim that lists the user's groups. */
    groups_claim: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    /** Scopes asked for; `openid email profile` by default. */
    scopes: Type.Optional(Type.String({ minLength: 6, maxLength: 500 })),
    /**
     * Treat the email claim as verified although the provider sends no `email_verified` (Entra ID
     * never does; prefer its optional claim `xms_edov`). Only for a provider whose users cannot
     * choose their own email address.
     */
    trust_email: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type OidcProviderSetting = Static<typeof OidcProviderSetting>;

/** A provider ready to use: every default filled in. */
export interface OidcProviderConfig {
  id: string;
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  allowedDomains: string[];
  groupRoles: Record<string, 'admin' | 'user'>;
  groupsClaim: string;
  scopes: string;
  trustEmail: boolean;
}

const providerList = Compile(Type.Array(OidcProviderSetting));

export const OIDC_PROVIDERS_EXPECTED =
  'a JSON array of providers [{"name","issuer","client_id","client_secret","allowed_domains":["acme.com"],"group_roles":{"ringside-admins":"admin"}}]';

/** Checks `OIDC_PROVIDERS`; returns an error message (what is wrong where) or the list. */
export function parseOidcProviders(raw: string): OidcProviderSetting[] | string {
  if (raw.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return OIDC_PROVIDERS_EXPECTED;
  }
  if (!providerList.Check(value)) {
    const first = providerList.Errors(value)[0];
    return `${OIDC_PROVIDERS_EXPECTED}; at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`;
  }
  return value;
}

/** `https://…`, or `http://` on a loopback address only (a local test provider). */
export function issuerProblem(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'an absolute https:// issuer URL';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopbackUrl(url)) return undefined;
  return 'an https:// issuer URL (http:// only on 127.0.0.1 or localhost)';
}

export function isLoopbackUrl(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\./.test(url.hostname);
}

/** `ringside-admins=admin,sales=user` → a group → role map. */
export function parseGroupRoles(raw: string): Record<string, 'admin' | 'user'> | undefined {
  const out: Record<string, 'admin' | 'user'> = {};
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    const group = part.slice(0, eq).trim();
    const role = part.slice(eq + 1).trim();
    if (eq <= 0 || !group || (role !== 'admin' && role !== 'user')) return undefined;
    out[group] = role;
  }
  return out;
}

export function providerId(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 32) || 'sso'
  );
}

export function normaliseDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/^@/, '');
}

export function toProviderConfig(s: OidcProviderSetting): OidcProviderConfig {
  return {
    id: s.id ?? providerId(s.name),
    name: s.name,
    issuer: s.issuer,
    clientId: s.client_id,
    clientSecret: s.client_secret || undefined,
    allowedDomains: s.allowed_domains.map(normaliseDomain),
    groupRoles: s.group_roles ?? {},
    groupsClaim: s.groups_claim ?? 'groups',
    scopes: s.scopes ?? 'openid email profile',
    trustEmail: s.trust_email ?? false,
  };
}
