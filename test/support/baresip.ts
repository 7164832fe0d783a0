/**
 * baresip (Debian `baresip-core`, 1.0.0) as a headless SIP desk phone for tests.
 *
 * Each instance gets its own config directory in a temp folder, listens for SIP on 127.0.0.1 only,
 * sends a 440 Hz sine as its microphone (PCMU), plays nothing, and is driven over `ctrl_tcp`:
 * netstring-framed JSON commands (`{"command":"dial","params":"sip:…","token":"…"}`) and events
 * (`{"event":true,"type":"CALL_INCOMING",…}`). It runs with `-s` (SIP trace) so every SIP message it
 * sends or receives lands in its log file, where `sipMessages()` finds them.
 *
 * See shared/reference/webrtc-sip-notes.md for why each config line is there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type BaresipTransport = 'udp' | 'tcp';

export interface BaresipAccount {
  /** User part of the address of record (and the auth user unless `authUser` is given). */
  user: string;
  /** Digest password (`auth_pass`). */
  password?: string;
  /** Registrar / domain as `host:port`; defaults to this phone's own SIP address (no registrar). */
  domain?: string;
  transport?: BaresipTransport;
  /** `auto`: baresip answers every incoming call at once; `manual`: the test calls `answer()`. */
  answer: 'auto' | 'manual';
  authUser?: string;
  displayName?: string;
}

export interface BaresipOptions {
  /** Names the temp dir and error messages. */
  name: string;
  account: BaresipAccount;
  /** Register with `account.domain` (default true). False: `regint=0`, reachable by direct IP dialling only. */
  register?: boolean;
  /** Registration interval in seconds (default 60). */
  regint?: number;
  /** How long to wait for ctrl_tcp (and, when registering, REGISTER_OK). Default 10 s. */
  startTimeoutMs?: number;
  /** The only audio codec this phone speaks: PCMU (default) or GSM (which no browser offers). */
  audioCodec?: 'PCMU' | 'GSM';
}

/** One ctrl_tcp event. `type` is baresip's event name (REGISTER_OK, CALL_INCOMING, CALL_CLOSED, …). */
export interface BaresipEvent {
  type: string;
  /** `register`, `call`, `application`, … */
  class?: string;
  accountaor?: string;
  direction?: 'incoming' | 'outgoing';
  peeruri?: string;
  /** baresip's call id (its own, not the SIP Call-ID). */
  id?: string;
  /** Free text: the reason of CALL_CLOSED ("Connection reset by user", "486 Busy Here"), the status of REGISTER_FAIL, … */
  param?: string;
  /** The whole decoded event. */
  raw: Record<string, unknown>;
  /** Milliseconds since the phone started (for rough timing in tests). */
  atMs: number;
}

/** RTP counters of the current call's audio stream, from the `audio_debug` command. */
export interface BaresipAudioStats {
  /** RTP packets sent. */
  txPackets: number;
  /** RTP packets received (from every remote source). */
  rxPackets: number;
  /** The whole text `audio_debug` printed. */
  text: string;
}

/** A SIP message seen in baresip's SIP trace (`-s`). */
export interface BaresipSipMessage {
  direction: 'sent' | 'received';
  transport: string;
  /** `host:port` as baresip printed them. */
  source: string;
  destination: string;
  /** The start line: `INVITE sip:… SIP/2.0` or `SIP/2.0 200 OK`. */
  startLine: string;
  /** Header lines and body as baresip printed them. */
  text: string;
}

type EventMatcher = string | ((event: BaresipEvent) => boolean);

/** Every running phone, so a crashed test run never leaves a baresip behind. */
const running = new Set<Baresip>();
process.once('exit', () => {
  for (const phone of running) phone.kill();
});

export class Baresip {
  /** Events in arrival order. */
  readonly events: BaresipEvent[] = [];
  private cursor = 0;
  private readonly waiters = new Set<() => void>();
  private readonly pending = new Map<string, { resolve: (data: string) => void; reject: (e: Error) => void }>();
  private nextToken = 1;
  private inbox = Buffer.alloc(0);
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private readonly startedAt = Date.now();

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly sipPort: number,
    readonly ctrlPort: number,
    /** Address of record, e.g. `sip:alice@127.0.0.1:5060`. */
    readonly aor: string,
    private readonly child: ChildProcess,
    private readonly logFile: string,
    private ctrl: Socket | undefined,
  ) {
    this.exitPromise = once(child, 'exit').then(() => {
      this.exited = true;
      running.delete(this);
      for (const p of this.pending.values()) p.reject(new Error(`baresip ${name} exited`));
      this.pending.clear();
      for (const w of this.waiters) w();
    });
  }

  static async start(options: BaresipOptions): Promise<Baresip> {
    // Free ports are found by probing, so another process can take one between the probe and
    // baresip's bind: then start again on other ports.
    for (let attempt = 1; ; attempt++) {
      try {
        return await Baresip.startOnce(options);
      } catch (error) {
        if (attempt >= 3 || !/Address already in use/.test(String(error))) throw error;
      }
    }
  }

  private static async startOnce(options: BaresipOptions): Promise<Baresip> {
    const { account } = options;
    const register = options.register ?? true;
    const transport = account.transport ?? 'udp';
    const startTimeoutMs = options.startTimeoutMs ?? 10_000;
    const dir = mkdtempSync(path.join(tmpdir(), `baresip-${options.name}-`));
    const sipPort = await freeUdpAndTcpPort();
    const ctrlPort = await freeUdpAndTcpPort();
    const domain = account.domain ?? `127.0.0.1:${sipPort}`;
    writeFileSync(path.join(dir, 'config'), configText(sipPort, ctrlPort));
    const params = [
      account.password !== undefined ? `auth_pass=${account.password}` : undefined,
      account.authUser !== undefined ? `auth_user=${account.authUser}` : undefined,
      `answermode=${account.answer}`,
      // regint=0: no REGISTER at all (direct IP dialling between phones).
      `regint=${register ? (options.regint ?? 60) : 0}`,
      `audio_codecs=${options.audioCodec ?? 'PCMU'}`,
    ].filter((p): p is string => p !== undefined);
    const display = account.displayName ? `"${account.displayName}" ` : '';
    const aor = `sip:${account.user}@${domain}`;
    writeFileSync(path.join(dir, 'accounts'), `${display}<${aor};transport=${transport}>;${params.join(';')}\n`);
    // The menu module prints a status line about every 100 ms and -s traces every SIP message:
    // a file takes that without back-pressure on baresip, a pipe nobody drains would block it.
    const logFile = path.join(dir, 'baresip.log');
    const logFd = openSync(logFile, 'a');
    const child = spawn('baresip', ['-f', dir, '-s'], {
      cwd: dir,
      stdio: ['ignore', logFd, logFd],
      // Own process group: stop()/kill() signal baresip and nothing else.
      detached: true,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    });
    closeSync(logFd);
    const phone = new Baresip(options.name, dir, sipPort, ctrlPort, aor, child, logFile, undefined);
    running.add(phone);
    try {
      phone.ctrl = await phone.connectCtrl(startTimeoutMs);
      if (register) await phone.waitForRegistration(startTimeoutMs);
    } catch (error) {
      await phone.stop();
      throw error;
    }
    return phone;
  }

  /**
   * Resolves once the account is registered. baresip registers as soon as it starts, often
   * before ctrl_tcp accepts us, so its REGISTER_OK event may never reach us: `reginfo` (which
   * prints OK or ERR next to the account) is asked as well, every 100 ms.
   */
  async waitForRegistration(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = this.events.find((e) => e.type === 'REGISTER_OK' || e.type === 'REGISTER_FAIL');
      // Colour codes around OK/ERR would hide the word boundaries.
      const info = event ? '' : (await this.command('reginfo')).replace(/\x1b\[[0-9;]*m/g, '');
      if (event?.type === 'REGISTER_OK' || /\bOK\b/.test(info)) return;
      if (event?.type === 'REGISTER_FAIL' || /\bERR\b/.test(info)) {
        throw new Error(`baresip ${this.name}: registration failed: ${event?.param ?? info}\n${this.log().slice(-3000)}`);
      }
      if (Date.now() > deadline) throw new Error(`baresip ${this.name}: not registered within ${timeoutMs} ms; reginfo: ${info}\n${this.log().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The whole log: menu output, baresip's messages and the SIP trace. */
  log(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  /**
   * Waits for the next event (after the one the previous call returned) that matches; events
   * skipped over are not looked at again, like `expect` reading a stream. Rejects on timeout or
   * when baresip exits.
   */
  waitForEvent(match: EventMatcher, timeoutMs = 5_000): Promise<BaresipEvent> {
    const test = typeof match === 'string' ? (e: BaresipEvent) => e.type === match : match;
    const what = typeof match === 'string' ? match : 'a matching event';
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = this.cursor; i < this.events.length; i++) {
          const event = this.events[i]!;
          if (test(event)) {
            this.cursor = i + 1;
            done();
            resolve(event);
            return;
          }
        }
        if (this.exited) {
          done();
          reject(new Error(`baresip ${this.name} exited while waiting for ${what}; events: ${this.eventSummary()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`baresip ${this.name}: no ${what} within ${timeoutMs} ms; events: ${this.eventSummary()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a ctrl_tcp command (a menu command's long name) and resolves with its text output. */
  command(command: string, params?: string, timeoutMs = 5_000): Promise<string> {
    const ctrl = this.ctrl;
    if (!ctrl || this.exited) return Promise.reject(new Error(`baresip ${this.name} is not running`));
    const token = String(this.nextToken++);
    const json = Buffer.from(JSON.stringify({ command, ...(params !== undefined ? { params } : {}), token }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`baresip ${this.name}: no response to ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, {
        resolve: (data) => {
          clearTimeout(timer);
          resolve(data);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      ctrl.write(Buffer.concat([Buffer.from(`${json.length}:`), json, Buffer.from(',')]));
    });
  }

  /** Places a call; the outcome arrives as events (CALL_RINGING, CALL_ESTABLISHED, CALL_CLOSED). */
  async dial(uri: string): Promise<void> {
    await this.command('dial', uri);
  }

  /** Answers the incoming call (answermode=manual). */
  async answer(): Promise<void> {
    await this.command('accept');
  }

  /** Ends the current call (BYE, CANCEL or a rejection, whichever fits its state). */
  async hangup(): Promise<void> {
    await this.command('hangup');
  }

  /**
   * RTP counters of the current call's audio stream (`audio_debug`; `callstat` shows only SDP).
   * Needs a call; the ctrl_tcp events carry no packet counts before RTCP reports arrive (~5 s).
   */
  async audioStats(): Promise<BaresipAudioStats> {
    const text = await this.command('audio_debug');
    return { ...parseAudioDebug(text), text };
  }

  /**
   * Waits until the current call has received at least `minPackets` RTP packets. baresip sends
   * no event per packet, so this asks `audio_debug` every 100 ms until then or the timeout.
   */
  async waitForRtp(minPackets: number, timeoutMs = 5_000): Promise<BaresipAudioStats> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stats = await this.audioStats();
      if (stats.rxPackets >= minPackets) return stats;
      if (Date.now() > deadline) throw new Error(`baresip ${this.name}: ${stats.rxPackets} RTP packets received within ${timeoutMs} ms, wanted ${minPackets}:\n${stats.text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIP messages from the trace, in order. */
  sipMessages(): BaresipSipMessage[] {
    return parseSipTrace(this.log(), this.sipPort);
  }

  /**
   * Stops baresip: it un-registers on SIGTERM; if the registrar is gone it would wait ~30 s for
   * answers (and ignore further SIGTERMs), so after `graceMs` it is killed.
   */
  async stop(graceMs = 2_000): Promise<void> {
    if (!this.exited) {
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
      await this.exitPromise;
      clearTimeout(timer);
    }
    this.ctrl?.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous SIGKILL, for exit handlers. */
  kill(): void {
    if (!this.exited) this.signal('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      // Already gone.
    }
  }

  private eventSummary(): string {
    return this.events.map((e) => (e.param ? `${e.type}(${e.param})` : e.type)).join(', ') || '(none)';
  }

  /** ctrl_tcp listens a little after start: retry until it accepts or the timeout passes. */
  private async connectCtrl(timeoutMs: number): Promise<Socket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw new Error(`baresip ${this.name} exited at start:\n${this.log()}`);
      try {
        const socket = connect(this.ctrlPort, '127.0.0.1');
        await once(socket, 'connect');
        socket.on('data', (chunk: Buffer) => this.onCtrlData(chunk));
        socket.on('error', () => undefined);
        return socket;
      } catch {
        if (Date.now() > deadline) throw new Error(`baresip ${this.name}: ctrl_tcp did not open within ${timeoutMs} ms:\n${this.log()}`);
        // Waiting for another process to open a port: there is no event to wait on.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private onCtrlData(chunk: Buffer): void {
    this.inbox = Buffer.concat([this.inbox, chunk]);
    for (;;) {
      const colon = this.inbox.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.inbox.subarray(0, colon).toString());
      if (!Number.isInteger(length)) throw new Error(`baresip ${this.name}: bad netstring from ctrl_tcp`);
      const end = colon + 1 + length;
      if (this.inbox.length < end + 1) return;
      const message = JSON.parse(this.inbox.subarray(colon + 1, end).toString()) as Record<string, unknown>;
      this.inbox = this.inbox.subarray(end + 1);
      this.onMessage(message);
    }
  }

  private onMessage(message: Record<string, unknown>): void {
    if (message.response === true) {
      const token = typeof message.token === 'string' ? message.token : '';
      const pending = this.pending.get(token);
      if (!pending) return;
      this.pending.delete(token);
      const data = typeof message.data === 'string' ? message.data : '';
      if (message.ok === false) pending.reject(new Error(`baresip ${this.name}: command failed: ${data}`));
      else pending.resolve(data);
      return;
    }
    if (message.event === true) {
      const str = (key: string) => (typeof message[key] === 'string' ? (message[key] as string) : undefined);
      this.events.push({
        type: str('type') ?? '',
        class: str('class'),
        accountaor: str('accountaor'),
        direction: str('direction') as BaresipEvent['direction'],
        peeruri: str('peeruri'),
        id: str('id'),
        param: str('param'),
        raw: message,
        atMs: Date.now() - this.startedAt,
      });
      for (const w of [...this.waiters]) w();
    }
  }
}

function configText(sipPort: number, ctrlPort: number): string {
  return `# Written by test/support/baresip.ts
poll_method epoll
sip_listen 127.0.0.1:${sipPort}
# Without it SDP and Contact may name another interface of the machine.
net_interface 127.0.0.1
call_local_timeout 120
call_max_calls 4
# ausine only works at 48 kHz stereo; otherwise the call sticks at 180 and ends with 486.
audio_source ausine,440
ausrc_srate 48000
ausrc_channels 2
# There is no null player: aubridge with no source plays nowhere.
audio_player aubridge,nil
audio_alert aubridge,nil
audio_buffer 20-160
rtcp_mux no
jitter_buffer_delay 5-10
# Prints an RTP packet summary into the log when a call ends.
rtp_stats yes
module_path /usr/lib/baresip/modules
module g711.so
module gsm.so
module ausine.so
module aubridge.so
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:${ctrlPort}
`;
}

/** A port that is free for both TCP and UDP on 127.0.0.1 (baresip listens on both with one number). */
async function freeUdpAndTcpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = createServer();
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const port = (tcp.address() as { port: number }).port;
    const udp = createSocket('udp4');
    const udpOk = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (udpOk) udp.close();
    tcp.close();
    await once(tcp, 'close');
    // baresip also opens SIP over TLS on the next port up: that one must be free too.
    if (udpOk && port < 65535 && (await tcpPortFree(port + 1))) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

async function tcpPortFree(port: number): Promise<boolean> {
  const probe = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) {
    probe.close();
    await once(probe, 'close');
  }
  return ok;
}

/**
 * Reads the audio stream's RTP counters from `audio_debug` output. baresip 1.0.0 prints, under
 * "RTCP Session", one line per remote member with `rcvd=N` (RTP packets received from it) and
 * `TX: packets=N` for what it sent.
 */
export function parseAudioDebug(text: string): { txPackets: number; rxPackets: number } {
  let rxPackets = 0;
  for (const m of text.matchAll(/\brcvd=(\d+)/g)) rxPackets += Number(m[1]);
  const tx = /\bTX: packets=(\d+)/.exec(text);
  return { txPackets: tx ? Number(tx[1]) : 0, rxPackets };
}

/**
 * Splits baresip's SIP trace (`-s`) into messages. Each is printed as
 * `ESC[36;1m#` / `UDP 127.0.0.1:A -> 127.0.0.1:B` / the message / `ESC[;m`.
 */
export function parseSipTrace(log: string, sipPort: number): BaresipSipMessage[] {
  const messages: BaresipSipMessage[] = [];
  const pattern = /\x1b\[36;1m#\r?\n(\w+) (\S+) -> (\S+)\r?\n([\s\S]*?)\x1b\[;m/g;
  for (const m of log.matchAll(pattern)) {
    const [, transport, source, destination, body] = m as unknown as [string, string, string, string, string];
    const text = body.replace(/\r\n/g, '\n');
    const startLine = text.slice(0, text.indexOf('\n')).trim();
    // The printed addresses are not enough on a TCP connection baresip opened (both ends are
    // then other ports than its own), but its own Via always names its listening port: a request
    // with our Via on top was sent by us, a response with our Via on top was received.
    const topVia = /^(?:Via|v):\s*SIP\/2\.0\/\w+\s+[^;:\s]+:(\d+)/im.exec(text);
    const ourVia = topVia !== null && Number(topVia[1]) === sipPort;
    const isResponse = startLine.startsWith('SIP/2.0');
    messages.push({
      direction: ourVia !== isResponse ? 'sent' : 'received',
      transport: transport.toLowerCase(),
      source,
      destination,
      startLine,
      text,
    });
  }
  return messages;
}
