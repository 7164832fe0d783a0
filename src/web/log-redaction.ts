/**
 * Request logs never carry bearer capabilities: a join link (`/join/<token>`) lets anyone call its
 * host, `/sip?invite=` and `/sip?token=` open a SIP connection, and an OIDC callback's `code` and
 * `state` finish someone's sign-in. Log files travel further than the database (support tickets,
 * log shippers), so these parts of a URL are replaced before a line is written.
 */
const SECRET_PARAMS = new Set(['token', 'invite', 'code', 'state', 'session_state', 'id_token']);
const REDACTED = '[redacted]';

export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const pathPart = (q === -1 ? url : url.slice(0, q)).replace(/^\/join\/[^/]+/, `/join/${REDACTED}`);
  if (q === -1) return pathPart;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // a malformed name is logged as sent
      }
      return SECRET_PARAMS.has(decoded.toLowerCase()) ? `${name}=${REDACTED}` : pair;
    });
  return `${pathPart}?${params.join('&')}`;
}

/** Fastify's `req` serializer (method, url, host, address), with the URL redacted. */
export function redactedRequest(req: { method?: string; url?: string; host?: string; ip?: string; socket?: { remotePort?: number } }) {
  return {
    method: req.method,
    url: redactUrl(req.url ?? ''),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
