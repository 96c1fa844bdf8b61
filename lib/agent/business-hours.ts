import { z } from 'zod'

/**
 * Opening hours in the business's own timezone: a weekly schedule with several ranges a day,
 * closed dates (holidays) and special dates with their own hours. Local time comes from Intl,
 * so DST follows the tz database the runtime ships.
 *
 * Ranges are local wall-clock times. On the spring-forward day a range inside the missing hour
 * simply does not happen; on the fall-back day the repeated hour is open (or closed) twice.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
export type Weekday = typeof WEEKDAYS[number]

const RANGE = /^([01]\d|2[0-3]):([0-5]\d)-(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/
const MONTH_DAY = /^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/

/** `09:00-13:00` -> [540, 780] minutes; undefined when malformed or empty. */
export function parseRange (text: string): [number, number] | undefined {
  const m = RANGE.exec(text)
  if (m === null) return undefined
  const start = Number(m[1]) * 60 + Number(m[2])
  const end = m[5] === '24' ? 1440 : Number(m[3]) * 60 + Number(m[4])
  return start < end ? [start, end] : undefined
}

export function isTimeZone (zone: string): boolean {
  try {
    // The constructor is the only validation Intl offers: it throws RangeError on an unknown zone.
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

const range = z.string().refine((s) => parseRange(s) !== undefined,
  'expected HH:MM-HH:MM with the start before the end (24:00 ends at midnight; split ranges that cross it)')
const day = z.array(range).max(12).default([])

export const businessHoursSchema = z.strictObject({
  /** IANA timezone of the business, e.g. Europe/Rome. */
  timezone: z.string().refine(isTimeZone, 'unknown IANA timezone'),
  weekly: z.strictObject({ mon: day, tue: day, wed: day, thu: day, fri: day, sat: day, sun: day }),
  /** Closed all day: `2025-12-26` once, or `12-25` every year. */
  closed: z.array(z.string().refine((s) => DATE.test(s) || MONTH_DAY.test(s), 'expected YYYY-MM-DD or MM-DD')).default([]),
  /** Dates with their own hours (`2025-12-24: ["09:00-12:00"]`); they win over `closed` and `weekly`. */
  special: z.record(z.string().regex(DATE, 'expected YYYY-MM-DD'), z.array(range).max(12)).default({}),
})

export type BusinessHoursInput = z.input<typeof businessHoursSchema>
export type BusinessHoursConfig = z.output<typeof businessHoursSchema>

export interface LocalTime {
  /** `2025-03-30` */
  readonly date: string
  readonly weekday: Weekday
  /** `14:05` */
  readonly time: string
  readonly timezone: string
}

interface Parts { y: number, m: number, d: number, h: number, mi: number, s: number }

const MINUTE = 60_000
const DAY = 86_400_000
const WINDOW_DAYS = 7
/** A schedule that does not change within a year and a bit never will (holidays repeat yearly). */
const HORIZON_DAYS = 371

export class BusinessHours {
  readonly timezone: string
  readonly #weekly: ReadonlyMap<Weekday, ReadonlyArray<[number, number]>>
  readonly #closed: ReadonlySet<string>
  readonly #special: ReadonlyMap<string, ReadonlyArray<[number, number]>>
  readonly #format: Intl.DateTimeFormat

  /** Takes the parsed config; validate input with businessHoursSchema first. */
  constructor (config: BusinessHoursConfig) {
    const ranges = (list: readonly string[]): Array<[number, number]> => list.map((r) => {
      const parsed = parseRange(r)
      if (parsed === undefined) throw new RangeError(`bad range ${r}`)
      return parsed
    })
    this.timezone = config.timezone
    this.#weekly = new Map(WEEKDAYS.map((w) => [w, ranges(config.weekly[w])]))
    this.#closed = new Set(config.closed)
    this.#special = new Map(Object.entries(config.special).map(([date, list]) => [date, ranges(list)]))
    this.#format = new Intl.DateTimeFormat('en-US', {
      timeZone: config.timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
  }

  isOpen (date: Date): boolean {
    return this.#openAt(date.getTime())
  }

  /**
   * The first instant after `date` at which isOpen changes, or undefined when it never does
   * (no hours at all, or open around the clock).
   */
  nextChange (date: Date): Date | undefined {
    const from = date.getTime()
    const state = this.#openAt(from)
    const start = this.#parts(from)
    for (let offset = 0; offset < HORIZON_DAYS; offset += WINDOW_DAYS) {
      const candidates = this.#candidates(start, offset - 1, offset + WINDOW_DAYS)
        .filter((t) => t > from)
        .sort((a, b) => a - b)
      for (const t of candidates) if (this.#openAt(t) !== state) return new Date(t)
    }
    return undefined
  }

  /** The business's local date and time, for prompts ("it is Saturday 14:05 in Rome"). */
  localTime (date: Date): LocalTime {
    const p = this.#parts(date.getTime())
    return {
      date: isoDate(p.y, p.m, p.d),
      weekday: weekdayOf(p.y, p.m, p.d),
      time: `${pad(p.h)}:${pad(p.mi)}`,
      timezone: this.timezone,
    }
  }

  #openAt (t: number): boolean {
    const p = this.#parts(t)
    const ms = ((p.h * 60 + p.mi) * 60 + p.s) * 1000 + mod(t, 1000)
    return this.#rangesOn(p.y, p.m, p.d).some(([s, e]) => ms >= s * MINUTE && ms < e * MINUTE)
  }

  #rangesOn (y: number, m: number, d: number): ReadonlyArray<[number, number]> {
    const iso = isoDate(y, m, d)
    const special = this.#special.get(iso)
    if (special !== undefined) return special
    if (this.#closed.has(iso) || this.#closed.has(iso.slice(5))) return []
    return this.#weekly.get(weekdayOf(y, m, d)) ?? []
  }

  /**
   * Every instant where the state can change in local days [first, last) counted from `start`:
   * each range edge (both instants when the wall time occurs twice) and each UTC offset change,
   * which is where a range edge inside a DST gap takes effect.
   */
  #candidates (start: Parts, first: number, last: number): number[] {
    const out: number[] = []
    for (let i = first; i < last; i++) {
      const day = new Date(Date.UTC(start.y, start.m - 1, start.d + i))
      const midnight = day.getTime()
      for (const [s, e] of this.#rangesOn(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate())) {
        out.push(...this.#instants(midnight + s * MINUTE), ...this.#instants(midnight + e * MINUTE))
      }
      const transition = this.#transition(midnight - DAY / 2, midnight + DAY / 2)
      if (transition !== undefined) out.push(transition)
    }
    return out
  }

  /** The instants whose local wall time is `wall` (a wall time encoded as if it were UTC). */
  #instants (wall: number): number[] {
    const found = new Set<number>()
    for (const probe of [wall - DAY, wall + DAY]) {
      const t = wall - this.#offset(probe)
      if (this.#wall(t) === wall) found.add(t)
    }
    return [...found]
  }

  /** The first minute in (lo, hi] with a different UTC offset than lo, if any. */
  #transition (lo: number, hi: number): number | undefined {
    const before = this.#offset(lo)
    if (this.#offset(hi) === before) return undefined
    let a = Math.floor(lo / MINUTE)
    let b = Math.ceil(hi / MINUTE)
    while (b - a > 1) {
      const mid = Math.floor((a + b) / 2)
      if (this.#offset(mid * MINUTE) === before) a = mid
      else b = mid
    }
    return b * MINUTE
  }

  #offset (t: number): number {
    return this.#wall(t) - t
  }

  #wall (t: number): number {
    const p = this.#parts(t)
    return Date.UTC(p.y, p.m - 1, p.d, p.h, p.mi, p.s) + mod(t, 1000)
  }

  #parts (t: number): Parts {
    const p: Parts = { y: 0, m: 0, d: 0, h: 0, mi: 0, s: 0 }
    for (const part of this.#format.formatToParts(t)) {
      const n = Number(part.value)
      switch (part.type) {
        case 'year': p.y = n; break
        case 'month': p.m = n; break
        case 'day': p.d = n; break
        case 'hour': p.h = n; break
        case 'minute': p.mi = n; break
        case 'second': p.s = n; break
      }
    }
    return p
  }
}

function weekdayOf (y: number, m: number, d: number): Weekday {
  return WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()] ?? 'sun'
}

function isoDate (y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${pad(m)}-${pad(d)}`
}

function pad (n: number): string {
  return String(n).padStart(2, '0')
}

function mod (a: number, b: number): number {
  return ((a % b) + b) % b
}
