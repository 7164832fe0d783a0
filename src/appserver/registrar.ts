/**
 * The registrar (RFC 3261 §10.3, RFC 5626 §6): a user's devices register their Contact; each
 * binding lives until it expires, is removed, or its connection closes. A user can only register
 * themselves.
 */
import { createResponse, type NameAddr, type ServerTransaction } from '../sip/index.ts';
import type { User } from '../store/index.ts';
import type { LocationService } from './location-service.ts';
import type { SipUsers } from './sip-users.ts';

export interface RegistrarOptions {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  clock?: () => number;
}

export class Registrar {
  private readonly clock: () => number;

  constructor(
    private readonly location: LocationService,
    private readonly users: SipUsers,
    private readonly options: RegistrarOptions,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  async handle(transaction: ServerTransaction, user: User): Promise<void> {
    const { request, source } = transaction;
    const reply = (status: number, reason?: string) => transaction.respond(createResponse(request, status, reason ? { reason } : {}));

    // §10.3 step 3/4: the address-of-record is the To URI; one may only bind one's own.
    const to = request.to.uri;
    if (!to.isSip || !to.user) return reply(404, 'Not Found');
    const target = await this.users.find(to.decodedUser!);
    if (!target) return reply(404, 'Not Found');
    if (target.id !== user.id) return reply(403, 'Forbidden: you can only register yourself');

    let contacts: NameAddr[] | '*';
    try {
      contacts = request.contacts;
    } catch {
      return reply(400, 'Bad Contact');
    }
    const headerExpires = request.hasHeader('Expires') ? Number(request.header('Expires')) : undefined;
    const callId = request.callId;
    const cseq = request.cseq.seq;

    if (contacts === '*') {
      // §10.3 step 6: "*" only with Expires: 0, alone.
      if (headerExpires !== 0) return reply(400, 'Wildcard Contact needs Expires: 0');
      await this.location.removeAll(user.id);
      return this.ok(transaction, user.id, false);
    }

    const updates: { contact: NameAddr; expires: number }[] = [];
    for (const contact of contacts) {
      if (!contact.uri.isSip && contact.uri.scheme !== 'sips') return reply(400, 'Contact must be a SIP URI');
      const param = contact.params.get('expires');
      let expires = param !== undefined && param !== null ? Number(param) : headerExpires ?? this.options.defaultExpires;
      if (!Number.isFinite(expires) || expires < 0) expires = this.options.defaultExpires;
      if (expires > 0 && expires < this.options.minExpires) {
        // §10.3 step 7: too brief — say what is acceptable.
        const response = createResponse(request, 423);
        response.setHeader('Min-Expires', String(this.options.minExpires));
        transaction.respond(response);
        return;
      }
      updates.push({ contact, expires: Math.min(expires, this.options.maxExpires) });
    }

    let outbound = false;
    for (const { contact, expires } of updates) {
      const instance = contact.params.get('+sip.instance') ?? null;
      const regIdText = contact.params.get('reg-id');
      const regId = regIdText !== undefined && regIdText !== null && /^\d+$/.test(regIdText) ? Number(regIdText) : null;
      if (instance && regId !== null) outbound = true;
      await this.location.update({
        userId: user.id,
        contact: contact.uri.toString(),
        instanceId: instance,
        regId,
        callId,
        cseq,
        q: contact.params.get('q') ?? null,
        expiresS: expires,
        source,
        userAgent: request.header('User-Agent') ?? null,
      });
    }
    await this.ok(transaction, user.id, outbound);
  }

  /** 200 OK listing every current binding with the time it has left (§10.3 step 8). */
  private async ok(transaction: ServerTransaction, userId: string, outbound: boolean): Promise<void> {
    const response = createResponse(transaction.request, 200);
    const now = this.clock();
    for (const b of await this.location.bindings(userId)) {
      const left = Math.max(0, Math.round((Date.parse(b.expires_at) - now) / 1000));
      const instance = b.instance_id ? `;+sip.instance="${b.instance_id.replace(/"/g, '')}"` : '';
      const regId = b.reg_id !== null ? `;reg-id=${b.reg_id}` : '';
      response.addHeader('Contact', `<${b.contact}>;expires=${left}${instance}${regId}`);
    }
    response.setHeader('Date', new Date(now).toUTCString());
    // RFC 5626 §6: a registrar that honours reg-id says so with Require: outbound.
    if (outbound) response.setHeader('Require', 'outbound');
    transaction.respond(response);
  }
}
