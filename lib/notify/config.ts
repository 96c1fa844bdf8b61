import { z } from 'zod'

/**
 * Notifications on call end (`notify:`), the daily digest, and what they may reveal
 * (`privacy:`). Secrets (the webhook's HMAC key, the SMTP password) come from environment
 * variables the config names, never from the file.
 */

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')

/** Which ended calls notify: every one, those that left a message, or those that went wrong. */
export const notifyWhen = z.enum(['all', 'messages', 'failures'])
export type NotifyWhen = z.infer<typeof notifyWhen>

const email = z.string().regex(/^[^\s@<>]+@[^\s@<>]+$/, 'an e-mail address')

export const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** The environment variable holding the HMAC-SHA256 key of `X-Phone-Agent-Signature`. */
  secretEnv: envName.default('PHONE_AGENT_WEBHOOK_SECRET'),
  when: notifyWhen.default('all'),
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
})

export const smtpSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(587),
  /** true: TLS from the first byte (port 465). false: STARTTLS when the server offers it. */
  secure: z.boolean().default(false),
  user: z.string().min(1).optional(),
  passwordEnv: envName.default('PHONE_AGENT_SMTP_PASSWORD'),
  timeoutMs: z.number().int().min(100).max(120_000).default(30_000),
})

export const emailSchema = z.strictObject({
  from: email,
  to: z.array(email).min(1),
  when: notifyWhen.default('messages'),
  /** Attach the message's recording (WAV). */
  attachAudio: z.boolean().default(true),
  smtp: smtpSchema,
})

export const retrySchema = z.strictObject({
  attempts: z.number().int().min(1).max(100).default(10),
  firstDelaySeconds: z.number().positive().max(86_400).default(30),
  maxDelaySeconds: z.number().positive().max(86_400).default(3600),
})

export const digestSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Local hour (0-23) in `timeZone` at which the previous day's digest is sent. */
  hour: z.number().int().min(0).max(23).default(8),
  /** IANA zone; the machine's when absent. */
  timeZone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Rome').optional(),
})

export const notifySchema = z.strictObject({
  webhook: webhookSchema.optional(),
  email: emailSchema.optional(),
  retry: retrySchema.prefault({}),
  /** A transcript still being made delays the notification up to this long, then it goes without. */
  transcriptWaitSeconds: z.number().int().min(0).max(3600).default(120),
  digest: digestSchema.prefault({}),
}).refine((n) => !n.digest.enabled || n.email !== undefined, { message: 'the digest is e-mailed: configure notify.email', path: ['digest', 'enabled'] })

export const privacySchema = z.strictObject({
  /** Show caller numbers as +39••••••••67 in the console, notifications and logs. */
  maskCallerNumbers: z.boolean().default(false),
  /** Leave the conversation's transcript and message transcripts out of webhooks and e-mails. */
  transcriptsInNotifications: z.boolean().default(true),
})

export type NotifyConfig = z.infer<typeof notifySchema>
export type PrivacyConfig = z.infer<typeof privacySchema>
export type WebhookConfig = z.infer<typeof webhookSchema>
export type EmailConfig = z.infer<typeof emailSchema>

function isTimeZone (zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone }).format(0)
    return true
  } catch {
    return false
  }
}
