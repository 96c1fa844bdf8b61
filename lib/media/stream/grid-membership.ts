import type { FrameScheduler, TickSubscriber } from './scheduler.ts'

/** A call leaves the grid only to sleep at least this long (a cold call's keep-alive is a second away). */
const SLEEP_MIN_MS = 100

/**
 * A call's place on the shared frame grid (scheduler.ts), which it leaves while it cannot send:
 * a cold call on FreeSWITCH's timerfd timer sends one keep-alive frame a second (quiet-idle.ts),
 * and ticking it 50 times a second for nothing was 9 % of a quiet line's CPU at 500 calls
 * (docs/benchmarks.md, eleventh session). `wakeAt` says when it can send again by itself; it
 * joins the grid again then, or at `rejoin()` (the pacer's kick: audio queued, FreeSWITCH's first
 * frame, the connect). Without `wakeAt` it stays on the grid.
 */
export class GridMembership {
  readonly #scheduler: FrameScheduler
  readonly #subscriber: TickSubscriber
  readonly #wakeAt: (() => number) | undefined
  #unsubscribe: () => void
  /** Cancels the timer that brings it back; set while it is off the grid. */
  #sleeping: (() => void) | undefined
  #left = false

  constructor (scheduler: FrameScheduler, subscriber: TickSubscriber, wakeAt: (() => number) | undefined) {
    this.#scheduler = scheduler
    this.#subscriber = subscriber
    this.#wakeAt = wakeAt
    this.#unsubscribe = scheduler.add(subscriber)
  }

  /** Off the grid until `wakeAt()`, when that is far enough away to be worth a timer. */
  sleep (now: number): void {
    const at = this.#wakeAt?.()
    if (at === undefined || at - now < SLEEP_MIN_MS || this.#left || this.#sleeping !== undefined) return
    this.#unsubscribe()
    const self = this
    this.#sleeping = this.#scheduler.once(function wake () { self.rejoin() }, at)
  }

  /** Back on the grid (if it was off): its next tick asks again. */
  rejoin (): void {
    if (this.#sleeping === undefined) return
    this.#sleeping()
    this.#sleeping = undefined
    if (!this.#left) this.#unsubscribe = this.#scheduler.add(this.#subscriber)
  }

  /** For good (the call's pacing closed). */
  leave (): void {
    this.#left = true
    this.#sleeping?.()
    this.#sleeping = undefined
    this.#unsubscribe()
  }
}
