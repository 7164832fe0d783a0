/**
 * Which `X-Forwarded-For` entries to believe (TRUST_PROXY). Each proxy appends the address it
 * received the request from, so the list is read from the right: the socket's peer first, then
 * each entry leftwards while the address it came from is a trusted proxy. The first untrusted
 * address is the client. Anything further left was written by the client and is never believed.
 *
 * The same function drives fastify's `request.ip` (its `trustProxy` option, which calls it
 * through proxy-addr) and the SIP WebSocket's flow address (`clientAddress`, proxy-addr too), so
 * HTTP and SIP agree on who a client is.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from '@fastify/proxy-addr';

/** TRUST_PROXY: off, a number of proxy hops in front of Ringside, or the proxies' addresses. */
export type TrustProxySetting = false | number | string[];

/** proxy-addr's trust function: is the address at hop `i` (0 = the socket's peer) a proxy we trust? */
export type TrustFunction = (address: string, hop: number) => boolean;

/** Names of common ranges that proxy-addr knows. */
const NAMED = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** Whether `entry` is an address, a CIDR range or a range name TRUST_PROXY accepts. */
export function isProxyAddress(entry: string): boolean {
  if (NAMED.has(entry)) return true;
  const [address, bits, extra] = entry.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

export function trustFunction(setting: TrustProxySetting): TrustFunction | undefined {
  if (setting === false || setting === 0) return undefined;
  if (typeof setting === 'number') {
    const hops = setting;
    return (_address, hop) => hop < hops;
  }
  // proxy-addr (fastify's own) compiles the addresses, ranges and names.
  return proxyaddr.compile(setting);
}

/** The client's address: the socket's peer, or the first untrusted hop of `X-Forwarded-For`. */
export function clientAddress(request: IncomingMessage, trust: TrustFunction | undefined): string {
  return trust ? proxyaddr(request, trust) : (request.socket.remoteAddress ?? '');
}
