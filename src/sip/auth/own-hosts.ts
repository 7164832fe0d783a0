/**
 * The host names and addresses that name this SIP server: what a digest `uri` may name besides
 * the Request-URI (SIPp, for one, puts the server's address there).
 */
import os from 'node:os';

export function ownSipHosts(options: { domain: string; listenHost: string; advertisedHost?: string | undefined }): string[] {
  const hosts = [options.domain, options.listenHost, ...(options.advertisedHost ? [options.advertisedHost] : [])];
  // A wildcard listener is reached at any of the machine's addresses.
  if (options.listenHost === '0.0.0.0' || options.listenHost === '::') {
    for (const addresses of Object.values(os.networkInterfaces())) for (const a of addresses ?? []) hosts.push(a.address);
    hosts.push('localhost');
  }
  return hosts;
}
