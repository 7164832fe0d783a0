/**
 * Security review S3: `xms_edov` ("email domain owner verified") is an Entra ID claim. From any
 * other identity provider it means nothing — a provider that lets users or tenants add claims
 * would otherwise link an unverified `alice@example.com` to Alice's Ringside account. Only Entra
 * ID's issuers are believed; everyone else needs `email_verified`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEntraIdIssuer } from '../../src/sso/accounts.ts';
import { HostileProvider } from '../support/oidc-provider.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';

const HTML = { accept: 'text/html' };

describe('xms_edov is believed only from Entra ID', () => {
  let idp: HostileProvider;
  let server: TestServer;

  beforeAll(async () => {
    idp = await HostileProvider.listen();
    // A provider that signs correctly, but whose user (or tenant) chose the claims: Alice's email,
    // not verified, "domain owner verified" anyway.
    idp.accountOf.set('none-as-edov', { email: 'alice@example.com', emailVerified: false, claims: { xms_edov: true } });
    idp.accountOf.set('none-as-edov-string', { email: 'bob@example.com', emailVerified: false, claims: { xms_edov: 'true' } });
    const provider = (id: string) => ({ id, name: `Other ${id}`, issuer: idp.issuer(id), client_id: 'ringside', client_secret: 's3cret', allowed_domains: ['example.com'] });
    server = await startServer({ env: { OIDC_PROVIDERS: JSON.stringify([provider('none-as-edov'), provider('none-as-edov-string')]) } });
  });
  afterAll(async () => {
    await server?.stop();
    await idp?.close();
  });

  async function signInWith(providerId: string) {
    const client = new HttpClient(server.url);
    const start = await client.get(`/auth/oidc/start?provider=${providerId}&next=/contacts`, HTML);
    expect(start.status).toBe(303);
    const atProvider = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const callback = new URL(atProvider.headers.get('location')!);
    return { client, res: await client.get(callback.pathname + callback.search, HTML) };
  }

  it.each([
    ['none-as-edov', 'xms_edov: true'],
    ['none-as-edov-string', 'xms_edov: "true"'],
  ])('an unverified email with %s (%s) from another provider is not linked to the existing account', async (providerId) => {
    const db = server.ringside.store.db;
    const identitiesBefore = await db.selectFrom('user_identities').selectAll().execute();
    const { client, res } = await signInWith(providerId);
    expect(res.status).toBe(403);
    expect(res.text).toContain('has not verified your email address');
    expect(client.cookie('rs_session')).toBeUndefined();
    expect(await db.selectFrom('user_identities').selectAll().execute()).toEqual(identitiesBefore);
  });

  it("knows Entra ID's issuers (v2.0 and sts.windows.net, the government and China clouds) and nothing else", () => {
    const tenant = '9188040d-6c67-4c5b-b112-36a304b66dad';
    for (const iss of [
      `https://login.microsoftonline.com/${tenant}/v2.0`,
      `https://sts.windows.net/${tenant}/`,
      `https://login.microsoftonline.us/${tenant}/v2.0`,
      `https://login.partner.microsoftonline.cn/${tenant}/v2.0`,
    ]) {
      expect(isEntraIdIssuer(iss), iss).toBe(true);
    }
    for (const iss of [
      idp.issuer('none-as-edov'),
      'https://accounts.google.com',
      `https://login.microsoftonline.com.evil.example/${tenant}/v2.0`,
      `https://evil.example/login.microsoftonline.com/${tenant}/v2.0`,
      `http://login.microsoftonline.com/${tenant}/v2.0`,
      `https://login.microsoftonline.com/${tenant}/v2.0/extra`,
      `https://sts.windows.net/${tenant}`,
      undefined,
    ]) {
      expect(isEntraIdIssuer(iss), String(iss)).toBe(false);
    }
  });
});
