/**
 * Where a call goes. A user's SIP name or extension rings that user; a DID rings the users it is
 * assigned to; any other number, dialled by an authenticated user, goes out through a trunk — in
 * E.164, and only to the destinations that user may call. A trunk's call never goes back out
 * through a trunk, and an unauthenticated request never reaches this point (toll fraud).
 */
import { Metadata, getCountryCallingCode, parsePhoneNumberFromString, type CountryCode, type NumberType } from 'libphonenumber-js/max';
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
    const name = dialledName(uri);
    if (!uri.isSip || !name) return { kind: 'reject', status: 404, reason: 'Not Found' };
    const dialled = dialledDigits(name);

    // A user of ours by SIP name or extension.
    const user = await this.findUser(name);
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
    const refusal = this.refusal(e164, allowed);
    if (refusal) return { kind: 'reject', status: 403, reason: refusal };
    const trunk = this.trunks[0];
    if (!trunk) return { kind: 'reject', status: 404, reason: 'No route to external numbers' };
    return { kind: 'trunk', trunk, number: e164 };
  }

  /**
   * The user a dialled name means: a SIP name exactly as written (`jane.doe` is not `janedoe`:
   * SIP names keep their dots and dashes, security review #24), else an extension or number
   * written with separators (`10-01`, `(415) 555-0100`).
   */
  async findUser(name: string): Promise<User | undefined> {
    const user = await this.users.find(name);
    if (user) return user;
    const digits = dialledDigits(name);
    return digits !== name && NUMBER_LIKE.test(digits) ? this.users.find(digits) : undefined;
  }

  /** A dialled string as E.164, or null when it is not a valid phone number. */
  toE164(dialled: string, isPhone = false): string | null {
    if (!/^\+?[\d*#]+$/.test(dialled) && !isPhone) return null;
    const candidate = dialled.startsWith('00') ? `+${dialled.slice(2)}` : dialled;
    const parsed = parsePhoneNumberFromString(candidate, this.options.defaultRegion);
    return parsed?.isValid() ? parsed.number : null;
  }

  /**
   * Why a user may not dial this number with these prefixes (undefined: they may). Toll fraud
   * (security review #10) goes to the expensive numbers hidden inside a broad prefix, so a broad
   * prefix — "*", or a bare country code such as "+1" or "+44" — covers only the ordinary numbers
   * of the home countries of that code:
   * - another country sharing the code (+1 876 Jamaica, +1 809 Dominican Republic, +44 1481
   *   Guernsey …) needs a prefix naming it ("+1876");
   * - costly number types (premium rate, personal numbers; +1 900 and +1 976) need a prefix
   *   naming the range ("+1900", "+4470");
   * "*" names every country, but not the costly types.
   */
  private refusal(e164: string, prefixes: string[]): string | undefined {
    const parsed = parsePhoneNumberFromString(e164);
    const callingCode = parsed ? `+${parsed.countryCallingCode}` : undefined;
    const costly = costlyKind(e164, parsed?.getType());
    const foreign = parsed?.country !== undefined && callingCode !== undefined && !this.homeCountries(callingCode).has(parsed.country);
    let why: string | undefined = 'Number not allowed';
    for (const p of prefixes) {
      if (p !== '*' && !e164.startsWith(p)) continue;
      const broad = p === '*' || p === callingCode;
      if (!broad) return undefined; // the prefix names this range on purpose
      if (costly) why = `Number not allowed: ${costly}`;
      else if (foreign && p !== '*') why = `Number not allowed: ${parsed!.country} needs its own prefix`;
      else return undefined;
    }
    return why;
  }

  private readonly homes = new Map<string, ReadonlySet<string>>();

  /**
   * The countries a bare country code stands for: the default region's own country when it has
   * that code, otherwise the code's main country (libphonenumber's first). The US and Canada go
   * together: they call each other at domestic rates.
   */
  private homeCountries(callingCode: string): ReadonlySet<string> {
    let home = this.homes.get(callingCode);
    if (!home) {
      const region = this.options.defaultRegion;
      const main = `+${getCountryCallingCode(region)}` === callingCode ? region : mainCountryOf(callingCode.slice(1));
      home = new Set(main === 'US' || main === 'CA' ? ['US', 'CA'] : main ? [main] : []);
      this.homes.set(callingCode, home);
    }
    return home;
  }
}

/** Digits as dialled: an extension or a phone number, without separators. */
const NUMBER_LIKE = /^\+?[\d*#]+$/;

/** The user part of a dialled SIP URI, decoded and lower-cased (how SIP names are stored), or undefined. */
export function dialledName(uri: SipRequest['uri']): string | undefined {
  if (!uri.isSip || !uri.user) return undefined;
  return uri.decodedUser!.trim().toLowerCase() || undefined;
}

/** A dialled name without the separators people write in numbers (spaces, brackets, dots, dashes). */
function dialledDigits(name: string): string {
  return name.replace(/[\s()./-]/g, '');
}

/**
 * Number types refused unless a prefix names their range. Premium rate: revenue shared with the
 * number's owner by design. Personal numbers (UK 070, NANP 500/533): "follow-me" numbers priced
 * like premium ones, a classic fraud range. Shared-cost and UAN numbers (UK 03/084x/087x, French
 * 08 1x …) stay allowed: they are ordinary business and public-service lines at capped,
 * near-national rates, and refusing them would break everyday calls.
 */
const COSTLY_TYPES: Partial<Record<NumberType & string, string>> = { PREMIUM_RATE: 'premium rate', PERSONAL_NUMBER: 'personal number' };

/** NANP premium area codes, whether or not the metadata knows their numbers. */
const NANP_PREMIUM = /^\+1(900|976)/;

function costlyKind(e164: string, type: NumberType | undefined): string | undefined {
  if (NANP_PREMIUM.test(e164)) return 'premium rate';
  return type ? COSTLY_TYPES[type] : undefined;
}

/** The main country of a calling code ("44" → GB, "7" → RU), from libphonenumber's metadata. */
function mainCountryOf(callingCode: string): string | undefined {
  // Metadata has the table but does not declare it in its types.
  const metadata = new Metadata() as unknown as { countryCallingCodes(): Record<string, string[] | undefined> };
  return metadata.countryCallingCodes()[callingCode]?.[0];
}
