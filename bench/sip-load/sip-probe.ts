/**
 * Is a SIP server up? An OPTIONS over UDP answered with any response says so. The benchmark's
 * only SIP code of its own (the devices register through SIPp, see bench/sipp/register.xml):
 * it measures the server's SIP stack and must not borrow it.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';

const token = () => randomBytes(8).toString('hex');

/**
 * Waits until a SIP server answers an OPTIONS over UDP with any response (even 404: it is up),
 * asking every 200 ms until the timeout.
 */
export async function waitForSipServer(server: { host: string; port: number }, timeoutMs: number): Promise<void> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const localPort = socket.address().port;
  const callId = `${token()}@127.0.0.1`;
  let attempt = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const send = () => {
        attempt += 1;
        const message = [
          `OPTIONS sip:${server.host}:${server.port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK${token()};rport`,
          'Max-Forwards: 70',
          `From: <sip:ping@127.0.0.1>;tag=${token()}`,
          `To: <sip:${server.host}:${server.port}>`,
          `Call-ID: ${callId}`,
          `CSeq: ${attempt} OPTIONS`,
          'User-Agent: ringside-bench',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        socket.send(message, server.port, server.host);
      };
      const timer = setInterval(send, 200);
      const deadline = setTimeout(() => {
        clearInterval(timer);
        reject(new Error(`no SIP answer from ${server.host}:${server.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      // Nothing listening yet: ICMP port unreachable surfaces as a socket error. Keep asking.
      socket.on('error', () => undefined);
      socket.on('message', (data) => {
        if (!/^SIP\/2\.0 \d{3}/.test(data.toString('utf8', 0, 16))) return;
        clearInterval(timer);
        clearTimeout(deadline);
        resolve();
      });
      send();
    });
  } finally {
    socket.close();
  }
}
