/**
 * The join form and the call: camera and microphone preview with device pickers, then a video
 * call to the host through JsSIP over `/sip?invite=<token>&name=<name>`. The connection is bound to
 * the invitation by the gateway: no REGISTER, no password, one destination.
 */
import { UA, WebSocketInterface } from 'jssip';
import type { EndEvent, RTCSession } from 'jssip/lib/RTCSession';
import type { GuestConfig } from './config.ts';

/** How long to wait for more ICE candidates once the first arrived (JsSIP does not trickle). */
const ICE_GATHERING_GRACE_MS = 1000;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

/** Why the camera or microphone could not be used, in words a guest can act on. */
export function mediaErrorMessage(err: unknown): string {
  const name = (err as { name?: string } | undefined)?.name;
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Your browser blocked the camera and microphone for this page. Allow them (the camera icon in the address bar, or the site settings), then reload the page. You can still join, but the other side will not see or hear you.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera or microphone was found. Connect one and reload the page, or join without them.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera or microphone is in use by another program. Close it and reload the page, or join without them.';
    default:
      return 'The camera and microphone could not be started. Reload the page to try again, or join without them.';
  }
}

/** What a failed call means to the guest. */
export function failureText(host: string, e: EndEvent): string {
  const status = e.message && 'status_code' in e.message ? (e.message.status_code as number) : null;
  const reason = e.message && 'reason_phrase' in e.message ? (e.message.reason_phrase as string) : '';
  if (status === 403 && reason && reason !== 'Forbidden') return `${reason}.`;
  if (status === 486 || status === 600) return `${host} is busy. Try again in a moment.`;
  if (status === 603) return `${host} cannot take the call now.`;
  if (status === 480 || status === 408 || status === 404 || e.cause === 'Unavailable' || e.cause === 'No Answer' || e.cause === 'Request Timeout')
    return `${host} did not answer. Try again in a moment.`;
  if (e.cause === 'Connection Error') return 'Could not connect to the call. The invitation may have ended: reload the page.';
  if (e.cause === 'User Denied Media Access') return mediaErrorMessage({ name: 'NotAllowedError' });
  return `The call could not be connected${status ? ` (${status}${reason ? ` ${reason}` : ''})` : ''}. Try again.`;
}

export class GuestCall {
  private readonly form = byId<HTMLFormElement>('guest-join');
  private readonly nameInput = byId<HTMLInputElement>('guest-name');
  private readonly preview = byId<HTMLVideoElement>('guest-preview');
  private readonly previewBox = this.preview.parentElement!;
  private readonly cameraSelect = byId<HTMLSelectElement>('guest-camera');
  private readonly micSelect = byId<HTMLSelectElement>('guest-microphone');
  private readonly message = byId<HTMLParagraphElement>('guest-message');
  private readonly joinButton = byId<HTMLButtonElement>('guest-join-button');
  private readonly callBox = byId<HTMLElement>('guest-call');
  private readonly remote = byId<HTMLVideoElement>('guest-remote');
  private readonly status = byId<HTMLParagraphElement>('guest-status');
  private readonly muteButton = byId<HTMLButtonElement>('guest-mute');
  private readonly videoButton = byId<HTMLButtonElement>('guest-video');
  private readonly hangupButton = byId<HTMLButtonElement>('guest-hangup');

  private local: MediaStream | null = null;
  private ua: UA | undefined;
  private session: RTCSession | undefined;
  private iceTimer: ReturnType<typeof setTimeout> | undefined;
  private previewSeq = 0;

  constructor(private readonly config: GuestConfig) {}

  start(): void {
    // For tests and diagnostics, like the widget's: the call's RTCPeerConnection.
    (window as unknown as { ringside: object }).ringside = { peerConnection: () => this.session?.connection ?? null };
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.join();
    });
    this.cameraSelect.addEventListener('change', () => void this.startPreview());
    this.micSelect.addEventListener('change', () => void this.startPreview());
    navigator.mediaDevices?.addEventListener?.('devicechange', () => void this.listDevices());
    this.muteButton.addEventListener('click', () => this.toggle('audio'));
    this.videoButton.addEventListener('click', () => this.toggle('video'));
    this.hangupButton.addEventListener('click', () => {
      if (this.session && !this.session.isEnded()) this.session.terminate();
    });
    window.addEventListener('pagehide', () => {
      if (this.session && !this.session.isEnded()) this.session.terminate();
      this.ua?.stop();
    });
    void this.startPreview();
  }

  // ------------------------------------------------------------------ preview and devices

  private async startPreview(): Promise<void> {
    const seq = ++this.previewSeq;
    this.showMessage(null);
    if (!navigator.mediaDevices?.getUserMedia) {
      this.showMessage('This browser cannot use a camera here. Open the link in a current Chrome, Edge, Firefox or Safari.');
      return;
    }
    const camera = this.cameraSelect.value;
    const mic = this.micSelect.value;
    const previous = this.local;
    // Some cameras cannot be opened twice: release the old stream first (not during a call).
    if (previous && !this.session) previous.getTracks().forEach((t) => t.stop());
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: mic ? { deviceId: { exact: mic } } : true,
        video: camera ? { deviceId: { exact: camera }, width: { ideal: 640 }, height: { ideal: 480 } } : { width: { ideal: 640 }, height: { ideal: 480 } },
      });
    } catch (err) {
      if (seq !== this.previewSeq) return;
      // Perhaps only one of the two is missing or blocked: try each alone.
      const partial = await this.partialMedia();
      if (seq !== this.previewSeq) return partial?.getTracks().forEach((t) => t.stop());
      this.local = partial;
      this.preview.srcObject = partial;
      if (!partial) this.showMessage(mediaErrorMessage(err));
      else if (partial.getVideoTracks().length > 0) this.showMessage('The microphone could not be started: the other side will not hear you.');
      else this.showMessage('The camera could not be started: you will join with sound only.');
      await this.listDevices();
      return;
    }
    if (seq !== this.previewSeq) return stream.getTracks().forEach((t) => t.stop());
    this.local = stream;
    this.preview.srcObject = stream;
    await this.listDevices();
  }

  private async partialMedia(): Promise<MediaStream | null> {
    for (const constraints of [{ audio: true }, { video: true }] as MediaStreamConstraints[]) {
      try {
        return await navigator.mediaDevices.getUserMedia(constraints);
      } catch {
        // Next.
      }
    }
    return null;
  }

  /** Fills the pickers (labels are readable once access was granted) and marks what is in use. */
  private async listDevices(): Promise<void> {
    let devices: MediaDeviceInfo[] = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return;
    }
    const inUse = (kind: 'audio' | 'video') => this.local?.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
    this.fill(this.cameraSelect, devices.filter((d) => d.kind === 'videoinput'), inUse('video'), 'Camera');
    this.fill(this.micSelect, devices.filter((d) => d.kind === 'audioinput'), inUse('audio'), 'Microphone');
  }

  private fill(select: HTMLSelectElement, devices: MediaDeviceInfo[], current: string | undefined, noun: string): void {
    const options = devices.filter((d) => d.deviceId).map((d, i) => new Option(d.label || `${noun} ${i + 1}`, d.deviceId));
    if (options.length === 0) options.push(new Option(`No ${noun.toLowerCase()} available`, ''));
    select.replaceChildren(...options);
    select.disabled = options.length === 1 && options[0]!.value === '';
    if (current && devices.some((d) => d.deviceId === current)) select.value = current;
  }

  private showMessage(text: string | null): void {
    this.message.textContent = text ?? '';
    this.message.hidden = text === null;
  }

  // ------------------------------------------------------------------ the call

  private async join(): Promise<void> {
    const name = this.nameInput.value.trim().replace(/\s+/g, ' ');
    if (!name) {
      this.nameInput.setAttribute('aria-invalid', 'true');
      this.showMessage('Enter your name: it is shown to the person you call.');
      this.nameInput.focus();
      return;
    }
    this.nameInput.removeAttribute('aria-invalid');
    if (this.session) return;
    this.joinButton.disabled = true;
    this.showMessage(null);

    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocketInterface(`${scheme}://${location.host}${this.config.ws_path}&name=${encodeURIComponent(name)}`);
    const domain = this.config.target.replace(/^sips?:[^@]*@/, '').replace(/[;>].*$/, '') || location.hostname;
    const ua = new UA({
      sockets: [socket],
      uri: `sip:guest@${domain}`,
      display_name: name,
      register: false,
      session_timers: false,
      user_agent: 'Ringside guest (JsSIP)',
    });
    this.ua = ua;
    const connected = new Promise<boolean>((resolve) => {
      ua.on('connected', () => resolve(true));
      ua.on('disconnected', () => resolve(false));
    });
    ua.start();
    // A refused WebSocket means the link no longer lets this guest in: no retrying.
    if (!(await connected)) {
      ua.stop();
      this.ua = undefined;
      this.joinButton.disabled = false;
      this.showMessage('Could not connect to the call. The invitation may have ended or been cancelled: reload the page.');
      return;
    }

    const stream = this.local ?? new MediaStream();
    const session = ua.call(this.config.target, {
      mediaStream: stream,
      pcConfig: { iceServers: this.config.ice_servers, iceTransportPolicy: this.config.ice_transport_policy },
      // Always ready to receive the host's video and sound, even without a camera here.
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: true },
      eventHandlers: { peerconnection: (e) => this.watchPeerConnection(e.peerconnection) },
    });
    this.session = session;
    this.showCall(true);
    this.setStatus(`Calling ${this.config.host_name}…`);
    session.on('progress', () => this.setStatus(`Ringing ${this.config.host_name}…`));
    session.on('accepted', () => this.setStatus(`In the call with ${this.config.host_name}`));
    session.on('icecandidate', (e) => {
      if (this.config.ice_transport_policy === 'relay' && e.candidate.type === 'relay') return e.ready();
      if (!this.iceTimer) this.iceTimer = setTimeout(() => e.ready(), ICE_GATHERING_GRACE_MS);
    });
    session.on('sdp', (e) => {
      if (e.originator === 'local' && this.iceTimer) {
        clearTimeout(this.iceTimer);
        this.iceTimer = undefined;
      }
    });
    session.on('ended', (e) => this.ended(session, e, false));
    session.on('failed', (e) => this.ended(session, e, true));
  }

  private watchPeerConnection(pc: RTCPeerConnection): void {
    const remote = new MediaStream();
    this.remote.srcObject = remote;
    pc.addEventListener('track', (e) => {
      if (!remote.getTracks().includes(e.track)) remote.addTrack(e.track);
      void this.remote.play().catch(() => undefined);
    });
  }

  private ended(session: RTCSession, e: EndEvent, failed: boolean): void {
    if (session !== this.session) return;
    this.session = undefined;
    if (this.iceTimer) clearTimeout(this.iceTimer);
    this.iceTimer = undefined;
    this.ua?.stop();
    this.ua = undefined;
    this.remote.srcObject = null;
    // The preview keeps running: joining again needs no new permission.
    this.local?.getTracks().forEach((t) => (t.enabled = true));
    this.muteButton.setAttribute('aria-pressed', 'false');
    this.videoButton.setAttribute('aria-pressed', 'false');
    this.showCall(false);
    this.joinButton.disabled = false;
    const byHost = e.originator === 'remote';
    if (failed) this.showMessage(e.originator === 'local' && e.cause === 'Canceled' ? 'You left before the call was answered.' : failureText(this.config.host_name, e));
    else this.showMessage(byHost ? `${this.config.host_name} ended the call. You can join again while the invitation lasts.` : 'You left the call. You can join again while the invitation lasts.');
  }

  private toggle(kind: 'audio' | 'video'): void {
    const session = this.session;
    if (!session) return;
    const { audio, video } = session.isMuted();
    const on = kind === 'audio' ? !audio : !video;
    if (on) session.mute({ [kind]: true });
    else session.unmute({ [kind]: true });
    // Toggle buttons keep their names ("Mute", "Video off"); aria-pressed says whether they are on.
    (kind === 'audio' ? this.muteButton : this.videoButton).setAttribute('aria-pressed', String(on));
  }

  private showCall(inCall: boolean): void {
    this.form.hidden = inCall;
    this.callBox.hidden = !inCall;
    // The camera preview becomes the self view in the call, and goes back after.
    if (inCall) {
      this.preview.classList.add('guest-self');
      this.callBox.insertBefore(this.preview, this.status);
    } else {
      this.preview.classList.remove('guest-self');
      this.previewBox.append(this.preview);
    }
  }

  private setStatus(text: string): void {
    this.status.textContent = text;
  }
}
