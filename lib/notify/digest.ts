import type { Logger } from 'pino'
import { digestFigures, getState, setState, type DigestFigures } from '../records/owner-sql.ts'
import type { SqlDriver } from '../records/sql.ts'

/** `YYYY-MM-DD` and the hour of `ms` in the zone (the machine's when absent). */
export function localDay (ms: number, timeZone?: string): { day: string, hour: number } {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]))
  return { day: `${parts.year}-${parts.month}-${parts.day}`, hour: Number(parts.hour) }
}

/** The zone's offset from UTC at `ms`, in ms (positive east of Greenwich). */
function offsetAt (ms: number, timeZone?: string): number {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]))
  return Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0) - Math.floor(ms / 1000) * 1000
}

/** Local midnight of `day` in the zone, as epoch ms (DST days are 23 or 25 hours long). */
export function midnight (day: string, timeZone?: string): number {
  const [y, m, d] = day.split('-').map(Number)
  const utc = Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1)
  let at = utc - offsetAt(utc, timeZone)
  // The offset at the guess may differ from the offset at midnight itself (a DST change that day).
  at = utc - offsetAt(at, timeZone)
  return at
}

export function nextDay (day: string): string {
  const [y, m, d] = day.split('-').map(Number)
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + 1)).toISOString().slice(0, 10)
}

export function previousDay (day: string): string {
  const [y, m, d] = day.split('-').map(Number)
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) - 1)).toISOString().slice(0, 10)
}

export interface Digest {
  readonly day: string
  readonly since: number
  readonly until: number
  readonly figures: DigestFigures
}

export async function buildDigest (sql: SqlDriver, day: string, timeZone?: string): Promise<Digest> {
  const since = midnight(day, timeZone)
  const until = midnight(nextDay(day), timeZone)
  return { day, since, until, figures: await digestFigures(sql, since, until) }
}

const label = (s: string): string => s.replace(/_/g, ' ')

/** Plain text for the e-mail; the console renders the same figures as HTML. */
export function digestText (d: Digest): string {
  const f = d.figures
  const out = [`phone-agent digest for ${d.day}`, '', `Calls: ${f.calls}`]
  for (const [outcome, n] of Object.entries(f.byOutcome).sort()) out.push(`  ${label(outcome)}: ${n}`)
  out.push(`Messages taken: ${f.messagesTaken}`, `Messages waiting to be returned (all days): ${f.messagesWaiting}`)
  out.push(`Refused calls: ${Object.values(f.refusals).reduce((a, b) => a + b, 0)}`)
  for (const [reason, n] of Object.entries(f.refusals).sort()) out.push(`  ${label(reason)}: ${n}`)
  out.push(`Transfers: ${f.transfers}`)
  out.push(`Provider errors: ${f.providerErrors.reduce((a, e) => a + e.count, 0)}`)
  for (const e of f.providerErrors) out.push(`  ${e.provider} ${e.code}: ${e.count}`)
  out.push(`Cost estimate: ${f.cost.toFixed(4)}`)
  return out.join('\n') + '\n'
}

export function digestJson (d: Digest): unknown {
  return { event: 'digest', day: d.day, since: new Date(d.since).toISOString(), until: new Date(d.until).toISOString(), ...d.figures }
}

export interface DigestSchedulerOptions {
  readonly sql: SqlDriver
  readonly hour: number
  readonly timeZone?: string | undefined
  /** Queues the day's digest on every channel (the notifier's outbox). */
  readonly queue: (day: string) => Promise<void>
  readonly logger: Logger
  readonly now?: (() => number) | undefined
  readonly intervalMs?: number | undefined
}

const STATE_KEY = 'digest.lastDay'

/**
 * Once the configured local hour has come, queues the previous day's digest, once: the day sent
 * is kept in the database (`owner_state`), and the outbox ids are per day, so restarts and
 * several instances never send a day twice. Checked every minute on an unref'd timer; tests
 * call `check()` with a fake clock.
 */
export class DigestScheduler {
  readonly #o: DigestSchedulerOptions
  #timer: NodeJS.Timeout | undefined

  constructor (options: DigestSchedulerOptions) {
    this.#o = options
  }

  start (): void {
    const tick = (): void => {
      void this.check().catch((err: unknown) => { this.#o.logger.error({ err }, 'digest check failed') })
    }
    tick()
    this.#timer = setInterval(tick, this.#o.intervalMs ?? 60_000)
    this.#timer.unref()
  }

  /** Queues yesterday's digest if its hour has come and it was not queued; returns the day queued. */
  async check (): Promise<string | undefined> {
    const { day, hour } = localDay((this.#o.now ?? Date.now)(), this.#o.timeZone)
    if (hour < this.#o.hour) return undefined
    const target = previousDay(day)
    const last = await getState(this.#o.sql, STATE_KEY)
    if (last !== undefined && last >= target) return undefined
    await this.#o.queue(target)
    await setState(this.#o.sql, STATE_KEY, target)
    this.#o.logger.info({ day: target }, 'daily digest queued')
    return target
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
