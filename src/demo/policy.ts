/**
 * When the demo organisation may be seeded. Its users have a published password (web login and
 * SIP device password alike), so it exists only where nobody else can reach it: every listener
 * (HTTP, SIP, media) on loopback — or when the operator asks for it with SEED_DEMO=true, and then
 * only with a DEMO_PASSWORD of their own.
 */
import { isLoopbackHost, type Config } from '../config/index.ts';

/** The documented demo password (README): never acceptable on a host others can reach. */
export const DEFAULT_DEMO_PASSWORD = 'ringside-demo';

export type DemoSeeding =
  | { seed: true }
  | { seed: false; reason: string }
  /** The configuration asks for something unsafe: the server must not start. */
  | { seed: false; refusal: string };

type SeedingConfig = Pick<Config, 'SEED_DEMO' | 'DEMO_PASSWORD' | 'HOST' | 'sipHost' | 'MEDIA_BIND_ADDRESS'>;

/** The listeners that are reachable from other machines, by their configuration (nothing is bound to find out). */
export function exposedListeners(config: SeedingConfig): string[] {
  const listeners: [string, string][] = [
    ['HOST', config.HOST],
    ['SIP_HOST', config.sipHost],
    ['MEDIA_BIND_ADDRESS', config.MEDIA_BIND_ADDRESS],
  ];
  return listeners.filter(([, address]) => !isLoopbackHost(address)).map(([key, address]) => `${key}=${address}`);
}

export function demoSeeding(config: SeedingConfig): DemoSeeding {
  if (config.SEED_DEMO === false) return { seed: false, reason: 'SEED_DEMO=false' };
  if (config.SEED_DEMO === true) {
    if (config.DEMO_PASSWORD === DEFAULT_DEMO_PASSWORD) {
      return {
        seed: false,
        refusal: `SEED_DEMO=true needs a DEMO_PASSWORD of your own: the default one is published in the README, and the demo users (admin@example.com included) would sign in with it, on the web and from SIP phones.`,
      };
    }
    return { seed: true };
  }
  const exposed = exposedListeners(config);
  if (exposed.length > 0) return { seed: false, reason: `not on loopback (${exposed.join(', ')}); set SEED_DEMO=true and a DEMO_PASSWORD of your own to seed anyway` };
  return { seed: true };
}
