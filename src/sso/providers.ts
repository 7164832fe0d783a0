/**
 * The configured OpenID Connect providers and, for each, an `openid-client` configuration made
 * from its discovery document — fetched at the first sign-in (Ringside starts while a provider
 * is down) and kept; a failed discovery is tried again at the next sign-in.
 */
import * as oidc from 'openid-client';
import { isLoopbackUrl, type OidcProviderConfig } from '../config/oidc.ts';

export class OidcProviders {
  private readonly byId = new Map<string, OidcProviderConfig>();
  private readonly discovered = new Map<string, Promise<oidc.Configuration>>();

  constructor(readonly list: readonly OidcProviderConfig[]) {
    for (const p of list) this.byId.set(p.id, p);
  }

  get(id: string): OidcProviderConfig | undefined {
    return this.byId.get(id);
  }

  /** The provider's client configuration: endpoints, JWKS, and how Ringside authenticates to it. */
  client(provider: OidcProviderConfig): Promise<oidc.Configuration> {
    let found = this.discovered.get(provider.id);
    if (!found) {
      found = discover(provider);
      this.discovered.set(provider.id, found);
      found.catch(() => this.discovered.delete(provider.id));
    }
    return found;
  }
}

async function discover(provider: OidcProviderConfig): Promise<oidc.Configuration> {
  const issuer = new URL(provider.issuer);
  const auth = provider.clientSecret ? oidc.ClientSecretBasic(provider.clientSecret) : oidc.None();
  return oidc.discovery(issuer, provider.clientId, provider.clientSecret ? { client_secret: provider.clientSecret } : undefined, auth, {
    timeout: 10,
    execute: [
      // ID tokens from the token endpoint are checked against the provider's JWKS too, not only
      // trusted because they came over TLS (OIDC Core §3.1.3.7 allows either; we do both).
      oidc.enableNonRepudiationChecks,
      // Plain http only for a provider on this machine (tests, a local Keycloak); the config
      // refuses http issuers anywhere else.
      ...(issuer.protocol === 'http:' && isLoopbackUrl(issuer) ? [oidc.allowInsecureRequests] : []),
    ],
  });
}
