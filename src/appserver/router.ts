/**
 * Where a call goes. A user's SIP name or extension rings that user; a DID rings the users it is
 * assigned to; any other number, dialled by an authenticated user, goes out through a trunk — in
 * E.164, and only to the destinations that user may call. A trunk's call never goes back out
 * through a trunk, and an unauthenticated request never reaches this point (toll fraud).
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { SipRequest } from '../sip/index.ts';
import type { User } from '../store/index.ts';
import type { Caller } from './authenticator.ts';
import type { SipUsers } from './sip-users.ts';
import type { Trunk } from './trunks.ts';

export type Route =
  | { kind: 'users'; users: User[]; dialled: string; number: string | null }
  | { kind: 'trunk'; trunk: Trunk; number: string }
  | { kind: 'reject'; status: number; reason: string };

export interface RouterOptions {
  defaultRegion: CountryCode;
  /** Prefixes users may dial out to unless their own setting says otherwise ("*" = anywhere). */
  allowedPrefixes: string[];
}

export class CallRouter {
  constructor(
    private readonly users: SipUsers,
    private readonly trunks: Trunk[],
    private readonly options: RouterOptions,
  ) {}

  async route(request: SipRequest, caller: Caller): Promise<Route> {
    const uri = request.uri;
    if (!uri.isSip || !uri.user) return { kind: 'reject', status: 404, reason: 'Not Found' };
    const dialled = uri.decodedUser!.replace(/[\s()./-]/g, '');

    // A user of ours by SIP name or extension.
    const user = await this.users.find(dialled);
    if (user) return { kind: 'users', users: [user], dialled, number: user.extension };

    const e164 = this.toE164(dialled, uri.param('user') === 'phone');
    if (!e164) return { kind: 'reject', status: 404, reason: 'Not Found' };

    // A DID of ours, from outside or inside.
    for (const trunk of this.trunks) {
      const names = trunk.didTargets(e164);
      if (!names) continue;
      const targets = await this.users.resolve(names);
      if (targets.length > 0) return { kind: 'users', users: targets, dialled, number: e164 };
      return { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' };
    }

    // No transit for trunks; guests call their host only (checked before routing).
    if (caller.kind !== 'user') return { kind: 'reject', status: caller.kind === 'trunk' ? 404 : 403, reason: caller.kind === 'trunk' ? 'Not Found' : 'Forbidden' };
    const allowed = caller.user.allowed_prefixes ? caller.user.allowed_prefixes.split(',').map((p) => p.trim()) : this.options.allowedPrefixes;
    if (!this.allowed(e164, allowed)) return { kind: 'reject', status: 403, reason: 'Number not allowed' };
    const trunk = this.trunks[0];
    if (!trunk) return { kind: 'reject', status: 404, reason: 'No route to external numbers' };
    return { kind: 'trunk', trunk, number: e164 };
  }

  /** A dialled string as E.164, or null when it is not a valid phone number. */
  toE164(dialled: string, isPhone = false): string | null {
    if (!/^\+?[\d*#]+$/.test(dialled) && !isPhone) return null;
    const candidate = dialled.startsWith('00') ? `+${dialled.slice(2)}` : dialled;
    const parsed = parsePhoneNumberFromString(candidate, this.options.defaultRegion);
    return parsed?.isValid() ? parsed.number : null;
  }

  /**
   * A number is allowed when it starts with one of the prefixes. Premium-rate numbers need a
   * prefix that names them explicitly — "*" or a country code is not enough.
   */
  private allowed(e164: string, prefixes: string[]): boolean {
    const premium = parsePhoneNumberFromString(e164)?.getType() === 'PREMIUM_RATE';
    return prefixes.some((p) => {
      if (p === '*') return !premium;
      if (!e164.startsWith(p)) return false;
      return !premium || p.length > 4;
    });
  }
}
