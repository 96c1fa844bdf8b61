import { basename } from 'node:path'
import { createRequire } from 'node:module'
import type { EmailConfig } from './config.ts'
import type { Delivery } from './webhook.ts'

export interface Mail {
  readonly subject: string
  readonly text: string
  readonly attachments?: ReadonlyArray<{ readonly filename: string, readonly path: string }> | undefined
}

export interface Mailer {
  send (mail: Mail): Promise<Delivery>
  close (): void
}

/** Header text from caller-controlled strings: one line, no controls, bounded. */
export function headerSafe (text: string, max = 150): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/**
 * SMTP through nodemailer. The password comes from the environment (`smtp.passwordEnv`);
 * `check` reports it missing. 5xx replies are permanent (the server refuses this message),
 * everything else (4xx, connection, timeout) is retried from the outbox.
 */
export function createMailer (config: EmailConfig, password: string | undefined): Mailer {
  const smtp = config.smtp
  // Loaded only where mail is configured: ~40 modules every process importing the app would load.
  const nodemailer = createRequire(import.meta.url)('nodemailer') as typeof import('nodemailer')
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.user === undefined ? {} : { auth: { user: smtp.user, pass: password ?? '' } }),
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
  })
  return {
    async send (mail) {
      try {
        await transport.sendMail({
          from: config.from,
          to: [...config.to],
          subject: headerSafe(mail.subject),
          text: mail.text,
          attachments: (mail.attachments ?? []).map((a) => ({ filename: basename(a.filename), path: a.path, contentType: 'audio/wav' })),
        })
        return { ok: true }
      } catch (err) {
        const e = err as Error & { responseCode?: number, code?: string }
        const permanent = typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600
        return { ok: false, permanent, error: e.responseCode === undefined ? `${e.code ?? 'SMTP'}: ${e.message}` : `SMTP ${e.responseCode}: ${e.message}` }
      }
    },
    close () { transport.close() },
  }
}
