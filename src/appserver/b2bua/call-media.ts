/**
 * Where a call's media goes. Between endpoints that speak the same (two browsers, two phones) the
 * SDP passes through and media flows peer to peer. Between a browser (WebRTC: ICE, DTLS-SRTP) and
 * a phone or trunk (plain RTP/AVP) the media relay bridges the two, and this class converts each
 * offer and answer through it: once per call for the caller's offer, once for the answering
 * device, and again for every re-INVITE.
 */
import type { MediaProfile, MediaRelay } from '../../media/index.ts';

/** What an SDP speaks: WebRTC (DTLS-SRTP/AVPF, ICE) or plain RTP/AVP. Undefined without media. */
export function sdpProfile(sdp: Buffer | string | undefined): MediaProfile | undefined {
  if (!sdp || sdp.length === 0) return undefined;
  const text = typeof sdp === 'string' ? sdp : sdp.toString('latin1');
  const protos = [...text.matchAll(/^m=\S+ \d+(?:\/\d+)? (\S+)/gm)].map((m) => m[1]!);
  if (protos.length === 0) return undefined;
  return protos.some((p) => p.includes('SAVPF') || p.includes('DTLS')) ? 'webrtc' : 'rtp';
}

/** Browsers register over WebSocket; everything else is a plain SIP endpoint. */
export function profileOfTransport(protocol: string): MediaProfile {
  return protocol === 'WS' || protocol === 'WSS' ? 'webrtc' : 'rtp';
}

export class CallMedia {
  private readonly offers = new Map<MediaProfile, Promise<Buffer>>();
  /** True once the relay holds a session for this call (so it must be deleted). */
  relayed = false;

  constructor(
    private readonly relay: MediaRelay | undefined,
    private readonly callId: string,
    /** The caller's offer and what it speaks. */
    private readonly offer: Buffer | undefined,
    readonly callerProfile: MediaProfile | undefined,
    /** The caller's SIP source address: the relay allows for NAT with it (RelayOffer.signallingSource). */
    private readonly callerSource?: string,
  ) {}

  /**
   * Whether a device of this profile needs the relay. Without a relay (tests of signalling alone)
   * the SDP passes through unchanged and the endpoints are left to it.
   */
  needsRelay(target: MediaProfile): boolean {
    return this.relay !== undefined && this.callerProfile !== undefined && this.callerProfile !== target;
  }

  /** The caller's offer as a device of `target` must receive it. Throws RelayError when it cannot be bridged. */
  offerFor(target: MediaProfile): Promise<Buffer | undefined> {
    if (!this.offer || !this.needsRelay(target)) return Promise.resolve(this.offer);
    let converted = this.offers.get(target);
    if (!converted) {
      this.relayed = true;
      converted = this.relay!.offer({ callId: this.callId, fromTag: 'a', sdp: this.offer.toString('utf8'), to: target, signallingSource: this.callerSource }).then((r) => Buffer.from(r.sdp));
      this.offers.set(target, converted);
    }
    return converted;
  }

  /** The answering device's SDP as the caller must receive it (`deviceSource`: its SIP address, for NAT). */
  async answerFor(deviceTag: string, deviceProfile: MediaProfile, sdp: Buffer, deviceSource?: string): Promise<Buffer> {
    if (!this.needsRelay(deviceProfile) || sdp.length === 0) return sdp;
    const r = await this.relay!.answer({ callId: this.callId, fromTag: 'a', toTag: deviceTag, sdp: sdp.toString('utf8'), signallingSource: deviceSource });
    return Buffer.from(r.sdp);
  }

  /** A re-INVITE's offer from one side, for the other (`fromTag` is 'a' or the device's tag). */
  async reoffer(fromTag: string, sdp: Buffer, to: MediaProfile, source?: string): Promise<Buffer> {
    if (!this.relayed || sdp.length === 0) return sdp;
    const r = await this.relay!.offer({ callId: this.callId, fromTag, sdp: sdp.toString('utf8'), to, signallingSource: source });
    return Buffer.from(r.sdp);
  }

  /** The answer to a re-INVITE, for its offerer. */
  async reanswer(fromTag: string, toTag: string, sdp: Buffer, source?: string): Promise<Buffer> {
    if (!this.relayed || sdp.length === 0) return sdp;
    const r = await this.relay!.answer({ callId: this.callId, fromTag, toTag, sdp: sdp.toString('utf8'), signallingSource: source });
    return Buffer.from(r.sdp);
  }

  async close(): Promise<void> {
    if (this.relayed) await this.relay?.delete(this.callId).catch(() => undefined);
  }
}
