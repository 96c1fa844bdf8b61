import type { Logger } from 'pino'
import type { OutboxRow, OutboxTable } from '../records/owner-sql.ts'
import type { Delivery } from './webhook.ts'

/** `defer`: not ready to send yet (a voicemail transcript still being made); not an attempt. */
export type SendResult = Delivery | 'defer'

export interface OutboxWorkerOptions {
  readonly outbox: OutboxTable
  readonly send: (row: OutboxRow, signal: AbortSignal) => Promise<SendResult>
  readonly attempts: number
  readonly firstDelayMs: number
  readonly maxDelayMs: number
  readonly logger: Logger
  readonly now?: (() => number) | undefined
  /** How long a deferred row waits before it is looked at again. */
  readonly deferMs?: number | undefined
  /** A claimed row is another worker's for this long (a crash mid-send frees it afterwards). */
  readonly leaseMs?: number | undefined
  /** Longest sleep between looks at the table (rows another instance added). */
  readonly pollMs?: number | undefined
  /** Only `runDue()` sends (tests driving a fake clock); no timer, `wake()` does nothing. */
  readonly manual?: boolean | undefined
}

/** The delay before the next try after `failures` failed attempts: doubling, capped. */
export function backoffMs (failures: number, firstMs: number, maxMs: number): number {
  return Math.min(firstMs * 2 ** Math.max(0, failures - 1), maxMs)
}

/**
 * Sends what the outbox holds, one row at a time, and keeps the outcome in the row: sent,
 * retried later with backoff, or failed for good. Everything it needs is in the table, so a
 * restart picks up where the last process stopped (a row claimed by a process that died is
 * free again when its lease ends).
 */
export class OutboxWorker {
  readonly #o: OutboxWorkerOptions
  readonly #now: () => number
  readonly #stop = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #again = false

  constructor (options: OutboxWorkerOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
  }

  /** Look at the table now (rows were added) and keep looking on a timer. */
  wake (): void {
    if (this.#stop.signal.aborted || this.#o.manual === true) return
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#running = this.#loop().finally(() => { this.#running = undefined })
  }

  /** Sends every row due now; resolves with how many were attempted. */
  async runDue (): Promise<number> {
    let done = 0
    for (;;) {
      const rows = await this.#o.outbox.due(this.#now(), 20)
      if (rows.length === 0 || this.#stop.signal.aborted) return done
      for (const row of rows) {
        if (this.#stop.signal.aborted) return done
        if (await this.#one(row)) done++
      }
    }
  }

  async close (): Promise<void> {
    this.#stop.abort()
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
  }

  async #loop (): Promise<void> {
    do {
      this.#again = false
      try {
        await this.runDue()
      } catch (err) {
        this.#o.logger.error({ err }, 'notification outbox unreadable; trying again later')
      }
    } while (this.#again && !this.#stop.signal.aborted)
    if (this.#stop.signal.aborted) return
    const poll = this.#o.pollMs ?? 60_000
    let next: number | null = null
    try { next = await this.#o.outbox.nextDueAt() } catch { /* logged above on the next pass */ }
    const delay = next === null ? poll : Math.max(0, Math.min(next - this.#now(), poll))
    this.#timer = setTimeout(() => { this.#timer = undefined; this.wake() }, delay)
    // The outbox must never keep a stopping process alive.
    this.#timer.unref()
  }

  /** False when another worker had the row. */
  async #one (row: OutboxRow): Promise<boolean> {
    const o = this.#o
    if (!await o.outbox.claim(row, this.#now() + (o.leaseMs ?? 300_000))) return false
    const log = o.logger.child({ delivery: row.id, channel: row.channel, kind: row.kind })
    let result: SendResult
    try {
      result = await o.send(row, this.#stop.signal)
    } catch (err) {
      // A bug or an unreadable record: treat like a transient failure so it is visible and bounded.
      result = { ok: false, permanent: false, error: (err as Error).message }
    }
    if (result === 'defer') {
      await o.outbox.defer(row.id, this.#now() + (o.deferMs ?? 5000))
      return true
    }
    const attempt = row.attempts + 1
    if (result.ok) {
      await o.outbox.sent(row.id, this.#now())
      log.info({ attempt }, 'notification delivered')
    } else if (result.permanent || attempt >= o.attempts) {
      await o.outbox.failed(row.id, result.error)
      log.error({ attempt, error: result.error, permanent: result.permanent }, 'notification failed for good')
    } else {
      const delay = backoffMs(attempt, o.firstDelayMs, o.maxDelayMs)
      await o.outbox.retry(row.id, this.#now() + delay, result.error)
      log.warn({ attempt, error: result.error, retryInMs: delay }, 'notification failed; will retry')
    }
    return true
  }
}
