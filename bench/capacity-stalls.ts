/**
 * When was the driver's own event loop blocked? The simulator stamps a frame's arrival when
 * its JS handler runs, so a frame that reached the socket during a driver stall is stamped at
 * the stall's end, and two perfectly paced frames then look 0 and 40 ms apart. A stall of
 * 20 ms hits every call at once, so one of them is enough to put the caller-side p99 at 20 ms
 * even though the server sent on time. Frames stamped at the edge of a recorded stall are
 * therefore counted apart ("tainted"), not as the server's jitter.
 */

/**
 * A repeating 2 ms timer: a gap between two of its runs longer than the threshold means the
 * loop may have been busy for that long, and a frame stamped in it as late by as much.
 */
const PERIOD_MS = 2

export interface Stall { readonly start: number, readonly end: number }

export class StallWatch {
  readonly #stalls: Stall[] = []
  readonly #thresholdMs: number
  #timer: NodeJS.Timeout | undefined
  #last = 0

  /** `thresholdMs`: a gap between runs of the watch timer longer than this is a stall. */
  constructor (thresholdMs: number) {
    this.#thresholdMs = thresholdMs
  }

  start (): void {
    this.#last = Date.now()
    this.#timer = setInterval(() => { this.poll() }, PERIOD_MS)
  }

  /**
   * Record a stall that just ended. Also called before reading frames: after a stall, the
   * timer that reads them may run before this one.
   */
  poll (): void {
    const now = Date.now()
    if (now - this.#last > this.#thresholdMs) this.#stalls.push({ start: this.#last, end: now })
    this.#last = now
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  reset (): void {
    this.#stalls.length = 0
  }

  get count (): number { return this.#stalls.length }

  /**
   * Was a frame stamped at `atMs` (epoch ms) held back by a stall? Those that arrived during
   * one are handled right after it ends, so the edge is widened by the time it takes to work
   * through the backlog.
   */
  tainted (atMs: number, backlogMs = 4): boolean {
    for (let i = this.#stalls.length - 1; i >= 0; i--) {
      const s = this.#stalls[i] as Stall
      if (atMs > s.end + backlogMs) return false
      if (atMs >= s.start - 1) return true
    }
    return false
  }
}
