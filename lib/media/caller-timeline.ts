/**
 * Where the caller's frames sit on our clock, for the echo guard (echo.ts): the frame's media time
 * (samples so far) plus the least delay any recent frame arrived with, as a jitter buffer sees it.
 *
 * The guard compares what came back with what we sent some delay before, so a frame must be
 * placed where its audio was on the line, not where it happened to arrive. FreeSWITCH sends one
 * frame per tick of its read timer, but a frame can reach our handler late: FreeSWITCH's thread or
 * ours was busy, frames came in a burst, a 30 ms packet was cut into 20 ms frames that share one
 * arrival. Placed by arrival, such a frame moved the echo later against what we sent; on a loaded
 * machine the guard then saw our echo 20-60 ms off the delay it had learnt, took it for the caller,
 * and paused the agent up to nine times in one reply. Delays only ever make a frame late, so the
 * earliest (arrival - media time) is the line's own offset.
 *
 * That least is kept over two windows of WINDOW_MS of media (minimum statistics, as the guard's
 * floors), so an offset that grows for good (a read timer a little slower than ours: FreeSWITCH's
 * 'sleep' timer ticks every 20.13 ms; media it dropped) is followed within two windows, while one
 * that shrinks (a frame earlier than any before) is taken at once.
 */

/** Media per window of the least-offset statistics (ms). */
const WINDOW_MS = 1000

export class CallerTimeline {
  #current = Number.POSITIVE_INFINITY
  #previous = Number.POSITIVE_INFINITY
  #windowStart = Number.NEGATIVE_INFINITY

  /** The frame whose audio starts `mediaMs` into the caller's stream and arrived at `receivedAt`: its place on our clock. */
  place (mediaMs: number, receivedAt: number): number {
    const offset = receivedAt - mediaMs
    if (mediaMs - this.#windowStart >= WINDOW_MS) {
      this.#previous = this.#current
      this.#current = offset
      this.#windowStart = mediaMs
    } else if (offset < this.#current) {
      this.#current = offset
    }
    return mediaMs + (this.#current < this.#previous ? this.#current : this.#previous)
  }
}
