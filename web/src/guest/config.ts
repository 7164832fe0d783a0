/** What the join page tells its script (`<script type="application/json" id="guest-config">`). */
export interface GuestConfig {
  state: 'upcoming' | 'open';
  /** The server's clock when the page was rendered: the link opens by it, not by this computer's. */
  now: string;
  opens_at: string;
  starts_at: string;
  ends_at: string;
  /** The zone the page states the time in (the host's choice). */
  time_zone?: string;
  /** `/sip?invite=<token>`: the name is added as `&name=`. */
  ws_path: string;
  /** The host's SIP URI, the only one this guest may call. */
  target: string;
  host_name: string;
  guest_name: string;
  ice_servers: RTCIceServer[];
  ice_transport_policy: RTCIceTransportPolicy;
}

export function readConfig(): GuestConfig | null {
  const el = document.getElementById('guest-config');
  if (!el?.textContent) return null;
  try {
    return JSON.parse(el.textContent) as GuestConfig;
  } catch {
    return null;
  }
}

/** Milliseconds to add to this computer's clock to read the server's. */
export function serverSkew(config: GuestConfig): number {
  const now = Date.parse(config.now);
  return Number.isNaN(now) ? 0 : now - Date.now();
}
