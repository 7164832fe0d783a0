/**
 * What the relay measures itself on the packets it forwards: RFC 3550 Appendix A.1 sequence
 * accounting (loss) and A.8 interarrival jitter, per received stream; RTT from RTCP sender and
 * receiver reports it relays. No allocation per packet.
 */

const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;

/** One side's received RTP (all its media lines). */
export class ReceiveStats {
  packets = 0;
  /** Packets sent to this side (forwarded from the other). */
  packetsSent = 0;
  /** performance.now() of the last packet; 0 = none yet. */
  lastAt = 0;
  private ssrc = -1;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private receivedThisSource = 0;
  private lostEarlierSources = 0;
  private lastTransit = 0;
  /** In RTP timestamp units × 16 (RFC 3550 A.8 keeps it scaled). */
  private jitterScaled = 0;
  private clockRate = 0;
  /** RTT from the last RTCP receiver report that answered a relayed sender report. */
  rttMs: number | null = null;

  /** Counts one RTP packet (header already checked), arriving at `nowMs` (performance.now()). */
  onPacket(ssrc: number, seq: number, timestamp: number, clockRate: number, nowMs: number): void {
    this.packets++;
    this.lastAt = nowMs;
    if (ssrc !== this.ssrc) {
      this.lostEarlierSources += this.lostThisSource();
      this.ssrc = ssrc;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
      this.receivedThisSource = 1;
      this.clockRate = clockRate;
      this.lastTransit = clockRate ? ((nowMs * clockRate) / 1000 - timestamp) | 0 : 0;
      return;
    }
    const delta = (seq - this.maxSeq) & 0xffff;
    if (delta < MAX_DROPOUT) {
      if (seq < this.maxSeq) this.cycles += 65536;
      this.maxSeq = seq;
    } else if (delta <= 65536 - MAX_MISORDER) {
      // A big jump: the sender restarted its sequence. Count from here.
      this.lostEarlierSources += this.lostThisSource();
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
      this.receivedThisSource = 0;
    }
    this.receivedThisSource++;
    if (clockRate && clockRate === this.clockRate) {
      const transit = ((nowMs * clockRate) / 1000 - timestamp) | 0;
      let d = transit - this.lastTransit;
      this.lastTransit = transit;
      if (d < 0) d = -d;
      this.jitterScaled += d - ((this.jitterScaled + 8) >> 4);
    } else if (clockRate) {
      this.clockRate = clockRate;
      this.lastTransit = ((nowMs * clockRate) / 1000 - timestamp) | 0;
    }
  }

  private lostThisSource(): number {
    if (this.ssrc < 0) return 0;
    const expected = this.cycles + this.maxSeq - this.baseSeq + 1;
    return Math.max(0, expected - this.receivedThisSource);
  }

  get lost(): number {
    return this.lostEarlierSources + this.lostThisSource();
  }

  get jitterMs(): number | null {
    if (this.ssrc < 0 || !this.clockRate) return null;
    return ((this.jitterScaled >> 4) * 1000) / this.clockRate;
  }
}

/**
 * Sender reports relayed towards a side, by their compact NTP time (LSR), so that side's receiver
 * report answering one gives the round trip between the relay and that side (RFC 3550 §6.4.1).
 */
export class RttProbe {
  private readonly sent = new Map<number, number>();

  srForwarded(lsr: number, nowMs: number): void {
    this.sent.set(lsr, nowMs);
    if (this.sent.size > 8) this.sent.delete(this.sent.keys().next().value!);
  }

  /** RTT in ms for a report block's LSR/DLSR, if it answers an SR relayed here. */
  rrReceived(lsr: number, dlsr: number, nowMs: number): number | null {
    const at = this.sent.get(lsr);
    if (at === undefined || lsr === 0) return null;
    const rtt = nowMs - at - (dlsr * 1000) / 65536;
    return rtt >= 0 ? rtt : 0;
  }
}
