/**
 * rtpengine's ng control protocol over UDP: each request is `<cookie> <bencoded dict>`, the reply
 * `<cookie> <bencoded dict>` with `result: ok | pong | error` (and `error-reason`). A lost datagram
 * is retried with the same cookie, which rtpengine recognises and answers from its cache, so a
 * retried offer never creates a second session.
 *
 * Replies are taken only from rtpengine's own address and port (security review #26): the
 * socket is connected to it, so the kernel drops datagrams from anyone else, and each reply's
 * source is checked again. Otherwise anyone who guessed a cookie could answer an offer with SDP
 * that points a call's media at themselves.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { decode, encode, type BencodeValue } from './bencode.ts';

export type NgDict = { [key: string]: BencodeValue };

export class NgError extends Error {
  constructor(
    message: string,
    /** rtpengine said `result: error` (as opposed to: did not answer). */
    readonly fromRtpengine: boolean,
  ) {
    super(message);
    this.name = 'NgError';
  }
}

export interface NgClientOptions {
  /** `host:port` of rtpengine's --listen-ng. */
  address: string;
  /** Wait per attempt (default 1000 ms). */
  timeoutMs?: number;
  /** Attempts before giving up (default 3). */
  attempts?: number;
}

export class NgClient {
  private socket?: Socket;
  private opening?: Promise<Socket>;
  private readonly host: string;
  private readonly port: number;
  private readonly pending = new Map<string, (reply: NgDict) => void>();
  private readonly prefix = randomBytes(4).toString('hex');
  /** rtpengine's address and port as the connected socket resolved them. */
  private peer?: AddressInfo;
  private seq = 0;

  constructor(private readonly options: NgClientOptions) {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(options.address);
    if (!m || Number(m[2]) > 65535) throw new RangeError(`rtpengine ng address ${options.address} is not host:port`);
    this.host = m[1]!;
    this.port = Number(m[2]);
  }

  private open(): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.opening ??= (async () => {
      const socket = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
      socket.on('message', (msg, rinfo) => this.receive(msg, rinfo));
      socket.on('error', () => {});
      socket.bind(0, this.host.includes(':') ? '::' : this.host === '127.0.0.1' || this.host === 'localhost' ? '127.0.0.1' : undefined);
      await once(socket, 'listening');
      socket.connect(this.port, this.host);
      await once(socket, 'connect');
      this.peer = socket.remoteAddress();
      this.socket = socket;
      return socket;
    })();
    return this.opening;
  }

  private receive(msg: Buffer, from: RemoteInfo): void {
    if (!this.peer || from.address !== this.peer.address || from.port !== this.peer.port) return;
    const space = msg.indexOf(0x20);
    if (space <= 0) return;
    const cookie = msg.toString('latin1', 0, space);
    const resolve = this.pending.get(cookie);
    if (!resolve) return; // a late duplicate
    let reply: BencodeValue;
    try {
      reply = decode(msg.subarray(space + 1));
    } catch {
      return;
    }
    if (reply && typeof reply === 'object' && !Array.isArray(reply)) resolve(reply);
  }

  /** Sends one command; resolves with the reply dict, rejects with NgError on error or silence. */
  async request(command: string, args: NgDict = {}): Promise<NgDict> {
    const socket = await this.open();
    const cookie = `${this.prefix}_${++this.seq}`;
    const datagram = Buffer.concat([Buffer.from(`${cookie} `), encode({ ...args, command })]);
    const timeoutMs = this.options.timeoutMs ?? 1000;
    const attempts = this.options.attempts ?? 3;
    try {
      const reply = await new Promise<NgDict>((resolve, reject) => {
        let tries = 0;
        let timer: NodeJS.Timeout | undefined;
        const attempt = () => {
          if (tries++ >= attempts) {
            reject(new NgError(`rtpengine at ${this.options.address} did not answer ${command} (${attempts} tries, ${timeoutMs} ms each)`, false));
            return;
          }
          socket.send(datagram);
          timer = setTimeout(attempt, timeoutMs);
        };
        this.pending.set(cookie, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        attempt();
      });
      if (reply.result === 'error') throw new NgError(`rtpengine ${command}: ${String(reply['error-reason'] ?? 'error')}`, true);
      return reply;
    } finally {
      this.pending.delete(cookie);
    }
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
    this.peer = undefined;
    this.opening = undefined;
  }
}
