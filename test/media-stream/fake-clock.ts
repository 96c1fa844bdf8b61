import type { FrameTimers, MonotonicClock } from '../../lib/media/stream/scheduler.ts'

/** A clock and timers that move only when the test says so. */
export class FakeClock implements MonotonicClock, FrameTimers {
  #now = 1000
  #nextId = 1
  readonly #timers = new Map<number, { at: number, fn: () => void }>()

  now (): number { return this.#now }

  get pending (): number { return this.#timers.size }

  set (fn: () => void, delayMs: number): unknown {
    const id = this.#nextId++
    this.#timers.set(id, { at: this.#now + Math.max(0, delayMs), fn })
    return id
  }

  clear (handle: unknown): void { this.#timers.delete(handle as number) }

  /** Move time forward, firing due timers in order at their own times. */
  advance (ms: number): void {
    const end = this.#now + ms
    for (;;) {
      let next: [number, { at: number, fn: () => void }] | undefined
      for (const entry of this.#timers) if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry
      if (next === undefined) break
      this.#timers.delete(next[0])
      this.#now = Math.max(this.#now, next[1].at)
      next[1].fn()
    }
    this.#now = end
  }

  /** Jump forward without firing anything: an event loop blocked for `ms`. */
  stall (ms: number): void { this.#now += ms }
}
