/**
 * The media relay's contract, shaped like rtpengine's ng protocol (offer / answer / delete, keyed
 * by call id and tags), so the in-process relay and rtpengine are interchangeable.
 *
 * The B2BUA calls the relay only for a call between a WebRTC endpoint (a browser: ICE,
 * DTLS-SRTP, rtcp-mux, AVPF) and a plain RTP endpoint (a SIP phone or trunk: RTP/AVP). Between
 * two browsers media stays peer to peer and the relay is not involved.
 *
 * One call = one relay session with two sides: the offerer's (`fromTag`) and the answerer's
 * (`toTag`). When a call forks to several plain phones, the same converted offer goes to each;
 * only the answering one's SDP reaches `answer()`.
 */

/** What an SDP's media lines speak. */
export type MediaProfile = 'webrtc' | 'rtp';

export interface RelayOffer {
  /** Ringside's call id (one relay session per call). */
  callId: string;
  /** The offering leg. */
  fromTag: string;
  /** The offerer's SDP. */
  sdp: string;
  /** What the other side speaks: the SDP returned is for it. */
  to: MediaProfile;
  /**
   * The IP address the offerer's SIP request came from (its UDP source, or its TCP/TLS peer).
   * For a plain (phone or trunk) offerer the relay also takes its media from this address, on any
   * port: a phone behind NAT announces a private address in its SDP. Without it, media is taken
   * only from the exact address and port the SDP names.
   */
  signallingSource?: string;
}

export interface RelayAnswer {
  callId: string;
  /** The offering leg, as given to `offer()`. */
  fromTag: string;
  /** The answering leg. */
  toTag: string;
  /** The answerer's SDP (in the profile `offer()` was asked for). */
  sdp: string;
  /** The IP address the answerer's SIP response came from (see RelayOffer.signallingSource). */
  signallingSource?: string;
}

export interface RelayedSdp {
  /** The SDP to send on: to the answerer after `offer()`, back to the offerer after `answer()`. */
  sdp: string;
}

/** Media figures of one side of a session, for call quality (issue 6). */
export interface RelayLegStats {
  tag: string;
  packetsReceived: number;
  packetsSent: number;
  packetsLost: number;
  /** Interarrival jitter in ms (RFC 3550), when known. */
  jitterMs: number | null;
  /** Round-trip time in ms from RTCP, when known. */
  rttMs: number | null;
}

export class RelayError extends Error {
  constructor(
    message: string,
    /** The SIP status the B2BUA should answer with: 488 for SDP it cannot bridge. */
    readonly sipStatus = 488,
  ) {
    super(message);
    this.name = 'RelayError';
  }
}

export interface MediaRelay {
  readonly kind: 'in-process' | 'rtpengine';
  /**
   * Starts (or re-offers, for a re-INVITE) a session: converts the offerer's SDP for the other
   * side. Throws RelayError(488) when nothing can be bridged without transcoding (no common codec,
   * no media, missing fingerprint on a WebRTC offer …).
   */
  offer(request: RelayOffer): Promise<RelayedSdp>;
  /** Completes the session with the answerer's SDP; returns the SDP for the offerer. */
  answer(request: RelayAnswer): Promise<RelayedSdp>;
  /** Ends a session (or one side of it) and frees its ports. Idempotent. */
  delete(callId: string): Promise<void>;
  stats(callId: string): Promise<RelayLegStats[]>;
  /**
   * Called when a session's media stopped flowing for longer than the media timeout (a browser
   * vanished): the B2BUA hangs the call up.
   */
  onMediaTimeout?: (callId: string) => void;
  close(): Promise<void>;
}
