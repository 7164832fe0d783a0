/**
 * The transports of a running Ringside, over real sockets on 127.0.0.1: SIP over WebSocket and
 * TCP reach devices on their own connection; oversized, garbled and flooding input gets a clear
 * answer or a drop and nothing else changes.
 */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, type SipResponse } from '../message/index.ts';
import { TransportLayer } from './transport-layer.ts';
import type { Source } from './types.ts';
import { startServer, type TestServer } from '../../../test/support/server.ts';
import { TestPhone } from '../../../test/support/sip-phone.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { WeriftPeer } from '../../../test/support/werift-peer.ts';
import { WsSipClient } from '../../../test/support/ws-sip-client.ts';

const OPTIONS = (branch: string, extra = '') =>
  `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${branch};rport\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\n` +
  `To: <sip:127.0.0.1>\r\nCall-ID: ${branch}@t\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n${extra}Content-Length: 0\r\n\r\n`;

/** Sends datagrams from one socket and collects the responses. */
async function udpClient() {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const responses: SipResponse[] = [];
  socket.on('message', (buf) => {
    try {
      const m = parseMessage(buf);
      if (!m.isRequest) responses.push(m);
    } catch {
      // ignore
    }
  });
  return { socket, responses, send: (data: string | Buffer, port: number) => socket.send(data, port, '127.0.0.1') };
}

describe('SIP transports', () => {
  let server: TestServer;
  let udpPort: number;

  beforeAll(async () => {
    server = await startServer();
    udpPort = server.ringside.sip.ports.udp!;
  });
  afterAll(async () => server?.stop());

  it('registers a browser-like client over WebSocket and reaches it on its connection only', async () => {
    const wsUrl = `${server.url.replace('http', 'ws')}/sip`;
    const browser = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'ringside-demo', domain: '127.0.0.1' });
    const registered = await browser.register();
    expect(registered.status).toBe(200);
    expect(registered.header('Require')).toBe('outbound');

    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: udpPort } });
    await bob.register();
    const result = bob.call('alice');
    const invite = await browser.nextRequest('INVITE');
    expect(invite.uri.toString()).toMatch(/\.invalid;transport=ws$/);
    expect(invite.topVia.transport).toBe('WS');
    browser.respond(invite, 180, { toTag: 'ws1' });
    // Bob's RTP offer reaches the browser through the media relay as WebRTC; a real peer answers.
    const peer = new WeriftPeer();
    browser.respond(invite, 200, { toTag: 'ws1', sdp: Buffer.from(await peer.answer(invite.body.toString())) });
    expect((await result).status).toBe(200);
    await peer.close();
    await browser.nextRequest('ACK');
    await bob.hangUp();
    const bye = await browser.nextRequest('BYE');
    browser.respond(bye, 200);

    // The connection closes: the binding goes with it.
    const aliceId = (await server.ringside.sip.users.find('alice'))!.id;
    expect(await server.ringside.sip.location.bindings(aliceId)).toHaveLength(1);
    await browser.close();
    await waitFor(async () => (await server.ringside.sip.location.bindings(aliceId)).length === 0, { what: 'binding removed' });
    expect((await bob.call('alice')).status).toBe(480);
    await bob.close();
  });

  it('refuses a WebSocket without the sip subprotocol', async () => {
    const wsUrl = `${server.url.replace('http', 'ws')}/sip`;
    await expect(WsSipClient.connect(wsUrl, { user: 'x', password: 'x', domain: 'x', protocols: ['chat'] })).rejects.toThrow(/400/);
  });

  it('registers and rings a phone over TCP, on the connection it registered on', async () => {
    const desk = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.tcp! }, protocol: 'TCP' });
    expect((await desk.register()).status).toBe(200);
    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: udpPort } });
    expect((await bob.call('alice')).status).toBe(200);
    expect(desk.calls[0]!.request.topVia.transport).toBe('TCP');
    await bob.hangUp();
    await desk.nextRequest('BYE');
    await Promise.all([desk.close(), bob.close()]);
  });

  it('closes a WebSocket that sends a message beyond the 64 KB cap', async () => {
    const client = await WsSipClient.connect(`${server.url.replace('http', 'ws')}/sip`, { user: 'x', password: 'x', domain: 'x' });
    const closed = once(client.ws, 'close');
    client.ws.send(OPTIONS('big', `X-Padding: ${'a'.repeat(70 * 1024)}\r\n`));
    const [code] = (await closed) as [number];
    expect(code).toBe(1009); // Message Too Big
  });

  it('closes a TCP connection that announces a body beyond the cap, after saying why', async () => {
    const socket = net.connect(server.ringside.sip.ports.tcp!, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (d) => (received += d.toString()));
    socket.write(OPTIONS('huge').replace('Content-Length: 0', 'Content-Length: 900000'));
    await once(socket, 'close');
    expect(received).toMatch(/^SIP\/2\.0 513/);
  });

  it('answers garbage with 400 where it can, drops the rest, and keeps serving', async () => {
    const client = await udpClient();
    client.send(Buffer.from([0xff, 0x00, 0x13, 0x37, 0x0d, 0x0a]), udpPort);
    client.send('INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKnoid;rport\r\nCSeq: x INVITE\r\n\r\n', udpPort);
    client.send(OPTIONS('bad').replace('Max-Forwards: 70', 'Max-Forwards: seventy'), udpPort);
    client.send('SIP/2.0 200 OK\r\n\r\n', udpPort);
    client.send(OPTIONS('alive'), udpPort);
    await waitFor(() => client.responses.some((r) => r.callId === 'alive@t'));
    await waitFor(() => client.responses.some((r) => r.callId === 'bad@t'));
    expect(client.responses.find((r) => r.callId === 'bad@t')!.status).toBe(400);
    client.socket.close();
  });

  it('stops forwarding at Max-Forwards 0 (483 Too Many Hops)', async () => {
    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: udpPort } });
    const client = await udpClient();
    client.send(
      OPTIONS('loop').replace(/OPTIONS/g, 'INVITE').replace('Max-Forwards: 70', 'Max-Forwards: 0'),
      udpPort,
    );
    const r = await waitFor(() => client.responses.find((x) => x.callId === 'loop@t' && x.status >= 200));
    expect(r.status).toBe(483);
    client.socket.close();
    await bob.close();
  });
});

describe('SIP over TLS', () => {
  it('serves SIPS_PORT with the configured certificate and rings a phone on its TLS connection', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ringside-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const server = await startServer({ env: { TLS_CERT: cert, TLS_KEY: key } });
    try {
      const tlsPort = server.ringside.sip.ports.tls!;
      expect(tlsPort).toBeGreaterThan(0);
      const desk = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: tlsPort }, protocol: 'TLS', tls: { ca: readFileSync(cert) } });
      expect((await desk.register()).status).toBe(200);
      const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! } });
      expect((await bob.call('alice')).status).toBe(200);
      expect(desk.calls[0]!.request.topVia.transport).toBe('TLS');
      await bob.hangUp();
      await desk.nextRequest('BYE');
      await Promise.all([desk.close(), bob.close()]);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SIP flood protection', () => {
  it('answers a flood from one address with 503 Retry-After, then drops it, without stopping others', async () => {
    const server = await startServer({ env: { SIP_RATE_LIMIT: '20' } });
    const port = server.ringside.sip.ports.udp!;
    const client = await udpClient();
    try {
      for (let i = 0; i < 300; i++) client.send(OPTIONS(`flood${i}`), port);
      await waitFor(() => client.responses.some((r) => r.status === 503));
      const answered = client.responses.filter((r) => r.status === 200).length;
      expect(answered).toBeLessThanOrEqual(41); // the burst allowance (2 s worth), not 300
      const busy = client.responses.find((r) => r.status === 503)!;
      expect(busy.header('Retry-After')).toBe('5');
      // The server still works (a TCP client is another source as far as the limiter goes only by address,
      // so check the web side and that the limiter refills).
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      client.socket.close();
      await server.stop();
    }
  });
});

describe('registrations', () => {
  it('survive a restart', async () => {
    const first = await startServer();
    const port = first.ringside.sip.ports.udp!;
    const desk = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port } });
    expect((await desk.register()).status).toBe(200);
    await first.stop({ keepData: true });
    const second = await startServer({ dataDir: first.dataDir, env: { SIP_PORT: String(port) } });
    try {
      const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port } });
      expect((await bob.call('alice')).status).toBe(200);
      expect(desk.calls).toHaveLength(1);
      await bob.hangUp();
      await Promise.all([bob.close(), desk.close()]);
    } finally {
      await second.stop();
    }
  });
});

describe('SIP over WebSocket behind a reverse proxy', () => {
  it('reports the address clientAddress gives as the flow’s remote address (for caps, rate limits and failure counts)', async () => {
    const transport = new TransportLayer({ maxFlowsPerAddress: 1 });
    const sources: Source[] = [];
    transport.delegate = { onMessage: (_m, source) => sources.push(source) };
    const server = http.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    // What H4's TRUST_PROXY code does with X-Forwarded-For; here a test header stands in for it.
    transport.attachWebSocket(server, { path: '/sip', secure: false, host: '127.0.0.1', port, clientAddress: (request) => String(request.headers['x-test-client'] ?? '') });
    const url = `ws://127.0.0.1:${port}/sip`;
    const first = await WsSipClient.connect(url, { user: 'a', password: 'x', domain: '127.0.0.1', headers: { 'x-test-client': '198.51.100.7' } });
    const second = await WsSipClient.connect(url, { user: 'b', password: 'x', domain: '127.0.0.1', headers: { 'x-test-client': '198.51.100.8' } });
    try {
      first.ws.send('OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK-p1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: p1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
      second.ws.send('OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS b.invalid;branch=z9hG4bK-p2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: p2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
      await waitFor(() => sources.length === 2);
      expect(sources.map((s) => s.address).sort()).toEqual(['198.51.100.7', '198.51.100.8']);
      expect(sources.every((s) => s.flow?.remoteAddress === s.address)).toBe(true);
      // Both came through the same TCP peer (127.0.0.1), yet the one-connection-per-address cap
      // counts them apart; a second connection for the same client is refused.
      await expect(WsSipClient.connect(url, { user: 'c', password: 'x', domain: '127.0.0.1', headers: { 'x-test-client': '198.51.100.7' } })).rejects.toThrow(/503/);
    } finally {
      await Promise.all([first.close(), second.close()]);
      await transport.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('uses the TCP peer when no clientAddress is given', async () => {
    const transport = new TransportLayer();
    const sources: Source[] = [];
    transport.delegate = { onMessage: (_m, source) => sources.push(source) };
    const server = http.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    transport.attachWebSocket(server, { path: '/sip', secure: false, host: '127.0.0.1', port });
    const client = await WsSipClient.connect(`ws://127.0.0.1:${port}/sip`, { user: 'a', password: 'x', domain: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.9' } });
    try {
      client.ws.send('OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK-p3\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: p3\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
      await waitFor(() => sources.length === 1);
      expect(sources[0]!.address).toBe('127.0.0.1');
    } finally {
      await client.close();
      await transport.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
