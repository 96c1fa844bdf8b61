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
 *
 * A call that starts speaking gets a lane of its own: a grid anchored at the moment its first
 * frame went out (slot k due at `anchor + k * 20 ms`), so a reply does not wait up to a frame for
 * the shared grid. Lanes share the one timer: each wake-up serves the grid and every lane due
 * within `coalesceMs`, so 500 lanes on their own phases cost at most ~7 wake-ups per frame
 * (20 / 3 ms), not 500. A lane may be served ahead (addLane's aheadMs) for a socket that holds
 * each frame until its slot is due: the timer's lateness then does not reach the frame.
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
  /**
   * `frames` is how many frame slots fell due since the last tick (1 unless catching up);
   * `dueAt`, when the first of them is due (later than `now` for a lane served ahead, see addLane).
   */
  onTick (frames: number, now: number, dueAt: number): void
}

export interface SchedulerStats {
  /** Wake-ups that ticked subscribers. */
  readonly wakeups: number
  /** Wake-ups that found more than one frame due (a late timer, caught up). */
  readonly lateWakeups: number
  /** Frame slots dropped after stalls longer than `maxCatchUpFrames` (the shared grid). */
  readonly skippedFrames: number
  /** The same, summed over the lanes. */
  readonly laneSkippedFrames: number
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
  /**
   * A lane slot due within this many ms of a wake-up is served by it (default 3): calls whose
   * replies started at nearby moments share a wake-up. Each distinct wake-up costs about as much
   * as the sends it makes (bench/pacer.ts, 500 speaking calls: 0.64 of a core at 1 ms, 0.59 at
   * 5 ms, 0.48 on the shared grid alone), and a frame sent a few ms early is absorbed by the
   * lead and by FreeSWITCH's own 20 ms write timer. But a slot served early followed by one
   * served on its own (late by the timer's millisecond) is an interval off by both: with 5 ms,
   * 20 speaking calls on a fake clock with timers up to 1.2 ms late had 3.5 % of their intervals
   * more than 5 ms off (p99 5.6 ms, the pacing goal of issue 18 is 5); with 3 ms none (p99 3.8,
   * max 4.2) for 4.3 wake-ups per frame instead of 3.0 (docs/benchmarks.md, ninth session).
   */
  readonly coalesceMs?: number
}

interface Lane {
  readonly subscriber: TickSubscriber
  readonly anchor: number
  /** Slots are served this long before they are due (addLane). */
  readonly ahead: number
  /** Slots handed out (including skipped ones); slot 0 is the caller's own, at the anchor. */
  served: number
}

/** FrameSchedulerOptions.coalesceMs's default. */
export const COALESCE_MS = 3

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
  readonly #lanes = new Set<Lane>()
  readonly #coalesce: number
  /** When the armed wake-up is due (Infinity: none armed). */
  #armedAt = Number.POSITIVE_INFINITY
  /** Inside a wake-up: lanes opened or closed by subscribers re-arm once, at its end. */
  #waking = false
  #anchor = 0
  /** Grid slots already handed out (including skipped ones) since `#anchor`. */
  #served = 0
  #timer: unknown
  /** The grid is live: a wake-up is armed or running. */
  #live = false
  #wakeups = 0
  #lateWakeups = 0
  #skipped = 0
  #laneSkipped = 0
  #errors = 0

  constructor (options: FrameSchedulerOptions = {}) {
    this.clock = options.clock ?? monotonicClock
    this.#timers = options.timers ?? nodeTimers
    this.frameMs = options.frameMs ?? FRAME_MS
    this.#maxCatchUp = Math.max(1, options.maxCatchUpFrames ?? 2)
    this.#onError = options.onError
    this.#coalesce = Math.max(0, options.coalesceMs ?? COALESCE_MS)
  }

  get size (): number { return this.#subscribers.size }

  /** Lanes open (calls pacing on their own anchor). */
  get lanes (): number { return this.#lanes.size }

  /** True while a wake-up is scheduled (there is at least one subscriber or lane). */
  get running (): boolean { return this.#live || this.#lanes.size > 0 }

  get stats (): SchedulerStats {
    return { wakeups: this.#wakeups, lateWakeups: this.#lateWakeups, skippedFrames: this.#skipped, laneSkippedFrames: this.#laneSkipped, errors: this.#errors }
  }

  /** Subscribe; the returned function unsubscribes (idempotent). The timer stops with the last one. */
  add (subscriber: TickSubscriber): () => void {
    this.#subscribers.add(subscriber)
    if (!this.#live) {
      this.#live = true
      // A fresh grid starting now: the first tick is due at once.
      this.#anchor = this.clock.now()
      this.#served = 0
      this.#rearm()
    }
    return () => {
      if (!this.#subscribers.delete(subscriber)) return
      if (this.#subscribers.size === 0 && this.#live) {
        this.#live = false
        this.#rearm()
      }
    }
  }

  /**
   * Pace `subscriber` on its own grid anchored at `anchor` (its slot 0, which the caller served
   * itself): slot k is due at `anchor + k * frameMs`, drift-free, with the grid's catch-up bound.
   * With `aheadMs`, each slot is served that long before it is due (its `dueAt` says when): for a
   * subscriber whose socket sends a frame when it is due (udp-mux.ts holds), so an event loop late
   * by less than that does not move the frame. Returns the function that closes the lane (idempotent).
   */
  addLane (subscriber: TickSubscriber, anchor: number, aheadMs = 0): () => void {
    const lane: Lane = { subscriber, anchor, ahead: Math.max(0, aheadMs), served: 1 }
    this.#lanes.add(lane)
    this.#rearm()
    return () => {
      if (this.#lanes.delete(lane)) this.#rearm()
    }
  }

  /** Run `fn` once at `at` (the scheduler clock) on the scheduler's timers. Returns the cancel function (idempotent). */
  once (fn: () => void, at: number): () => void {
    let handle: unknown
    handle = this.#timers.set(() => { handle = undefined; fn() }, Math.max(0, at - this.clock.now()))
    return () => {
      if (handle !== undefined) this.#timers.clear(handle)
      handle = undefined
    }
  }

  /** The earliest slot due: the grid's (when it has subscribers) or a lane's. */
  #nextDue (): number {
    let next = this.#live ? this.#anchor + this.#served * this.frameMs : Number.POSITIVE_INFINITY
    for (const lane of this.#lanes) {
      const due = lane.anchor + lane.served * this.frameMs - lane.ahead
      if (due < next) next = due
    }
    return next
  }

  /** Arm for the earliest due slot unless a wake-up is already set for it (or earlier). */
  #rearm (): void {
    if (this.#waking) return
    const next = this.#nextDue()
    if (this.#timer !== undefined) {
      if (next !== Number.POSITIVE_INFINITY && this.#armedAt <= next) return
      this.#timers.clear(this.#timer)
      this.#timer = undefined
      this.#armedAt = Number.POSITIVE_INFINITY
    }
    if (next === Number.POSITIVE_INFINITY) return
    this.#armedAt = next
    this.#timer = this.#timers.set(() => { this.#wake() }, Math.max(0, next - this.clock.now()))
  }

  #wake (): void {
    this.#timer = undefined
    this.#armedAt = Number.POSITIVE_INFINITY
    const now = this.clock.now()
    this.#waking = true
    try {
      if (this.#live) this.#serveGrid(now)
      if (this.#lanes.size > 0) this.#serveLanes(now)
    } finally {
      this.#waking = false
    }
    this.#rearm()
  }

  #serveLanes (now: number): void {
    for (const lane of this.#lanes) {
      let due = Math.floor((now + this.#coalesce + lane.ahead - lane.anchor) / this.frameMs + 1e-6) + 1 - lane.served
      if (due <= 0) continue
      // Slots served ahead are not late: the catch-up bound counts from the slot due now.
      const bound = this.#maxCatchUp + Math.floor(lane.ahead / this.frameMs + 1e-6)
      if (due > 1 + bound - this.#maxCatchUp) this.#lateWakeups++
      if (due > bound) {
        this.#laneSkipped += due - bound
        lane.served += due - bound
        due = bound
      }
      const dueAt = lane.anchor + lane.served * this.frameMs
      lane.served += due
      try {
        lane.subscriber.onTick(due, now, dueAt)
      } catch (err) {
        this.#errors++
        this.#onError?.(err)
      }
    }
  }

  #serveGrid (now: number): void {
    // Slots whose due time has passed; timers may fire a fraction of a millisecond early.
    let due = Math.floor((now - this.#anchor) / this.frameMs + 1e-6) + 1 - this.#served
    if (due > 0) {
      if (due > 1) this.#lateWakeups++
      if (due > this.#maxCatchUp) {
        this.#skipped += due - this.#maxCatchUp
        this.#served += due - this.#maxCatchUp
        due = this.#maxCatchUp
      }
      const dueAt = this.#anchor + this.#served * this.frameMs
      this.#served += due
      this.#wakeups++
      for (const subscriber of this.#subscribers) {
        try {
          subscriber.onTick(due, now, dueAt)
        } catch (err) {
          this.#errors++
          this.#onError?.(err)
        }
      }
    }
  }
}

let shared: FrameScheduler | undefined

/** The process-wide scheduler every media endpoint uses unless given its own (tests). */
export function sharedScheduler (): FrameScheduler {
  shared ??= new FrameScheduler()
  return shared
}
