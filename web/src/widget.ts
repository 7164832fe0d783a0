/**
 * Starts, shows and stops the softphone as pages come and go. The page says who is signed in
 * (`<meta name="ringside-user">`, see src/web/pages/layout.ts) and where the panel goes
 * (`#ringside-softphone`, permanent across Turbo visits). Another user → a new phone; a page with
 * no user → the session is checked, and the phone stops once it is gone.
 */
import { render } from 'preact';
import { h } from 'preact';
import { PhoneController } from './phone/controller.ts';
import type { RecordRef } from './phone/model.ts';
import { SoftphonePanel } from './ui/Panel.tsx';

export const PANEL_ID = 'ringside-softphone';

/** `detail` of the `ringside:dial` event the CRM's 📞 buttons dispatch on `window`. */
export interface DialRequest {
  number: string;
  ext?: string | null;
  record?: RecordRef | null;
  handled: boolean;
}

/** What tests and curious people can reach from the console: `window.ringside`. */
export interface RingsideDebug {
  state(): unknown;
  role(): string | null;
  peerConnection(): RTCPeerConnection | null;
}

export class Widget {
  controller: PhoneController | undefined;
  private mountedOn: HTMLElement | undefined;

  constructor() {
    window.addEventListener('ringside:dial', (event) => this.onDial(event as CustomEvent<DialRequest>));
    window.addEventListener('beforeunload', (event) => {
      // Only the leader holds the call: leaving it hangs up, so ask first.
      if (this.controller?.role === 'leader' && this.controller.state.call) event.preventDefault();
    });
    (window as unknown as { ringside: RingsideDebug }).ringside = {
      state: () => this.controller?.state ?? null,
      role: () => this.controller?.role ?? null,
      peerConnection: () => this.controller?.softphone?.peerConnection ?? null,
    };
  }

  get active(): boolean {
    return this.controller !== undefined;
  }

  /** After every page render. */
  sync(): void {
    const userId = document.querySelector<HTMLMetaElement>('meta[name="ringside-user"]')?.content;
    if (userId) {
      if (this.controller?.userId !== userId) {
        this.stop();
        this.controller = new PhoneController(userId, () => undefined);
        this.controller.start();
      }
    } else if (this.controller) {
      void this.stopIfSignedOut();
    }
    this.mount();
  }

  /** Signing out: every tab's phone stops, this one's panel goes. */
  signOut(): void {
    this.controller?.signOut();
    this.stop();
  }

  stop(): void {
    this.controller?.stop();
    this.controller = undefined;
    if (this.mountedOn) render(null, this.mountedOn);
    this.mountedOn = undefined;
  }

  private mount(): void {
    const el = document.getElementById(PANEL_ID);
    if (!el || !this.controller || el === this.mountedOn) return;
    el.replaceChildren();
    render(h(SoftphonePanel, { controller: this.controller }), el);
    this.mountedOn = el;
  }

  private async stopIfSignedOut(): Promise<void> {
    try {
      const res = await fetch('/api/v1/session', { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (res.status === 401) this.stop();
    } catch {
      // Unreachable server: keep going, the phone reconnects by itself.
    }
  }

  private onDial(event: CustomEvent<DialRequest>): void {
    const detail = event.detail;
    if (!this.controller || !detail?.number || detail.handled) return;
    detail.handled = true;
    this.controller.execute({ type: 'call', target: detail.number, record: detail.record ?? null, ext: detail.ext || null });
  }
}
