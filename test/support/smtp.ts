/**
 * A real SMTP server on 127.0.0.1 (the `smtp-server` package) that keeps what it receives, parsed
 * by `mailparser`; it can refuse messages for a while, like a mail server that is down.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { waitFor } from './wait.ts';

export interface ReceivedMail {
  to: string[];
  raw: string;
  parsed: ParsedMail;
}

export class TestSmtpServer {
  readonly received: ReceivedMail[] = [];
  /** While set, every message is refused with this temporary failure. */
  refusing: string | undefined;
  private server!: SMTPServer;
  port = 0;

  static async start(): Promise<TestSmtpServer> {
    const s = new TestSmtpServer();
    s.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (s.refusing) {
            const err = Object.assign(new Error(s.refusing), { responseCode: 451 });
            return callback(err);
          }
          const raw = Buffer.concat(chunks).toString('utf8');
          simpleParser(raw)
            .then((parsed) => {
              s.received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw, parsed });
              callback();
            })
            .catch((err: Error) => callback(err));
        });
      },
    });
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', () => resolve()));
    s.port = (s.server.server.address() as AddressInfo).port;
    return s;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Waits for the n-th message (1-based) matching `filter`. */
  async waitForMail(filter: (m: ReceivedMail) => boolean, n = 1, timeoutMs = 10_000): Promise<ReceivedMail> {
    await waitFor(() => this.received.filter(filter).length >= n, { timeoutMs, what: `mail #${n}` });
    return this.received.filter(filter)[n - 1]!;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
