/**
 * Security review #10 (issue 13, must hold 7): the default dial-out rule of a US installation is
 * the US and Canada. A stolen device password must not reach the classic toll-fraud ranges that
 * share +1 (Jamaica, the Dominican Republic, the Bahamas …) or the premium ones (+1 900, +1 976),
 * unless the operator names them; other regions get the same rule for their own country.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StubCarrier } from '../support/carrier.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { TestPhone } from '../support/sip-phone.ts';

describe('toll fraud: what a user may dial out to by default', () => {
  let carrier: StubCarrier;
  const servers: TestServer[] = [];
  const phones: TestPhone[] = [];

  beforeAll(async () => {
    carrier = await StubCarrier.start(); // answers every INVITE 486: reaching it is what counts
  });
  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.close()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });
  afterAll(() => carrier?.close());

  async function server(env: Record<string, string> = {}): Promise<TestServer> {
    const s = await startServer({ env: { TRUNKS: JSON.stringify([{ name: 'carrier', host: '127.0.0.1', port: carrier.port }]), ...env } });
    servers.push(s);
    return s;
  }

  /** Alice's desk phone dials a number; the final response, and whether an INVITE reached the carrier. */
  async function dial(s: TestServer, number: string): Promise<{ status: number; reason: string; reachedTrunk: boolean }> {
    const phone = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: s.ringside.sip.ports.udp! } });
    phones.push(phone);
    const before = carrier.invites.length;
    const response = await phone.call(number);
    const reachedTrunk = carrier.invites.slice(before).some((i) => i.uri.toString().startsWith(`sip:${number}@`));
    return { status: response.status, reason: response.reason, reachedTrunk };
  }

  it('PHONE_DEFAULT_REGION=US: the US and Canada reach the trunk; other NANP countries and premium ranges are refused with a reason', async () => {
    const s = await server();
    expect(await dial(s, '+14155550100')).toMatchObject({ status: 486, reachedTrunk: true }); // San Francisco
    expect(await dial(s, '+14169671111')).toMatchObject({ status: 486, reachedTrunk: true }); // Toronto, Canada
    expect(await dial(s, '+18002221234')).toMatchObject({ status: 486, reachedTrunk: true }); // toll-free

    expect(await dial(s, '+18769271234')).toEqual({ status: 403, reason: 'Number not allowed: JM needs its own prefix', reachedTrunk: false }); // Jamaica
    expect(await dial(s, '+18092211234')).toEqual({ status: 403, reason: 'Number not allowed: DO needs its own prefix', reachedTrunk: false }); // Dominican Republic
    expect(await dial(s, '+12425021234')).toEqual({ status: 403, reason: 'Number not allowed: BS needs its own prefix', reachedTrunk: false }); // Bahamas
    expect(await dial(s, '+16712221234')).toMatchObject({ status: 403, reachedTrunk: false }); // Guam
    expect(await dial(s, '+19002221234')).toEqual({ status: 403, reason: 'Number not allowed: premium rate', reachedTrunk: false });
    expect(await dial(s, '+15002221234')).toEqual({ status: 403, reason: 'Number not allowed: personal number', reachedTrunk: false });
    const premium976 = await dial(s, '+19762221234'); // not even a valid number in libphonenumber's data
    expect([403, 404]).toContain(premium976.status);
    expect(premium976.reachedTrunk).toBe(false);
    expect(carrier.invites.filter((i) => /^sip:\+1(876|809|242|671|900|976|500)/.test(i.uri.toString()))).toEqual([]);
  });

  it('SIP_ALLOWED_PREFIXES names Jamaica explicitly: Jamaica works, the Dominican Republic and +1 900 still do not', async () => {
    const s = await server({ SIP_ALLOWED_PREFIXES: '+1,+1876' });
    expect(await dial(s, '+18769271234')).toMatchObject({ status: 486, reachedTrunk: true });
    expect(await dial(s, '+14155550100')).toMatchObject({ status: 486, reachedTrunk: true });
    expect(await dial(s, '+18092211234')).toMatchObject({ status: 403, reachedTrunk: false });
    expect(await dial(s, '+19002221234')).toMatchObject({ status: 403, reachedTrunk: false });
  });

  it('SIP_ALLOWED_PREFIXES=+1876 alone: Jamaica only', async () => {
    const s = await server({ SIP_ALLOWED_PREFIXES: '+1876' });
    expect(await dial(s, '+18769271234')).toMatchObject({ status: 486, reachedTrunk: true });
    expect(await dial(s, '+14155550100')).toEqual({ status: 403, reason: 'Number not allowed', reachedTrunk: false });
  });

  it('PHONE_DEFAULT_REGION=GB: Great Britain, but not Guernsey, personal (070) or premium (09) numbers', async () => {
    const s = await server({ PHONE_DEFAULT_REGION: 'GB' });
    expect(await dial(s, '+442079460958')).toMatchObject({ status: 486, reachedTrunk: true }); // London
    expect(await dial(s, '+441481256789')).toEqual({ status: 403, reason: 'Number not allowed: GG needs its own prefix', reachedTrunk: false });
    expect(await dial(s, '+447011234567')).toEqual({ status: 403, reason: 'Number not allowed: personal number', reachedTrunk: false });
    expect(await dial(s, '+449091234567')).toEqual({ status: 403, reason: 'Number not allowed: premium rate', reachedTrunk: false });
    expect(await dial(s, '+14155550100')).toEqual({ status: 403, reason: 'Number not allowed', reachedTrunk: false });
  });

  it('"*" allows every country, but premium-rate numbers still need a prefix naming them', async () => {
    const s = await server({ SIP_ALLOWED_PREFIXES: '*' });
    expect(await dial(s, '+18769271234')).toMatchObject({ status: 486, reachedTrunk: true });
    expect(await dial(s, '+19002221234')).toMatchObject({ status: 403, reason: 'Number not allowed: premium rate', reachedTrunk: false });
  });
});
