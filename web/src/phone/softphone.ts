/**
 * The SIP user agent of this browser: JsSIP over the WebSocket at `/sip`, registered as the
 * signed-in user, with at most one call. Only the leader tab runs one (see tabs/coordinator.ts).
 *
 * No SIP password: the WebSocket upgrade carries the session cookie (or, where no cookie reaches
 * the page, a short-lived token in the URL from the owner's socket URL provider, asked anew for
 * every connection), and the gateway binds the connection to that user, so REGISTER and INVITE
 * are accepted without a digest challenge.
 * Everything a person sees is in `state` (plain data, mirrored to the other tabs); the media
 * streams stay here, for the leader's own panel.
 */
import { UA, WebSocketInterface } from 'jssip';
import type { DTMF_TRANSPORT } from 'jssip/lib/Constants';
import type { EndEvent, RTCSession } from 'jssip/lib/RTCSession';
import type { IncomingMessageEvent, IncomingRTCSessionEvent, OutgoingMessageEvent, RTCSessionEvent } from 'jssip/lib/UA';
import { api, measureQuality, type CallQuality } from './api.ts';
import { audioConstraints, videoConstraints } from './devices.ts';
import { MICROPHONE_BLOCKED, failureMessage, registrationMessage } from './messages.ts';
import { INITIAL_STATE, type CallView, type Command, type CrmCard, type CrmMatch, type Notice, type PhoneState, type RecordRef, type ScreenPop, type SoftphoneSettings } from './model.ts';
import { Ringer } from './ringer.ts';
import { sdpHasTelephoneEvent, sdpHasVideo, sdpSendsVideo } from './sdp.ts';
import { ProvidedUrlSocket, type SocketUrlProvider } from './socket.ts';
import { parseTarget } from './target.ts';

export type { SocketUrlProvider } from './socket.ts';

export interface SoftphoneMedia {
  /** What the other side sends (audio and video tracks as they arrive). */
  remote: MediaStream | null;
  /** Our camera, for the self view. */
  localVideo: MediaStream | null;
}

export interface SoftphoneHooks {
  onState(state: PhoneState): void;
  onMedia(media: SoftphoneMedia): void;
  /** The WebSocket closed: the owner checks whether the web session is still alive. */
  onConnectionLost(): void;
}

/** How long to wait for more ICE candidates once the first arrived (JsSIP does not trickle). */
const ICE_GATHERING_GRACE_MS = 1000;
/** How often a call's quality is sampled (the last sample is what the server gets at hang-up). */
const QUALITY_SAMPLE_MS = 2000;
/** Every this many samples the figures are also posted during the call. */
const QUALITY_POST_EVERY = 5;
/** How long our Hang up waits for the quality to be posted. */
const QUALITY_HANGUP_WAIT_MS = 400;
/** An ICE connection 'disconnected' this long is restarted rather than waited for. */
const ICE_DISCONNECTED_RESTART_MS = 3000;

export class Softphone {
  state: PhoneState;
  private ua: UA | undefined;
  private session: RTCSession | undefined;
  private remoteStream: MediaStream | null = null;
  private cameraStream: MediaStream | null = null;
  private pendingExtension: string | null = null;
  private readonly ringer = new Ringer();
  private noticeSeq = 0;
  private iceTimer: ReturnType<typeof setTimeout> | undefined;
  private qualityTimer: ReturnType<typeof setInterval> | undefined;
  private quality: CallQuality | null = null;
  private qualitySent: CallQuality | null = null;
  private readonly cleanup: (() => void)[] = [];
  /** Screen pops by the server's call id: one may arrive just before its INVITE. */
  private readonly pops = new Map<string, ScreenPop>();

  constructor(
    private readonly settings: SoftphoneSettings,
    private readonly hooks: SoftphoneHooks,
    initial: Partial<PhoneState> = {},
    /** Where to connect, asked before every (re)connection; default: `ws_path` with the cookie. */
    private readonly socketUrl?: SocketUrlProvider,
  ) {
    this.state = {
      ...INITIAL_STATE,
      ...initial,
      user: { name: settings.user.name, uri: settings.sip.uri, extension: settings.user.extension },
    };
  }

  get peerConnection(): RTCPeerConnection | null {
    return this.session?.connection ?? null;
  }

  get media(): SoftphoneMedia {
    return { remote: this.remoteStream, localVideo: this.cameraStream };
  }

  start(): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const base = `${scheme}://${location.host}${this.settings.sip.ws_path}`;
    const socket = this.socketUrl ? new ProvidedUrlSocket(base, this.socketUrl) : new WebSocketInterface(base);
    const ua = new UA({
      sockets: [socket],
      uri: this.settings.sip.uri,
      display_name: this.settings.sip.display_name,
      register: true,
      register_expires: 300,
      // The B2BUA does not take part in RFC 4028 session timers: refreshing re-INVITEs would only
      // travel to the other browser and back. The WebSocket and the relay's media timeout
      // already notice a vanished peer.
      session_timers: false,
      // JsSIP's own reconnection: a random wait that doubles per attempt, 2 s up to 30 s.
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
      user_agent: 'Ringside widget (JsSIP)',
    });
    this.ua = ua;
    ua.on('connecting', (e) => this.setRegistration('connecting', e.attempts > 1 ? `reconnecting, attempt ${e.attempts}` : null));
    ua.on('connected', () => this.setRegistration('connecting', null));
    ua.on('disconnected', () => {
      this.setRegistration('offline', 'connection lost, retrying');
      this.hooks.onConnectionLost();
    });
    ua.on('registered', () => {
      // For bench/widget.ts: page load (the navigation's time origin) to first registration.
      if (performance.getEntriesByName('ringside:registered').length === 0) performance.mark('ringside:registered');
      this.setRegistration('registered', null);
    });
    ua.on('unregistered', () => {
      if (this.state.registration.status !== 'offline') this.setRegistration('offline', 'not registered');
    });
    ua.on('registrationFailed', (e) => this.setRegistration('offline', registrationMessage(e.cause, e.response?.status_code ?? null)));
    ua.on('newMessage', (e: IncomingMessageEvent | OutgoingMessageEvent) => {
      // JsSIP answers 200 itself. Ringside data comes only from the server's own MESSAGE,
      // outside any dialog (src/appserver/app-server.ts notifyUser): the other party of a call
      // can send MESSAGEs inside its dialog, and must not be able to forge a pop.
      if (e.originator !== 'remote') return;
      const request = (e as IncomingMessageEvent).request;
      if (!/^application\/vnd\.ringside\+json/i.test(request.getHeader('Content-Type') ?? '')) return;
      if (!this.fromServer(request)) return;
      try {
        const body = JSON.parse(request.body) as { type?: string };
        if (body.type === 'screen-pop') this.onScreenPop(body as ScreenPop);
      } catch {
        // Not JSON: nothing we understand.
      }
    });
    ua.on('newRTCSession', (e: RTCSessionEvent) => {
      if (e.originator === 'remote') this.onIncoming(e as IncomingRTCSessionEvent);
    });
    this.listen(window, 'online', () => this.restartIce('network back online'));
    const connection = (navigator as Navigator & { connection?: EventTarget }).connection;
    if (connection) this.listen(connection, 'change', () => this.restartIce('network changed'));
    ua.start();
    void this.watchMicrophonePermission();
  }

  /** A request the server itself sent: out of dialog (no To tag), From `sip:ringside@<our domain>`. */
  private fromServer(request: IncomingMessageEvent['request']): boolean {
    if (request.to.hasParam('tag')) return false;
    const from = request.from.uri;
    return from.scheme === 'sip' && from.user === 'ringside' && from.host.toLowerCase() === this.settings.sip.domain.toLowerCase();
  }

  /** Hangs up, unregisters and closes the WebSocket. */
  stop(): void {
    this.ringer.stop();
    if (this.session && !this.session.isEnded()) this.session.terminate();
    this.ua?.stop();
    this.ua = undefined;
    for (const off of this.cleanup.splice(0)) off();
    this.stopCamera();
  }

  execute(command: Command): void {
    try {
      this.run(command);
    } catch (err) {
      this.notify('error', err instanceof Error ? err.message : String(err));
    }
  }

  private run(command: Command): void {
    const session = this.session;
    switch (command.type) {
      case 'call':
        return this.call(command.target, command.record ?? null, command.ext ?? null);
      case 'answer':
        return this.answer();
      case 'decline':
        if (session && this.state.call?.phase === 'ringing-in') session.terminate({ status_code: 603, reason_phrase: 'Decline' });
        return;
      case 'hangup':
        if (session && !session.isEnded()) void this.hangUp(session);
        return;
      case 'mute':
        if (!session?.isEstablished()) return;
        if (command.on) session.mute({ audio: true });
        else session.unmute({ audio: true });
        return;
      case 'hold':
        if (!session?.isEstablished()) return;
        if (!(command.on ? session.hold() : session.unhold())) this.notify('info', 'The call is busy changing; try again in a moment');
        return;
      case 'dtmf':
        return this.sendTone(command.tone);
      case 'video':
        void this.setVideo(command.on);
        return;
      case 'devices':
        void this.applyDevices();
        return;
      case 'dismiss-notice':
        this.update({ notice: null });
        return;
      case 'choose-record':
        return this.chooseRecord(command.callId, command.record);
      case 'dismiss-wrap-up':
        this.update({ wrapUp: null });
        return;
    }
  }

  // ------------------------------------------------------------------ calls

  private call(input: string, record: RecordRef | null, ext: string | null): void {
    if (this.session) return this.notify('info', 'Finish the current call first');
    if (!this.ua?.isConnected()) return this.notify('error', 'The phone is offline: the call cannot be placed now');
    const target = parseTarget(input, this.settings.sip.domain);
    if (!target) return this.notify('error', 'Enter a number, an extension or a SIP address');
    const video = this.state.videoPreferred;
    const headers = record ? [`X-Ringside-Record: ${headerToken(record.type)}:${headerToken(record.id)}`] : [];
    const session = this.ua.call(target.uri, {
      mediaConstraints: { audio: audioConstraints(), video: video ? videoConstraints() : false },
      pcConfig: this.pcConfig(),
      // Always ready to receive video: the other side may turn its camera on without us.
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: true },
      extraHeaders: headers,
      eventHandlers: { peerconnection: (e) => this.watchPeerConnection(e.peerconnection) },
    });
    this.pendingExtension = ext ?? target.extension;
    this.attach(session, {
      id: session.id,
      serverCallId: null,
      direction: 'outgoing',
      phase: 'dialing',
      remote: { name: record?.name ?? null, number: target.display },
      record,
      startedAt: Date.now(),
      answeredAt: null,
      muted: false,
      held: false,
      localVideo: video,
      remoteVideo: false,
      offersVideo: false,
      crm: null,
    });
  }

  private onIncoming(e: IncomingRTCSessionEvent): void {
    const { session, request } = e;
    if (this.session) {
      // One call at a time here; the server rings the user's other devices meanwhile.
      session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
      return;
    }
    const name = request.from.display_name?.trim() || null;
    const number = request.from.uri.user ?? request.from.uri.toAor();
    const offersVideo = sdpHasVideo(request.body ?? '');
    session.on('peerconnection', (pe) => this.watchPeerConnection(pe.peerconnection));
    this.attach(session, {
      id: session.id,
      serverCallId: request.hasHeader('X-Ringside-Call') ? request.getHeader('X-Ringside-Call') : null,
      direction: 'incoming',
      phase: 'ringing-in',
      remote: { name, number },
      record: null,
      startedAt: Date.now(),
      answeredAt: null,
      muted: false,
      held: false,
      localVideo: false,
      remoteVideo: sdpSendsVideo(request.body ?? ''),
      offersVideo,
      crm: null,
    });
    const serverCallId = this.state.call?.serverCallId;
    const pop = serverCallId ? this.pops.get(serverCallId) : undefined;
    if (pop) this.onScreenPop(pop);
    this.ringer.start(name ? `${name} (${number})` : number);
  }

  private answer(): void {
    const session = this.session;
    const call = this.state.call;
    if (!session || call?.phase !== 'ringing-in') return;
    this.ringer.stop();
    const video = this.state.videoPreferred && call.offersVideo;
    session.answer({
      mediaConstraints: { audio: audioConstraints(), video: video ? videoConstraints() : false },
      pcConfig: this.pcConfig(),
    });
    this.updateCall({ localVideo: video });
  }

  private attach(session: RTCSession, call: CallView): void {
    this.session = session;
    this.remoteStream = new MediaStream();
    this.quality = null;
    this.qualitySent = null;
    this.update({ call, notice: null, wrapUp: null });
    this.emitMedia();
    session.on('progress', () => {
      if (this.state.call?.phase === 'dialing') this.updateCall({ phase: 'ringing-out' });
    });
    session.on('accepted', () => {
      this.ringer.stop();
      this.updateCall({ phase: 'active', answeredAt: Date.now() });
      this.captureLocalVideo(session);
      this.sampleQuality(session);
    });
    session.on('confirmed', () => {
      const ext = this.pendingExtension;
      this.pendingExtension = null;
      // An extension behind a main number: give the far end's menu a moment to start listening.
      if (ext) setTimeout(() => this.sendTone(ext), 1500);
    });
    session.on('hold', (e) => {
      if (e.originator === 'local') this.updateCall({ held: true });
    });
    session.on('unhold', (e) => {
      if (e.originator === 'local') this.updateCall({ held: false });
    });
    session.on('muted', () => this.updateCall({ muted: true }));
    session.on('unmuted', () => this.updateCall({ muted: false }));
    session.on('icecandidate', (e) => {
      // Non-trickle ICE waits for gathering to complete, which an unreachable STUN/TURN server
      // stretches to many seconds. A relay candidate (relay-only policy) or a short grace after the
      // first candidate is enough.
      if (this.settings.ice_transport_policy === 'relay' && e.candidate.type === 'relay') return e.ready();
      if (!this.iceTimer) this.iceTimer = setTimeout(() => e.ready(), ICE_GATHERING_GRACE_MS);
    });
    session.on('sdp', (e) => {
      if (e.originator === 'local' && this.iceTimer) {
        clearTimeout(this.iceTimer);
        this.iceTimer = undefined;
      }
      if (e.originator === 'remote') this.updateCall({ remoteVideo: sdpSendsVideo(e.sdp) });
    });
    session.on('getusermediafailed', (err: unknown) => {
      const name = (err as { name?: string } | undefined)?.name;
      if (name === 'NotAllowedError' || name === 'SecurityError') this.update({ microphone: 'denied' });
    });
    session.on('ended', (e) => this.end(session, e, false));
    session.on('failed', (e) => this.end(session, e, true));
  }

  private end(session: RTCSession, e: EndEvent, failed: boolean): void {
    if (session !== this.session) return;
    const call = this.state.call;
    this.ringer.stop();
    this.session = undefined;
    this.pendingExtension = null;
    if (this.iceTimer) clearTimeout(this.iceTimer);
    this.iceTimer = undefined;
    if (this.qualityTimer) clearInterval(this.qualityTimer);
    this.qualityTimer = undefined;
    this.stopCamera();
    this.remoteStream = null;
    this.emitMedia();
    const status = e.message && 'status_code' in e.message ? e.message.status_code : null;
    const reasonPhrase = e.message && 'reason_phrase' in e.message ? e.message.reason_phrase : null;
    let notice: Notice | null = null;
    if (failed) {
      const text = failureMessage({ status, reasonPhrase, cause: e.cause, originator: e.originator }, call?.direction ?? 'outgoing');
      // Declining or cancelling ourselves needs no alarm; everything else is worth saying.
      const quiet = e.originator === 'local' && (e.cause === 'Canceled' || e.cause === 'Rejected');
      if (text === MICROPHONE_BLOCKED) this.state = { ...this.state, microphone: 'denied' };
      notice = { kind: quiet ? 'info' : 'error', text, id: ++this.noticeSeq };
    } else {
      const seconds = call?.answeredAt ? Math.round((Date.now() - call.answeredAt) / 1000) : 0;
      notice = { kind: 'info', text: `Call ended (${formatSeconds(seconds)})`, id: ++this.noticeSeq };
    }
    this.update({ call: null, notice, wrapUp: call ? this.wrapUpOf(call) : null });
    // Hung up from the other side: the last sample (the session's connection is closed by now).
    if (call?.serverCallId && call.answeredAt && this.quality && this.quality !== this.qualitySent) void this.postQuality(call.serverCallId, this.quality);
    this.quality = null;
    this.qualitySent = null;
  }

  /**
   * Our Hang up: the call's quality goes to the server first (briefly waited for), so the call's
   * activity, written when the call ends, carries the browser's figures.
   */
  private async hangUp(session: RTCSession): Promise<void> {
    const call = this.state.call;
    const pc = session.connection;
    if (call?.serverCallId && call.phase === 'active' && pc) {
      const callId = call.serverCallId;
      const posted = measureQuality(pc)
        .then((q) => {
          if (q) this.quality = q;
          return this.quality ? this.postQuality(callId, this.quality) : undefined;
        })
        .catch(() => undefined);
      await Promise.race([posted, new Promise((resolve) => setTimeout(resolve, QUALITY_HANGUP_WAIT_MS))]);
    }
    if (!session.isEnded()) session.terminate();
  }

  private async postQuality(callId: string, quality: CallQuality): Promise<void> {
    this.qualitySent = quality;
    await api('POST', `/calls/${encodeURIComponent(callId)}/quality`, quality).catch(() => undefined);
  }

  /** What stays of a call for its wrap-up notes: only calls the server knows (it keeps the notes). */
  private wrapUpOf(call: CallView): PhoneState['wrapUp'] {
    const record = call.crm?.matches.find((m) => m.id === call.crm?.chosen) ?? null;
    if (!call.serverCallId || !call.answeredAt || (call.crm?.colleague && !record)) return null;
    return {
      callId: call.serverCallId,
      name: record?.name ?? call.remote.name ?? call.crm?.callerName ?? call.crm?.numberDisplay ?? call.remote.number,
      numberDisplay: call.crm?.numberDisplay ?? call.remote.number,
      direction: call.direction,
      durationS: call.answeredAt ? Math.round((Date.now() - call.answeredAt) / 1000) : null,
      record,
    };
  }

  /** Samples getStats while the call is up: the last figures go to the server when it ends. */
  private sampleQuality(session: RTCSession): void {
    if (this.qualityTimer) clearInterval(this.qualityTimer);
    let samples = 0;
    const sample = () => {
      const pc = session.connection;
      if (!pc || session !== this.session) return;
      void measureQuality(pc)
        .then((q) => {
          if (!q || session !== this.session) return;
          this.quality = q;
          // Now and then to the server too: a call the other side ends still has recent figures.
          const callId = this.state.call?.serverCallId;
          if (callId && ++samples % QUALITY_POST_EVERY === 1) void this.postQuality(callId, q);
        })
        .catch(() => undefined);
    };
    this.qualityTimer = setInterval(sample, QUALITY_SAMPLE_MS);
    setTimeout(sample, 500);
  }

  /** A tab picked the record (or added it): the card shows it everywhere. */
  private chooseRecord(callId: string, record: CrmMatch): void {
    const call = this.state.call;
    if (call?.serverCallId === callId && call.crm) {
      const matches = call.crm.matches.some((m) => m.id === record.id) ? call.crm.matches : [record, ...call.crm.matches];
      this.updateCall({ crm: { ...call.crm, matches, chosen: record.id } });
      return;
    }
    const wrapUp = this.state.wrapUp;
    if (wrapUp?.callId === callId) this.update({ wrapUp: { ...wrapUp, record, name: record.name } });
  }

  /** The CRM's view of the caller (or of whom we call), shown on the call card. */
  private onScreenPop(pop: ScreenPop): void {
    this.pops.set(pop.call_id, pop);
    while (this.pops.size > 20) this.pops.delete(this.pops.keys().next().value!);
    const call = this.state.call;
    if (!call) return;
    // Incoming calls carry the server's id (X-Ringside-Call); our own call learns it from its pop.
    const ours =
      call.serverCallId === pop.call_id ||
      (call.direction === 'outgoing' && pop.direction === 'outbound' && call.serverCallId === null && call.crm === null);
    if (!ours) return;
    const matches = (pop.matches ?? [])
      .filter((m) => /^(https?:|\/)/.test(m.url))
      .slice(0, 5)
      .map((m) => ({ ...m, url: sameSite(m.url) }));
    // Click-to-dial names the record; a single match needs no picking.
    const linked = pop.linked ?? (call.record ? { type: call.record.type, id: call.record.id } : null);
    const chosen = linked && matches.some((m) => m.id === linked.id) ? linked.id : matches.length === 1 ? matches[0]!.id : null;
    const crm: CrmCard = {
      callerName: pop.caller_name,
      colleague: pop.colleague,
      matches,
      number: pop.number ?? null,
      numberDisplay: pop.number_display ?? null,
      chosen,
    };
    this.updateCall({ serverCallId: pop.call_id, crm });
  }

  private sendTone(tones: string): void {
    const session = this.session;
    if (!session?.isEstablished() || !/^[0-9A-D#*]+$/i.test(tones)) return;
    // RFC 4733 telephone-events in the RTP stream when both sides negotiated them; SIP INFO
    // (application/dtmf-relay) otherwise, which the server relays to the other leg.
    const rfc4733 = sdpHasTelephoneEvent(session.connection?.remoteDescription?.sdp ?? '');
    session.sendDTMF(tones, { transportType: (rfc4733 ? 'RFC2833' : 'INFO') as DTMF_TRANSPORT, duration: 160, interToneGap: 80 });
  }

  // ------------------------------------------------------------------ media

  private pcConfig(): RTCConfiguration {
    // The default bundle policy ('balanced'): with 'max-bundle' Firefox offers video on port 0
    // marked bundle-only, which SIP endpoints that know nothing of BUNDLE read as "no video".
    return { iceServers: this.settings.ice_servers, iceTransportPolicy: this.settings.ice_transport_policy };
  }

  private watchPeerConnection(pc: RTCPeerConnection): void {
    let disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
    pc.addEventListener('track', (e) => {
      if (!this.remoteStream) this.remoteStream = new MediaStream();
      if (!this.remoteStream.getTracks().includes(e.track)) this.remoteStream.addTrack(e.track);
      this.emitMedia();
    });
    pc.addEventListener('iceconnectionstatechange', () => {
      if (disconnectedTimer) clearTimeout(disconnectedTimer);
      disconnectedTimer = undefined;
      // 'failed' needs nothing here: JsSIP ends the call itself then (RTP timeout). A path that
      // stays 'disconnected' (a network change the browser noticed first) gets new candidates.
      if (pc.iceConnectionState === 'disconnected') {
        disconnectedTimer = setTimeout(() => {
          if (pc.iceConnectionState === 'disconnected') this.restartIce('connection interrupted');
        }, ICE_DISCONNECTED_RESTART_MS);
      }
    });
  }

  /** New ICE credentials and candidates over a re-INVITE: a new network path for the call. */
  private restartIce(why: string): void {
    const session = this.session;
    if (!session?.isEstablished() || !session.isReadyToReOffer()) return;
    const done = session.renegotiate({ rtcOfferConstraints: { iceRestart: true, offerToReceiveAudio: true, offerToReceiveVideo: true } });
    if (done) this.notify('info', `Reconnecting the call's media (${why})`);
  }

  /** The camera track JsSIP started for a video call, for the self view. */
  private captureLocalVideo(session: RTCSession): void {
    const track = session.connection?.getSenders().find((s) => s.track?.kind === 'video')?.track;
    if (track && !this.cameraStream) {
      this.cameraStream = new MediaStream([track]);
      this.emitMedia();
    }
  }

  private videoTransceiver(pc: RTCPeerConnection): RTCRtpTransceiver | undefined {
    return pc.getTransceivers().find((t) => t.receiver.track.kind === 'video' && t.currentDirection !== 'stopped');
  }

  /** Before a call: the preference. During one: camera on (re-INVITE when needed) or off. */
  private async setVideo(on: boolean): Promise<void> {
    const session = this.session;
    const pc = session?.connection;
    if (!session || !pc || this.state.call?.phase !== 'active') {
      this.update({ videoPreferred: on });
      return;
    }
    const transceiver = this.videoTransceiver(pc);
    if (!on) {
      await transceiver?.sender.replaceTrack(null);
      this.stopCamera();
      this.updateCall({ localVideo: false });
      return;
    }
    let track: MediaStreamTrack | undefined;
    try {
      track = (await navigator.mediaDevices.getUserMedia({ video: videoConstraints() })).getVideoTracks()[0];
    } catch (err) {
      this.notify('error', (err as Error).name === 'NotAllowedError' ? 'Camera blocked: allow the camera for this site, then try again.' : 'The camera could not be started');
      return;
    }
    if (!track || this.session !== session) {
      track?.stop();
      return;
    }
    this.stopCamera();
    this.cameraStream = new MediaStream([track]);
    const sending = transceiver && (transceiver.currentDirection === 'sendrecv' || transceiver.currentDirection === 'sendonly');
    if (transceiver && sending) {
      // Already negotiated to send: swap the track in, no signalling needed.
      await transceiver.sender.replaceTrack(track);
    } else {
      if (transceiver) {
        transceiver.direction = 'sendrecv';
        await transceiver.sender.replaceTrack(track);
      } else pc.addTrack(track, this.cameraStream);
      if (!session.renegotiate({ rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: true } })) {
        this.notify('info', 'The call is busy changing; try again in a moment');
      }
    }
    this.updateCall({ localVideo: true });
    this.emitMedia();
  }

  private stopCamera(): void {
    for (const t of this.cameraStream?.getTracks() ?? []) t.stop();
    this.cameraStream = null;
  }

  /** The person picked another microphone or camera: swap it into the call in progress. */
  private async applyDevices(): Promise<void> {
    const pc = this.session?.connection;
    if (!pc || !this.session?.isEstablished()) return;
    const audioSender = pc.getSenders().find((s) => s.track?.kind === 'audio');
    if (audioSender) {
      const track = (await navigator.mediaDevices.getUserMedia({ audio: audioConstraints() })).getAudioTracks()[0];
      if (track) {
        const old = audioSender.track;
        track.enabled = !this.state.call?.muted;
        await audioSender.replaceTrack(track);
        old?.stop();
      }
    }
    if (this.state.call?.localVideo) await this.setVideo(true);
  }

  private async watchMicrophonePermission(): Promise<void> {
    try {
      const status = await navigator.permissions.query({ name: 'microphone' as PermissionName });
      const apply = () => this.update({ microphone: status.state });
      apply();
      status.onchange = apply;
    } catch {
      // Firefox cannot be asked about the microphone: we learn it when a call starts.
    }
  }

  // ------------------------------------------------------------------ state

  private setRegistration(status: PhoneState['registration']['status'], reason: string | null): void {
    const r = this.state.registration;
    if (r.status === status && r.reason === reason) return;
    this.update({ registration: { status, reason } });
  }

  private notify(kind: Notice['kind'], text: string): void {
    this.update({ notice: { kind, text, id: ++this.noticeSeq } });
  }

  private updateCall(patch: Partial<CallView>): void {
    if (!this.state.call) return;
    this.update({ call: { ...this.state.call, ...patch } });
  }

  private update(patch: Partial<PhoneState>): void {
    this.state = { ...this.state, ...patch };
    this.hooks.onState(this.state);
  }

  private emitMedia(): void {
    this.hooks.onMedia(this.media);
  }

  private listen(target: EventTarget, type: string, handler: () => void): void {
    target.addEventListener(type, handler);
    this.cleanup.push(() => target.removeEventListener(type, handler));
  }
}

/**
 * A record URL on this page's own host, as a path: the built-in CRM's pages open in place (Turbo,
 * the call goes on) even when the server's idea of its public port differs from the page's.
 * Another CRM's URL (Salesforce) stays as it is.
 */
function sameSite(url: string): string {
  try {
    const u = new URL(url, location.href);
    return u.hostname === location.hostname ? `${u.pathname}${u.search}${u.hash}` : url;
  } catch {
    return url;
  }
}

/** A record type or id as it may appear in a header: nothing that could end the header line. */
function headerToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]/g, '');
}

export function formatSeconds(total: number): string {
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${m}:${String(s).padStart(2, '0')}`;
}
