/**
 * One softphone per browser, not per tab. Every tab of a user asks for the same Web Lock
 * (`ringside-softphone:<user id>`); the browser grants it to one tab at a time and queues the
 * others. The holder is the leader: it registers and holds the media. The lock is never released
 * on purpose while the tab lives — closing or reloading the tab releases it, and the browser
 * hands it to the next tab in the queue, which then registers in its place.
 *
 * Tabs talk over a BroadcastChannel of the same name:
 *   leader → all:  { type: 'state', state }     after every change, and in answer to 'hello'
 *   tab → leader:  { type: 'hello' }            a new follower asks for the current state
 *   tab → leader:  { type: 'command', command } Answer, Hang up, Call … pressed in a follower
 *   leader → all:  { type: 'leader' }           a new leader took over (followers say hello again)
 *   tab → all:     { type: 'signed-out' }       this tab signs out: every tab's phone stops
 * A message carries the sender's tab id; nobody acts on its own messages (BroadcastChannel does
 * not echo them anyway).
 */
import type { Command, PhoneState } from '../phone/model.ts';

export type TabRole = 'leader' | 'follower';

type Message =
  | { type: 'state'; from: string; state: PhoneState }
  | { type: 'hello'; from: string }
  | { type: 'command'; from: string; command: Command }
  | { type: 'leader'; from: string }
  | { type: 'signed-out'; from: string };

export interface CoordinatorHandlers {
  /** This tab now holds the lock: start the phone. */
  onLeadership(): void;
  /** (Followers) the leader's state. */
  onState(state: PhoneState): void;
  /** (Leader) a command from another tab. */
  onCommand(command: Command): void;
  /** (Leader) a follower wants the current state. */
  onHello(): void;
  /** Another tab signed out (the session is shared by every tab). */
  onSignedOut(): void;
}

export class TabCoordinator {
  readonly tabId = crypto.randomUUID();
  role: TabRole = 'follower';
  private channel: BroadcastChannel | undefined;
  private release: (() => void) | undefined;
  private readonly abort = new AbortController();

  constructor(
    readonly name: string,
    private readonly handlers: CoordinatorHandlers,
  ) {}

  start(): void {
    if (typeof BroadcastChannel !== 'undefined') {
      this.channel = new BroadcastChannel(this.name);
      this.channel.onmessage = (event: MessageEvent<Message>) => this.receive(event.data);
    }
    if (!navigator.locks) {
      // No Web Locks (an old browser, or a page that is not a secure context): each tab is its
      // own phone, as before. Still better than no phone. Locks that are there but refused
      // (SecurityError in a third-party frame) end the same way, below.
      this.lead();
      return;
    }
    const refused = (err: unknown) => {
      if ((err as Error)?.name === 'AbortError' || this.abort.signal.aborted) return;
      // Web Locks refused: a third-party frame where the browser blocks storage (Chromium throws
      // SecurityError in the Salesforce softphone's iframe), or any other refusal. Nothing can
      // coordinate the tabs then, so this frame is its own phone, as without Web Locks.
      if ((err as Error)?.name !== 'SecurityError') console.warn('Web Locks refused; this tab runs its own phone', err);
      if (this.role !== 'leader') this.lead();
    };
    try {
      navigator.locks
        .request(this.name, { signal: this.abort.signal }, () => {
          this.lead();
          // Held until stop() or until the tab goes away.
          return new Promise<void>((resolve) => (this.release = resolve));
        })
        .catch(refused);
    } catch (err) {
      refused(err);
      return;
    }
    // Ask whoever leads for the state; if nobody does yet, the lock comes to us in a moment.
    this.post({ type: 'hello', from: this.tabId });
  }

  stop(): void {
    this.abort.abort();
    this.release?.();
    this.release = undefined;
    this.channel?.close();
    this.channel = undefined;
    this.role = 'follower';
  }

  /** Leader: tell every other tab. */
  publish(state: PhoneState): void {
    if (this.role === 'leader') this.post({ type: 'state', from: this.tabId, state });
  }

  /** Any tab: the person signs out here, so every tab's phone must stop. */
  announceSignOut(): void {
    this.post({ type: 'signed-out', from: this.tabId });
  }

  /** Follower: ask the leader to do something. */
  send(command: Command): void {
    this.post({ type: 'command', from: this.tabId, command });
  }

  private lead(): void {
    this.role = 'leader';
    this.post({ type: 'leader', from: this.tabId });
    this.handlers.onLeadership();
  }

  private receive(message: Message): void {
    if (!message || message.from === this.tabId) return;
    switch (message.type) {
      case 'state':
        if (this.role === 'follower') this.handlers.onState(message.state);
        return;
      case 'hello':
        if (this.role === 'leader') this.handlers.onHello();
        return;
      case 'command':
        if (this.role === 'leader') this.handlers.onCommand(message.command);
        return;
      case 'leader':
        if (this.role === 'follower') this.post({ type: 'hello', from: this.tabId });
        return;
      case 'signed-out':
        this.handlers.onSignedOut();
        return;
    }
  }

  private post(message: Message): void {
    this.channel?.postMessage(message);
  }
}
