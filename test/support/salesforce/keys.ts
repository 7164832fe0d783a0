/**
 * The connected app's key pair for tests: an RSA private key (Ringside keeps it) and the X.509
 * certificate uploaded to the connected app (the stand-in checks JWT signatures against it) —
 * made with openssl, as the setup guide does.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface AppKeys {
  dir: string;
  privateKeyFile: string;
  privateKeyPem: string;
  certificatePem: string;
}

export function makeAppKeys(): AppKeys {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringside-sf-keys-'));
  const privateKeyFile = path.join(dir, 'server.key');
  const certFile = path.join(dir, 'server.crt');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', privateKeyFile, '-out', certFile, '-days', '2', '-subj', '/CN=ringside-test'], { stdio: 'ignore' });
    return { dir, privateKeyFile, privateKeyPem: readFileSync(privateKeyFile, 'utf8'), certificatePem: readFileSync(certFile, 'utf8') };
  } catch {
    // No openssl: the stand-in accepts the bare public key as well.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(privateKeyFile, privateKeyPem);
    return { dir, privateKeyFile, privateKeyPem, certificatePem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  }
}
