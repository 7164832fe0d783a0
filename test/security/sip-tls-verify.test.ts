/**
 * Security review #14: outbound SIP over TLS (a TLS trunk) must check the peer's certificate and
 * that it names the trunk's host. A CA and certificates for "localhost" are made with the openssl
 * CLI at test time; the "carrier" is a TLS server on 127.0.0.1 that answers every INVITE 486.
 * - a self-signed (untrusted) certificate is refused: the carrier never sees the INVITE;
 * - a certificate from the trunk's `tls_ca` for another name than the trunk's host is refused;
 * - the same CA and the right name work; so does `tls_verify: false` (the escape hatch).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipStreamFramer, parseMessage, type SipRequest } from '../../src/sip/index.ts';
import { startServer } from '../support/server.ts';
import { TestPhone } from '../support/sip-phone.ts';

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });

/** A CA, a certificate for "localhost" it signed, and a self-signed one for "localhost". */
function makeCertificates(dir: string) {
  const f = (name: string) => path.join(dir, name);
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=Test carrier CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('leaf.ext'), 'subjectAltName=DNS:localhost\n');
  openssl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('leaf.pem'), '-days', '1', '-extfile', f('leaf.ext'));
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('self.key'), '-out', f('self.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost');
  return {
    ca: f('ca.pem'),
    signed: { cert: readFileSync(f('leaf.pem')), key: readFileSync(f('leaf.key')) },
    selfSigned: { cert: readFileSync(f('self.pem')), key: readFileSync(f('self.key')) },
  };
}

/** The carrier's TLS listener: records INVITEs and answers them 486. */
async function tlsCarrier(credentials: { cert: Buffer; key: Buffer }) {
  const invites: SipRequest[] = [];
  const server = tls.createServer(credentials, (socket) => {
    const framer = new SipStreamFramer();
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of framer.push(chunk)) {
        if (frame.kind !== 'message') continue;
        const m = parseMessage(frame.bytes, { stream: true });
        if (!m.isRequest || m.method !== 'INVITE') continue;
        invites.push(m);
        const vias = m.headerValues('Via').map((v) => `Via: ${v}`).join('\r\n');
        socket.write(`SIP/2.0 486 Busy Here\r\n${vias}\r\nFrom: ${m.header('From')}\r\nTo: ${m.header('To')};tag=carrier\r\nCall-ID: ${m.callId}\r\nCSeq: ${m.header('CSeq')}\r\nContent-Length: 0\r\n\r\n`);
      }
    });
  });
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { invites, port: (server.address() as { port: number }).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('outbound SIP over TLS verifies the peer', () => {
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ringside-tls-trunk-'));
    certs = makeCertificates(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** alice dials a number out through the TLS trunk; resolves with her final status and what the carrier saw. */
  async function callOut(credentials: { cert: Buffer; key: Buffer }, trunk: Record<string, unknown>) {
    const carrier = await tlsCarrier(credentials);
    const server = await startServer({ env: { TRUNKS: JSON.stringify([{ name: 'carrier', transport: 'tls', port: carrier.port, ...trunk }]) } });
    const alice = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! } });
    try {
      const final = await alice.call('+14155550134');
      return { status: final.status, invites: carrier.invites.length };
    } finally {
      await alice.close();
      await server.stop();
      await carrier.close();
    }
  }

  it('refuses a carrier with a self-signed certificate', async () => {
    const result = await callOut(certs.selfSigned, { host: 'localhost' });
    expect(result.invites).toBe(0);
    expect(result.status).toBeGreaterThanOrEqual(400);
    expect(result.status).not.toBe(486);
  });

  it('refuses a certificate from the trusted CA that does not name the trunk’s host', async () => {
    const result = await callOut(certs.signed, { host: '127.0.0.1', tls_ca: certs.ca });
    expect(result.invites).toBe(0);
    expect(result.status).not.toBe(486);
  });

  it('calls out when the certificate chains to tls_ca and names the host', async () => {
    const result = await callOut(certs.signed, { host: 'localhost', tls_ca: certs.ca });
    expect(result).toEqual({ status: 486, invites: 1 });
  });

  it('calls out to an unverified carrier only with tls_verify: false', async () => {
    const result = await callOut(certs.selfSigned, { host: 'localhost', tls_verify: false });
    expect(result).toEqual({ status: 486, invites: 1 });
  });
});
