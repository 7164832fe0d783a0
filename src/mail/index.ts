/**
 * Outgoing e-mail. With `SMTP_URL` configured, nodemailer delivers over SMTP; without it (the
 * embedded default) every message is written as an `.eml` file under `<DATA_DIR>/mail/`, so the
 * invitation flow works out of the box and a developer can open what would have been sent.
 *
 * Nothing here retries: mail goes through the durable outbox, which calls `send` until it succeeds.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';

export interface MailAttachment {
  filename: string;
  content: string;
  contentType: string;
}

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** A calendar part (`text/calendar; method=…`) that mail clients show as an invitation. */
  calendar?: { method: 'REQUEST' | 'CANCEL'; content: string };
  attachments?: MailAttachment[];
  /** Stable Message-ID, so a retried delivery is recognisable as the same message. */
  messageId?: string;
}

export interface SentMail {
  messageId: string;
  /** Where the `.eml` was written (file delivery only). */
  file?: string;
}

export interface Mailer {
  /** `smtp` or `file`, for logs and the invitation dialog ("the link is shown here"). */
  readonly kind: 'smtp' | 'file';
  send(mail: OutgoingMail): Promise<SentMail>;
  close(): void;
}

export interface MailerOptions {
  smtpUrl?: string | undefined;
  /** Where `.eml` files go without SMTP. */
  mailDir: string;
  /** SMTP connection and greeting timeouts (ms). */
  timeoutMs?: number;
}

export function createMailer(options: MailerOptions): Mailer {
  return options.smtpUrl ? new SmtpMailer(options.smtpUrl, options.timeoutMs ?? 15_000) : new FileMailer(options.mailDir);
}

function toNodemailer(mail: OutgoingMail): SendMailOptions {
  return {
    from: mail.from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    ...(mail.calendar ? { icalEvent: { method: mail.calendar.method, content: mail.calendar.content } } : {}),
    attachments: (mail.attachments ?? []).map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType })),
    ...(mail.messageId ? { messageId: mail.messageId } : {}),
    // Header injection is refused before a message gets here; nodemailer folds and encodes the rest.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

class SmtpMailer implements Mailer {
  readonly kind = 'smtp' as const;
  private readonly transport: Transporter;

  constructor(url: string, timeoutMs: number) {
    this.transport = nodemailer.createTransport(url, { connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs * 2 } as never);
  }

  async send(mail: OutgoingMail): Promise<SentMail> {
    const info = (await this.transport.sendMail(toNodemailer(mail))) as { messageId: string };
    return { messageId: info.messageId };
  }

  close(): void {
    this.transport.close();
  }
}

class FileMailer implements Mailer {
  readonly kind = 'file' as const;
  private readonly transport: Transporter;

  constructor(private readonly dir: string) {
    this.transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  }

  async send(mail: OutgoingMail): Promise<SentMail> {
    const info = (await this.transport.sendMail(toNodemailer(mail))) as { messageId: string; message: Buffer };
    await mkdir(this.dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const safeId = info.messageId.replace(/[^A-Za-z0-9@.-]/g, '');
    const file = path.join(this.dir, `${stamp}-${safeId}.eml`);
    // Written aside and renamed: whoever watches the folder never reads half a message.
    await writeFile(`${file}.part`, info.message);
    await rename(`${file}.part`, file);
    return { messageId: info.messageId, file };
  }

  close(): void {
    this.transport.close();
  }
}
