import { performance } from 'node:perf_hooks'
import { FRAME_MS } from './frame.ts'

/**
 * One frame clock for every call in the process. A timer per call would mean 500 timers
 * waking 50 times a second on their own phases; one timer waking once per frame and
 * ticking every subscribed pacer costs one wake-up for all of them.
 *
 * The schedule is absolute: tick k is due at `anchor + k * 20 ms` on a monotonic clock, and
 * each wake-up is set for the next due tick, so timer lateness never accumulates into drift
 * (a `setInterval` drifts by its lateness every period). A late wake-up hands subscribers
 * every tick it missed, up to `maxCatchUpFrames`; after a longer stall (GC, a blocked event
 * loop) the missed ticks beyond that are skipped and the grid moves on, because sending them
 * all at once would queue a burst in FreeSWITCH and delay barge-in by as much.
 */

export interface MonotonicClock {
  /** Milliseconds on a clock that never jumps (performance.now, not Date.now). */
  now (): number
}

export interface FrameTimers {
  set (fn: () => void, delayMs: number): unknown
  clear (handle: unknown): void
}

export interface TickSubscriber {
  /** `frames` is how many frame slots fell due since the last tick (1 unless catching up). */
  onTick (frames: number, now: number): void
}

export interface SchedulerStats {
  /** Wake-ups that ticked subscribers. */
  readonly wakeups: number
  /** Wake-ups that found more than one frame due (a late timer, caught up). */
  readonly lateWakeups: number
  /** Frame slots dropped after stalls longer than `maxCatchUpFrames`. */
  readonly skippedFrames: number
  /** Subscriber exceptions (each also handed to `onError`). */
  readonly errors: number
}

export interface FrameSchedulerOptions {
  readonly clock?: MonotonicClock
  readonly timers?: FrameTimers
  readonly frameMs?: number
  /** Most frame slots handed out by one wake-up; 2 keeps FreeSWITCH's queue within 2 frames. */
  readonly maxCatchUpFrames?: number
  /** A subscriber threw; the others are still ticked. */
  readonly onError?: (err: unknown) => void
}

export const monotonicClock: MonotonicClock = { now: () => performance.now() }

const nodeTimers: FrameTimers = {
  set: (fn, delayMs) => setTimeout(fn, delayMs),
  clear: (handle) => { clearTimeout(handle as ReturnType<typeof setTimeout>) },
}

export class FrameScheduler {
  readonly frameMs: number
  readonly clock: MonotonicClock
  readonly #timers: FrameTimers
  readonly #maxCatchUp: number
  readonly #onError: ((err: unknown) => void) | undefined
  readonly #subscribers = new Set<TickSubscriber>()
  #anchor = 0
  /** Grid slots already handed out (including skipped ones) since `#anchor`. */
  #served = 0
  #timer: unknown
  /** The grid is live: a wake-up is armed or running. */
  #live = false
  #wakeups = 0
  #lateWakeups = 0
  #skipped = 0
  #errors = 0

  constructor (options: FrameSchedulerOptions = {}) {
    this.clock = options.clock ?? monotonicClock
    this.#timers = options.timers ?? nodeTimers
    this.frameMs = options.frameMs ?? FRAME_MS
    this.#maxCatchUp = Math.max(1, options.maxCatchUpFrames ?? 2)
    this.#onError = options.onError
  }

  get size (): number { return this.#subscribers.size }

  /** True while a wake-up is scheduled (there is at least one subscriber). */
  get running (): boolean { return this.#live }

  get stats (): SchedulerStats {
    return { wakeups: this.#wakeups, lateWakeups: this.#lateWakeups, skippedFrames: this.#skipped, errors: this.#errors }
  }

  /** Subscribe; the returned function unsubscribes (idempotent). The timer stops with the last one. */
  add (subscriber: TickSubscriber): () => void {
    this.#subscribers.add(subscriber)
    if (!this.#live) {
      this.#live = true
      // A fresh grid starting now: the first tick is due at once.
      this.#anchor = this.clock.now()
      this.#served = 0
      this.#arm()
    }
    return () => {
      if (!this.#subscribers.delete(subscriber)) return
      if (this.#subscribers.size === 0 && this.#live) {
        this.#live = false
        if (this.#timer !== undefined) this.#timers.clear(this.#timer)
        this.#timer = undefined
      }
    }
  }

  #arm (): void {
    const due = this.#anchor + this.#served * this.frameMs
    this.#timer = this.#timers.set(() => { this.#wake() }, Math.max(0, due - this.clock.now()))
  }

  #wake (): void {
    this.#timer = undefined
    const now = this.clock.now()
    // Slots whose due time has passed; timers may fire a fraction of a millisecond early.
    let due = Math.floor((now - this.#anchor) / this.frameMs + 1e-6) + 1 - this.#served
    if (due > 0) {
      if (due > 1) this.#lateWakeups++
      if (due > this.#maxCatchUp) {
        this.#skipped += due - this.#maxCatchUp
        this.#served += due - this.#maxCatchUp
        due = this.#maxCatchUp
      }
      this.#served += due
      this.#wakeups++
      for (const subscriber of this.#subscribers) {
        try {
          subscriber.onTick(due, now)
        } catch (err) {
          this.#errors++
          this.#onError?.(err)
        }
      }
    }
    if (this.#live && this.#timer === undefined) this.#arm()
  }
}

let shared: FrameScheduler | undefined

/** The process-wide scheduler every media endpoint uses unless given its own (tests). */
export function sharedScheduler (): FrameScheduler {
  shared ??= new FrameScheduler()
  return shared
}
