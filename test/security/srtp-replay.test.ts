/**
 * Security review #25: SRTP input had no replay window (RFC 3711 §3.3.2). Someone who captured a
 * browser's SRTP packets (on the path, or on the same Wi-Fi) sends them to the relay again, from
 * their own address and spoofing the browser's: the relay must not play them to the phone a
 * second time. The browser is a werift peer (DTLS-SRTP with werift's own SRTP), the phone a plain
 * RTP socket, the relay the in-process one (rtpengine has its own SRTP and replay list).
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessRelay } from '../../src/media/index.ts';
import { waitFor } from '../support/wait.ts';
import { RtpPeer, WeriftPeer } from '../support/werift-peer.ts';

const LOOPBACK = '127.0.0.1';

/** The browser side of werift's selected ICE pair: its socket and where it sends (the relay). */
interface IceRoute {
  socket: Socket;
  remote: { address: string; port: number };
}

function iceRoute(peer: WeriftPeer): IceRoute {
  const connection = (peer.pc.iceTransports[0] as unknown as { connection: { nominated?: { protocol: { transport: { socket: Socket } }; remoteCandidate: { host: string; port: number } } } }).connection;
  const pair = connection.nominated;
  if (!pair) throw new Error('werift has no selected ICE pair yet');
  return { socket: pair.protocol.transport.socket, remote: { address: pair.remoteCandidate.host, port: pair.remoteCandidate.port } };
}

/** Copies of the SRTP (not SRTCP, not STUN or DTLS) datagrams the browser sends: a packet capture. */
function captureSrtp(route: IceRoute, into: Buffer[], count: number): void {
  const send = route.socket.send.bind(route.socket) as (...args: unknown[]) => void;
  (route.socket as unknown as { send: (...args: unknown[]) => void }).send = (msg: unknown, ...rest: unknown[]) => {
    const srtp = Buffer.isBuffer(msg) && msg[0]! >= 128 && msg[0]! <= 191 && !(msg[1]! >= 192 && msg[1]! <= 223);
    if (srtp && into.length < count) into.push(Buffer.from(msg));
    send(msg, ...rest);
  };
}

describe('SRTP replay into the relay (security review #25)', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('does not forward a captured browser SRTP packet replayed into the relay to the phone', async () => {
    const relay = new InProcessRelay({ portMin: 24200, portMax: 24299 });
    const browser = new WeriftPeer();
    const phone = await RtpPeer.open();
    const attacker = createSocket('udp4');
    attacker.bind(0, LOOPBACK);
    await once(attacker, 'listening');
    cleanups.push(
      () => relay.close(),
      () => browser.close(),
      () => phone.close(),
      () => attacker.close(),
    );
    // What the phone hears, by RTP sequence number (the relay forwards the browser's unchanged).
    const heard = new Map<number, number>();
    phone.socket.on('message', (msg: Buffer) => {
      if (msg.length >= 12 && msg[0]! >> 6 === 2) heard.set(msg.readUInt16BE(2), (heard.get(msg.readUInt16BE(2)) ?? 0) + 1);
    });

    const callId = `replay-${process.pid}`;
    const offer = await relay.offer({ callId, fromTag: 'browser', sdp: await browser.createOffer(), to: 'rtp' });
    phone.useRemote(offer.sdp);
    const answer = await relay.answer({ callId, fromTag: 'browser', toTag: 'phone', sdp: phone.sdp() });
    await browser.acceptAnswer(answer.sdp);
    await browser.connected();

    // The browser talks for a second; the attacker records its SRTP packets.
    const route = iceRoute(browser);
    const captured: Buffer[] = [];
    captureSrtp(route, captured, 50);
    for (let i = 0; i < 50; i++) browser.sendPacket();
    await waitFor(() => captured.length >= 50, { what: 'the browser to send 50 SRTP packets' });
    const capturedSeqs = captured.map((p) => p.readUInt16BE(2));
    await waitFor(() => capturedSeqs.every((s) => heard.has(s)), { what: 'the phone to hear the 50 packets' });

    // Replay: from the attacker's own socket, and spoofing the browser's address and port.
    for (const p of captured) attacker.send(p, route.remote.port, route.remote.address);
    for (const p of captured) route.socket.send(p, route.remote.port, route.remote.address);
    // Then the browser says something new; once the phone has heard it, the replays were handled.
    const before = heard.size;
    for (let i = 0; i < 10; i++) browser.sendPacket();
    await waitFor(() => heard.size >= before + 10, { what: 'the phone to hear 10 new packets' });

    const repeated = [...heard].filter(([, times]) => times > 1).map(([seq]) => seq);
    expect(repeated).toEqual([]);
    expect(heard.size).toBe(60);
  });
});
