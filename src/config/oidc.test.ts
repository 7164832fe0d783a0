import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.ts';

const load = (env: Record<string, string>) => loadConfig({ env, argv: [] });
const sso = { OIDC_ISSUER: 'https://acme.okta.com', OIDC_CLIENT_ID: 'ringside', OIDC_CLIENT_SECRET: 'x', OIDC_ALLOWED_DOMAINS: 'acme.com' };

describe('single sign-on settings', () => {
  it('makes one provider of OIDC_*, with defaults, then those of OIDC_PROVIDERS', () => {
    const config = load({
      ...sso,
      OIDC_NAME: 'Okta',
      OIDC_GROUP_ROLES: 'ringside-admins=admin, sales=user',
      OIDC_PROVIDERS: JSON.stringify([{ name: 'Entra ID', issuer: 'https://login.microsoftonline.com/t/v2.0', client_id: 'c', allowed_domains: ['@Acme.DE'], trust_email: true }]),
    });
    expect(config.oidcProviders).toEqual([
      { id: 'okta', name: 'Okta', issuer: 'https://acme.okta.com', clientId: 'ringside', clientSecret: 'x', allowedDomains: ['acme.com'], groupRoles: { 'ringside-admins': 'admin', sales: 'user' }, groupsClaim: 'groups', scopes: 'openid email profile', trustEmail: false },
      { id: 'entra-id', name: 'Entra ID', issuer: 'https://login.microsoftonline.com/t/v2.0', clientId: 'c', clientSecret: undefined, allowedDomains: ['acme.de'], groupRoles: {}, groupsClaim: 'groups', scopes: 'openid email profile', trustEmail: true },
    ]);
    expect(load({}).oidcProviders).toEqual([]);
  });

  it.each([
    [{ ...sso, OIDC_ISSUER: 'http://idp.acme.com' }, 'OIDC_ISSUER', /https:\/\/ issuer URL \(http:\/\/ only on 127\.0\.0\.1 or localhost\)/],
    [{ ...sso, OIDC_CLIENT_ID: '' }, 'OIDC_CLIENT_ID', /because OIDC_ISSUER is set/],
    [{ ...sso, OIDC_ALLOWED_DOMAINS: '' }, 'OIDC_ALLOWED_DOMAINS', /because OIDC_ISSUER is set/],
    [{ ...sso, OIDC_ALLOWED_DOMAINS: 'acme com' }, 'OIDC_ALLOWED_DOMAINS', /comma-separated email domains/],
    [{ ...sso, OIDC_GROUP_ROLES: 'admins=root' }, 'OIDC_GROUP_ROLES', /group=role/],
    [{ OIDC_PROVIDERS: '[{"name":"x"}]' }, 'OIDC_PROVIDERS', /at \/0/],
    [{ ...sso, OIDC_NAME: 'Okta', OIDC_PROVIDERS: JSON.stringify([{ name: 'okta', issuer: 'https://b.example', client_id: 'c', allowed_domains: ['b.example'] }]) }, 'OIDC_PROVIDERS', /unique provider names/],
    [{ PASSWORD_LOGIN: 'false' }, 'PASSWORD_LOGIN', /unless a single sign-on provider is configured/],
  ])('refuses %j naming %s', (env, key, expected) => {
    let error: unknown;
    try {
      load(env as Record<string, string>);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe(key);
    expect((error as ConfigError).message).toMatch(expected);
  });

  it('allows a plain-http issuer on this machine only (a local test provider)', () => {
    expect(load({ ...sso, OIDC_ISSUER: 'http://127.0.0.1:9000/realms/acme' }).oidcProviders[0]!.issuer).toBe('http://127.0.0.1:9000/realms/acme');
  });
});
