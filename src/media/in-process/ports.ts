/**
 * UDP port pairs for the plain RTP side, from the configured range: an even port for RTP and the
 * next one for RTCP (RFC 3550 §11), so phones that assume "RTCP = RTP + 1" are right.
 *
 * Pairs are picked at random (security review #2): with sequential allocation the port of the
 * next call is known from the last one, which makes aiming packets at a call about to start easy.
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { RelayError } from '../types.ts';

export interface PortPair {
  port: number;
  rtp: Socket;
  rtcp: Socket;
}

/** Socket buffers large enough that a burst of 50 calls does not drop (the kernel caps them). */
const SOCKET_BUFFER_BYTES = 256 * 1024;

/** Random picks before falling back to a scan (the range is nearly full by then). */
const RANDOM_TRIES = 32;

export class PortPool {
  private readonly inUse = new Set<number>();

  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly address: string,
  ) {
    if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1024 && max <= 65535 && max - min >= 1)) {
      throw new RangeError(`media port range ${min}-${max} is not a range of ports from 1024 to 65535`);
    }
  }

  get used(): number {
    return this.inUse.size;
  }

  /** Binds a free pair; a port some other program holds is skipped. RelayError(503) when none is left. */
  async bindPair(): Promise<PortPair> {
    const first = this.min + (this.min % 2);
    const pairs = Math.floor((this.max - first + 1) / 2);
    for (const port of this.candidates(first, pairs)) {
      if (this.inUse.has(port)) continue;
      this.inUse.add(port);
      const rtp = await bind(port, this.address);
      if (!rtp) {
        this.inUse.delete(port);
        continue;
      }
      const rtcp = await bind(port + 1, this.address);
      if (!rtcp) {
        rtp.close();
        this.inUse.delete(port);
        continue;
      }
      return { port, rtp, rtcp };
    }
    throw new RelayError(`no free media port pair left in ${this.min}-${this.max}`, 503);
  }

  /** Even ports to try: a few at random, then every pair once from a random starting point. */
  private *candidates(first: number, pairs: number): Generator<number> {
    if (pairs <= 0) return;
    for (let i = 0; i < RANDOM_TRIES && this.inUse.size < pairs; i++) yield first + 2 * randomInt(pairs);
    const start = randomInt(pairs);
    for (let i = 0; i < pairs; i++) yield first + 2 * ((start + i) % pairs);
  }

  release(pair: PortPair): void {
    if (!this.inUse.delete(pair.port)) return;
    for (const s of [pair.rtp, pair.rtcp]) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}

async function bind(port: number, address: string): Promise<Socket | undefined> {
  const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES });
  try {
    socket.bind(port, address);
    await once(socket, 'listening'); // rejects on 'error' (EADDRINUSE)
    socket.on('error', () => {}); // ICMP port unreachable and the like: nothing to do for RTP
    return socket;
  } catch {
    socket.close();
    return undefined;
  }
}
