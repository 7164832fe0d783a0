/**
 * Security headers on every response of the root instance, so every feature's pages get them
 * (the CRM pages, invitations, join pages, errors): HTML is never cached by shared caches and
 * never framed by other sites, and runs only our own scripts. A route that sets its own
 * `content-security-policy` or `x-frame-options` (the Salesforce softphone, which the org may
 * frame; the guest page, which nobody may) keeps it. Over https, HSTS on everything.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** The style hash is Turbo's progress-bar <style> (Turbo 8.0.23): recompute it when Turbo is upgraded. */
export const TURBO_STYLE_HASH = "'sha256-WAyOw4V+FqDc35lQPyRADLBWbuNK8ahvYEaQIYF1+Ps='";

export interface SecurityHeaderOptions {
  /** BASE_URL, when configured (else the request's own origin). */
  baseUrl: string | undefined;
  /** Browsers reach us over https only: send HSTS. */
  https: boolean;
}

/**
 * `connect-src`: our origin and its SIP WebSocket (`ws(s)://` of the same host) only — never any
 * `ws:`/`wss:` host, which would let an injected script send data anywhere.
 */
export function connectSrc(options: SecurityHeaderOptions, request: FastifyRequest): string {
  const base = options.baseUrl ? new URL(options.baseUrl) : new URL(`${request.protocol}://${request.host}`);
  const ws = `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}`;
  return `connect-src 'self' ${ws}`;
}

/** The CSP of our pages; `frameAncestors` differs for the guest page ('none') and the softphone (the org). */
export function pageCsp(options: SecurityHeaderOptions, request: FastifyRequest, extra: { scriptSrc?: string; styleSrc?: string; frameAncestors?: string } = {}): string {
  return [
    "default-src 'self'",
    "img-src 'self' data:",
    `style-src 'self'${extra.styleSrc ?? ` ${TURBO_STYLE_HASH}`}`,
    `script-src 'self'${extra.scriptSrc ?? ''}`,
    connectSrc(options, request),
    "media-src 'self' blob:",
    "base-uri 'self'",
    `frame-ancestors ${extra.frameAncestors ?? "'self'"}`,
  ].join('; ');
}

export function registerSecurityHeaders(app: FastifyInstance, options: SecurityHeaderOptions): void {
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    if (options.https) reply.header('strict-transport-security', 'max-age=31536000');
    if (!String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return;
    reply.header('cache-control', 'no-store');
    if (!reply.hasHeader('referrer-policy')) reply.header('referrer-policy', 'same-origin');
    const ownCsp = reply.hasHeader('content-security-policy');
    if (!ownCsp) reply.header('content-security-policy', pageCsp(options, request));
    // Framing is the CSP's business where a route chose its own frame-ancestors (the softphone).
    if (!ownCsp && !reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'SAMEORIGIN');
  });
}
