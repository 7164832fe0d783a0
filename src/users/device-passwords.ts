/**
 * Device passwords (the SIP digest password of a user's desk phones and softphones). The server
 * generates them, shows each one once, and stores only HA1 = H(name:realm:password) in MD5 and
 * SHA-256 for both names a phone may sign in with (SIP username, extension) and the realm
 * (SIP_DOMAIN) they were made for: a stolen database does not yield device passwords, and a
 * changed SIP_DOMAIN is detected instead of failing silently.
 */
import { randomBytes } from 'node:crypto';
import { digestHa1, type DigestHa1 } from '../sip/auth/index.ts';
import type { User } from '../store/index.ts';

/** 120 random bits in 20 URL-safe characters: easy to type into a phone, never guessed. */
export function generateDevicePassword(): string {
  return randomBytes(15).toString('base64url');
}

export type DeviceCredentialColumns = Pick<User, 'sip_realm' | 'sip_ha1_md5' | 'sip_ha1_sha256' | 'sip_ext_ha1_md5' | 'sip_ext_ha1_sha256' | 'legacy_sip_password'>;

/** The columns that store `password` for `user`'s SIP names in `realm` (no plaintext kept). */
export function deviceCredentialColumns(user: { sip_username: string; extension: string | null }, realm: string, password: string): DeviceCredentialColumns {
  return {
    sip_realm: realm,
    sip_ha1_md5: digestHa1('MD5', user.sip_username, realm, password),
    sip_ha1_sha256: digestHa1('SHA-256', user.sip_username, realm, password),
    sip_ext_ha1_md5: user.extension ? digestHa1('MD5', user.extension, realm, password) : null,
    sip_ext_ha1_sha256: user.extension ? digestHa1('SHA-256', user.extension, realm, password) : null,
    legacy_sip_password: null,
  };
}

/**
 * The stored HA1 values for the name a phone signed in with (its SIP username or its extension),
 * or undefined when the user has no device password or the name is neither.
 */
export function deviceHa1(user: User, name: string): DigestHa1 | undefined {
  if (!user.sip_realm) return undefined;
  if (name === user.sip_username && user.sip_ha1_md5 && user.sip_ha1_sha256) {
    return { realm: user.sip_realm, MD5: user.sip_ha1_md5, 'SHA-256': user.sip_ha1_sha256 };
  }
  if (user.extension && name === user.extension && user.sip_ext_ha1_md5 && user.sip_ext_ha1_sha256) {
    return { realm: user.sip_realm, MD5: user.sip_ext_ha1_md5, 'SHA-256': user.sip_ext_ha1_sha256 };
  }
  return undefined;
}

/** Whether the user's device password was made for another SIP domain (it no longer works: reset it). */
export function devicePasswordRealmMismatch(user: User, realm: string): boolean {
  return user.sip_realm !== null && user.sip_realm !== realm;
}
