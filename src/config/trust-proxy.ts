/**
 * Which `X-Forwarded-For` entries to believe (TRUST_PROXY). Each proxy appends the address it
 * received the request from, so the list is read from the right: the socket's peer first, then
 * each entry leftwards while the address it came from is a trusted proxy. The first untrusted
 * address is the client. Anything further left was written by the client and is never believed.
 *
 * The same function drives fastify's `request.ip` (its `trustProxy` option, which calls it
 * through proxy-addr) and the SIP WebSocket's flow address (`clientAddress`), so HTTP and SIP
 * agree on who a client is.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** TRUST_PROXY: off, a number of proxy hops in front of Ringside, or the proxies' addresses. */
export type TrustProxySetting = false | number | string[];

/** proxy-addr's trust function: is the address at hop `i` (0 = the socket's peer) a proxy we trust? */
export type TrustFunction = (address: string, hop: number) => boolean;

/** Names for common ranges, as proxy-addr (Express) knows them. */
const NAMED: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** Whether `entry` is an address, a CIDR range or a range name TRUST_PROXY accepts. */
export function isProxyAddress(entry: string): boolean {
  if (entry in NAMED) return true;
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
  const list = new BlockList();
  for (const entry of setting.flatMap((e) => NAMED[e] ?? [e])) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/** The client's address: the socket's peer, or the first untrusted hop of `X-Forwarded-For`. */
export function clientAddress(request: IncomingMessage, trust: TrustFunction | undefined): string {
  const peer = request.socket.remoteAddress ?? '';
  if (!trust) return peer;
  const header = request.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .reverse();
  const hops = [peer, ...forwarded];
  for (let i = 0; i < hops.length - 1; i++) {
    if (!trust(hops[i]!, i)) return hops[i]!;
  }
  return hops[hops.length - 1]!;
}
