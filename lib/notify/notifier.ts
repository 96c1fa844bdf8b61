import { access } from 'node:fs/promises'
import type { Logger } from 'pino'
import { MessageTable, OutboxTable, type OutboxChannel, type OutboxRow } from '../records/owner-sql.ts'
import type { CallStore } from '../records/types.ts'
import type { NotifyConfig, PrivacyConfig } from './config.ts'
import { callNotice, noticeText, wanted } from './content.ts'
import { createMailer, type Mailer } from './email.ts'
import { numberShown } from './mask.ts'
import { OutboxWorker, type SendResult } from './outbox-worker.ts'
import { postWebhook } from './webhook.ts'

/** Renders one digest (for the day `ref`) per channel; the digest module provides it. */
export type DigestRenderer = (day: string, channel: OutboxChannel) => Promise<{ subject: string, text: string, json: unknown }>

export interface NotifierDeps {
  readonly store: Pick<CallStore, 'get' | 'sql'>
  readonly logger: Logger
  readonly env: NodeJS.ProcessEnv
  readonly now?: (() => number) | undefined
  readonly digest?: DigestRenderer | undefined
  /** Replaces the SMTP mailer (tests). */
  readonly mailer?: Mailer | undefined
  readonly pollMs?: number | undefined
  /** Send only when `worker.runDue()` is called (tests with a fake clock). */
  readonly manual?: boolean | undefined
}

/**
 * Call-end notifications through the durable outbox: `callEnded` writes one row per channel
 * that wants the call, the worker sends it (now, or after a restart) and retries with backoff.
 */
export class Notifier {
  readonly outbox: OutboxTable
  readonly worker: OutboxWorker
  readonly #config: NotifyConfig
  readonly #privacy: PrivacyConfig
  readonly #deps: NotifierDeps
  readonly #messages: MessageTable
  readonly #mailer: Mailer | undefined
  readonly #now: () => number

  constructor (config: NotifyConfig, privacy: PrivacyConfig, deps: NotifierDeps) {
    this.#config = config
    this.#privacy = privacy
    this.#deps = deps
    this.#now = deps.now ?? Date.now
    this.outbox = new OutboxTable(deps.store.sql)
    this.#messages = new MessageTable(deps.store.sql)
    this.#mailer = deps.mailer ?? (config.email === undefined ? undefined : createMailer(config.email, deps.env[config.email.smtp.passwordEnv]))
    this.worker = new OutboxWorker({
      outbox: this.outbox,
      send: async (row, signal) => await this.#send(row, signal),
      attempts: config.retry.attempts,
      firstDelayMs: config.retry.firstDelaySeconds * 1000,
      maxDelayMs: config.retry.maxDelaySeconds * 1000,
      logger: deps.logger.child({ component: 'notify' }),
      now: this.#now,
      pollMs: deps.pollMs,
      manual: deps.manual,
    })
  }

  get channels (): OutboxChannel[] {
    return [...(this.#config.webhook ? ['webhook' as const] : []), ...(this.#config.email ? ['email' as const] : [])]
  }

  /** Queues the notifications an ended call wants. Never throws (logged): a call's end must not fail on it. */
  async callEnded (uuid: string): Promise<void> {
    try {
      const call = await this.#deps.store.get(uuid)
      if (call === undefined) return
      const at = this.#now()
      const { webhook, email } = this.#config
      let added = 0
      for (const [channel, when] of [['webhook', webhook?.when], ['email', email?.when]] as const) {
        if (when === undefined || !wanted(when, call)) continue
        await this.outbox.add({ id: `${uuid}:${channel}`, channel, kind: 'call', ref: uuid, at })
        added++
      }
      if (added > 0) this.worker.wake()
    } catch (err) {
      this.#deps.logger.error({ err, call: uuid }, 'could not queue the call notifications')
    }
  }

  /** Queues a day's digest on every channel (once per day and channel, whatever restarts happen). */
  async queueDigest (day: string): Promise<void> {
    for (const channel of this.channels) {
      await this.outbox.add({ id: `digest:${day}:${channel}`, channel, kind: 'digest', ref: day, at: this.#now() })
    }
    this.worker.wake()
  }

  async close (): Promise<void> {
    await this.worker.close()
    this.#mailer?.close()
  }

  async #send (row: OutboxRow, signal: AbortSignal): Promise<SendResult> {
    const content = row.kind === 'digest' ? await this.#digest(row) : await this.#call(row)
    if (content === 'defer' || 'ok' in content) return content
    if (row.channel === 'webhook') {
      const hook = this.#config.webhook
      const secret = hook === undefined ? undefined : this.#deps.env[hook.secretEnv]
      if (hook === undefined || secret === undefined || secret === '') {
        return { ok: false, permanent: false, error: hook === undefined ? 'notify.webhook is no longer configured' : `${hook.secretEnv} is not set` }
      }
      return await postWebhook({ url: hook.url, secret, body: JSON.stringify(content.json), id: row.id, timeoutMs: hook.timeoutMs, signal })
    }
    if (this.#mailer === undefined) return { ok: false, permanent: false, error: 'notify.email is no longer configured' }
    return await this.#mailer.send({ subject: content.subject, text: content.text, attachments: content.attachments })
  }

  async #digest (row: OutboxRow): Promise<Content | SendResult> {
    if (this.#deps.digest === undefined) return { ok: false, permanent: true, error: 'no digest renderer' }
    return await this.#deps.digest(row.ref, row.channel)
  }

  async #call (row: OutboxRow): Promise<Content | SendResult> {
    const call = await this.#deps.store.get(row.ref)
    if (call === undefined) return { ok: false, permanent: true, error: 'the call record is gone' }
    const extras = await this.#messages.extras(row.ref)
    const waiting = extras.some((e) => e.transcriptStatus === 'pending')
    if (waiting && this.#now() - row.createdAt < this.#config.transcriptWaitSeconds * 1000) return 'defer'
    const notice = callNotice(row.id, call, extras, {
      number: numberShown(this.#privacy.maskCallerNumbers),
      transcripts: this.#privacy.transcriptsInNotifications,
    })
    const attachments: Array<{ filename: string, path: string }> = []
    if (row.channel === 'email' && this.#config.email?.attachAudio === true) {
      for (const m of call.messages) {
        if (m.recordingPath === null || !await exists(m.recordingPath)) continue
        attachments.push({ filename: `message-${m.seq}.wav`, path: m.recordingPath })
      }
    }
    const who = notice.call.contact ?? notice.call.callerName ?? notice.call.callerNumber ?? 'anonymous caller'
    const subject = call.messages.length > 0 ? `Message from ${who}` : `Call from ${who}: ${call.outcome ?? 'ended'}`
    return { subject, text: noticeText(notice), json: notice, attachments }
  }
}

interface Content {
  readonly subject: string
  readonly text: string
  readonly json: unknown
  readonly attachments?: ReadonlyArray<{ filename: string, path: string }>
}

async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

