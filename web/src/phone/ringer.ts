/**
 * The incoming-call ring tone and desktop notification. The tone is synthesised with Web Audio
 * (a two-tone UK-style ring, 0.4 s on / 0.2 s off / 0.4 s on / 2 s off): no sound file to fetch,
 * nothing for the CSP to allow. Browsers keep an AudioContext suspended until the page has had a
 * user gesture; the tone is then silent, the notification and the panel still say it.
 */

export class Ringer {
  private context: AudioContext | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private notification: Notification | undefined;

  start(caller: string): void {
    this.stop();
    this.playTone();
    this.notify(caller);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.notification?.close();
    this.notification = undefined;
  }

  private playTone(): void {
    const Ctx = window.AudioContext as typeof AudioContext | undefined;
    if (!Ctx) return;
    this.context ??= new Ctx();
    const ctx = this.context;
    if (ctx.state === 'suspended') void ctx.resume().catch(() => undefined);
    const burst = (at: number) => {
      const gain = ctx.createGain();
      gain.gain.value = 0.08;
      gain.connect(ctx.destination);
      for (const freq of [400, 450]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = freq;
        osc.connect(gain);
        osc.start(at);
        osc.stop(at + 0.4);
      }
    };
    const cycle = () => {
      const now = ctx.currentTime;
      burst(now);
      burst(now + 0.6);
    };
    cycle();
    this.timer = setInterval(cycle, 3000);
  }

  private notify(caller: string): void {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    // Only when the person is not looking at a Ringside tab: the panel already shows it there.
    if (document.visibilityState === 'visible') return;
    try {
      this.notification = new Notification('Incoming call', { body: caller, tag: 'ringside-incoming-call', requireInteraction: true });
      this.notification.onclick = () => {
        window.focus();
        this.notification?.close();
      };
    } catch {
      // Some browsers only allow notifications from a service worker: the panel still rings.
    }
  }
}

/** Ask for notification permission only after the person asked for it (a button). */
export async function requestNotificationPermission(): Promise<NotificationPermission> {
  if (typeof Notification === 'undefined') return 'denied';
  return Notification.requestPermission();
}
