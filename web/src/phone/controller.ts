/**
 * The phone as this tab sees it: in the leader tab it runs the Softphone; in the others it mirrors
 * the leader's state and forwards commands. The UI talks only to this, the same way in every tab.
 */
import { announceActivityChanged } from '../crm/activity-event.ts';
import { TabCoordinator, type TabRole } from '../tabs/coordinator.ts';
import { apiFetch } from './api.ts';
import { INITIAL_STATE, type CallView, type Command, type PhoneState, type SoftphoneSettings } from './model.ts';
import { Softphone, type SocketUrlProvider, type SoftphoneMedia } from './softphone.ts';

type Listener = () => void;

const RETRY_SETTINGS_MS = [1000, 2000, 5000, 10000, 30000];

export interface PhoneControllerOptions {
  /**
   * Where the SIP WebSocket connects, asked before every connection and reconnection (e.g. a
   * fresh `/sip?token=` where no cookie reaches the page). By default the settings' `ws_path` on
   * this host, authenticated by the session cookie.
   */
  socketUrl?: SocketUrlProvider;
}

export class PhoneController {
  state: PhoneState = INITIAL_STATE;
  softphone: Softphone | undefined;
  private readonly coordinator: TabCoordinator;
  private readonly listeners = new Set<Listener>();
  private stopped = false;
  private settingsAttempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly userId: string,
    /** The session is gone (signed out elsewhere, expired): the widget shuts down. */
    private readonly onSignedOut: () => void,
    private readonly options: PhoneControllerOptions = {},
  ) {
    this.coordinator = new TabCoordinator(`ringside-softphone:${userId}`, {
      onLeadership: () => void this.lead(),
      onState: (state) => this.set(state),
      onCommand: (command) => this.softphone?.execute(command),
      onHello: () => this.coordinator.publish(this.state),
      onSignedOut: () => this.signedOut(),
    });
  }

  get role(): TabRole {
    return this.coordinator.role;
  }

  get media(): SoftphoneMedia {
    return this.softphone?.media ?? { remote: null, localVideo: null };
  }

  start(): void {
    this.coordinator.start();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.softphone?.stop();
    this.softphone = undefined;
    this.coordinator.stop();
    this.listeners.clear();
  }

  /** The person signs out in this tab: tell the others, whose phones stop too (one session). */
  signOut(): void {
    this.coordinator.announceSignOut();
    this.stop();
  }

  execute(command: Command): void {
    if (this.coordinator.role === 'leader') {
      if (this.softphone) this.softphone.execute(command);
      else if (command.type === 'video') this.set({ ...this.state, videoPreferred: command.on });
      else if (command.type === 'call') this.set({ ...this.state, notice: { kind: 'info', text: 'The phone is still starting: try again in a moment', id: Date.now() } });
      return;
    }
    this.coordinator.send(command);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async lead(): Promise<void> {
    if (this.stopped) return;
    this.emit(); // the role changed: the panel shows the media view from now on
    const settings = await this.loadSettings();
    if (!settings || this.stopped) return;
    this.softphone = new Softphone(
      settings,
      {
        onState: (state) => {
          this.set(state);
          this.coordinator.publish(state);
        },
        onMedia: () => this.emit(),
        onConnectionLost: () => void this.checkSession(),
      },
      // What this tab showed as a follower carries over (the video preference).
      { videoPreferred: this.state.videoPreferred },
      this.options.socketUrl,
    );
    this.set(this.softphone.state);
    this.coordinator.publish(this.softphone.state);
    this.softphone.start();
  }

  private async loadSettings(): Promise<SoftphoneSettings | null> {
    for (;;) {
      try {
        const res = await apiFetch('/softphone');
        if (res.status === 401) {
          this.signedOut();
          return null;
        }
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        this.settingsAttempt = 0;
        return (await res.json()) as SoftphoneSettings;
      } catch {
        if (this.stopped) return null;
        const wait = RETRY_SETTINGS_MS[Math.min(this.settingsAttempt++, RETRY_SETTINGS_MS.length - 1)]!;
        this.set({ ...this.state, registration: { status: 'offline', reason: `cannot load the phone settings, retrying in ${Math.round(wait / 1000)} s` } });
        await new Promise((resolve) => (this.retryTimer = setTimeout(resolve, wait)));
        if (this.stopped) return null;
      }
    }
  }

  /** A lost WebSocket may mean a lost session: then retrying is pointless, and we say so. */
  private async checkSession(): Promise<void> {
    try {
      const res = await apiFetch('/session');
      if (res.status === 401) this.signedOut();
    } catch {
      // The server is unreachable: JsSIP keeps retrying, which is right.
    }
  }

  private signedOut(): void {
    const state: PhoneState = { ...this.state, call: null, registration: { status: 'offline', reason: 'signed out' } };
    this.softphone?.stop();
    this.softphone = undefined;
    this.set(state);
    this.coordinator.publish(state);
    this.onSignedOut();
  }

  private set(state: PhoneState): void {
    const ended = this.state.call && !state.call ? this.state.call : null;
    this.state = state;
    this.emit();
    // Every tab sees the call end (the leader's state is mirrored): each one's open record page
    // looks for the call's activity.
    if (ended && !(ended.crm?.colleague && !ended.crm.chosen)) announceActivityChanged({ record: recordOf(ended), reason: 'call-ended' });
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

/** The record a call's activity goes to, when this browser knows it: the one picked or dialled from. */
function recordOf(call: CallView): { type: string; id: string } | null {
  const chosen = call.crm?.matches.find((m) => m.id === call.crm?.chosen);
  if (chosen) return { type: chosen.type, id: chosen.id };
  return call.record ? { type: call.record.type, id: call.record.id } : null;
}
