/**
 * Security review #26 (rtpengine bullet): the ng client took a reply from any source address, so
 * whoever sent a datagram with the right cookie first decided the SDP of a call (its media pointed
 * at them). Here the attacker even knows the cookie (the strongest case): its forged reply reaches
 * Ringside's ng socket before rtpengine's own, and must be ignored.
 *
 * "rtpengine" is a UDP socket on 127.0.0.1 that answers ng requests (bencode) the way rtpengine
 * does; the attacker is another socket on 127.0.0.1.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpengineRelay } from '../../src/media/index.ts';
import { encode } from '../../src/media/rtpengine/bencode.ts';
import { RtpPeer } from '../support/werift-peer.ts';

const LOOPBACK = '127.0.0.1';

async function udp(): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.bind(0, LOOPBACK);
  await once(socket, 'listening');
  return socket;
}

/** An SDP answer as rtpengine gives a browser: its own address and a port of its range. */
function relayedSdp(port: number): string {
  return ['v=0', `o=- 1 1 IN IP4 ${LOOPBACK}`, 's=-', `c=IN IP4 ${LOOPBACK}`, 't=0 0', `m=audio ${port} UDP/TLS/RTP/SAVPF 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', 'a=rtcp-mux', 'a=setup:actpass', 'a=fingerprint:sha-256 00:11', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuv', ''].join('\r\n');
}

describe('rtpengine ng replies (security review #26)', () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });

  it("takes an offer's reply only from rtpengine's address and port, not a forged one with the right cookie", async () => {
    const rtpengine = await udp();
    const attacker = await udp();
    sockets.push(rtpengine, attacker);
    const ATTACKER_PORT = attacker.address().port;
    const RTPENGINE_MEDIA_PORT = 30_002;
    rtpengine.on('message', (msg: Buffer, from: RemoteInfo) => {
      const cookie = msg.toString('latin1', 0, msg.indexOf(0x20));
      const reply = (port: number) => Buffer.concat([Buffer.from(`${cookie} `), encode({ result: 'ok', sdp: relayedSdp(port) })]);
      // The forged reply leaves first; rtpengine's own follows once it is on its way.
      attacker.send(reply(ATTACKER_PORT), from.port, from.address, () => rtpengine.send(reply(RTPENGINE_MEDIA_PORT), from.port, from.address));
    });

    const relay = new RtpengineRelay({ ng: `${LOOPBACK}:${rtpengine.address().port}`, timeoutMs: 2000 });
    const phone = await RtpPeer.open();
    try {
      const offer = await relay.offer({ callId: 'spoof-1', fromTag: 'phone', sdp: phone.sdp(), to: 'webrtc' });
      expect(offer.sdp).toMatch(new RegExp(`^m=audio ${RTPENGINE_MEDIA_PORT} `, 'm'));
      expect(offer.sdp).not.toMatch(new RegExp(`^m=audio ${ATTACKER_PORT} `, 'm'));
    } finally {
      phone.close();
      await relay.close().catch(() => {});
    }
  });
});
