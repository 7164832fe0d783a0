/**
 * The WebRTC side of an in-process session: werift does the control plane (SDP, ICE, the DTLS
 * handshake and its fingerprint check), the relay does the data plane.
 *
 * Why split it: werift's own media path builds objects for every packet (RtpPacket, header
 * extensions, buffer concatenations, NACK and stats bookkeeping, RTCP timers per track); the
 * notes measured a relay built on it at ~60 % of a core for 50 calls with 55 ms p99
 * added latency. Once DTLS has agreed the SRTP keys, werift's `startSrtp` is replaced (only for the
 * relay's own peer connections, marked with `FAST_PATH` in their configuration) by a hand-over of
 * the keys and the ICE connection: packets then go socket → decrypt in place (srtp.ts, OpenSSL
 * through node:crypto, with a replay window) → forward, and back.
 * ICE consent (STUN) and DTLS alerts still reach werift, which still reports failure and close.
 */
import type { Socket } from 'node:dgram';
import { RTCDtlsTransport, RTCPeerConnection, RTCRtpCodecParameters, type RTCRtpTransceiver } from 'werift';
import { SRTP_AES128_CM_HMAC_SHA1_80, SrtpContext } from './srtp.ts';

/**
 * The relay's peer connections, by their configuration object (werift hands that very object to
 * each DTLS transport it creates): their transports hand the SRTP keys to the function.
 */
const FAST_PATH = new WeakMap<object, (t: PatchedDtlsTransport) => void>();

interface IceConnection {
  onData: { subscribe(fn: (data: Buffer) => void): { unSubscribe(): void } };
  nominated?: { remoteAddr: [string, number]; protocol: { transport?: { socket?: Socket; onData?: (data: Buffer, addr: unknown) => void } } };
  state: string;
}

interface PatchedDtlsTransport {
  config: object;
  srtpStarted: boolean;
  srtpProfiles: number[];
  dtls?: { extractSessionKeys(keyLength: number, saltLength: number): { localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer } };
  iceTransport: { connection: IceConnection };
  onStateChange: { subscribe(fn: (state: string) => void): unknown };
  sendRtp: (...args: unknown[]) => Promise<number>;
  sendRtcp: (...args: unknown[]) => Promise<void>;
}

let installed = false;
function installFastPath(): void {
  if (installed) return;
  installed = true;
  const proto = RTCDtlsTransport.prototype as unknown as Record<string, (this: PatchedDtlsTransport, ...args: unknown[]) => unknown>;
  const start = proto.start!;
  const startSrtp = proto.startSrtp!;
  if (typeof start !== 'function' || typeof startSrtp !== 'function') throw new Error('werift changed: RTCDtlsTransport.start/startSrtp not found');
  proto.start = function (this: PatchedDtlsTransport, ...args: unknown[]) {
    // The relay's SRTP is AES_CM_128_HMAC_SHA1_80 only (the profile every browser offers).
    if (FAST_PATH.has(this.config)) this.srtpProfiles = [SRTP_AES128_CM_HMAC_SHA1_80];
    return start.apply(this, args);
  };
  proto.startSrtp = function (this: PatchedDtlsTransport, ...args: unknown[]) {
    const handOver = FAST_PATH.get(this.config);
    if (!handOver) return startSrtp.apply(this, args);
    if (this.srtpStarted) return;
    this.srtpStarted = true;
    // werift must not send media or RTCP of its own on this transport.
    this.sendRtp = async () => 0;
    this.sendRtcp = async () => {};
    handOver(this);
  };
}

export interface WebRtcLegOptions {
  address: string;
  portMin: number;
  portMax: number;
}

/** The codecs the relay lets werift negotiate (the answerer keeps the browser's payload types). */
function peerCodecs() {
  const audio = [
    new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 }),
    new RTCRtpCodecParameters({ mimeType: 'audio/G722', clockRate: 8000, payloadType: 9 }),
    new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, payloadType: 0 }),
    new RTCRtpCodecParameters({ mimeType: 'audio/PCMA', clockRate: 8000, payloadType: 8 }),
    new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 8000, payloadType: 126 }),
  ];
  const fb = [{ type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];
  const video = [
    new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: fb }),
    new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, payloadType: 97, rtcpFeedback: fb, parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' }),
  ];
  return { audio, video };
}

export class WebRtcLeg {
  readonly pc: RTCPeerConnection;
  /** Decrypted RTP from the browser: buf[0, len). Set by the session. */
  onRtp: (buf: Buffer, len: number) => void = () => {};
  onRtcp: (buf: Buffer, len: number) => void = () => {};
  /** ICE failed or DTLS closed: the browser is gone. */
  onFailed: (reason: string) => void = () => {};
  private srtpIn?: SrtpContext;
  private srtpOut?: SrtpContext;
  private connection?: IceConnection;
  private sentVia?: IceConnection['nominated'];
  private socket?: Socket;
  private remoteHost = '';
  private remotePort = 0;
  private closed = false;
  private failed = false;
  private readonly sessionId = String(Math.floor(Math.random() * 2 ** 31));
  private version = 0;

  constructor(private readonly options: WebRtcLegOptions) {
    installFastPath();
    const address = options.address;
    this.pc = new RTCPeerConnection({
      codecs: peerCodecs(),
      headerExtensions: { audio: [], video: [] },
      bundlePolicy: 'max-bundle',
      iceUseIpv6: address.includes(':'),
      iceUseIpv4: !address.includes(':'),
      iceInterfaceAddresses: address.includes(':') ? { udp6: address } : { udp4: address },
      // werift skips loopback interfaces when it lists host addresses: name the address outright.
      iceAdditionalHostAddresses: [address],
      icePortRange: [options.portMin, options.portMax],
      // Only pairs on the relay's own address: werift may still gather another interface.
      iceFilterCandidatePair: (pair: { localCandidate: { host: string } }) => pair.localCandidate.host === address,
    } as never);
    FAST_PATH.set(this.pc.config, (t) => this.takeOver(t));
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed' || state === 'closed') this.fail(`WebRTC connection ${state}`);
    });
    this.pc.iceConnectionStateChange.subscribe((state) => {
      if (state === 'failed' || state === 'closed') this.fail(`ICE ${state}`);
    });
  }

  get transceivers(): RTCRtpTransceiver[] {
    return this.pc.getTransceivers();
  }

  /** True once DTLS has given the keys: RTP can flow. */
  get ready(): boolean {
    return this.srtpOut !== undefined && !this.closed;
  }

  private fail(reason: string): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    this.onFailed(reason);
  }

  private takeOver(t: PatchedDtlsTransport): void {
    const keys = t.dtls!.extractSessionKeys(16, 14);
    this.srtpIn = new SrtpContext(keys.remoteKey, keys.remoteSalt);
    this.srtpOut = new SrtpContext(keys.localKey, keys.localSalt);
    this.connection = t.iceTransport.connection;
    this.connection.onData.subscribe(this.receive);
    // Straight from the selected pair's socket: RTP and RTCP skip werift's STUN parsing attempt
    // and its two event hops; STUN (consent) and DTLS still go to werift. Packets on any other
    // socket (after an ICE restart) still arrive through the subscription above.
    const udp = this.connection.nominated?.protocol.transport;
    if (udp && typeof udp.onData === 'function') {
      const toWerift = udp.onData;
      udp.onData = (data: Buffer, addr: unknown) => {
        const b0 = data[0]!;
        if (b0 >= 128 && b0 <= 191) this.receive(data);
        else toWerift(data, addr);
      };
    }
    t.onStateChange.subscribe((state) => {
      if (state === 'closed' || state === 'failed') this.fail(`DTLS ${state}`);
    });
  }

  private readonly receive = (data: Buffer): void => {
    const b0 = data[0]!;
    if (b0 < 128 || b0 > 191 || this.closed) return; // not RTP/RTCP (STUN, DTLS go to werift)
    const b1 = data[1]!;
    if (b1 >= 192 && b1 <= 223) {
      // RTCP multiplexed on the RTP port (RFC 5761 §4)
      const n = this.srtpIn!.unprotectRtcp(data, data.length);
      if (n > 0) this.onRtcp(data, n);
      return;
    }
    const n = this.srtpIn!.unprotectRtp(data, data.length);
    if (n > 0) this.onRtp(data, n);
  };

  private refreshRoute(): boolean {
    const pair = this.connection?.nominated;
    this.sentVia = pair;
    const socket = pair?.protocol.transport?.socket;
    if (!pair || !socket) {
      this.socket = undefined;
      return false;
    }
    this.socket = socket;
    this.remoteHost = pair.remoteAddr[0];
    this.remotePort = pair.remoteAddr[1];
    return true;
  }

  /** Encrypts and sends RTP in buf[0, len); buf must have SRTP_MAX_TRAILER spare bytes. */
  sendRtp(buf: Buffer, len: number): boolean {
    if (!this.srtpOut || this.closed) return false;
    if (this.connection!.nominated !== this.sentVia && !this.refreshRoute()) return false;
    if (!this.socket) return false;
    const n = this.srtpOut.protectRtp(buf, len);
    if (n < 0) return false;
    this.socket.send(buf, 0, n, this.remotePort, this.remoteHost);
    return true;
  }

  /** Encrypts and sends an RTCP compound packet in buf[0, len); buf must have SRTCP_MAX_TRAILER spare bytes. */
  sendRtcp(buf: Buffer, len: number): void {
    if (!this.srtpOut || this.closed) return;
    if (this.connection!.nominated !== this.sentVia && !this.refreshRoute()) return;
    if (!this.socket) return;
    const n = this.srtpOut.protectRtcp(buf, len);
    if (n > 0) this.socket.send(buf, 0, n, this.remotePort, this.remoteHost);
  }

  /**
   * The local description once ICE gathering is complete, fixed up for browsers: only the relay's
   * candidates, c= on its address, a stable o= line whose version grows with each description, and
   * port 9 instead of werift's port 0 on inactive sections (port 0 means "rejected" to Chromium).
   */
  async localSdp(): Promise<string> {
    if (this.pc.iceGatheringState !== 'complete') {
      await this.pc.iceGatheringStateChange.watch((s) => s === 'complete', 10_000);
    }
    const a = this.options.address;
    const ip = a.includes(':') ? 'IP6' : 'IP4';
    return onlyAddress(this.pc.localDescription!.sdp, a)
      .replace(/^o=.*$/m, `o=- ${this.sessionId} ${++this.version} IN ${ip} ${a}`)
      .replace(/^m=(audio|video) 0 /gm, 'm=$1 9 ');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pc.close().catch(() => {});
  }
}

/** Keeps the candidates on `address` (werift may list other interfaces) and points c= at it. */
export function onlyAddress(sdp: string, address: string): string {
  const ipv = address.includes(':') ? 'IP6' : 'IP4';
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || l.split(' ')[4] === address)
    .map((l) => (l.startsWith('c=IN ') ? `c=IN ${ipv} ${address}` : l))
    .join('\r\n');
}
